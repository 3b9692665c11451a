"""Batch nodes: call a function with lists of items, in batches of a measured size.

A batch function receives, for each parameter, a list with one entry per item of the batch;
a parameter whose value is a :class:`~hotpipe.resources.Resource` receives the built object
instead. It returns a sequence (a list, a tuple, an array) of the same length. In ``run`` it
is called with lists of one item.

The batch size, unless the node sets ``batch_size``, is found as the map runs: it starts at
16 and doubles while the measured throughput (items per second) improves by more than 10 %,
then stays; the choice is kept with the plan for later maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._values import FAILED, describe_inputs
from hotpipe.resources import Resource

if TYPE_CHECKING:
    from hotpipe.plan import Step

__all__ = ["batch_columns", "call_batch_of_one", "map_batches"]

START_SIZE = 16
MAX_SIZE = 65_536
GAIN = 1.10


def _results(out: Any, m: int, name: str) -> Sequence[Any]:
    try:
        n = len(out)
    except TypeError:
        raise TypeError(
            f"batch node {name!r} must return a list (or tuple, or array) with one result "
            f"per item, got {type(out).__name__}"
        ) from None
    if n != m:
        raise ValueError(
            f"batch node {name!r} returned {n} results for a batch of {m} items; it must "
            "return exactly one result per item, in order"
        )
    return out


def call_batch_of_one(func: Callable[..., Any], raw: tuple[Any, ...], name: str) -> Any:
    """``run`` of a batch node: call it with lists of one item, return the one result."""
    args = tuple(v.get() if type(v) is Resource else [v] for v in raw)
    return _results(func(*args), 1, name)[0]


def batch_columns(step: Step, cols: dict[str, list[Any]], scalars: dict[str, Any],
                  idx: list[int] | range) -> tuple[Any, ...]:
    """Arguments of a batch call for the items ``idx`` (chunk-relative)."""
    m = len(idx)
    contiguous = isinstance(idx, range)
    args = []
    for a in step.args:
        if a in cols:
            col = cols[a]
            args.append(col[idx.start:idx.stop] if contiguous else [col[i] for i in idx])
        else:
            v = scalars[a]
            args.append(v.get() if type(v) is Resource else [v] * m)
    return tuple(args)


def _sizes(step: Step, k: int, tuning: dict[str, Any]) -> dict[str, Any]:
    state = tuning.get(("batch", k))
    if state is None:
        fixed = step.node.batch_size
        state = {"size": fixed or START_SIZE, "best": 0.0, "done": fixed is not None}
        tuning[("batch", k)] = state
    return state


def _learn(state: dict[str, Any], m: int, seconds: float) -> None:
    if state["done"] or m < state["size"]:
        return
    rate = m / seconds if seconds > 0 else float("inf")
    if rate > state["best"] * GAIN and state["size"] < MAX_SIZE:
        state["best"] = rate
        state["size"] *= 2
    else:
        state["done"] = True
        if rate <= state["best"]:
            state["size"] = max(1, state["size"] // 2)


def map_batches(step: Step, k: int, n: int, ctx: Any,
                batch_args: Callable[[list[int] | range], tuple[Any, ...]],
                tuning: dict[str, Any]) -> tuple[list[Any], int]:
    """Run ``step.batch`` over the chunk's live items; returns outputs and calls made."""
    state = _sizes(step, k, tuning)
    live: list[int] | range = (
        range(n) if not ctx.failed else [i for i in range(n) if i not in ctx.failed]
    )
    out: list[Any] = [FAILED] * n
    calls, pos = 0, 0
    describe = partial(describe_inputs, step)
    while pos < len(live):
        size = state["size"]
        idx = live[pos:pos + size]
        pos += len(idx)
        args = batch_args(idx)
        t = perf_counter()
        try:
            results = _results(step.batch(*args), len(idx), step.name)
        except Exception as exc:
            _batch_failed(step, k, idx, args, exc, ctx, out)
            calls += 1
            continue
        seconds = perf_counter() - t
        calls += 1
        _learn(state, len(idx), seconds)
        share = seconds / len(idx)
        for j, i in enumerate(idx):
            out[i] = results[j]
            ctx.stats.record(k, ctx.item(i), share, _row(args, j), describe)
    return out, calls


def _row(args: tuple[Any, ...], j: int) -> tuple[Any, ...]:
    return tuple(a[j] if isinstance(a, list) else a for a in args)


def _batch_failed(step: Step, k: int, idx: Sequence[int], args: tuple[Any, ...],
                  exc: Exception, ctx: Any, out: list[Any]) -> None:
    """A batch raised: find the failing items with the singular function when the node has
    one; otherwise every item of the batch fails with the batch's exception."""
    single = None if step.run_batch_only else step.func
    for j, i in enumerate(idx):
        row = _row(args, j)
        if single is None:
            ctx.fail(step, i, row, exc)
            continue
        try:
            out[i] = single(*row)
        except Exception as item_exc:
            ctx.fail(step, i, row, item_exc)
