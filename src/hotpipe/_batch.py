"""Batch nodes: call a function with lists of items, in batches of a measured size.

A batch function receives, for each parameter, a list with one entry per item of the batch;
a parameter whose value is a :class:`~hotpipe.resources.Resource` receives the built object
instead. It returns a sequence (a list, a tuple, an array) of the same length. In ``run`` it
is called with lists of one item.

The batch size, unless the node sets ``batch_size``, is found as the map runs: it starts at
16 and doubles while the measured throughput (items per second, the better of two batches
per size) stays within 5 % of the best so far, then settles; the choice is kept with the
plan for later maps, apart for maps over array columns (which start larger: :func:`_seed`)
and over lists, so that one does not settle the size of the other. A chunk of the engine
caps a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._arrays import from_items, is_array
from hotpipe._state import BatchSizing, Tuning
from hotpipe._values import FAILED, describe_inputs
from hotpipe.resources import Resource

if TYPE_CHECKING:
    from hotpipe.plan import Step

__all__ = ["MAPPED", "REPEATED", "BatchCall", "batch_columns", "call_batch_of_one",
           "map_batches"]

MAPPED, REPEATED = 1, 2  # kinds of batch arguments (batch_columns); 0: a built resource

_LOCK = threading.Lock()  # batch-size learning is shared by the threads mapping one plan
START_SIZE = 16
JAX_BATCH = 65_536
"""Items per call of a ``vectorize="jax"`` node without ``batch_size``."""
MAX_SIZE = 65_536
TOLERANCE = 0.05
ARRAY_BATCH_BYTES = 256 * 1024
ARRAY_MAX_SIZE = 1 << 20


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
                  idx: list[int] | range) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """Arguments of a batch call for the items ``idx`` (chunk-relative), and for each
    whether it holds one entry per item: ``MAPPED`` (a slice of a column: an array column
    gives an array), ``REPEATED`` (a broadcast value, repeated), or 0 (a built resource,
    passed as it is)."""
    m = len(idx)
    contiguous = isinstance(idx, range)
    args, per_item = [], []
    for a in step.args:
        if a in cols:
            col = cols[a]
            if contiguous:
                args.append(col[idx.start:idx.stop])
            elif type(col) is not list and is_array(col):
                args.append(col[idx])
            else:
                args.append([col[i] for i in idx])
            per_item.append(MAPPED)
        else:
            v = scalars[a]
            is_resource = type(v) is Resource
            args.append(v.get() if is_resource else [v] * m)
            per_item.append(0 if is_resource else REPEATED)
    return tuple(args), tuple(per_item)


def _sizes(step: Step, k: int, tuning: Tuning, arrays: bool) -> BatchSizing:
    """The step's batch sizing over array columns (``arrays``) or over lists: learned
    apart (:attr:`hotpipe._state.Tuning.array_batch`)."""
    table = tuning.array_batch if arrays else tuning.batch
    state = table.get(k)
    if state is None:
        # vectorize="jax": a fixed size, as every new size compiles
        fixed = step.node.batch_size or (JAX_BATCH if step.node.vectorize == "jax" else None)
        state = table[k] = BatchSizing(fixed or START_SIZE, done=fixed is not None)
    return state


def _reads_arrays(args: tuple[Any, ...], per_item: tuple[int, ...]) -> bool:
    """A batch's per-item arguments include an array slice."""
    return any(kind == MAPPED and is_array(a) for a, kind in zip(args, per_item, strict=True))


