"""One-off costs: work a process pays once, not once per item.

A resource's construction (a model loaded in its ``__init__``), a worker pool's start-up and
a node's first call in a process (imports, JIT compilation) happen once however many items
follow. Counted as item time they mislead twice: the probe sizes chunks as if every item
were that slow, and a projection to more items scales them as if every item paid them. So
they are noted here as :class:`OneOff` entries, apart from the nodes' item statistics; the
executors take them (:func:`take`) where they measure a step and move them from the step's
wall into the collector's ``one_offs`` (:class:`hotpipe.profile.stats.Stats`).

Entries are kept per thread: the thread that waited for a build is the one whose step
measured it. ``NOTED`` counts every entry ever noted, so a hot path checks one integer
before it looks for entries.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, NamedTuple

__all__ = ["FIRST_CALL", "POOL_START", "RESOURCE", "RESOURCE_WAIT", "OneOff", "elapsed",
           "first_in_process", "note", "process_age", "take"]

RESOURCE = "resource"
"""A resource built in this thread (:meth:`hotpipe.resources.Resource.get`)."""
RESOURCE_WAIT = "resource wait"
"""This thread waited for another thread of its process to build a resource."""
WAIT_NOTED = 0.001
"""Seconds of waiting for another thread's build under which no entry is noted."""
POOL_START = "pool start"
"""A worker process started: from its creation to its first task (interpreter, imports)."""
FIRST_CALL = "first call"
"""A node's first call in a process took this much longer than its next ones."""


class OneOff(NamedTuple):
    """``seconds`` of one-off work of ``kind`` (one of this module's constants) on ``name``
    (a resource, a node, a worker), in process ``pid`` and thread ``tid``. ``inside``: the
    time lay inside a step's measured interval (and was taken out of that step's wall)."""

    kind: str
    name: str
    seconds: float
    pid: int
    tid: int
    inside: bool = True


NOTED = 0
_LOCAL = threading.local()


def note(kind: str, name: str, seconds: float, inside: bool = True) -> None:
    """Record a one-off cost in this thread, for the step that measures it to take."""
    global NOTED
    entries = _LOCAL.__dict__.setdefault("entries", [])
    entries.append((NOTED, OneOff(kind, name, seconds, os.getpid(), threading.get_ident(),
                                  inside)))
    NOTED += 1


def take(since: int) -> list[OneOff]:
    """The entries noted in this thread since ``NOTED`` was ``since`` (and forget every
    entry of this thread: one noted outside any step, e.g. a resource the user built
    directly, belongs to no map)."""
    entries = _LOCAL.__dict__.get("entries")
    if not entries:
        return []
    _LOCAL.entries = []
    return [e for seq, e in entries if seq >= since]


_CALLED: weakref.WeakSet[Any] = weakref.WeakSet()
_CALLED_IDS: set[int] = set()  # functions that cannot be weakly referenced


def first_in_process(func: Any) -> bool:
    """Whether ``func`` is called for the first time in this process (and mark it called)."""
    try:
        if func in _CALLED:
            return False
        _CALLED.add(func)
    except TypeError:
        if id(func) in _CALLED_IDS:
            return False
        _CALLED_IDS.add(id(func))
    return True


def elapsed(entries: list[OneOff]) -> float:
    """Wall seconds the entries stand for: workers pay their one-offs side by side, so the
    most any one thread paid (a thread's own entries add up)."""
    per: dict[tuple[int, int], float] = {}
    for e in entries:
        per[e.pid, e.tid] = per.get((e.pid, e.tid), 0.0) + e.seconds
    return max(per.values(), default=0.0)


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
