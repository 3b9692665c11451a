"""What the worker-pool engines share: a probe first, then chunks sized from its measurement.

The loop itself is :func:`hotpipe.schedule.run_map`; a ``PoolEngine`` asks for the probe
(``wants_probe``), keeps up to four chunks per worker in flight (``window``), and leaves to
its subclass the decision whether the rest is worth sending to workers (``plan_chunks``) and
how a chunk travels (``prepare``/``submit``/``collect``).
"""

from __future__ import annotations

from hotpipe.engines.base import Engine
from hotpipe.errors import InputError
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats
from hotpipe.schedule import Job, Probe, balanced_chunk, chunk_stats

__all__ = ["Job", "PoolEngine", "Probe", "check_chunk_size"]


class PoolEngine(Engine):
    """Base of the engines that run chunks of items on workers."""

    wants_probe = True

    @property
    def window(self) -> int:  # type: ignore[override]
        return self.workers * 4

    @property
    def stream_chunk(self) -> int:
        # enough items per stream chunk to give every worker several chunks of its own
        return self.fixed_chunk * self.workers * 4 if self.fixed_chunk else 128 * self.workers

    def chunk_size(self, probe: Probe, rest: int, target_seconds: float) -> int:
        """Items per chunk so that a chunk takes ~``target_seconds``, with at least ~4 chunks
        per worker for balance."""
        return balanced_chunk(self.workers, probe, rest, target_seconds)

    @staticmethod
    def chunk_stats(plan: Plan, probe: Probe) -> Stats:
        return chunk_stats(plan, probe)


def check_chunk_size(engine: str, chunk_size: int | None) -> int | None:
    if chunk_size is not None and (type(chunk_size) is not int or chunk_size < 1):
        raise InputError(f"{engine}(chunk_size={chunk_size!r}): must be an int >= 1 or None.")
    return chunk_size
