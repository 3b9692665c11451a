"""What a rule reads: the plan, the profile, and (when the caller has them) the values.

Helpers here turn the profile's raw numbers into the quantities the rules share: a node's
share of the time spent, the seconds of this run it accounts for on a parallel engine, the
workers seen in the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.plan import Plan, Step
    from hotpipe.profile import NodeProfile, Profile

__all__ = ["Context"]


@dataclass
class Context:
    """Everything a rule may read. ``values`` maps value names to what the call saw or made
    (the result's outputs, plus the inputs when the caller passes them): columns for mapped
    names. ``measure`` allows quick experiments; ``batches`` offers batch implementations
    (node name -> function taking lists) for the batch rule to time."""

    plan: Plan
    profile: Profile
    values: Mapping[str, Any] = field(default_factory=dict)
    measure: bool = False
    batches: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def spent(self) -> float:
        """Nodes' and the cache's wall (summed over workers) plus the framework's: the %
        column's total."""
        return self.profile.spent or 1e-300

    def share(self, node: NodeProfile) -> float:
        return node.wall / self.spent

    def run_seconds(self, wall_summed: float) -> float:
        """Seconds of this call that ``wall_summed`` (summed over workers) accounts for."""
        if self.profile.wall <= 0:
            return 0.0
        return min(self.profile.wall, wall_summed * self.profile.wall / self.spent)

    def pct(self, seconds: float) -> float:
        return 100.0 * seconds / self.profile.wall if self.profile.wall > 0 else 0.0

    def step(self, name: str) -> Step:
        for step in self.plan.rows or self.plan.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def workers(self) -> int:
        """Pool workers that ran chunks: distinct (process, thread) pairs, leaving out the
        calling thread when it only ran the probe before the pool started."""
        return len(self.pool_events()[1]) or 1

    def pool_events(self) -> tuple[list[Any], set[tuple[int, int]]]:
        """The timeline events run by pool workers, and those workers."""
        events = self.profile.stats.events
        first: dict[tuple[int, int], float] = {}
        last: dict[tuple[int, int], float] = {}
        for e in events:
            key = (e.pid, e.tid)
            first[key] = min(first.get(key, e.start), e.start)
            last[key] = max(last.get(key, e.end), e.end)
        if len(first) < 2:
            return list(events), set(first)
        pool_start = sorted(first.values())[1]
        workers = {k for k, t in last.items() if t > pool_start}
        return [e for e in events if (e.pid, e.tid) in workers], workers

    def column(self, name: str) -> list[Any] | None:
        """The per-item values of ``name``, when known and mapped."""
        value = self.values.get(name)
        n = self.profile.items
        if isinstance(value, list) and len(value) == n and n > 1:
            return value
        return None

    def top_level(self) -> list[tuple[Step, NodeProfile]]:
        """The plan's own steps (not inside nested maps) with their profile rows."""
        rows = {n.name: n for n in self.profile.nodes}
        return [(s, rows[s.name]) for s in self.plan.steps if s.name in rows]
