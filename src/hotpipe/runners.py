"""Chunk runners: how one chunk of a plan is executed, plain or through the cache.

A call chooses its runner once (:func:`runner_for`): :data:`~hotpipe.execute.PLAIN` without
a cache (no key is computed, whatever the inputs), :class:`CachedRunner` with one. Engines
receive the runner and call its two methods on whatever unit of work they distribute; they
never see the cache. Nested maps run their inner plans through the same runner, so inner
nodes are cached per inner item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hotpipe._guard import sink
from hotpipe.execute import PLAIN, Broadcast, PlainRunner

if TYPE_CHECKING:
    from hotpipe._state import Tuning
    from hotpipe.cache.store import Cache
    from hotpipe.plan import Plan
    from hotpipe.profile.stats import Stats

__all__ = ["PLAIN", "CachedRunner", "PlainRunner", "Runner", "refreshed_steps", "runner_for"]

Runner = PlainRunner
"""The runner interface: ``broadcast(...)`` once per map, ``columns(...)`` per chunk."""


class CachedRunner(PlainRunner):
    """Runs chunks through a :class:`~hotpipe.Cache`: results loaded or computed and stored
    per node and item (see :mod:`hotpipe.cache.run`)."""

    cached = True

    def __init__(self, cache: Cache, refresh: frozenset[str] = frozenset()) -> None:
        self.cache = cache
        self.refresh = refresh
        """Names of the steps (inner ones qualified, ``"per/enc"``) recomputed and
        overwritten instead of read (``refresh=``; :func:`refreshed_steps`)."""

    def broadcast(self, plan: Plan, scalars: dict[str, Any], n: int, on_error: str,
                  stats: Stats, tuning: Tuning | None = None) -> Broadcast:
        from hotpipe.cache.run import cached_broadcast

        if plan.guarded:  # retries and timeouts are counted in this collector
            with sink(stats):
                return cached_broadcast(plan, scalars, n, on_error, stats, self.cache, self,
                                        tuning)
        return cached_broadcast(plan, scalars, n, on_error, stats, self.cache, self, tuning)

    def columns(self, plan: Plan, columns: dict[str, list[Any]], bc: Broadcast, n: int,
                offset: int, on_error: str, stats: Stats,
                paths: Sequence[tuple[int, ...]] | None = None,
                tuning: Tuning | None = None) -> dict[str, list[Any]]:
        from hotpipe.cache.run import cached_columns

        if plan.guarded:
            with sink(stats):
                return cached_columns(plan, columns, bc, n, offset, on_error, stats,  # type: ignore[arg-type]
                                      self.cache, self, paths, tuning)
        return cached_columns(plan, columns, bc, n, offset, on_error, stats,  # type: ignore[arg-type]
                              self.cache, self, paths, tuning)

    def __repr__(self) -> str:
        return f"CachedRunner({self.cache!r})"


def runner_for(cache: Cache | None, refresh: frozenset[str] = frozenset()) -> PlainRunner:
    """The runner of a call: plain without a cache or with a disabled one (no key is
    computed), cached with one (``refresh``: the steps to recompute and overwrite)."""
    if cache is None:
        return PLAIN
    from hotpipe.cache import NullStore

    return PLAIN if isinstance(cache.store, NullStore) else CachedRunner(cache, refresh)


def refreshed_steps(plan: Plan, refresh: bool | Sequence[str], where: str) -> frozenset[str]:
    """The names of the steps ``refresh=`` recomputes: those named (every one for ``True``)
    and every step downstream of one, since their entries are keyed by the inputs' keys,
    not their values; inside a refreshed nested map, all its inner steps.

    Raises :class:`~hotpipe.InputError` for a name that is no step of the plan."""
    from hotpipe.errors import InputError

    rows = {step.name for step in plan.rows or plan.steps}
    if refresh is True:
        return frozenset(rows)
    if isinstance(refresh, str) or not isinstance(refresh, list | tuple | set | frozenset) \
            or not all(isinstance(name, str) for name in refresh):
        raise InputError(f"{where}(refresh={refresh!r}): give True (every node) or a list of "
                         f"node names; this call's nodes are {sorted(rows)}.")
    unknown = sorted(set(refresh) - rows)
    if unknown:
        raise InputError(f"{where}(refresh=...): {unknown} are not nodes this call runs; "
                         f"its nodes are {sorted(rows)}. Fix: name one of those "
                         "(a nested pipeline's nodes as 'outer/inner').")
    chosen: set[str] = set()
    _spread(plan, set(refresh), chosen, set())
    return frozenset(chosen)


def _spread(plan: Plan, named: set[str], chosen: set[str], dirty: set[str]) -> bool:
    """Mark the named steps of ``plan`` and those downstream (``dirty``: value names whose
    producer is refreshed); returns whether any step was marked."""
    marked = False
    for step in plan.steps:
        hit = step.name in named or bool(dirty.intersection(step.args))
        if step.nested is not None:
            inner = step.nested
            if hit:
                chosen.update(r.name for r in (*inner.pre.rows, *inner.body.rows))
            else:
                inner_dirty: set[str] = set()
                hit = _spread(inner.pre, named, chosen, inner_dirty) | _spread(
                    inner.body, named, chosen, inner_dirty)
        if hit:
            chosen.add(step.name)
            dirty.update(step.outputs)
            marked = True
    return marked
