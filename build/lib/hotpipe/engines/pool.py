"""What the parallel engines share: probe the per-item cost, size chunks, farm them out.

``PoolEngine.run_map`` runs the broadcast steps once in the caller, then runs the first items
in-process as a *probe* (doubling chunks of 1, 2, 4, ... items until ~10 ms are spent or 64
items are done). The probe measures the per-item cost, and the subclass decides from it
whether the rest is worth sending to workers (a map too small to pay for the pool runs
in-process, and the profile's notes say so) and how many items go in a chunk. Results come
back in order; counters from every chunk merge into one :class:`Stats`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe.engines.base import Engine, Outcome
from hotpipe.engines.local import Local
from hotpipe.execute import Broadcast, run_broadcast, run_columns
from hotpipe.plan import Plan
from hotpipe.profile.stats import SAMPLE_ITEMS, TIME_EVERY_ITEM_ABOVE, Stats

if TYPE_CHECKING:
    from hotpipe.cache.store import Cache

__all__ = ["Job", "PoolEngine", "Probe", "check_chunk_size"]

PROBE_SECONDS = 0.01
PROBE_MAX_ITEMS = 64


@dataclass
class Probe:
    """What the in-process probe measured on the first ``items`` items."""

    items: int
    wall: float
    cpu: float
    slow_steps: frozenset[int]
    typical: float = 0.0

    @property
    def per_item(self) -> float:
        """Seconds per item: the sum over the nodes of their median item time (robust to
        a preemption landing in a probe of a few hundred microseconds on a busy machine),
        or the mean when no item was timed."""
        if self.typical > 0:
            return self.typical
        return self.wall / self.items if self.items else 0.0



@dataclass
class Job:
    """One map being executed: the plan, the values and the counters."""

    plan: Plan
    columns: dict[str, list[Any]]
    bc: Broadcast
    n: int
    on_error: str
    stats: Stats
    cache: Cache | None
    offset: int = 0

    def chunk(self, start: int, stop: int) -> dict[str, list[Any]]:
        return {k: v[start:stop] for k, v in self.columns.items()}


class PoolEngine(Engine):
    """Base of the engines that run chunks of items on workers."""

    workers: int
    fixed_chunk: int | None = None

    @property
    def stream_chunk(self) -> int:
        # enough items per stream chunk to give every worker several chunks of its own
        return self.fixed_chunk * self.workers * 4 if self.fixed_chunk else 128 * self.workers

    def run_item(self, plan: Plan, inputs: dict[str, Any]) -> Outcome:
        """A single item runs in the caller: there is nothing to split."""
        return Local().run_item(plan, inputs)

    def run_map(
        self,
        plan: Plan,
        columns: dict[str, list[Any]],
        scalars: dict[str, Any],
        n: int,
        on_error: str,
        on_progress: Callable[[int], None] | None = None,
        cache: Cache | None = None,
        broadcast: Broadcast | None = None,
        offset: int = 0,
    ) -> Outcome:
        t0 = perf_counter()
        stats = Stats.empty(len(plan.steps))
        bc = broadcast or run_broadcast(plan, scalars, n, on_error, stats, cache)
        job = Job(plan, columns, bc, n, on_error, stats, cache, offset)
        values: dict[str, list[Any]] = {name: [] for name in plan.outputs}
        notes: list[str] = []
        if self.fixed_chunk is None:
            probe = self._probe(job, values, on_progress)
        else:
            probe = Probe(0, 0.0, 0.0, frozenset())
        rest = n - probe.items
        if rest > 0:
            size = self.fixed_chunk or self.plan_chunks(job, probe, rest, notes)
            if size is None:
                self._run_local(job, probe.items, values, on_progress)
            else:
                self._run_pool(job, probe, probe.items, size, values, on_progress)
        stats.errors.sort(key=lambda e: e.index)  # chunks finish in any order
        outcome = Outcome(values, perf_counter() - t0, n, t0, stats=stats)
        outcome.notes.extend(notes)
        return outcome

    # ------------------------------------------------------------------ steps of a map

    def _probe(self, job: Job, values: dict[str, list[Any]],
               on_progress: Callable[[int], None] | None) -> Probe:
        done, size = 0, 1
        t0 = perf_counter()
        while done < min(job.n, PROBE_MAX_ITEMS) and perf_counter() - t0 < PROBE_SECONDS:
            stop = min(done + size, job.n, PROBE_MAX_ITEMS)
            self._local_chunk(job, done, stop, values)
            if on_progress is not None:
                on_progress(stop - done)
            done, size = stop, size * 2
        s = job.stats
        mapped = [k for k, step in enumerate(job.plan.steps) if step.mapped]
        wall = sum(s.wall[k] for k in mapped)
        cpu = sum(s.cpu[k] for k in mapped)
        slow = frozenset(
            k for k in mapped
            if s.timed[k] and s.timed_wall[k] / s.timed[k] >= TIME_EVERY_ITEM_ABOVE
        )
        medians = [s.percentile(k, 0.5) for k in mapped]
        typical = sum(m for m in medians if m is not None) if all(
            m is not None for m in medians) else 0.0
        return Probe(done, wall, cpu, slow, typical)

    def _local_chunk(self, job: Job, start: int, stop: int,
                     values: dict[str, list[Any]]) -> None:
        produced = run_columns(job.plan, job.chunk(start, stop), job.bc, stop - start,
                               job.offset + start, job.on_error, job.stats, job.cache)
        for name, col in values.items():
            col.extend(produced[name])

    def _run_local(self, job: Job, start: int, values: dict[str, list[Any]],
                   on_progress: Callable[[int], None] | None) -> None:
        size = Local().chunk_size
        for s in range(start, job.n, size):
            stop = min(s + size, job.n)
            self._local_chunk(job, s, stop, values)
            if on_progress is not None:
                on_progress(stop - s)

    def _run_pool(self, job: Job, probe: Probe, start: int, size: int,
                  values: dict[str, list[Any]],
                  on_progress: Callable[[int], None] | None) -> None:
        """Submit every chunk, gather results in order.

        With ``on_error="raise"`` the failure reported is the one at the lowest item index,
        as ``Local`` would report it: after a chunk fails, later chunks are cancelled and
        earlier ones still finish. A failure cancels only this map's chunks; an interrupt
        (Ctrl-C) stops the workers.
        """
        bounds = [(s, min(s + size, job.n)) for s in range(start, job.n, size)]
        results: list[dict[str, list[Any]] | None] = [None] * len(bounds)
        handle = self.prepare(job, probe)
        pending: dict[Future, int] = {}
        first_error: tuple[int, BaseException] | None = None
        try:
            for i, (a, b) in enumerate(bounds):
                pending[self.submit(handle, job, a, b)] = i
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    if fut.cancelled():
                        continue
                    a, b = bounds[i]
                    try:
                        produced, chunk_stats = self.collect(fut, handle, job, a, b)
                    except Exception as exc:
                        if first_error is None or i < first_error[0]:
                            first_error = (i, exc)
                        for later in [f for f, j in pending.items() if j > i]:
                            if later.cancel():
                                pending.pop(later)
                        continue
                    job.stats.merge(chunk_stats)
                    results[i] = produced
                    if on_progress is not None:
                        on_progress(b - a)
        except BaseException as exc:
            for fut in pending:
                fut.cancel()
            if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: stop the workers now
                self.abort()
            raise
        if first_error is not None:
            raise first_error[1]
        for produced in results:
            assert produced is not None
            for name, col in values.items():
                col.extend(produced[name])

    # ------------------------------------------------------------------ for subclasses

    def chunk_size(self, probe: Probe, rest: int, target_seconds: float) -> int:
        """Items per chunk so that a chunk takes ~``target_seconds``, with at least ~4 chunks
        per worker for balance."""
        balance = max(1, math.ceil(rest / (self.workers * 4)))
        if probe.per_item <= 0:
            return balance
        return max(1, min(balance, int(target_seconds / probe.per_item)))

    @staticmethod
    def chunk_stats(plan: Plan, probe: Probe) -> Stats:
        """Counters for a worker's chunk: no more sampling when the probe did it (its slow
        steps are timed item by item)."""
        # without a probe (a fixed chunk size) every chunk times its first items, so slow
        # nodes are found and timed item by item in every chunk
        sample = SAMPLE_ITEMS if not probe.items else 0
        return Stats.empty(len(plan.steps), sample=sample, slow=probe.slow_steps)

    @abstractmethod
    def plan_chunks(self, job: Job, probe: Probe, rest: int, notes: list[str]) -> int | None:
        """Items per chunk for the remaining ``rest`` items, or None to run them in-process
        (append the reason to ``notes``)."""

    @abstractmethod
    def prepare(self, job: Job, probe: Probe) -> Any:
        """Per-map state shared by the submissions (e.g. the pickled plan)."""

    @abstractmethod
    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future:
        """Start items ``start..stop`` on a worker."""

    @abstractmethod
    def collect(self, fut: Future, handle: Any, job: Job, start: int,
                stop: int) -> tuple[dict[str, list[Any]], Stats]:
        """The finished chunk's output columns and counters (raise its NodeError)."""

    @abstractmethod
    def abort(self) -> None:
        """Stop the workers now: an interrupt (Ctrl-C) arrived during a map."""



def check_chunk_size(engine: str, chunk_size: int | None) -> int | None:
    from hotpipe.errors import InputError

    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise InputError(f"{engine}(chunk_size={chunk_size!r}): must be an int >= 1 or None.")
    return chunk_size
