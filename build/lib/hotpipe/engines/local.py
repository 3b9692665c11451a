"""``Local``: runs in the calling thread; the reference every other engine is tested against."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe.engines.base import Engine, Outcome
from hotpipe.errors import InputError
from hotpipe.execute import Broadcast, item_failure, run_broadcast, run_columns
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats

if TYPE_CHECKING:
    from hotpipe.cache.store import Cache

__all__ = ["CPU_AFTER", "Local"]

CPU_AFTER = 100e-6
"""Runs shorter than this (seconds) skip per-node CPU clocks: 2 reads per node would cost
more than ~3 % of them."""


class Local(Engine):
    """Run in this thread, node by node over chunks of ``chunk_size`` items.

    Chunks bound the memory held by intermediate values and give a failure or an interrupt a
    boundary: items of finished chunks are complete. Per node and chunk the cost is one clock
    read, so a larger chunk is not faster in any way that matters beyond a few hundred items.
    """

    name = "local"

    def __init__(self, chunk_size: int = 1024) -> None:
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise InputError(f"Local(chunk_size={chunk_size!r}): must be an int >= 1.")
        self.chunk_size = chunk_size

    @property
    def stream_chunk(self) -> int:
        return self.chunk_size

    def run_item(self, plan: Plan, inputs: dict[str, Any]) -> Outcome:
        # Reading the CPU clock is a system call (~0.4 us): per node it would be most of
        # the cost of a run of cheap nodes. A plan whose run takes under CPU_AFTER seconds
        # measures wall time only; one that gets slower measures CPU again.
        tuning = plan.tuning
        measure_cpu = tuning["cpu"]
        func = plan.item_function if measure_cpu else plan.lean_item_function
        k = len(plan.steps)
        wall, cpu = [0.0] * k, [0.0] * k
        t0 = perf_counter()
        try:
            values = func(inputs, wall, cpu)
        except Exception as exc:
            err = item_failure(plan, func, exc)
            if err is exc:
                raise
            raise err from err.__cause__
        total = perf_counter() - t0
        if (total >= CPU_AFTER) != measure_cpu:
            tuning["cpu"] = not measure_cpu
        return Outcome(values, total, 1, t0, step_wall=wall,
                       step_cpu=cpu if measure_cpu else None)

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
        stats = Stats.empty(len(plan.steps))
        size = self.chunk_size
        t0 = perf_counter()
        bc = broadcast or run_broadcast(plan, scalars, n, on_error, stats, cache)
        values: dict[str, list[Any]] = {name: [] for name in plan.outputs}
        for start in range(0, max(n, 1), size):
            stop = min(start + size, n)
            chunk = columns if stop - start == n else {k: v[start:stop] for k, v in columns.items()}
            produced = run_columns(plan, chunk, bc, stop - start, offset + start, on_error,
                                   stats, cache)
            if stop - start == n:
                values = produced
            else:
                for name, col in values.items():
                    col.extend(produced[name])
            if on_progress is not None:
                on_progress(stop - start)
        return Outcome(values, perf_counter() - t0, n, t0, stats=stats)

    def __repr__(self) -> str:
        return f"Local(chunk_size={self.chunk_size})"
