"""Progress from inside a chunk that runs on a worker thread or process.

A chunk on a worker used to report when it came back whole: 20 items of 0.15 s in chunks of
10 showed 0/20 for 1.5 s, then 20/20. With a progress callback, the map's loop gives every
chunk a counter slot (:class:`Ticks`); the worker runs its chunk in *slices* (1 item, then
doubling while a slice takes under ``PROGRESS_SLICE``, as the in-process loop does) and
writes the items finished after each slice, and the caller's loop reads the slots about
every ``PROGRESS_SLICE`` seconds while it waits. Threads share a list; processes share a
small file mapped into memory (``/dev/shm`` where it exists), one 8-byte slot per chunk,
which a worker opens by name. Without a callback none of this exists: the chunk runs as one
call, as before.

Slices are per call of the runner, so a cached map's chunks are not sliced (its packs are
stored per chunk and must match across runs); its progress moves per chunk. A plan with an
``async def`` step is not sliced either (a slice of one item would await one item at a
time): its chunk runs whole and the async step counts its items as their coroutines return
(:class:`ItemTicks`), in the calling thread as on workers.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._arrays import append_column, finish_column

if TYPE_CHECKING:
    from hotpipe.plan import Plan

__all__ = ["ITEMS_DONE", "PROGRESS_SLICE", "ItemTicks", "SharedTicks", "ThreadTicks", "Ticks",
           "first_slice", "last_async_step", "run_sliced", "run_with_progress", "shared_bump"]

PROGRESS_SLICE = 0.1
"""Seconds between progress updates that chunks (in-process or on workers) aim for."""

_SLOT = struct.Struct("q")


class ItemTicks:
    """Items of a chunk that an async step finished, for progress: counted on the event
    loop as each item's coroutine returns, passed to ``report`` from the thread that waits
    for the chunk (the calling thread, or a worker) every ``PROGRESS_SLICE`` seconds.

    Only the step in slot ``slot`` counts (the plan's last async step), so an item is
    reported once; the steps after it still run when the chunk's gather ends, so the count
    runs at most those steps ahead."""

    __slots__ = ("done", "report", "reported", "slot")
    every = PROGRESS_SLICE

    def __init__(self, slot: int, report: Callable[[int], None]) -> None:
        self.slot = slot
        self.report = report
        self.done = 0
        self.reported = 0

    def flush(self) -> None:
        k = self.done - self.reported
        if k > 0:
            self.reported += k
            self.report(k)


ITEMS_DONE: ContextVar[ItemTicks | None] = ContextVar("hotpipe_items_done", default=None)
"""Set while a chunk runs with progress shown (:func:`run_with_progress`); read by the
async step (``hotpipe.execute._map_async``)."""


class Ticks:
    """Items finished so far per chunk, by chunk start; the caller reads, workers write."""

    def __init__(self, starts: list[int]) -> None:
        self._slots = {start: i for i, start in enumerate(starts)}

    def slot(self, start: int) -> int | None:
        """The slot of the chunk starting at ``start`` (None: not a chunk of this map, as
        when a dead worker's chunk is rerun item by item)."""
        return self._slots.get(start)

    def read(self, slot: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the counters hold."""


class ThreadTicks(Ticks):
    """Counters in a list shared with the worker threads (one writer per slot)."""

    def __init__(self, starts: list[int]) -> None:
        super().__init__(starts)
        self.counts = [0] * len(starts)

    def read(self, slot: int) -> int:
        return self.counts[slot]

    def bump(self, slot: int) -> Callable[[int], None]:
        counts = self.counts

        def add(k: int) -> None:
            counts[slot] += k

        return add


class SharedTicks(Ticks):
    """Counters in a memory-mapped file that worker processes open by its path."""

    def __init__(self, starts: list[int]) -> None:
        super().__init__(starts)
        import tempfile

        where = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, self.path = tempfile.mkstemp(prefix="hotpipe-ticks-", dir=where)
        try:
            os.ftruncate(fd, _SLOT.size * max(1, len(starts)))
            self._map = mmap.mmap(fd, _SLOT.size * max(1, len(starts)))
        finally:
            os.close(fd)

    def read(self, slot: int) -> int:
        return _SLOT.unpack_from(self._map, slot * _SLOT.size)[0]

    def close(self) -> None:
        self._map.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


_OPENED: dict[str, mmap.mmap] = {}


def shared_bump(path: str, slot: int) -> Callable[[int], None] | None:
    """In a worker process: a function adding to ``slot`` of the counters at ``path`` (the
    last few files stay open), or None when the file is gone (the map ended)."""
    mm = _OPENED.get(path)
    if mm is None:
        try:
            with open(path, "r+b") as f:
                mm = mmap.mmap(f.fileno(), 0)
        except (OSError, ValueError):
            return None
        while len(_OPENED) >= 4:
            _OPENED.pop(next(iter(_OPENED))).close()
        _OPENED[path] = mm
    total = [0]
    offset = slot * _SLOT.size

    def add(k: int) -> None:
        total[0] += k
        _SLOT.pack_into(mm, offset, total[0])

    return add


def last_async_step(plan: Plan) -> int | None:
    """The slot of the plan's last mapped ``async def`` step (None: there is none)."""
    slots = [s.slot for s in plan.steps if s.mapped and s.node.is_async and s.nested is None]
    return slots[-1] if slots else None


def run_with_progress(plan: Plan, run: Callable[[int, int], dict[str, Any]], n: int,
                      bump: Callable[[int], None], first: int = 1) -> dict[str, Any]:
    """``run(0, n)`` reporting finished items to ``bump`` as it goes: in slices
    (:func:`run_sliced`), or, when the plan has an async step, whole, counting that step's
    items as their coroutines return (slices would await one item at a time)."""
    slot = last_async_step(plan)
    if slot is None:
        return run_sliced(run, n, bump, first)
    ticks = ItemTicks(slot, bump)
    token = ITEMS_DONE.set(ticks)
    try:
        produced = run(0, n)
    finally:
        ITEMS_DONE.reset(token)
    if n > ticks.reported:
        bump(n - ticks.reported)
    return produced


def first_slice(per_item: float) -> int:
    """Items in a worker's first slice: about ``PROGRESS_SLICE`` of work by the probe's
    per-item cost (1 without a probe). A chunk no larger runs whole: it reports soon enough
    when it comes back, and slicing cheap items would cost ~10 us per slice and node."""
    return 1 if per_item <= 0 else max(1, int(PROGRESS_SLICE / per_item))


def run_sliced(run: Callable[[int, int], dict[str, Any]], n: int,
               bump: Callable[[int], None], first: int = 1) -> dict[str, Any]:
    """``run(start, stop)`` over ``0..n`` in slices of ``first`` items, then doubling while
    one takes under ``PROGRESS_SLICE`` (halved when one takes over four times that), calling
    ``bump(items)`` after each; returns the slices' columns joined."""
    out: dict[str, Any] | None = None
    s, step = 0, first
    while s < n:
        stop = min(s + step, n)
        t0 = perf_counter()
        produced = run(s, stop)
        took = perf_counter() - t0
        if out is None:
            out = {name: [] for name in produced}
        for name, col in out.items():
            out[name] = append_column(col, produced[name])
        bump(stop - s)
        s = stop
        if took < PROGRESS_SLICE:
            step *= 2
        elif took > 4 * PROGRESS_SLICE:
            step = max(1, step // 2)
    if out is None:
        return run(0, n)
    return {name: finish_column(col) for name, col in out.items()}
