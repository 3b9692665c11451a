"""What executors learn about a plan while running it, kept apart from the plan itself.

A :class:`~hotpipe.plan.Plan` is frozen data; the choices made from measurements are not
part of its meaning and live here, one :class:`PlanState` per plan (held weakly: it goes
with its plan): the generated ``run`` functions, whether ``run`` reads the CPU clock per
node, and the batch size learned per batch step (over lists and over arrays apart). Workers
learn on their own copy of a plan; their :class:`Tuning` comes back with their results and
is merged into the caller's, so the next map starts from what any worker found.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.plan import Plan

__all__ = ["BatchSizing", "PlanState", "Tuning", "Vectorizing", "state_of"]


@dataclass
class BatchSizing:
    """The batch size of one batch step: being grown by measurement, or settled (``done``)."""

    size: int
    best: float = 0.0
    done: bool = False
    rates: list[float] = field(default_factory=list)
    limit: int = 65_536
    """The largest size tried (larger for batches of arrays: hotpipe._batch)."""
    seeded: bool = False
    """The starting size was chosen from the first batch's arguments."""
    fallback: int = 0
    """Nonzero while the largest size is tried once: the size kept if it is not faster."""
    last: float = 0.0
    """The rate of the last size that was grown from."""
    kept: float = 0.0
    """The rate of ``fallback``: the largest size must beat it."""
    join: float = 0.0
    """Seconds per item spent concatenating a chunk's batches of arrays (last measured)."""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """``(size, items per second)`` of each size judged, in order: the profile's notes."""


@dataclass
class Vectorizing:
    """Whether a ``vectorize=`` step is called once per batch (``ok``), decided the first
    time by comparing it with per-item calls on a sample (None: not decided yet); ``reason``
    says why not, or how it was verified."""

    mode: str
    ok: bool | None = None
    reason: str = ""
    warned: bool = False


@dataclass
class Tuning:
    """Choices made from measurements: plain data, picklable, mergeable."""

    cpu: bool = True
    """``run`` reads the CPU clock per node (off for runs too short to afford it)."""
    batch: dict[int, BatchSizing] = field(default_factory=dict)
    """Per counter slot of a batch step: its size over lists (and other sequences)."""
    array_batch: dict[int, BatchSizing] = field(default_factory=dict)
    """Per counter slot of a batch step: its size over array columns, learned apart. A call
    on an array slice costs microseconds whatever its length, so the best size there is
    many times the best over lists; one table for both would let a list map settle the
    size an array map then keeps (measured: 1.95x the hand-written numpy expression instead
    of 1.1-1.2x, benchmarks/vectorize.py)."""
    vector: dict[int, Vectorizing] = field(default_factory=dict)
    """Per counter slot of a ``vectorize=`` step: called on whole batches, or per item."""

    def merge(self, other: Tuning) -> None:
        """Adopt a worker's settled batch sizes and vectorize decisions where this one has
        not decided yet."""
        for slot, theirs_v in other.vector.items():
            mine_v = self.vector.get(slot)
            if theirs_v.ok is not None and (mine_v is None or mine_v.ok is None):
                self.vector[slot] = Vectorizing(theirs_v.mode, theirs_v.ok, theirs_v.reason)
        for table, theirs_table in ((self.batch, other.batch),
                                    (self.array_batch, other.array_batch)):
            for slot, theirs in theirs_table.items():
                mine = table.get(slot)
                if mine is None or (theirs.done and not mine.done):
                    table[slot] = replace(theirs, rates=list(theirs.rates),
                                          curve=list(theirs.curve))


class PlanState:
    """A plan's generated functions and :class:`Tuning` (built on first use)."""

    __slots__ = ("_functions", "arrays", "lock", "tuning")

    def __init__(self) -> None:
        self.tuning = Tuning()
        self.lock = threading.Lock()
        self._functions: dict[bool, Callable[..., Any]] = {}
        self.arrays: dict[frozenset[str], frozenset[str]] = {}
        """Per set of array inputs: the values that may be arrays (``_arrays.array_names``)."""

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
