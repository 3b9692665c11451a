"""The profile attached to every :class:`~hotpipe.Result`.

Engines count per step in :class:`~hotpipe.execute.Stats` (two numbers per node, updated once
per node per chunk); a :class:`Profile` only keeps a reference to those counters, so building
it costs nothing until it is read or printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from hotpipe.engines.base import Outcome
    from hotpipe.plan import Plan

__all__ = ["NodeProfile", "Profile"]


@dataclass(frozen=True)
class NodeProfile:
    """One node's counters: how often it ran and the wall seconds it took in total."""

    name: str
    calls: int
    wall: float

    @property
    def mean(self) -> float:
        """Mean wall seconds per call (0 when it never ran)."""
        return self.wall / self.calls if self.calls else 0.0


class Profile:
    """Where the time of one ``run`` or ``map`` went.

    ``nodes`` lists every executed node with calls and wall seconds; ``wall`` is the whole
    call; ``framework_wall`` is the part spent outside the nodes (planning excluded: plans are
    cached). ``print(profile)`` shows a table.
    """

    __slots__ = ("__dict__", "_outcome", "_plan", "engine", "mode")

    def __init__(self, plan: Plan, outcome: Outcome, mode: str, engine: str) -> None:
        self._plan = plan
        self._outcome = outcome
        self.mode = mode
        self.engine = engine

    @property
    def pipeline(self) -> str:
        return self._plan.pipeline_name

    @property
    def wall(self) -> float:
        """Wall seconds of the whole call inside the engine."""
        return self._outcome.wall

    @property
    def items(self) -> int:
        return self._outcome.n_items

    @cached_property
    def nodes(self) -> list[NodeProfile]:
        stats = self._outcome.stats
        return [
            NodeProfile(step.name, c, w)
            for step, c, w in zip(self._plan.steps, stats.calls, stats.wall, strict=True)
        ]

    @property
    def node_wall(self) -> float:
        """Sum of the nodes' wall seconds."""
        return sum(n.wall for n in self.nodes)

    @property
    def framework_wall(self) -> float:
        """Wall seconds spent by hotpipe itself (the call minus the nodes)."""
        return max(0.0, self.wall - self.node_wall)

    def __getitem__(self, name: str) -> NodeProfile:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in this profile; nodes: {[n.name for n in self.nodes]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"pipeline", "mode", "engine", "items", "wall", "framework_wall",
        "nodes": [{"name", "calls", "wall", "mean"}]}``."""
        return {
            "pipeline": self.pipeline,
            "mode": self.mode,
            "engine": self.engine,
            "items": self.items,
            "wall": self.wall,
            "framework_wall": self.framework_wall,
            "nodes": [
                {"name": n.name, "calls": n.calls, "wall": n.wall, "mean": n.mean}
                for n in self.nodes
            ],
        }

    def table(self) -> Table:
        """The profile as a ``rich`` table."""
        from rich.table import Table

        total = self.wall or 1e-12
        title = (
            f"{self.pipeline}: {self.mode} of {self.items} item{'s' * (self.items != 1)} "
            f"on {self.engine}, {_fmt_s(self.wall)} wall"
        )
        table = Table(title=title, title_justify="left")
        table.add_column("node")
        table.add_column("calls", justify="right")
        table.add_column("wall", justify="right")
        table.add_column("mean", justify="right")
        table.add_column("% of wall", justify="right")
        for n in self.nodes:
            share = f"{100 * n.wall / total:.1f}"
            table.add_row(n.name, f"{n.calls:,}", _fmt_s(n.wall), _fmt_s(n.mean), share)
        fw = self.framework_wall
        table.add_row(
            "[dim](framework)[/dim]", "", _fmt_s(fw), "", f"{100 * fw / total:.1f}",
            end_section=True,
        )
        return table

    def __rich__(self) -> Table:
        return self.table()

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=100, record=True, file=_NullFile(), color_system=None)
        console.print(self.table())
        return console.export_text().rstrip("\n")

    def __repr__(self) -> str:
        return (
            f"<Profile {self.pipeline} {self.mode}: {self.items} items, "
            f"{_fmt_s(self.wall)} wall, {len(self.nodes)} nodes>"
        )


class _NullFile:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _fmt_s(seconds: float) -> str:
    """Seconds with a unit that keeps 3 significant digits: 12.3 us, 4.56 ms, 1.23 s."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"
