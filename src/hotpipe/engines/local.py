"""``Local``: runs in the calling thread; the reference every other engine is tested against."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from hotpipe import _oneoff
from hotpipe._state import state_of
from hotpipe.engines.base import Engine
from hotpipe.errors import InputError
from hotpipe.execute import PLAIN, item_failure
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats
from hotpipe.schedule import ARRAY_CHUNK, IN_PROCESS_CHUNK, Outcome

__all__ = ["CPU_AFTER", "Local", "run_item"]

CPU_AFTER = 100e-6
"""Runs shorter than this (seconds) skip per-node CPU clocks: 2 reads per node would cost
more than ~3 % of them."""


class Local(Engine):
    """Run in this thread, node by node over chunks of ``chunk_size`` items.

    Chunks bound the memory held by intermediate values and give a failure or an interrupt a
    boundary: items of finished chunks are complete. A chunk costs ~10 us per node in
    bookkeeping and copies, so with the default ``chunk_size`` and no cache a map of cheap
    items with small values grows its chunks to take ~2 ms (at most ``GROWN_CHUNK`` items;
    cached maps keep fixed chunks so their packs match across runs). Another exception is a
    map whose batch steps read numpy arrays (docs/engines.md, "Array
    columns"): a call costs a few microseconds whatever its size, so with the default
    ``chunk_size`` such a map runs in chunks of ``ARRAY_CHUNK`` items (any other
    ``chunk_size`` is kept).
    """

    name = "local"
    window = 0  # every chunk in the calling thread

    def __init__(self, chunk_size: int = IN_PROCESS_CHUNK) -> None:
        if type(chunk_size) is not int or chunk_size < 1:
            raise InputError(f"Local(chunk_size={chunk_size!r}): must be an int >= 1.")
        self.chunk_size = chunk_size
        self.fixed_chunk = chunk_size
        self.array_chunk = ARRAY_CHUNK if chunk_size == IN_PROCESS_CHUNK else None

    @property
    def stream_chunk(self) -> int:
        return self.chunk_size

    def __repr__(self) -> str:
        return f"Local(chunk_size={self.chunk_size})"


def run_item(plan: Plan, inputs: dict[str, Any]) -> Outcome:
    """One item through the plan's generated function (every engine's ``run``)."""
    # Reading the CPU clock is a system call (~0.4 us): per node it would be most of the
    # cost of a run of cheap nodes. A plan whose run takes under CPU_AFTER seconds measures
    # wall time only; one that gets slower measures CPU again.
    if plan.has_nested or plan.guarded:
        return _run_nested_item(plan, inputs)
    state = state_of(plan)
    tuning = state.tuning
    measure_cpu = tuning.cpu
    func = state.item_function(plan, measure_cpu)
    k = len(plan.steps)
    wall, cpu = [0.0] * k, [0.0] * k
    noted = _oneoff.NOTED
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
        tuning.cpu = not measure_cpu
    outcome = Outcome(values, total, 1, t0, step_wall=wall,
                      step_cpu=cpu if measure_cpu else None)
    if noted != _oneoff.NOTED:  # resources built before the steps' clocks started
        outcome.one_offs = [e._replace(inside=False) for e in _oneoff.take(noted)]
    return outcome


def _run_nested_item(plan: Plan, inputs: dict[str, Any]) -> Outcome:
    """A plan with nested maps (or retries and timeouts) runs once through the column
    executors: every step is once-per-call, the nested maps explode their inner items, the
    inner steps get their own counter rows, and retries are counted."""
    stats = Stats.empty(plan.width)
    t0 = perf_counter()
    scalars = dict(plan.constants)
    scalars.update((name, inputs[name]) for name in plan.inputs)
    bc = PLAIN.broadcast(plan, scalars, 1, "raise", stats)
    values = {name: bc.values[name] for name in plan.outputs}
    stats.chunks = 1
    return Outcome(values, perf_counter() - t0, 1, t0, stats=stats)
