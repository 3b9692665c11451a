"""Execute a plan: one item through generated straight-line code, or columns of items.

These two executors are the reference semantics every engine reuses. ``run`` compiles the
plan into one Python function (no loop, no dict per node, two clock reads per node); a
failure is located afterwards from the traceback's line number, so the happy path pays nothing
for it. A map runs node by node over a chunk of items with ``list.extend(map(func, *columns))``,
the same C loop a hand-written comprehension uses, and reads the clocks once per node per
chunk. The first items of every map are timed one by one for the per-item statistics; a node
slow enough that timing costs under ~2 % is timed item by item throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import islice, repeat
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, Any

from hotpipe import _oneoff
from hotpipe._arrays import NO_ARRAYS, array_names, is_array, is_vector_step, items_of
from hotpipe._batch import batch_columns, call_batch_of_one, map_batches
from hotpipe._guard import sink
from hotpipe._state import Tuning, state_of
from hotpipe._values import FAILED, describe_inputs, short_repr
from hotpipe.errors import ItemError, NodeError, ResourceError
from hotpipe.plan import Plan, Step
from hotpipe.profile.stats import CHEAP_ITEM, SAMPLE_SINGLE, TIME_EVERY_ITEM_ABOVE, Stats
from hotpipe.resources import Resource, resolve

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "FAILED",
    "PLAIN",
    "Broadcast",
    "Chunk",
    "PlainRunner",
    "compile_item_function",
    "item_failure",
    "run_broadcast",
    "run_columns",
]

def _unpack_error(step: Step, value: Any) -> ValueError:
    n = len(step.outputs)
    return ValueError(
        f"node {step.name!r} declares {n} outputs {list(step.outputs)} and must return a "
        f"tuple of {n} values, but returned {type(value).__name__}: {short_repr(value)}"
    )


def _unpack_one(step: Step, value: Any) -> tuple[Any, ...]:
    try:
        values = tuple(value)
    except TypeError:
        raise _unpack_error(step, value) from None
    if len(values) != len(step.outputs):
        raise _unpack_error(step, value)
    return values


# ----------------------------------------------------------------------------- one item


def compile_item_function(
    plan: Plan, cpu: bool = True
) -> Callable[[dict[str, Any], list[float], list[float]], dict]:
    """Generate ``f(inputs, wall, cpu) -> outputs`` running the plan's steps in order.

    Each step is one source line, so a traceback's ``tb_lineno`` identifies the step. With
    ``cpu=False`` the CPU clock is not read (it is a system call, ~0.4 us here, which would
    dominate a run of cheap nodes); ``Local`` chooses per plan from the measured run time.
    """
    from hotpipe._aio import run_coroutine

    namespace: dict[str, Any] = {
        "_clock": perf_counter, "_cpu": thread_time, "_res": resolve,
        "_await": run_coroutine, "_one": call_batch_of_one,
    }
    local: dict[str, str] = {}
    raw: dict[str, str] = {}  # names before resources are resolved, for batch-only nodes
    batch_inputs = {a for step in plan.steps if step.run_batch_only for a in step.args}
    lines = ["def run_item(_inputs, _wall, _cpu_s):"]
    for i, name in enumerate(plan.inputs):
        local[name] = f"i{i}"
        if name in batch_inputs:
            raw[name] = f"r{i}"
            lines.append(f"    r{i} = _inputs[{name!r}]; i{i} = _res(r{i})")
        else:
            lines.append(f"    i{i} = _res(_inputs[{name!r}])")
    preamble = list(plan.inputs)  # the name each line after the def resolves
    for i, (name, value) in enumerate(plan.constants.items()):
        namespace[f"c{i}"] = value
        raw[name] = f"c{i}"
        local[name] = f"c{i}"
        if type(value) is Resource:  # built before the clocks start: a one-off, not a step's
            local[name] = f"k{i}"
            lines.append(f"    k{i} = _res(c{i})")
            preamble.append(name)
    lines.append("    _t0 = _clock(); _c0 = _cpu()" if cpu else "    _t0 = _clock()")
    first_step_line = len(lines) + 1
    for k, step in enumerate(plan.steps):
        namespace[f"f{k}"] = step.func
        outs = [f"v{k}_{j}" for j in range(len(step.outputs))]
        target = ", ".join(outs) + ("," if step.unpack and len(outs) == 1 else "")
        if step.run_batch_only:
            args = ", ".join(raw.get(a, local[a]) for a in step.args)
            call = f"_one(f{k}, ({args}{',' if len(step.args) == 1 else ''}), {step.name!r})"
        else:
            call = f"f{k}({', '.join(local[a] for a in step.args)})"
            if step.node.is_async:
                call = f"_await({call})"
        local.update(zip(step.outputs, outs, strict=True))
        clocks = f"_t1 = _clock(); _wall[{k}] += _t1 - _t0; _t0 = _t1"
        if cpu:
            clocks += f"; _c1 = _cpu(); _cpu_s[{k}] += _c1 - _c0; _c0 = _c1"
        lines.append(f"    {target} = {call}; {clocks}")
    result = ", ".join(f"{o!r}: {local[o]}" for o in plan.outputs)
    lines.append(f"    return {{{result}}}")
    source = "\n".join(lines) + "\n"
    filename = f"<hotpipe plan {plan.pipeline_name}>"
    exec(compile(source, filename, "exec"), namespace)
    func = namespace["run_item"]
    func.first_step_line = first_step_line  # type: ignore[attr-defined]
    func.local_names = local  # type: ignore[attr-defined]
    func.preamble = preamble  # type: ignore[attr-defined]
    return func


def item_failure(plan: Plan, func: Callable[..., Any], exc: BaseException) -> BaseException:
    """Turn an exception escaping the generated function into a :class:`NodeError`.

    Returns ``exc`` itself when it did not come from a step (e.g. KeyboardInterrupt).
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code is not func.__code__:
        tb = tb.tb_next
    if tb is None or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    k = tb.tb_lineno - func.first_step_line  # type: ignore[attr-defined]
    if k < 0 and isinstance(exc, ResourceError):
        # an input resource failed to build (the lines before the steps resolve inputs):
        # the first step that reads it fails with it, as in a map
        pre = func.preamble  # type: ignore[attr-defined]
        name = pre[tb.tb_lineno - 2] if 0 <= tb.tb_lineno - 2 < len(pre) else None
        step = next((s for s in plan.steps if name in s.args), None)
        if step is not None:
            err = NodeError(step.name, None, "-", exc)
            err.__cause__ = exc
            return err
    if not 0 <= k < len(plan.steps):
        return exc
    step = plan.steps[k]
    frame_locals = tb.tb_frame.f_locals
    local = func.local_names  # type: ignore[attr-defined]
    values = tuple(
        frame_locals[local[a]] if local[a] in frame_locals else plan.constants.get(a)
        for a in step.args
    )
    cause = exc
    if tb.tb_next is None and isinstance(exc, (ValueError, TypeError)) and step.unpack:
        # the unpacking in the generated line failed, not the user's function
        n = len(step.outputs)
        cause = ValueError(
            f"node {step.name!r} declares {n} outputs {list(step.outputs)} and must return a "
            f"tuple of {n} values; unpacking what it returned failed: {exc}"
        )
        cause.__cause__ = exc
    err = NodeError(step.name, None, describe_inputs(step, values), cause)
    err.__cause__ = cause
    return err


