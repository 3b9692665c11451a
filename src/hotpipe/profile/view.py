"""The :class:`Profile` attached to every :class:`~hotpipe.Result`.

Engines update :class:`~hotpipe.profile.stats.Stats`; a profile only keeps a reference to
them and derives everything on demand (per node, per phase, projection), so building it costs
nothing until it is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hotpipe.profile.format import NO_PHASE, fmt_s

if TYPE_CHECKING:
    from rich.table import Table

    from hotpipe._oneoff import OneOff
    from hotpipe.engines.base import Outcome
    from hotpipe.plan import Plan
    from hotpipe.profile.sampler import FunctionStat, Sampler
    from hotpipe.profile.stats import Stats

__all__ = ["SCHEMA", "CacheProfile", "NodeProfile", "PhaseProfile", "Profile", "Projection",
           "SlowItem"]

SCHEMA = "hotpipe.profile/1"


@dataclass(frozen=True)
class SlowItem:
    """One of a node's slowest items: its index in the map, seconds, and its inputs."""

    index: int
    seconds: float
    inputs: str


@dataclass(frozen=True)
class NodeProfile:
    """One node's numbers. Times are seconds; ``p50``/``p95`` come from the items timed one by
    one (``timed`` of ``items``: all of them for slow nodes, a sample for fast ones), ``None``
    when no item was timed."""

    name: str
    phase: str
    calls: int
    items: int
    wall: float
    cpu: float | None
    timed: int
    p50: float | None
    p95: float | None
    max: float | None
    hits: int
    misses: int
    saved: float
    bytes_read: int
    bytes_written: int
    per_item: bool
    slowest: tuple[SlowItem, ...]
    retries: int = 0
    """Calls retried after a failure (``@node(retries=...)``); the items that then
    succeeded count as successes."""
    timeouts: int = 0
    """Calls that outlived ``@node(timeout=...)`` (retried or failed)."""
    cache_wall: float = 0.0
    """Seconds the cache took for this node's entries: its keys, lookups, reads (unpickling
    included) and its share of the writes; never part of ``wall``."""
    first_call: float = 0.0
    """Seconds the node's first call in a process took beyond its next ones (imports, JIT
    compilation), summed over the processes; a one-off kept out of ``wall`` and the item
    times (see ``Profile.one_offs``)."""

    @property
    def mean(self) -> float:
        """Mean wall seconds per item (0 when it never ran)."""
        return self.wall / self.items if self.items else 0.0


@dataclass(frozen=True)
class PhaseProfile:
    """A phase's share: wall and CPU seconds of its nodes and percent of the nodes' wall."""

    name: str
    nodes: tuple[str, ...]
    wall: float
    cpu: float | None
    percent: float


@dataclass(frozen=True)
class CacheProfile:
    """What the cache did in one call.

    ``hits`` and ``misses`` count lookups (per node and item); ``saved`` is the compute time
    the hits stood for (the seconds they took when they were computed, stored with each
    entry); ``wall`` is the time the cache itself took: key computation, lookups, reads and
    unpickling, pickling and writes, summed over workers (like the nodes' wall). It is
    neither node time nor framework time.
    """

    hits: int
    misses: int
    saved: float
    wall: float
    bytes_read: int
    bytes_written: int

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """Hits per lookup, 0..1 (None when nothing was looked up)."""
        return self.hits / self.lookups if self.lookups else None

    @property
    def used(self) -> bool:
        """Whether the call ran through a cache (looked something up or computed keys)."""
        return self.lookups > 0 or self.wall > 0

    def __str__(self) -> str:
        if not self.used:
            return "no cache"
        rate = "" if self.hit_rate is None else f" ({100 * self.hit_rate:.0f} %)"
        return (f"cache: {self.hits:,} hits, {self.misses:,} misses{rate}; saved "
                f"{fmt_s(self.saved)} of compute; the cache took {fmt_s(self.wall)}")