def _seed(state: BatchSizing, args: tuple[Any, ...], per_item: tuple[int, ...]) -> None:
    """Choose where the size search starts from the first batch: batches of arrays start at
    ~``ARRAY_BATCH_BYTES`` of input and may grow to ``ARRAY_MAX_SIZE`` items (a call on
    arrays costs microseconds whatever its size, and numpy's large arrays are cheaper to
    allocate); anything else keeps ``START_SIZE`` and ``MAX_SIZE``."""
    state.seeded = True
    if state.done:
        return
    nbytes = sum(a.itemsize * (a.size // max(1, len(a))) for a, kind in
                 zip(args, per_item, strict=True) if kind == MAPPED and is_array(a))
    if nbytes:
        size = START_SIZE
        while size * 2 * nbytes <= ARRAY_BATCH_BYTES:
            size *= 2
        state.size, state.limit = size, ARRAY_MAX_SIZE


def _learn(state: BatchSizing, m: int, seconds: float) -> None:
    """Grow the batch size while throughput does not drop.

    Each size is measured on two full batches and judged by the better one (one pause of
    the machine must not freeze a small size); the size doubles while that rate stays within
    5 % of the best so far, and settles on the previous size when it falls below. Batches cut
    short by the end of a chunk are not measured. Batches of arrays then try, once, the
    largest size (in practice the whole chunk): numpy allocates large arrays in huge pages,
    so one call on everything can beat every mid-sized batch for cheap functions, while
    cache-sized batches win for longer ones; the better of the two is kept.
    """
    if state.done:
        return
    if state.fallback:  # trying the largest size: two batches larger than the fallback
        if m > state.fallback:
            state.rates.append(m / seconds if seconds > 0 else float("inf"))
            if len(state.rates) >= 2:
                state.done = True
                state.curve.append((state.size, max(state.rates)))
                # the kept size also pays for joining its batches' arrays (measured)
                kept = 1 / (1 / state.kept + state.join) if state.kept > 0 else 0.0
                if max(state.rates) < kept:  # slower than the size it would keep
                    state.size = state.fallback
                state.rates = []
        return
    if m < state.size:
        return
    state.rates.append(m / seconds if seconds > 0 else float("inf"))
    if len(state.rates) < 2:
        return
    rate = max(state.rates)
    state.rates = []
    state.curve.append((state.size, rate))
    if rate >= state.best * (1 - TOLERANCE) and state.size < state.limit:
        state.best = max(state.best, rate)
        state.last = rate
        state.size *= 2
        return
    grew = rate >= state.best * (1 - TOLERANCE)
    settle = state.size if grew else max(1, state.size // 2)
    kept = rate if grew else state.last
    state.best = max(state.best, rate)
    if state.limit > MAX_SIZE and settle * 2 < state.limit:
        state.fallback, state.kept, state.size = settle, kept, state.limit
    else:
        state.done, state.size = True, settle


class BatchCall:
    """How a batch step is called on a batch: ``prepare(args, per_item)`` (may run ahead,
    on the prefetch thread: :func:`hotpipe._vectorize.prefetched`), then
    ``run(args, per_item, prepared)``, which returns one result per item.

    ``setup`` holds the seconds of one-off work inside the last ``run`` (compiling, for
    ``vectorize="jax"``): they are counted apart, not as item time. ``prefetch`` is the
    number of batches prepared ahead. The plain one calls the node's batch implementation
    with the arguments as they are.
    """

    setup = 0.0
    prefetch = 0

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def prepare(self, args: tuple[Any, ...], per_item: tuple[int, ...]) -> Any:
        return None

    def run(self, args: tuple[Any, ...], per_item: tuple[int, ...], prepared: Any) -> Any:
        return self.func(*args)


def _caller(step: Step, k: int, ctx: Any, tuning: Tuning) -> BatchCall:
    if step.node.vectorize is None:
        return BatchCall(step.batch)  # type: ignore[arg-type]
    from hotpipe._vectorize import vector_call

    return vector_call(step, k, ctx, tuning)


class _Out:
    """A batch step's results over a chunk: the batches' arrays kept as they come and
    concatenated once (a column that may be an array, every item live), else a list."""

    __slots__ = ("joined", "n", "out", "parts")

    def __init__(self, n: int, arrays: bool) -> None:
        self.n = n
        self.joined = False  # the result was concatenated from several batches
        self.parts: list[Any] | None = [] if arrays else None
        self.out: list[Any] | None = None if arrays else [FAILED] * n

    def put(self, idx: list[int] | range, results: Sequence[Any]) -> None:
        if self.parts is not None:
            if type(results) is not list and is_array(results):
                self.parts.append(results)
                return
            self.list()
        out = self.out
        assert out is not None
        if isinstance(idx, range):
            out[idx.start:idx.stop] = results  # a list, tuple or array: one C-level copy
        else:
            for j, i in enumerate(idx):
                out[i] = results[j]

    def list(self) -> list[Any]:
        """The results as a list (the parts so far copied in, in order)."""
        if self.out is None:
            self.out = [FAILED] * self.n
            pos = 0
            for part in self.parts or ():
                self.out[pos:pos + len(part)] = part
                pos += len(part)
            self.parts = None
        return self.out

    def result(self, arrays: bool) -> Any:
        parts = self.parts
        if parts is not None and parts:
            import numpy as np

            first = parts[0]
            if first.dtype.kind != "O" and all(
                    p.dtype == first.dtype and p.shape[1:] == first.shape[1:] for p in parts):
                self.joined = len(parts) > 1
                return first if len(parts) == 1 else np.concatenate(parts)
        out = self.list()
        return from_items(out) if arrays else out


def map_batches(step: Step, k: int, n: int, ctx: Any,
                batch_args: Callable[[list[int] | range], tuple[tuple[Any, ...], tuple[int, ...]]],
                tuning: Tuning) -> tuple[Any, int]:
    """Run the step's batch call over the chunk's live items; returns outputs and calls made
    (successful batch calls, plus singular calls made to locate failures). An output that
    may be an array (``ctx.arrays``) is one when the results allow it."""
    live: list[int] | range = (
        range(n) if not ctx.failed else [i for i in range(n) if i not in ctx.failed]
    )
    first = batch_args(live[:1]) if len(live) else None  # once per chunk: lists or arrays?
    state = _sizes(step, k, tuning, first is not None and _reads_arrays(*first))
    arrays = step.outputs[0] in ctx.arrays
    out = _Out(n, arrays and not ctx.failed)
    call = _caller(step, k, ctx, tuning)
    if not state.seeded and first is not None:
        _seed(state, *first)
    calls = 0
    describe = partial(describe_inputs, step)

    def batches() -> Iterator[list[int] | range]:
        pos = 0
        while pos < len(live):
            with _LOCK:
                size = state.size
            idx = live[pos:pos + size]
            pos += len(idx)
            yield idx

    def prepare(idx: list[int] | range) -> tuple[Any, ...]:
        args, per_item = batch_args(idx)
        try:
            return args, per_item, call.prepare(args, per_item)
        except Exception as exc:  # converting the batch failed: a failure of the batch
            return args, per_item, _Unprepared(exc)

    for idx, ready, exc in _prefetched(batches(), prepare, call.prefetch):
        if exc is not None:  # building the arguments failed (a resource): as before, raise
            raise exc
        args, per_item, prepared = ready
        t = perf_counter()
        try:
            if type(prepared) is _Unprepared:
                raise prepared.exc
            results = _results(call.run(args, per_item, prepared), len(idx), step.name)
        except Exception as exc:
            calls += _batch_failed(step, idx, args, per_item, exc, ctx, out.list())
            continue
        seconds = perf_counter() - t - call.setup
        calls += 1
        with _LOCK:
            _learn(state, len(idx), seconds)
        out.put(idx, results)
        ctx.stats.record_batch(k, ctx.item(idx[0]), seconds, len(idx),
                               _row(args, per_item, 0), describe)
    t = perf_counter()
    result = out.result(arrays)
    if out.joined:  # per item: what a batch smaller than the chunk costs on top
        state.join = (perf_counter() - t) / n
    return result, calls


class _Unprepared:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _prefetched(batches: Iterator[Any], prepare: Callable[[Any], Any], ahead: int
                ) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """``(batch, prepare(batch), error)`` in order; prepared ahead on a helper thread when
    ``ahead > 0`` (:func:`hotpipe._vectorize.prefetched`)."""
    if ahead > 0:
        from hotpipe._vectorize import prefetched

        yield from prefetched(batches, prepare, ahead)
        return
    for batch in batches:
        yield batch, prepare(batch), None


def _row(args: tuple[Any, ...], per_item: tuple[int, ...], j: int) -> tuple[Any, ...]:
    return tuple(a[j] if each else a for a, each in zip(args, per_item, strict=True))


def _batch_failed(step: Step, idx: Sequence[int], args: tuple[Any, ...],
                  per_item: tuple[int, ...], exc: Exception, ctx: Any, out: list[Any]) -> int:
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