# ----------------------------------------------------------------------------- broadcast


@dataclass
class Broadcast:
    """The broadcast values of a map (inputs, constants, outputs of once-per-map steps) and
    whether a once-per-map step failed. ``inner`` keeps, per nested map step, the broadcast
    values of its inner plans, computed once per map on first use. A cached run extends it
    with the keys it needs (:class:`hotpipe.cache.run.KeyedBroadcast`)."""

    values: dict[str, Any]
    broken: bool = False
    failure: tuple[str, BaseException] | None = None
    inner: dict[int, Any] = field(default_factory=dict)


class PlainRunner:
    """Runs a plan's steps with no cache: the reference executors of this module.

    Engines receive a runner chosen once per call (this one, or a cached runner from
    :mod:`hotpipe.runners`) and never see the cache; nested maps run their inner plans
    through the same runner.
    """

    cached = False

    def broadcast(self, plan: Plan, scalars: dict[str, Any], n: int, on_error: str,
                  stats: Stats, tuning: Tuning | None = None) -> Broadcast:
        if plan.guarded:  # retries and timeouts are counted in this collector
            with sink(stats):
                return run_broadcast(plan, scalars, n, on_error, stats, self, tuning)
        return run_broadcast(plan, scalars, n, on_error, stats, self, tuning)

    def columns(self, plan: Plan, columns: dict[str, list[Any]], bc: Broadcast, n: int,
                offset: int, on_error: str, stats: Stats,
                paths: Sequence[tuple[int, ...]] | None = None,
                tuning: Tuning | None = None) -> dict[str, list[Any]]:
        if plan.guarded:
            with sink(stats):
                return run_columns(plan, columns, bc, n, offset, on_error, stats, self, paths,
                                   tuning)
        return run_columns(plan, columns, bc, n, offset, on_error, stats, self, paths, tuning)


