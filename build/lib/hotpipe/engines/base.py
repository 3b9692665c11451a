"""The engine interface: two methods, one for a single item and one for a map.

An engine receives a compiled :class:`~hotpipe.plan.Plan` and the values, and returns an
:class:`Outcome` (values, per-step counters, item errors). It never validates or plans: the
pipeline did that already. Engines reuse :mod:`hotpipe.execute`, the reference executors, on
whatever unit of work they distribute (a chunk of items to a thread, a process, a cluster),
and merge the workers' :class:`~hotpipe.profile.stats.Stats`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats

if TYPE_CHECKING:
    from hotpipe.cache.store import Cache
    from hotpipe.execute import Broadcast

__all__ = ["Engine", "Outcome"]


class Outcome:
    """What an engine returns: the requested values, counters per step, the wall time.

    ``run`` fills only two lists of numbers (wall and CPU per step); the full
    :class:`Stats` is built from them when the profile is read.
    """

    __slots__ = ("_cpu", "_notes", "_stats", "_wall", "n_items", "start", "values", "wall")

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
        return self._stats


class Engine(ABC):
    """Base class of execution engines (``Local``, and the parallel engines)."""

    name: str = "engine"

    @property
    def stream_chunk(self) -> int:
        """Items per chunk when mapping an iterator of unknown length."""
        return 256

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
        on_progress: Callable[[int], None] | None = None,
        cache: Cache | None = None,
        broadcast: Broadcast | None = None,
        offset: int = 0,
    ) -> Outcome:
        """Run the plan over ``n`` items: ``columns`` hold one value per item (lists),
        ``scalars`` are broadcast. Returns columns for ``plan.outputs``. ``on_progress`` is
        called with the number of items finished each time a chunk completes (after its
        results are stored in ``cache``, when one is given). A stream passes the
        ``broadcast`` values it computed once, and the ``offset`` of the first item."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
