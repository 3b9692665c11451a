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
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe._ticks import ItemTicks

__all__ = ["gather_items", "run_coroutine"]

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
            return fut.result(timeout=ticks.every)
        except FutureTimeout:
            if fut.done():
                raise
            ticks.flush()
