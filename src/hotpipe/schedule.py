"""The one scheduling loop every engine runs: broadcast once, probe, size chunks, submit
them, merge the results in order.

:func:`run_map` is the whole life of a map. The broadcast steps run once, in the caller,
through the call's runner (plain or cached). An engine that wants one then gets an in-process
*probe* of the first items (doubling chunks of 1, 2, 4, ... items until ~10 ms are spent or
64 items are done) that measures the per-item cost; the engine decides from it how many items
go in a chunk, or that the rest is too small to pay for its workers and runs in-process (the
profile's notes say why). Chunks are then submitted at most ``engine.window`` at a time and
merged in item order. With ``on_error="raise"`` the failure reported is the one at the lowest
item index, as a loop over the items would report it: after a chunk fails, later chunks are
cancelled and earlier ones still finish. An interrupt (Ctrl-C) stops the workers.

Engines are adapters (:class:`hotpipe.engines.base.Engine`): they say where a chunk runs
(``submit``/``collect``), never how; the runner and this loop are the same for all of them.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from hotpipe._arrays import append_column, array_chunk, finish_column
from hotpipe._ticks import PROGRESS_SLICE, last_async_step, run_with_progress
from hotpipe._vectorize import vector_notes
from hotpipe.execute import PLAIN, Broadcast
from hotpipe.plan import Plan
from hotpipe.profile.stats import SAMPLE_ITEMS, TIME_EVERY_ITEM_ABOVE, Stats

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotpipe.execute import PlainRunner

__all__ = ["ARRAY_CHUNK", "IN_PROCESS_CHUNK", "Job", "Outcome", "Probe", "balanced_chunk",
           "run_map", "stable_chunk"]

PROBE_SECONDS = 0.01
PROBE_MAX_ITEMS = 64
IN_PROCESS_CHUNK = 1024
"""Items per chunk when a map runs in the calling thread (``Local``'s default)."""
GROWN_CHUNK = 16384
"""The most items per chunk that a default in-process chunk grows to (see GROW_TARGET)."""
GROW_TARGET = 0.002
"""Seconds an in-process chunk of the default size aims for, without a cache: after a chunk
of cheap items the next takes ~this long (at most GROWN_CHUNK items). A chunk costs ~10 us
per node in bookkeeping and copies: at 1,024 items of 0.1 us per node that is a tenth of
the work; items that already take this long keep 1,024-item chunks (bounded memory)."""
ARRAY_CHUNK = 1 << 20
"""``Local``'s default chunk when batch steps read array columns (hotpipe._arrays)."""
STABLE_CHUNKS = 64
"""Chunks a cached map on a pool engine aims for (see :func:`stable_chunk`)."""
STABLE_MIN = 8
"""The fewest items per chunk of a cached map on a pool engine (a pack per chunk and node)."""


def stable_chunk(n: int) -> int:
    """Items per chunk of a cached map of ``n`` items on an engine that sizes its own chunks.

    A cache stores one pack per chunk and node, keyed by the chunk's items: a rerun reads it
    only if it cuts the same chunks. A probe that measures time takes a different number of
    items on every run, so a cached map's grid depends on ``n`` alone: the power of two
    nearest above ``n / STABLE_CHUNKS``, within ``STABLE_MIN..IN_PROCESS_CHUNK`` (enough
    chunks to keep every worker busy, few enough to keep one lookup per pack cheap).

    >>> stable_chunk(100), stable_chunk(5_000), stable_chunk(10**6)
    (8, 128, 1024)
    """
    target = max(1, -(-n // STABLE_CHUNKS))
    return max(STABLE_MIN, min(IN_PROCESS_CHUNK, 1 << (target - 1).bit_length()))


class Outcome:
    """What an engine returns: the requested values, counters per step, the wall time.

    ``run`` fills only two lists of numbers (wall and CPU per step); the full
    :class:`Stats` is built from them when the profile is read.
    """

    __slots__ = ("_cpu", "_notes", "_stats", "_wall", "n_items", "one_offs", "start", "values",
                 "wall")

    def __init__(
        self,
        values: dict[str, Any],
        wall: float,
        n_items: int,
        start: float,
        stats: Stats | None = None,
        step_wall: list[float] | None = None,
        step_cpu: list[float] | None = None,
    ) -> None:
        self.values = values
        self.wall = wall
        self.n_items = n_items
        self.start = start
        self._stats = stats
        self._wall = step_wall
        self._cpu = step_cpu
        self._notes: list[str] | None = None
        self.one_offs: list[Any] = []  # a run's one-off costs (hotpipe._oneoff)

    @property
    def notes(self) -> list[str]:
        """What the engine decided and why, for the profile."""
        if self._notes is None:
            self._notes = []
        return self._notes

    @property
    def stats(self) -> Stats:
        if self._stats is None:
            self._stats = Stats.from_run(self._wall or [], self._cpu, self.start)
            self._stats.one_offs.extend(self.one_offs)
        return self._stats


@dataclass
class Probe:
    """What the in-process probe measured on the first ``items`` items."""

    items: int
    wall: float
    cpu: float
    slow_steps: frozenset[int]
    typical: float = 0.0
    grid: int | None = None
    """Items per chunk fixed in advance (a cached map's :func:`stable_chunk`), else None."""

    @property
    def per_item(self) -> float:
        """Seconds per item: the sum over the nodes of their median item time (robust to
        a preemption landing in a probe of a few hundred microseconds on a busy machine),
        or the mean when no item was timed."""
        if self.typical > 0:
            return self.typical
        return self.wall / self.items if self.items else 0.0


NO_PROBE = Probe(0, 0.0, 0.0, frozenset())


@dataclass
class Job:
    """One map being executed: the plan, the values, the runner and the counters."""

    plan: Plan
    columns: dict[str, list[Any]]
    bc: Broadcast
    n: int
    on_error: str
    stats: Stats
    runner: PlainRunner
    offset: int = 0
    ticks: Any = None  # per-chunk progress counters (hotpipe._ticks), with a callback only

    def chunk(self, start: int, stop: int) -> dict[str, list[Any]]:
        if start == 0 and stop == self.n:
            return self.columns
        return {k: v[start:stop] for k, v in self.columns.items()}

    def run_here(self, start: int, stop: int) -> dict[str, list[Any]]:
        """Items ``start..stop`` in this thread, counted in the map's counters."""
        return self.runner.columns(self.plan, self.chunk(start, stop), self.bc, stop - start,
                                   self.offset + start, self.on_error, self.stats)


class Adapter(Protocol):
    """What :func:`run_map` asks of an engine (see :class:`hotpipe.engines.base.Engine`)."""

    workers: int
    fixed_chunk: int | None
    wants_probe: bool
    window: int

    def plan_chunks(self, job: Job, probe: Probe, rest: int,
                    notes: list[str]) -> int | None: ...
    def skip_probe(self, job: Job) -> str | None: ...
    def prepare(self, job: Job, probe: Probe) -> Any: ...
    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future | None: ...
    def collect(self, fut: Future, handle: Any, job: Job, start: int,
                stop: int) -> tuple[dict[str, list[Any]], Stats]: ...
    def abort(self) -> None: ...
    def progress_ticks(self, starts: list[int]) -> Any: ...




def run_map(engine: Adapter, plan: Plan, columns: dict[str, list[Any]],
            scalars: dict[str, Any], n: int, on_error: str,
            on_progress: Callable[[int], None] | None = None,
            runner: PlainRunner | None = None, broadcast: Broadcast | None = None,
            offset: int = 0) -> Outcome:
    """Run ``plan`` over ``n`` items on ``engine``; see the module docstring."""
    t0 = perf_counter()
    runner = runner or PLAIN
    stats = Stats.empty(plan.width)
    bc = broadcast or runner.broadcast(plan, scalars, n, on_error, stats)
    job = Job(plan, columns, bc, n, on_error, stats, runner, offset)
    values: dict[str, list[Any]] = {name: [] for name in plan.outputs}
    notes: list[str] = []
    # a cached map on an engine that sizes its chunks cuts them on a grid fixed by n, so a
    # rerun reads the packs the last run wrote (the probe is then the grid's first chunk)
    grid = stable_chunk(n) if runner.cached and engine.fixed_chunk is None else None
    probe = NO_PROBE if grid is None else Probe(0, 0.0, 0.0, frozenset(), grid=grid)
    if engine.wants_probe and engine.fixed_chunk is None:
        skip = engine.skip_probe(job)
        if skip:
            notes.append(f"{engine.name}: no in-process probe: {skip}")
        else:
            probe = _probe(job, values, on_progress, grid)
    rest = n - probe.items
    if n == 0:
        _run_here(job, 0, 1, values, on_progress)
    elif rest > 0:
        size = (array_chunk(engine, plan, columns) or engine.fixed_chunk
                or engine.plan_chunks(job, probe, rest, notes))
        if size is None or engine.window <= 0:
            size = size or grid or IN_PROCESS_CHUNK
            # uncached (pack boundaries must repeat), default-sized chunks may grow
            grow = size == IN_PROCESS_CHUNK and job.runner is PLAIN
            _run_here(job, probe.items, size, values, on_progress, grow)
        else:
            _run_workers(engine, job, probe, probe.items, size, values, on_progress)
    stats.errors.sort(key=lambda e: e.path or (e.index,))  # chunks finish in any order
    values = {name: finish_column(col) for name, col in values.items()}
    outcome = Outcome(values, perf_counter() - t0, n, t0, stats=stats)
    outcome.notes.extend(notes)
    outcome.notes.extend(vector_notes(plan, stats))
    return outcome


def _merge(values: dict[str, list[Any]], produced: dict[str, list[Any]], whole: bool) -> None:
    if whole:  # one chunk holds every item: its columns are the result
        values.update(produced)
        return
    for name, col in values.items():
        part = produced[name]
        if type(part) is list and type(col) is list:
            if len(col) < len(part):  # a short prefix goes in front of a long chunk: a
                part[:0] = col  # memmove of the chunk, not one reference count per item
                values[name] = part
            else:
                col.extend(part)
        else:  # an array column: its chunks are concatenated once, at the end
            values[name] = append_column(col, part)


def _run_here(job: Job, start: int, size: int, values: dict[str, list[Any]],
              on_progress: Callable[[int], None] | None, grow: bool = False) -> None:
    """The chunks in this thread, in order (a failure stops the map where it happens).

    With ``grow``, a chunk that took under ``GROW_TARGET`` makes the next one larger, sized
    to take about that long (at most ``GROWN_CHUNK`` items). With a progress callback the
    chunks start at one item and double while one takes less
    than ``PROGRESS_SLICE`` seconds (halving when one takes over four times that), up to
    ``size``: a bar moves every ~0.1 s even when a full chunk takes minutes, and cheap items
    reach full chunks after a few doublings. A cached map keeps its chunks (its packs are
    keyed by them) and reports progress once per chunk."""
    n = job.n
    if on_progress is None or job.runner.cached:
        s, step = start, size
        while True:
            stop = min(s + step, n)
            t0 = perf_counter()
            produced = job.run_here(s, stop)
            took = perf_counter() - t0
            _merge(values, produced, s == 0 and stop == n)
            if on_progress is not None:
                on_progress(stop - s)
            s = stop
            if s >= n:
                return
            if grow and took < GROW_TARGET:
                grow = _small_values(produced)  # decided once, on the first chunk
                if grow:
                    step = min(GROWN_CHUNK,
                               max(step, int(step * GROW_TARGET / max(took, 1e-6))))
    if n > start and last_async_step(job.plan) is not None:
        # slices would await one item at a time: whole chunks, async items counted
        for s in range(start, n, size):
            stop = min(s + size, n)
            _merge(values, run_with_progress(job.plan, partial(_run_at, job, s), stop - s,
                                             on_progress), s == 0 and stop == n)
        return
    s, step = start, 1 if n > 1 else size
    while True:
        stop = min(s + step, n)
        t0 = perf_counter()
        _merge(values, job.run_here(s, stop), s == 0 and stop == n)
        took = perf_counter() - t0
        on_progress(stop - s)
        s = stop
        if s >= n:
            return
        if took < PROGRESS_SLICE:
            step = min(step * 2, size)
        elif took > 4 * PROGRESS_SLICE:
            step = max(1, step // 2)


def _run_at(job: Job, base: int, a: int, b: int) -> dict[str, list[Any]]:
    return job.run_here(base + a, base + b)


GROW_ITEM_BYTES = 1024
"""A default chunk grows only while the values it returns are at most this large each (a
chunk of 16,384 such items holds ~16 MiB)."""


def _small_values(produced: dict[str, Any]) -> bool:
    """Whether the first value of every returned list column is small (``sys.getsizeof``,
    which counts a numpy array's own buffer)."""
    return all(sys.getsizeof(col[0]) <= GROW_ITEM_BYTES
               for col in produced.values() if type(col) is list and col)


def _probe(job: Job, values: dict[str, list[Any]],
           on_progress: Callable[[int], None] | None, grid: int | None = None) -> Probe:
    """Run the first items here and measure them: doubling chunks until ~PROBE_SECONDS,
    or, on a fixed ``grid``, exactly its first chunk."""
    done, size = 0, 1
    t0 = perf_counter()
    if grid is not None:
        stop = min(grid, job.n)
        _merge(values, job.run_here(0, stop), False)
        if on_progress is not None:
            on_progress(stop)
        done = stop
    once = job.stats.one_offs  # a resource built by the first item is no item's time
    while done < min(job.n, PROBE_MAX_ITEMS) and grid is None and (
            perf_counter() - t0 - sum(e.seconds for e in once if e.inside) < PROBE_SECONDS):
        stop = min(done + size, job.n, PROBE_MAX_ITEMS)
        _merge(values, job.run_here(done, stop), False)
        if on_progress is not None:
            on_progress(stop - done)
        done, size = stop, size * 2
    s = job.stats
    mapped = job.plan.mapped_slots()
    wall = sum(s.wall[k] for k in mapped)
    cpu = sum(s.cpu[k] for k in mapped)
    slow = frozenset(
        k for k in mapped
        if s.timed[k] and s.timed_wall[k] / s.timed[k] >= TIME_EVERY_ITEM_ABOVE
    )
    # per-item medians add up to an item's cost only without nested maps (whose inner
    # rows count inner items)
    medians = [s.percentile(k, 0.5) for k in mapped]
    typical = sum(m for m in medians if m is not None) if all(
        m is not None for m in medians) and not job.plan.has_nested else 0.0
    return Probe(done, wall, cpu, slow, typical, grid)


def _run_workers(engine: Adapter, job: Job, probe: Probe, start: int, size: int,
                 values: dict[str, list[Any]],
                 on_progress: Callable[[int], None] | None) -> None:
    """Submit the chunks (at most ``engine.window`` in flight), gather them in order."""
    bounds = [(s, min(s + size, job.n)) for s in range(start, job.n, size)]
    results: list[dict[str, list[Any]] | None] = [None] * len(bounds)
    handle = engine.prepare(job, probe)
    reported = [0] * len(bounds)  # items of each chunk already passed to on_progress
    # counters the workers fill as they go (a cached map's chunks run whole: see _ticks)
    ticks = job.ticks = engine.progress_ticks([a for a, _ in bounds]) if (
        on_progress is not None and not job.runner.cached) else None
    pending: dict[Future, int] = {}
    first_error: tuple[int, BaseException] | None = None
    nxt = 0
    try:
        while nxt < len(bounds) or pending:
            while nxt < len(bounds) and len(pending) < engine.window and (
                    first_error is None or nxt < first_error[0]):
                a, b = bounds[nxt]
                pending[engine.submit(handle, job, a, b)] = nxt
                nxt += 1
            if not pending:
                break
            done, _ = wait(pending, timeout=None if ticks is None else PROGRESS_SLICE,
                           return_when=FIRST_COMPLETED)
            if ticks is not None:  # items finished inside the chunks still running
                _report_ticks(ticks, pending, done, bounds, reported, on_progress)
            for fut in done:
                i = pending.pop(fut)
                if fut.cancelled():
                    continue
                a, b = bounds[i]
                try:
                    produced, chunk_stats = engine.collect(fut, handle, job, a, b)
                except Exception as exc:
                    if first_error is None or i < first_error[0]:
                        first_error = (i, exc)
                    for later in [f for f, j in pending.items() if j > i]:
                        if later.cancel():
                            pending.pop(later)
                    continue
                job.stats.merge(chunk_stats)
                results[i] = produced
                if on_progress is not None and b - a > reported[i]:
                    on_progress(b - a - reported[i])
    except BaseException as exc:
        for fut in pending:
            fut.cancel()
        if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: stop the workers now
            engine.abort()
        raise
    finally:
        if ticks is not None:
            ticks.close()
            job.ticks = None
    if first_error is not None:
        raise first_error[1]
    for produced in results:
        assert produced is not None
        _merge(values, produced, False)


def _report_ticks(ticks: Any, pending: dict[Future, int], done: set[Future],
                  bounds: list[tuple[int, int]], reported: list[int],
                  on_progress: Callable[[int], None]) -> None:
    """Pass on the items the workers counted in their unfinished chunks since last time."""
    for fut, i in pending.items():
        if fut in done:
            continue
        count = min(ticks.read(i), bounds[i][1] - bounds[i][0])
        if count > reported[i]:
            on_progress(count - reported[i])
            reported[i] = count


def balanced_chunk(workers: int, probe: Probe, rest: int, target_seconds: float) -> int:
    """Items per chunk so that a chunk takes ~``target_seconds``, with at least ~4 chunks
    per worker for balance; a probe's fixed ``grid`` wins."""
    if probe.grid is not None:
        return probe.grid
    balance = max(1, math.ceil(rest / (workers * 4)))
    if probe.per_item <= 0:
        return balance
    return max(1, min(balance, int(target_seconds / probe.per_item)))


def chunk_stats(plan: Plan, probe: Probe) -> Stats:
    """Counters for a worker's chunk: no more sampling when the probe did it (its slow
    steps are timed item by item)."""
    # without a probe (a fixed chunk size) every chunk times its first items, so slow
    # nodes are found and timed item by item in every chunk
    sample = SAMPLE_ITEMS if not probe.items else 0
    return Stats.empty(plan.width, sample=sample, slow=probe.slow_steps)