PLAIN = PlainRunner()


def run_broadcast(
    plan: Plan, scalars: dict[str, Any], n: int, on_error: str, stats: Stats,
    runner: Any = PLAIN, tuning: Tuning | None = None,
) -> Broadcast:
    """Run the steps that depend on broadcast values only, once for all items.

    With ``on_error="collect"`` a failing step's outputs are FAILED for every item (and the
    failure is recorded for each); the steps that read them fail in turn, the others run.
    """
    vals = dict(scalars)
    bc = Broadcast(vals)
    for step in plan.steps:
        if step.mapped:
            continue
        raw = tuple(vals[a] for a in step.args)
        if any(v is FAILED for v in raw):
            vals.update(dict.fromkeys(step.outputs, FAILED))
            continue
        try:
            results = call_once(step, raw, stats, runner, bc, tuning or state_of(plan).tuning)
        except Exception as exc:
            results = once_failed(step, raw, exc, on_error, n, stats)
            bc.failure = bc.failure or (step.name, exc)
        vals.update(zip(step.outputs, results, strict=True))
    bc.broken = bc.failure is not None
    return bc


def call_once(step: Step, raw: tuple[Any, ...], stats: Stats, runner: Any = PLAIN,
              bc: Broadcast | None = None, tuning: Tuning | None = None) -> tuple[Any, ...]:
    """Call a once-per-map step (resources built, async awaited, batch-only nodes given lists
    of one, a nested map run over its inner items) and record it; returns its outputs."""
    if step.nested is not None:
        from hotpipe._nested import run_nested_once

        return run_nested_once(step, raw, stats, runner, bc or Broadcast({}), tuning)
    k = step.slot
    noted = _oneoff.NOTED
    t0, c0 = perf_counter(), thread_time()
    try:
        if step.run_batch_only:
            result = call_batch_of_one(step.func, raw, step.name)
        else:
            args = tuple(resolve(v) for v in raw)
            if step.node.is_async:
                from hotpipe._aio import run_coroutine

                result = run_coroutine(step.func(*args))
            else:
                result = step.func(*args)
        return _unpack_one(step, result) if step.unpack else (result,)
    finally:
        t1 = perf_counter()
        once = stats.one_off(_oneoff.take(noted)) if noted != _oneoff.NOTED else 0.0
        stats.step_done(k, 1, 1, t0, t1, thread_time() - c0, t1 - t0 - once)
        stats.record(k, 0, t1 - t0 - once, raw, partial(describe_inputs, step))


