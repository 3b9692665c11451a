"""What executors learn about a plan while running it, kept apart from the plan itself.

A :class:`~hotpipe.plan.Plan` is frozen data; the choices made from measurements are not
part of its meaning and live here, one :class:`PlanState` per plan (held weakly: it goes
with its plan): the generated ``run`` functions, whether ``run`` reads the CPU clock per
node, and the batch size learned per batch step. Workers learn on their own copy of a plan;
their :class:`Tuning` comes back with their results and is merged into the caller's, so the
next map starts from what any worker found.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.plan import Plan

__all__ = ["BatchSizing", "PlanState", "Tuning", "state_of"]


@dataclass
class BatchSizing:
    """The batch size of one batch step: being grown by measurement, or settled (``done``)."""

    size: int
    best: float = 0.0
    done: bool = False
    rates: list[float] = field(default_factory=list)


@dataclass
class Tuning:
    """Choices made from measurements: plain data, picklable, mergeable."""

    cpu: bool = True
    """``run`` reads the CPU clock per node (off for runs too short to afford it)."""
    batch: dict[int, BatchSizing] = field(default_factory=dict)
    """Per counter slot of a batch step."""

    def merge(self, other: Tuning) -> None:
        """Adopt a worker's settled batch sizes where this one has not settled yet."""
        for slot, theirs in other.batch.items():
            mine = self.batch.get(slot)
            if mine is None or (theirs.done and not mine.done):
                self.batch[slot] = BatchSizing(theirs.size, theirs.best, theirs.done,
                                               list(theirs.rates))


class PlanState:
    """A plan's generated functions and :class:`Tuning` (built on first use)."""

    __slots__ = ("_functions", "lock", "tuning")

    def __init__(self) -> None:
        self.tuning = Tuning()
        self.lock = threading.Lock()
        self._functions: dict[bool, Callable[..., Any]] = {}

    def item_function(self, plan: Plan, cpu: bool) -> Callable[..., Any]:
        """The plan as one generated function for ``run`` (with or without CPU clocks)."""
        func = self._functions.get(cpu)
        if func is None:
            from hotpipe.execute import compile_item_function

            func = self._functions[cpu] = compile_item_function(plan, cpu=cpu)
        return func


_STATES: weakref.WeakKeyDictionary[Plan, PlanState] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def state_of(plan: Plan) -> PlanState:
    """The executor-side state of ``plan`` in this process."""
    state = _STATES.get(plan)
    if state is None:
        with _LOCK:
            state = _STATES.get(plan)
            if state is None:
                state = _STATES[plan] = PlanState()
    return state
