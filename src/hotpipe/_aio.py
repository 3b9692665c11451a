"""One event loop per process, on a background thread, for ``async def`` nodes.

A loop of our own (instead of ``asyncio.run`` per item, or the caller's loop) runs coroutines
whether or not the caller already runs a loop (Jupyter does), from any engine thread, and
costs one thread per process. It is recreated after a fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from time import perf_counter
from typing import Any

__all__ = ["ITEMS_DONE", "ItemTicks", "gather_items", "run_coroutine"]

TICK_SECONDS = 0.1
"""How often a chunk waiting on its async items passes on the items finished so far."""


class ItemTicks:
    """Items of a chunk that an async step finished, for progress: counted on the event
    loop as each item's coroutine returns, passed to ``report`` from the thread that waits
    for the chunk (the calling thread, or a worker), about every ``TICK_SECONDS``.

    Only the step in slot ``slot`` counts (the plan's last async step), so an item is
    reported once; the steps after it still run when the chunk's gather ends, so the count
    runs at most those steps ahead."""

    __slots__ = ("done", "report", "reported", "slot")

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
"""Set while a chunk runs with progress shown (:func:`hotpipe._ticks.run_with_progress`)."""

_lock = threading.Lock()
_state: tuple[int, asyncio.AbstractEventLoop] | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _state
    state = _state
    if state is not None and state[0] == os.getpid():
        return state[1]
    with _lock:
        if _state is None or _state[0] != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="hotpipe-async",
                                      daemon=True)
            thread.start()
            _state = (os.getpid(), loop)
        return _state[1]


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the background loop and wait for its result (or exception)."""
    return asyncio.run_coroutine_threadsafe(coro, _loop()).result()


def gather_items(
    func: Callable[..., Coroutine[Any, Any, Any]],
    rows: Iterable[tuple[int, tuple[Any, ...]]],
    limit: int | None,
    ticks: ItemTicks | None = None,
) -> list[tuple[int, Any, BaseException | None, float]]:
    """Await ``func(*row)`` for every ``(index, row)``, at most ``limit`` at once.

    Returns ``(index, value, exception, seconds)`` per row, in the order given. With
    ``ticks`` each finished item is counted, and passed on while this thread waits.
    """

    async def one(sem: asyncio.Semaphore | None, i: int, row: tuple[Any, ...]):
        async def call():
            t = perf_counter()
            try:
                return i, await func(*row), None, perf_counter() - t
            except Exception as exc:
                return i, None, exc, perf_counter() - t
            finally:
                if ticks is not None:
                    ticks.done += 1

        if sem is None:
            return await call()
        async with sem:
            return await call()

    async def everything():
        sem = asyncio.Semaphore(limit) if limit else None
        return await asyncio.gather(*(one(sem, i, row) for i, row in rows))

    if ticks is None:
        return run_coroutine(everything())
    fut = asyncio.run_coroutine_threadsafe(everything(), _loop())
    while True:
        try:
            return fut.result(timeout=TICK_SECONDS)
        except FutureTimeout:
            if fut.done():
                raise
            ticks.flush()