def once_failed(step: Step, raw: tuple[Any, ...], exc: Exception, on_error: str, n: int,
                stats: Stats) -> tuple[Any, ...]:
    """A once-per-map step raised: raise its NodeError, or (collect) record it for every
    item and return FAILED outputs (only the steps that read them fail in turn)."""
    if isinstance(exc, NodeError) and step.nested is not None:
        raise exc  # an inner step failed for every outer item: already said
    if on_error == "raise":
        raise NodeError(step.name, None, describe_inputs(step, raw), exc) from exc
    for i in range(n):
        stats.failed(ItemError(i, step.name, exc, (i,)))
    return (FAILED,) * len(step.outputs)


# ----------------------------------------------------------------------------- columns


class Chunk:
    """The per-chunk context the column loops share: where items are, what failed, and how
    inner plans of nested maps run (the ``runner``, the map's ``bc``, the ``tuning``).

    ``index`` maps a position in the columns being run to a position of the chunk (a list
    for a subset, as the cache runs); ``paths`` gives a chunk position's index at every
    nesting level (None: a top-level chunk, whose position ``p`` is item ``offset + p``).
    """

    __slots__ = ("arrays", "bc", "failed", "index", "offset", "on_error", "paths", "runner",
                 "stats", "tuning")

    def __init__(self, offset: int, on_error: str, stats: Stats, failed: set[int],
                 index: list[int] | None = None,
                 paths: Sequence[tuple[int, ...]] | None = None,
                 runner: Any = PLAIN, bc: Broadcast | None = None,
                 tuning: Tuning | None = None, arrays: frozenset[str] = NO_ARRAYS) -> None:
        self.offset = offset
        self.on_error = on_error
        self.stats = stats
        self.failed = failed
        self.index = index
        self.paths = paths
        self.runner = runner
        self.bc = bc
        self.tuning = tuning
        self.arrays = arrays  # the values that may be arrays (hotpipe._arrays)

    def path(self, position: int) -> tuple[int, ...]:
        """The index path of the item at ``position`` (outermost map first)."""
        p = position if self.index is None else self.index[position]
        return (self.offset + p,) if self.paths is None else self.paths[p]

    def item(self, position: int) -> int:
        """The map index of the item at ``position`` (-1 inside ``run``)."""
        p = position if self.index is None else self.index[position]
        if self.paths is None:
            return self.offset + p
        path = self.paths[p]
        return path[0] if path else -1

    def fail(self, step: Step, position: int, values: tuple[Any, ...],
             exc: BaseException) -> None:
        """The item at ``position`` of ``step`` raised ``exc``."""
        if isinstance(exc, StopIteration):  # one error wherever the item ran (_map_fast)
            cause, exc = exc, stop_iteration(step.name)
            exc.__cause__ = cause
        path = self.path(position)
        if isinstance(exc, NodeError) and step.nested is not None:
            err = exc  # an inner step of a nested map: it already names itself and its path
        else:
            index = self.item(position)
            err = NodeError(step.name, None if index < 0 else index,
                            describe_inputs(step, values), exc,
                            path[1:] if index < 0 else path)
        if self.on_error == "raise":
            if err is exc:
                raise err
            raise err from exc
        self.stats.failed(ItemError(self.item(position), step.name, exc, path))
        self.failed.add(position)


def _rows(argcols: list[Any], start: int, stop: int) -> Any:
    """Argument tuples of items ``start..stop`` (broadcast columns are ``repeat`` objects)."""
    cols = [c if isinstance(c, repeat) else islice(c, start, stop) for c in argcols]
    return zip(*cols, strict=False)


