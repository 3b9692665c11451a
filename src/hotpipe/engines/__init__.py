"""Engines execute plans. ``Local`` is the reference; others plug in through ``Engine``."""

from hotpipe.engines.base import Engine, Outcome
from hotpipe.engines.local import Local

__all__ = ["Engine", "Local", "Outcome"]