@dataclass(frozen=True)
class Projection:
    """Predicted wall time at ``items`` items: ``once`` + ``per_item`` * ``items``.

    ``total`` assumes the cache does for the new items what it did for the measured ones
    (the same share of hits, ``hit_rate``); when the call used a cache, ``warm`` predicts
    every cached node's result a hit, ``cold`` none (every item computed and stored). Both
    keep this run's cache time per item; ``None`` without a cache.
    """

    items: int
    measured_items: int
    once: float
    per_item: float
    total: float
    phases: dict[str, float]
    hit_rate: float | None = None
    warm: float | None = None
    cold: float | None = None

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {fmt_s(s)}" for name, s in self.phases.items())
        text = (
            f"projected to {self.items:,} items: {fmt_s(self.total)} "
            f"({fmt_s(self.once)} once + {fmt_s(self.per_item)} per item; {parts})"
        )
        if self.warm is None or self.cold is None:
            return text
        rate = "" if self.hit_rate is None else f"{100 * self.hit_rate:.0f} % hits, "
        return (f"{text}; assumes this run's cache ({rate}as measured): with a warm cache "
                f"{fmt_s(self.warm)}, cold {fmt_s(self.cold)}")


class Profile:
    """Where the time of one ``run`` or ``map`` went.

    ``nodes`` and ``phases`` give the breakdown; ``wall`` is the whole call, ``cpu`` the CPU
    seconds of all nodes (summed over workers, so ``parallelism = cpu / wall`` can exceed 1),
    ``cache`` what the cache did (hits, the compute time they saved, its own time),
    ``framework_wall`` the part of ``wall`` outside the nodes and the cache. ``print(profile)``
    shows a table; ``to_json()``, ``to_html(path)`` and ``to_chrome_trace(path)`` export it.
    """

    def __init__(
        self, plan: Plan, outcome: Outcome, mode: str, engine: str, sampler: Sampler | None = None
    ) -> None:
        self._plan = plan
        self._outcome = outcome
        self.mode = mode
        self.engine = engine
        self._sampler = sampler

    # ------------------------------------------------------------------ raw numbers

    @property
    def stats(self) -> Stats:
        """The engine's raw counters."""
        return self._outcome.stats

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

    @property
    def notes(self) -> list[str]:
        """What the engine decided and why (e.g. a map too small for a process pool), and the
        nodes that retried or timed out."""
        notes = list(self._outcome.notes)
        for n in self.nodes:
            if n.retries or n.timeouts:
                parts = [f"{n.retries} call(s) retried"] if n.retries else []
                if n.timeouts:
                    parts.append(f"{n.timeouts} call(s) timed out")
                notes.append(f"node {n.name!r}: " + ", ".join(parts))
        return notes

    @cached_property
    def nodes(self) -> list[NodeProfile]:
        from hotpipe._oneoff import FIRST_CALL
        from hotpipe.profile.stats import TOP_K

        s = self.stats
        first: dict[str, float] = {}
        for e in s.one_offs:
            if e.kind == FIRST_CALL:
                first[e.name] = first.get(e.name, 0.0) + e.seconds
        result = []
        for step in self._plan.rows or self._plan.steps:
            k = step.slot
            slow = sorted(s.slowest[k], reverse=True)[:TOP_K]
            result.append(
                NodeProfile(
                    name=step.name,
                    phase=step.phase or NO_PHASE,
                    calls=s.calls[k],
                    items=s.items[k],
                    wall=s.wall[k],
                    cpu=s.cpu[k] if s.cpu_measured else None,
                    timed=s.timed[k],
                    p50=s.percentile(k, 0.5),
                    p95=s.percentile(k, 0.95),
                    max=s.peak[k] if s.timed[k] else None,
                    hits=s.hits[k],
                    misses=s.misses[k],
                    saved=s.saved[k],
                    bytes_read=s.bytes_read[k],
                    bytes_written=s.bytes_written[k],
                    per_item=step.mapped or self.mode == "run",
                    slowest=tuple(SlowItem(i, sec, inp) for sec, i, inp in slow),
                    retries=s.retries.get(k, 0),
                    timeouts=s.timeouts.get(k, 0),
                    cache_wall=s.cache_time[k],
                    first_call=first.get(step.name, 0.0),
                )
            )
        return result

    def __getitem__(self, name: str) -> NodeProfile:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in this profile; nodes: {[n.name for n in self.nodes]}")

    @property
    def node_wall(self) -> float:
        """Sum of the nodes' wall seconds (over all workers)."""
        return sum(n.wall for n in self.nodes)

    @property
    def cpu(self) -> float | None:
        """CPU seconds of the nodes, summed over workers (None when not measured: a ``run``
        shorter than ~100 us skips the CPU clock, which would cost more than the nodes)."""
        if not self.stats.cpu_measured:
            return None
        return sum(n.cpu or 0.0 for n in self.nodes)

    @property
    def parallelism(self) -> float | None:
        """CPU seconds per wall second: ~1 sequential, ~N on N busy cores, <1 when waiting."""
        cpu = self.cpu
        if cpu is None:
            return None
        return cpu / self.wall if self.wall > 0 else 0.0

    @property
    def spent(self) -> float:
        """The time spent: the nodes' and the cache's wall (summed over workers) plus the
        framework's and the one-off costs'. It is the call's wall on one worker; the tables'
        percents are of it."""
        return self.node_wall + self.cache_wall + self.framework_wall + self.one_off_wall

    @property
    def one_offs(self) -> list[OneOff]:
        """Costs paid once, not per item: resources built (``kind="resource"``, and
        ``"resource wait"`` for threads that waited for one), worker processes started
        (``"pool start"``) and nodes' first calls in a process (``"first call"``: imports,
        JIT). They are in neither the nodes' wall nor their item times, nor the probe that
        sizes chunks; :meth:`project` adds them once."""
        return list(self.stats.one_offs)

    @property
    def one_off_wall(self) -> float:
        """Seconds of the one-off costs, summed over workers (like the nodes' wall)."""
        return sum(e.seconds for e in self.stats.one_offs)

    @property
    def cache_wall(self) -> float:
        """Seconds the cache layer took (keys, lookups, reads, writes), summed over workers:
        the nodes' ``cache_wall`` plus the work of no single node (step fingerprints, the
        inputs' keys, which steps have entries)."""
        return self.stats.cache_spent()

    @cached_property
    def cache(self) -> CacheProfile:
        """Hits, misses, the compute time saved and the time the cache took."""
        nodes = self.nodes
        return CacheProfile(
            hits=sum(n.hits for n in nodes),
            misses=sum(n.misses for n in nodes),
            saved=sum(n.saved for n in nodes),
            wall=self.cache_wall,
            bytes_read=sum(n.bytes_read for n in nodes),
            bytes_written=sum(n.bytes_written for n in nodes),
        )

    @property
    def framework_wall(self) -> float:
        """Wall seconds when neither a node nor the cache was working: the call minus the
        union of the nodes' and the cache's intervals on every worker (pool start-up,
        pickling, scheduling, gathering outputs)."""
        from hotpipe._oneoff import elapsed

        outside = elapsed([e for e in self.stats.one_offs if not e.inside])
        events = [*self.stats.events, *self.stats.cache_events]
        if not events:
            return max(0.0, self.wall - self.node_wall - self.cache_wall - outside)
        spans = sorted((e.start, e.end) for e in events)
        busy, (lo, hi) = 0.0, spans[0]
        for start, end in spans[1:]:
            if start > hi:
                busy += hi - lo
                lo, hi = start, end
            else:
                hi = max(hi, end)
        busy += hi - lo
        return max(0.0, self.wall - busy - outside)

    def _overlap(self) -> float:
        events = [*self.stats.events, *self.stats.cache_events]
        if not events or self.wall <= 0:
            return 1.0
        workers = {(e.pid, e.tid) for e in events}
        if len(workers) == 1:
            return 1.0
        return sum(e.end - e.start for e in events) / self.wall

    # ------------------------------------------------------------------ derived views

    @cached_property
    def phases(self) -> list[PhaseProfile]:
        """Nodes grouped by phase, in order of first appearance, with percent of node wall."""
        order: dict[str, list[NodeProfile]] = {}
        for n in self.nodes:
            order.setdefault(n.phase, []).append(n)
        total = self.node_wall or 1e-300
        return [
            PhaseProfile(
                name,
                tuple(n.name for n in ns),
                sum(n.wall for n in ns),
                None if not self.stats.cpu_measured else sum(n.cpu or 0.0 for n in ns),
                100.0 * sum(n.wall for n in ns) / total,
            )
            for name, ns in order.items()
        ]

    def project(self, items: int) -> Projection:
        """Predict the wall time of the same call over ``items`` items.

        Nodes that ran once per call (broadcast in a map) count once; mapped nodes, the
        framework's time and the cache's time for mapped nodes scale linearly with the number
        of items; one-off costs (:attr:`one_offs`: resource builds, pool start-up, first
        calls) count once. Parallel engines keep their measured speed-up (the scaling part is taken
        from elapsed time, not summed CPU). A cached call's hits are cache time (phase
        ``(cache)``), not overhead; ``total`` assumes the same share of hits, and the
        projection also gives ``warm`` (every cached node a hit) and ``cold`` (nothing
        cached: the hits' saved compute time added).
        """
        n = max(self.items, 1)
        scale = items / n
        once_by_phase: dict[str, float] = {}
        scale_by_phase: dict[str, float] = {}
        overlap = max(1.0, self._overlap())
        stats = self.stats
        cache_once, cache_scale = stats.cache_map, stats.cache_inputs
        warm = [0.0, 0.0]  # compute time a warm cache removes: once, per measured items
        cold = [0.0, 0.0]  # compute time a cold cache adds
        for node in self.nodes:
            target = scale_by_phase if node.per_item else once_by_phase
            target[node.phase] = target.get(node.phase, 0.0) + node.wall / overlap
            j = int(node.per_item)
            if node.per_item:
                cache_scale += node.cache_wall
            else:
                cache_once += node.cache_wall
            if node.hits or node.misses:  # a cached node
                warm[j] += node.wall / overlap
                cold[j] += node.saved / overlap
        from hotpipe._oneoff import elapsed

        cache = self.cache
        one_off = elapsed(stats.one_offs)  # paid once, side by side on the workers
        once = sum(once_by_phase.values()) + cache_once / overlap + one_off
        per_item = max(0.0, self.wall - once) / n
        phases = {}
        for name in dict.fromkeys([*once_by_phase, *scale_by_phase]):
            phases[name] = once_by_phase.get(name, 0.0) + scale_by_phase.get(name, 0.0) * scale
        if cache.used:
            phases["(cache)"] = (cache_once + cache_scale * scale) / overlap
        phases["(framework)"] = self.framework_wall * scale
        if one_off:
            phases["(one-off)"] = one_off
        total = once + per_item * items
        if not cache.used:
            return Projection(items, self.items, once, per_item, total, phases)
        return Projection(items, self.items, once, per_item, total, phases, cache.hit_rate,
                          warm=max(0.0, total - warm[0] - warm[1] * scale),
                          cold=total + cold[0] + cold[1] * scale)

    # ------------------------------------------------------------------ functions

    def _need_sampler(self) -> Sampler:
        if self._sampler is None:
            raise ValueError(
                "this profile has no function samples; run with profile='functions', e.g. "
                "pipe.map(inputs, over='x', profile='functions')."
            )
        return self._sampler

    def functions(
        self, categories: Mapping[str, str | tuple[str, ...]] | None = None, top: int = 10
    ) -> dict[str, list[FunctionStat]]:
        """Top functions per node from the sampler (``profile="functions"``).

        ``categories`` names groups by module or function prefix, e.g.
        ``{"dsl": "mypkg.dsl", "numpy": "numpy"}``; ``hotpipe`` itself is "framework".
        """
        sampler = self._need_sampler()
        cats = _categories(categories)
        return {n.name: sampler.functions(n.name, n.wall, cats, top) for n in self.nodes}

    def categories(
        self, categories: Mapping[str, str | tuple[str, ...]] | None = None
    ) -> dict[str, dict[str, float]]:
        """Percent of each node's samples per category (see :meth:`functions`)."""
        sampler = self._need_sampler()
        cats = _categories(categories)
        return {n.name: sampler.category_shares(n.name, cats) for n in self.nodes}

    def functions_table(
        self, categories: Mapping[str, str | tuple[str, ...]] | None = None, top: int = 5
    ) -> Table:
        """The top functions per node and the category shares, as a ``rich`` table."""
        from hotpipe.profile.format import functions_table

        return functions_table(self, self.functions(categories, top), self.categories(categories))

    # ------------------------------------------------------------------ advice

    def advise(self) -> Any:
        """The advisor's findings from the profile alone (``Result.advise`` also sees the
        values); see docs/advisor.md."""
        from hotpipe.advise import advise

        return advise(self)

    # ------------------------------------------------------------------ exports

    def to_dict(self, findings: list[Any] | None = None) -> dict[str, Any]:
        """Plain data in the documented schema ``hotpipe.profile/1`` (docs/profiling.md);
        ``findings`` defaults to :meth:`advise`'s (pass ``result.advise()`` to include the
        rules that need the values)."""
        steps = {step.slot: step for step in self._plan.rows or self._plan.steps}
        return {
            "schema": SCHEMA,
            "pipeline": self.pipeline,
            "mode": self.mode,
            "engine": self.engine,
            "items": self.items,
            "wall": self.wall,
            "cpu": self.cpu,
            "parallelism": self.parallelism,
            "framework_wall": self.framework_wall,
            "one_off_wall": self.one_off_wall,
            "one_offs": [{"kind": e.kind, "name": e.name, "seconds": e.seconds, "pid": e.pid}
                         for e in self.stats.one_offs],
            "chunks": self.stats.chunks,
            "cache": {**asdict(self.cache), "hit_rate": self.cache.hit_rate},
            "notes": list(self.notes),
            "nodes": [
                {**asdict(n), "mean": n.mean, "slowest": [asdict(s) for s in n.slowest]}
                for n in self.nodes
            ],
            "phases": [asdict(p) | {"nodes": list(p.nodes)} for p in self.phases],
            "findings": [f.to_dict() for f in (findings if findings is not None
                                               else self.advise())],
            "events": [
                {
                    "node": steps[e.step].name,
                    "pid": e.pid,
                    "tid": e.tid,
                    "start": e.start - self._outcome.start,
                    "end": e.end - self._outcome.start,
                    "items": e.items,
                }
                for e in self.stats.events
            ],
            "cache_events": [
                {
                    "node": steps[e.step].name if e.step >= 0 else None,
                    "pid": e.pid,
                    "tid": e.tid,
                    "start": e.start - self._outcome.start,
                    "end": e.end - self._outcome.start,
                }
                for e in self.stats.cache_events
            ],
        }

    def to_json(self, path: str | None = None, indent: int | None = 2,
                findings: list[Any] | None = None) -> str:
        """The profile as JSON (schema ``hotpipe.profile/1``); also written to ``path``."""
        text = json.dumps(self.to_dict(findings), indent=indent, default=repr)
        if path is not None:
            from hotpipe._files import write_atomic

            write_atomic(path, text)
        return text

    def to_html(self, path: str, findings: list[Any] | None = None) -> str:
        """Write a self-contained HTML report (no network): the advisor's findings, charts
        of time per node and per phase, the timeline of chunks per worker, the projection.
        Returns the path."""
        from hotpipe.profile.html import write_html

        return write_html(self, path, findings)

    def to_chrome_trace(self, path: str) -> str:
        """Write the timeline in the Trace Event format (Perfetto, chrome://tracing)."""
        from hotpipe.profile.trace import write_trace

        return write_trace(self, path)

    def table(self, max_width: int | None = None) -> Table:
        """The profile as a ``rich`` table (fitted to ``max_width`` columns when given)."""
        from hotpipe.profile.format import profile_table

        return profile_table(self, max_width)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.table(options.max_width)
        if self._sampler is not None:
            yield self.functions_table()

    def __str__(self) -> str:
        """The table fitted to the terminal's width (``$COLUMNS``, else 120 when not a tty)."""
        from hotpipe.profile.format import render_text, terminal_width

        width = terminal_width()
        text = render_text(self.table(width), width)
        if self._sampler is not None:
            text += "\n" + render_text(self.functions_table(), width)
        return text

    def _repr_html_(self) -> str:
        """In Jupyter: the headline cards and the per-node table (``hotpipe._notebook``)."""
        from hotpipe._notebook import profile_html

        return profile_html(self)

    def __repr__(self) -> str:
        return (
            f"<Profile {self.pipeline} {self.mode}: {self.items} items, "
            f"{fmt_s(self.wall)} wall, {len(self.nodes)} nodes>"
        )


def _categories(
    categories: Mapping[str, str | tuple[str, ...]] | None,
) -> dict[str, str | tuple[str, ...]]:
    return {"framework": "hotpipe", **(categories or {})}