def _map_fast(step: Step, argcols: list[Any], start: int, n: int, ctx: Chunk,
              out: list[Any]) -> None:
    """``out.extend(map(func, *columns))`` from item ``start``, resuming after a failure."""
    func = step.func
    while start < n:
        cols = argcols if start == 0 else [
            c if isinstance(c, repeat) else islice(c, start, None) for c in argcols
        ]
        before = len(out)
        try:
            out.extend(map(func, *cols))
        except Exception as exc:
            i = start + len(out) - before
            ctx.fail(step, i, next(_rows(argcols, i, i + 1)), exc)
            out.append(FAILED)
            start = i + 1
            continue
        i = start + len(out) - before
        if i >= n:
            return
        # map() ended early: the node raised StopIteration on item i, which ends a map
        # without an error (as a generator's StopIteration becomes a RuntimeError, PEP 479)
        ctx.fail(step, i, next(_rows(argcols, i, i + 1)), stop_iteration(step.name))
        out.append(FAILED)
        start = i + 1


def stop_iteration(name: str) -> RuntimeError:
    """The error of a node that raised ``StopIteration`` (``map()`` stops at it silently)."""
    return RuntimeError(
        f"node {name!r} raised StopIteration, which would end the map over its items "
        "without an error. Fix: catch it in the node (next(iterator, default)).")


def _map_items(step: Step, k: int, argcols: list[Any], start: int, stop: int, ctx: Chunk,
               out: list[Any], timed: bool) -> None:
    """Item by item from ``start`` to ``stop``: skips failed items, optionally times each
    (the times are recorded together at the end, inputs described only for the slowest)."""
    func, failed, append = step.func, ctx.failed, out.append
    if not timed:
        for i, row in enumerate(_rows(argcols, start, stop), start):
            if i in failed:
                append(FAILED)
                continue
            try:
                value = func(*row)
            except Exception as exc:
                ctx.fail(step, i, row, exc)
                value = FAILED
            append(value)
        return
    times: list[tuple[float, int, tuple[Any, ...]]] = []
    note = times.append
    try:
        for i, row in enumerate(_rows(argcols, start, stop), start):
            if i in failed:
                append(FAILED)
                continue
            t = perf_counter()
            try:
                value = func(*row)
            except Exception as exc:
                ctx.fail(step, i, row, exc)
                value = FAILED
            else:
                note((perf_counter() - t, i, row))
            append(value)
    finally:
        ctx.stats.record_many(k, times, ctx.item, partial(describe_inputs, step))


def split_outputs(step: Step, out: list[Any], ctx: Chunk,
                  argcols: list[Any] | None = None) -> list[list[Any]]:
    """Unzip a node's tuple results into one column per output (``argcols`` give the
    inputs of an item whose result has the wrong shape, for the message)."""
    k = len(step.outputs)
    cols: list[list[Any]] = [[] for _ in range(k)]
    failed = ctx.failed
    for i, value in enumerate(out):
        if value is FAILED and i in failed:
            for c in cols:
                c.append(FAILED)
            continue
        try:
            values = _unpack_one(step, value)
        except ValueError as exc:
            row = next(_rows(argcols, i, i + 1)) if argcols is not None else ()
            ctx.fail(step, i, row, exc)
            values = (FAILED,) * k
        for c, v in zip(cols, values, strict=True):
            c.append(v)
    return cols


