"""Batch nodes: call a function with lists of items, in batches of a measured size.

A batch function receives, for each parameter, a list with one entry per item of the batch;
a parameter whose value is a :class:`~hotpipe.resources.Resource` receives the built object
instead. It returns a sequence (a list, a tuple, an array) of the same length. In ``run`` it
is called with lists of one item.

The batch size, unless the node sets ``batch_size``, is found as the map runs: it starts at
16 and doubles while the measured throughput (items per second, the better of two batches
per size) stays within 5 % of the best so far, then settles; the choice is kept with the
plan for later maps. A chunk of the engine caps a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._values import FAILED, describe_inputs
from hotpipe.resources import Resource

if TYPE_CHECKING:
    from hotpipe.plan import Step

__all__ = ["batch_columns", "call_batch_of_one", "map_batches"]

_LOCK = threading.Lock()  # batch-size learning is shared by the threads mapping one plan
START_SIZE = 16
MAX_SIZE = 65_536
TOLERANCE = 0.05


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
                  idx: list[int] | range) -> tuple[tuple[Any, ...], tuple[bool, ...]]:
    """Arguments of a batch call for the items ``idx`` (chunk-relative), and for each
    whether it holds one entry per item (a built resource is passed as it is)."""
    m = len(idx)
    contiguous = isinstance(idx, range)
    args, per_item = [], []
    for a in step.args:
        if a in cols:
            col = cols[a]
            args.append(col[idx.start:idx.stop] if contiguous else [col[i] for i in idx])
            per_item.append(True)
        else:
            v = scalars[a]
            is_resource = type(v) is Resource
            args.append(v.get() if is_resource else [v] * m)
            per_item.append(not is_resource)
    return tuple(args), tuple(per_item)


def _sizes(step: Step, k: int, tuning: dict[str, Any]) -> dict[str, Any]:
    state = tuning.get(("batch", k))
    if state is None:
        fixed = step.node.batch_size
        state = {"size": fixed or START_SIZE, "best": 0.0, "done": fixed is not None,
                 "rates": []}
        tuning[("batch", k)] = state
    return state


def _learn(state: dict[str, Any], m: int, seconds: float) -> None:
    """Grow the batch size while throughput does not drop.

    Each size is measured on two full batches and judged by the better one (one pause of
    the machine must not freeze a small size); the size doubles while that rate stays within
    5 % of the best so far, and settles on the previous size when it falls below. Batches cut
    short by the end of a chunk are not measured.
    """
    if state["done"] or m < state["size"]:
        return
    state["rates"].append(m / seconds if seconds > 0 else float("inf"))
    if len(state["rates"]) < 2:
        return
    rate = max(state["rates"])
    state["rates"] = []
    if rate >= state["best"] * (1 - TOLERANCE) and state["size"] < MAX_SIZE:
        state["best"] = max(state["best"], rate)
        state["size"] *= 2
    else:
        state["done"] = True
        if rate < state["best"] * (1 - TOLERANCE):
            state["size"] = max(1, state["size"] // 2)


def map_batches(step: Step, k: int, n: int, ctx: Any,
                batch_args: Callable[[list[int] | range], tuple[tuple[Any, ...], tuple[bool, ...]]],
                tuning: dict[str, Any]) -> tuple[list[Any], int]:
    """Run ``step.batch`` over the chunk's live items; returns outputs and calls made
    (successful batch calls, plus singular calls made to locate failures)."""
    state = _sizes(step, k, tuning)
    live: list[int] | range = (
        range(n) if not ctx.failed else [i for i in range(n) if i not in ctx.failed]
    )
    out: list[Any] = [FAILED] * n
    calls, pos = 0, 0
    describe = partial(describe_inputs, step)
    while pos < len(live):
        with _LOCK:
            size = state["size"]
        idx = live[pos:pos + size]
        pos += len(idx)
        args, per_item = batch_args(idx)
        t = perf_counter()
        try:
            results = _results(step.batch(*args), len(idx), step.name)
        except Exception as exc:
            calls += _batch_failed(step, idx, args, per_item, exc, ctx, out)
            continue
        seconds = perf_counter() - t
        calls += 1
        with _LOCK:
            _learn(state, len(idx), seconds)
        if isinstance(idx, range):
            out[idx.start:idx.stop] = results  # a list, tuple or array: one C-level copy
        else:
            for j, i in enumerate(idx):
                out[i] = results[j]
        ctx.stats.record_batch(k, ctx.item(idx[0]), seconds, len(idx),
                               _row(args, per_item, 0), describe)
    return out, calls


def _row(args: tuple[Any, ...], per_item: tuple[bool, ...], j: int) -> tuple[Any, ...]:
    return tuple(a[j] if each else a for a, each in zip(args, per_item, strict=True))


def _batch_failed(step: Step, idx: Sequence[int], args: tuple[Any, ...],
                  per_item: tuple[bool, ...], exc: Exception, ctx: Any, out: list[Any]) -> int:
    """A batch raised: find the failing items with the singular function when the node has
    one; otherwise every item of the batch fails with the batch's exception.

    When every item succeeds one by one, the batch implementation itself failed (broken, or
    out of memory on a large batch): the items keep the singular results and a
    ``RuntimeWarning`` says so, rather than hiding it. Returns the number of calls made.
    """
    if step.run_batch_only:
        for j, i in enumerate(idx):
            ctx.fail(step, i, _row(args, per_item, j), exc)
        return 1
    single, failures = step.func, 0
    for j, i in enumerate(idx):
        row = _row(args, per_item, j)
        try:
            out[i] = single(*row)
        except Exception as item_exc:
            failures += 1
            ctx.fail(step, i, row, item_exc)
    if not failures:
        import warnings

        warnings.warn(
            f"the batch implementation of node {step.name!r} raised {type(exc).__name__}: "
            f"{exc}, but every item of that batch ({len(idx)} items) succeeded with the "
            "singular function, which computed them. If this repeats, the batch "
            "implementation is broken.",
            RuntimeWarning,
            stacklevel=2,
        )
    return 1 + len(idx)
