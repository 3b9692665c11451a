"""Engines execute plans. ``Local`` is the reference; others plug in through ``Engine``."""

from hotpipe.engines.base import Engine, Outcome
from hotpipe.engines.local import Local
from hotpipe.engines.processes import Processes, WorkerDied
from hotpipe.engines.threads import Threads

__all__ = ["Engine", "Local", "Outcome", "Processes", "Threads", "WorkerDied"]