def run_step(step: Step, k: int, argcols: list[Any], n: int, ctx: Chunk,
             batch_args: Callable[[int, int], tuple[Any, ...]]) -> tuple[list, int]:
    """One mapped step over the chunk; returns the outputs and the number of calls.

    Singular functions: timed samples first, then the fastest safe loop. Async functions:
    every item of the chunk awaited concurrently. Batch functions: batches of a measured size.
    """
    if step.node.is_async:
        return _map_async(step, k, argcols, n, ctx), n - len(ctx.failed)
    if step.batch is not None or step.node.vectorize is not None:
        return map_batches(step, k, n, ctx, batch_args, ctx.tuning)
    stats = ctx.stats
    out: list[Any] = []
    sample = min(n, max(0, stats.sample - stats.timed[k]))
    if sample:
        single = min(sample, max(0, SAMPLE_SINGLE - stats.timed[k]))
        first = (_first_call(step, argcols, ctx, out)
                 if single > 1 and not stats.timed[k] else None)
        if single > len(out):
            _map_items(step, k, argcols, len(out), single, ctx, out, timed=True)
        if first is not None:
            _settle_first_call(step, k, argcols, ctx, first)
        timed = stats.timed[k]
        if (sample > single and timed and not ctx.failed and k not in stats.slow
                and stats.timed_wall[k] / timed < CHEAP_ITEM):
            # a cheap node: the rest of the chunk in the C loop, timed as one block whose
            # mean stands for the rest of the sample
            t = perf_counter()
            _map_fast(step, argcols, single, n, ctx, out)
            done = n - single - len(ctx.failed)
            if done > 0:
                stats.record_block(k, min(done, sample - single),
                                   (perf_counter() - t) / done)
            return out, n - len(ctx.failed)
        if sample > single:
            _map_items(step, k, argcols, single, sample, ctx, out, timed=True)
    if sample < n:
        timed = stats.timed[k]
        slow = k in stats.slow or (
            bool(timed) and stats.timed_wall[k] / timed >= TIME_EVERY_ITEM_ABOVE
        )
        if slow or ctx.failed:
            _map_items(step, k, argcols, sample, n, ctx, out, timed=slow)
        else:
            _map_fast(step, argcols, sample, n, ctx, out)
    return out, n - len(ctx.failed)


FIRST_CALL_ABOVE = 0.001
"""Seconds by which a node's first call in a process must exceed its typical item (and be
over twice as long) to count as a one-off first call (imports, JIT compilation)."""


def _first_call(step: Step, argcols: list[Any], ctx: Chunk, out: list[Any]) -> float | None:
    """Run the first item alone if this is the node's first call in this process; its
    seconds (None otherwise)."""
    if not _oneoff.first_in_process(step.func):
        return None
    t = perf_counter()
    _map_items(step, step.slot, argcols, 0, 1, ctx, out, timed=False)
    return perf_counter() - t


def _settle_first_call(step: Step, k: int, argcols: list[Any], ctx: Chunk,
                       seconds: float) -> None:
    """Count the first call as an item, less what it took beyond the sample's median: that
    excess is a one-off (taken out of the step's wall by the column loop)."""
    if 0 in ctx.failed:
        return
    stats = ctx.stats
    typical = stats.percentile(k, 0.5)
    if typical is not None and seconds > 2 * typical and seconds - typical > FIRST_CALL_ABOVE:
        _oneoff.note(_oneoff.FIRST_CALL, step.name, seconds - typical)
        stats.record_block(k, 1, typical)
        return
    stats.record(k, ctx.item(0), seconds, next(_rows(argcols, 0, 1)),
                 partial(describe_inputs, step))


def _map_async(step: Step, k: int, argcols: list[Any], n: int, ctx: Chunk) -> list[Any]:
    """Await every item of the chunk concurrently (``max_concurrency`` at once)."""
    from hotpipe._aio import gather_items
    from hotpipe._ticks import ITEMS_DONE

    ticks = ITEMS_DONE.get()  # progress is shown: count this step's items as they finish
    if ticks is not None and ticks.slot != k:
        ticks = None
    failed = ctx.failed
    rows = [(i, row) for i, row in enumerate(_rows(argcols, 0, n)) if i not in failed]
    out: list[Any] = [FAILED] * n
    describe = partial(describe_inputs, step)
    for (i, value, exc, seconds), (_, row) in zip(
        gather_items(step.func, rows, step.node.max_concurrency, ticks), rows, strict=True
    ):
        if exc is not None:
            ctx.fail(step, i, row, exc)
            continue
        ctx.stats.record(k, ctx.item(i), seconds, row, describe)
        out[i] = value
    return out


