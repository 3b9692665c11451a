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

__all__ = ["PLAIN", "CachedRunner", "PlainRunner", "Runner", "runner_for"]

Runner = PlainRunner
"""The runner interface: ``broadcast(...)`` once per map, ``columns(...)`` per chunk."""


class CachedRunner(PlainRunner):
    """Runs chunks through a :class:`~hotpipe.Cache`: results loaded or computed and stored
    per node and item (see :mod:`hotpipe.cache.run`)."""

    cached = True

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

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


def runner_for(cache: Cache | None) -> PlainRunner:
    """The runner of a call: plain without a cache or with a disabled one (no key is
    computed), cached with one."""
    if cache is None:
        return PLAIN
    from hotpipe.cache import NullStore

    return PLAIN if isinstance(cache.store, NullStore) else CachedRunner(cache)
