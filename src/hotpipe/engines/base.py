"""The engine interface: two methods, one for a single item and one for a map.

An engine receives a compiled :class:`~hotpipe.plan.Plan` and the values, and returns an
:class:`Outcome` (values, per-step counters, item errors). It never validates or plans: the
pipeline did that already. Engines reuse :mod:`hotpipe.execute`, the reference executors, on
whatever unit of work they distribute (a chunk of items to a thread, a process, a cluster).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from hotpipe.execute import Stats
from hotpipe.plan import Plan

__all__ = ["Engine", "Outcome"]


@dataclass
class Outcome:
    """What an engine returns: the requested values, counters per step, the wall time."""

    values: dict[str, Any]
    stats: Stats
    wall: float
    n_items: int
    chunks: int = 1


class Engine(ABC):
    """Base class of execution engines (``Local``, and the parallel engines)."""

    name: str = "engine"

    @abstractmethod
    def run_item(self, plan: Plan, inputs: dict[str, Any]) -> Outcome:
        """Run the plan once on ``inputs``; raise :class:`~hotpipe.NodeError` on failure."""

    @abstractmethod
    def run_map(
        self,
        plan: Plan,
        columns: dict[str, list[Any]],
        scalars: dict[str, Any],
        n: int,
        on_error: str,
    ) -> Outcome:
        """Run the plan over ``n`` items: ``columns`` hold one value per item (lists),
        ``scalars`` are broadcast. Returns columns for ``plan.outputs``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