def run_columns(
    plan: Plan,
    columns: dict[str, list[Any]],
    bc: Broadcast,
    n: int,
    offset: int,
    on_error: str,
    stats: Stats,
    runner: Any = PLAIN,
    paths: Sequence[tuple[int, ...]] | None = None,
    tuning: Tuning | None = None,
) -> dict[str, list[Any]]:
    """Run the plan's per-item steps over ``n`` items held column-wise.

    ``columns`` hold the mapped inputs (lists of length ``n``); ``bc`` every broadcast
    value, from :func:`run_broadcast`. ``offset`` is the index of the first item (for
    messages); inside a nested map ``paths`` give each item's index path instead. Returns
    the columns of ``plan.outputs``.
    """
    scalars = bc.values
    cols = dict(columns)
    tuning = tuning or state_of(plan).tuning
    arrays = array_names(plan, columns)
    listed: dict[str, list[Any]] = {}  # array columns as items, for singular steps
    ctx = Chunk(offset, on_error, stats, set(), None, paths, runner, bc, tuning, arrays)
    dirty = bc.broken  # some value is FAILED: steps must look for failed arguments
    for step in plan.steps:
        if not step.mapped:
            continue
        k = step.slot
        noted = _oneoff.NOTED
        t0, c0 = perf_counter(), thread_time()
        ctx.failed = skipped_items(step, cols, scalars, n) if dirty else set()
        if step.nested is not None:
            from hotpipe._nested import run_nested

            outs, inner_wall, inner_cpu = run_nested(step, cols, scalars, n, ctx)
            cols.update(zip(step.outputs, outs, strict=True))
            calls = n - len(ctx.failed)
        else:
            inner_wall = inner_cpu = 0.0
            argcols = resolved_columns(
                step, items_of(cols, step, listed) if arrays and not is_vector_step(step)
                else cols, scalars, n, ctx)
            if argcols is None:  # a resource could not be built: every item failed
                out, calls = [FAILED] * n, 0
            else:
                out, calls = run_step(step, k, argcols, n, ctx,
                                      partial(batch_columns, step, cols, scalars))
            if step.unpack:
                split = split_outputs(step, out, ctx, argcols)
                cols.update(zip(step.outputs, split, strict=True))
            else:
                cols[step.outputs[0]] = out
        dirty = dirty or bool(ctx.failed)
        t1 = perf_counter()
        if noted != _oneoff.NOTED:  # a resource was built: a one-off, not this step's time
            inner_wall += stats.one_off(_oneoff.take(noted))
        stats.step_done(k, calls, n - len(ctx.failed), t0, t1,
                        thread_time() - c0 - inner_cpu, t1 - t0 - inner_wall)
    stats.chunks += 1
    return {name: cols[name] if name in cols else [scalars[name]] * n for name in plan.outputs}


def skipped_items(step: Step, cols: dict[str, list[Any]], scalars: dict[str, Any],
                  n: int) -> set[int]:
    """Positions where an argument of ``step`` holds FAILED (an upstream failure): the step
    is not called there and its outputs are FAILED too. Values that did not fail flow on."""
    bad: set[int] = set()
    for a in step.args:
        col = cols.get(a)
        if col is None:
            if scalars[a] is FAILED:
                return set(range(n))
            continue
        if type(col) is list or not is_array(col):  # an array holds no FAILED
            bad.update(i for i, v in enumerate(col) if v is FAILED)
    return bad


def resolved_columns(step: Step, cols: dict[str, list[Any]], scalars: dict[str, Any], n: int,
                     ctx: Chunk) -> list[Any] | None:
    """The step's argument columns, broadcast resources built. A resource that cannot be
    built fails the step for every item (or raises, with ``on_error="raise"``)."""
    try:
        return [cols[a] if a in cols else repeat(resolve(scalars[a])) for a in step.args]
    except Exception as exc:
        for i in range(n):
            if i not in ctx.failed:
                ctx.fail(step, i, (), exc)
        ctx.failed.update(range(n))
        return None
