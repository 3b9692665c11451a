"""``Threads``: chunks of items on a thread pool; for I/O-bound and GPU nodes.

Threads share the process, so nothing is pickled and a resource (a model, a client) is built
once and shared. Pure-Python compute does not speed up under the GIL; waiting does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hotpipe._ticks import ThreadTicks, first_slice, run_with_progress
from hotpipe.engines.pool import Job, PoolEngine, Probe, check_chunk_size
from hotpipe.errors import InputError
from hotpipe.profile.stats import Stats

__all__ = ["Threads"]


class Threads(PoolEngine):
    """Run chunks of a map on ``workers`` threads (default: ``min(32, cpus + 4)``).

    A chunk takes ~5 ms of measured work, so I/O-bound nodes (a 10 ms request) go one item
    per task and all workers wait at once; ``chunk_size`` fixes it instead (and skips the
    in-process probe). The pool is created on first use and reused; ``close()`` (or
    ``with Threads() as t:``) shuts it down.
    """

    name = "threads"

    def __init__(self, workers: int | None = None, chunk_size: int | None = None) -> None:
        if workers is not None and (type(workers) is not int or workers < 1):
            raise InputError(f"Threads(workers={workers!r}): must be an int >= 1 or None.")
        self.workers = workers or min(32, (os.cpu_count() or 1) + 4)
        self.fixed_chunk = check_chunk_size("Threads", chunk_size)
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hotpipe")
        return self._pool

    def plan_chunks(self, job: Job, probe: Probe, rest: int, notes: list[str]) -> int | None:
        if self.workers == 1:
            notes.append("threads: 1 worker, ran in the calling thread")
            return None
        return self.chunk_size(probe, rest, target_seconds=0.005)

    def skip_probe(self, job: Job) -> str | None:
        """A cached map's chunks are fixed in advance (``schedule.stable_chunk``) and threads
        need no decision whether to use the pool: probing its first chunk in the caller
        would only delay the workers (by a whole chunk of slow I/O items)."""
        if job.runner.cached and self.workers > 1:
            return "a cached map's chunks are fixed by its item count"
        return None

    def prepare(self, job: Job, probe: Probe) -> Any:
        return probe

    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future:
        stats = self.chunk_stats(job.plan, handle)
        first = slot = None
        if job.ticks is not None:
            first = first_slice(handle.per_item)
            slot = job.ticks.slot(start) if first < stop - start else None
        bump = None if slot is None else job.ticks.bump(slot)
        return self._executor().submit(
            _run_chunk, job, job.chunk(start, stop), start, stop, stats, bump, first or 1
        )

    def progress_ticks(self, starts: list[int]) -> ThreadTicks:
        return ThreadTicks(starts)

    def collect(self, fut: Future, handle: Any, job: Job, start: int,
                stop: int) -> tuple[dict[str, list[Any]], Stats]:
        return fut.result()

    def abort(self) -> None:
        # threads cannot be killed; the interrupted map's chunks were cancelled and the
        # running ones finish on their own. The pool stays for other maps.
        pass

    def close(self) -> None:
        """Shut the pool down (it is recreated if the engine is used again)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Threads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Threads(workers={self.workers})"


def _run_chunk(job: Job, columns: dict[str, list[Any]], start: int, stop: int,
               stats: Stats, bump: Callable[[int], None] | None = None, first: int = 1,
               ) -> tuple[dict[str, list[Any]], Stats]:
    """Run a chunk on a worker thread; with ``bump`` (progress is shown) in slices that
    count the items they finish (hotpipe._ticks)."""
    def run(a: int, b: int) -> dict[str, list[Any]]:
        cols = columns if a == 0 and b == stop - start else {
            k: v[a:b] for k, v in columns.items()}
        return job.runner.columns(job.plan, cols, job.bc, b - a, job.offset + start + a,
                                  job.on_error, stats)

    if bump is None:
        return run(0, stop - start), stats
    return run_with_progress(job.plan, run, stop - start, bump, first), stats
