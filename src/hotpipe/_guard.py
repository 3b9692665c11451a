"""Retries and timeouts: a node's function wrapped when it declares ``retries`` or ``timeout``.

The plan holds the wrapped function in place of the node's own (``Step.func``, and
``Step.batch`` for a batch implementation), so every executor, cached or not, on every
engine, calls through it; nodes without either option are not wrapped and pay nothing.

A timeout interrupts the call where Python can:

* in the main thread of a process (``Local`` from the main thread, every ``Processes``
  worker) a ``SIGALRM`` timer raises :class:`~hotpipe.errors.NodeTimeout` inside the running
  Python code (``time.sleep``, socket reads and pure-Python loops are interrupted);
* in a ``Processes`` worker, a call stuck in native code that never returns to Python is
  ended by ending the worker ``HARD_KILL_AFTER`` seconds past the limit (a watchdog thread
  for a call that waits, a CPU-time timer for one that computes holding the GIL); the
  engine replaces the worker and reports the item as timed out;
* in any other thread (``Threads``, a map called from a thread) the call runs on a helper
  thread and the item fails at the limit; Python cannot stop a thread, so the call finishes
  in the background and its result is dropped;
* ``async def`` nodes are cancelled at the limit (``asyncio.wait_for``).

Retries: an exception of one of ``retry_on`` (timeouts included when they match) is retried up
to ``retries`` times, waiting ``backoff * 2 ** (attempt - 1)`` seconds (or ``backoff(attempt)``)
before each; an item that then succeeds is a success. Retries and timeouts are counted in the
profile through the collector of the chunk being run (:data:`SINK`, set by the runners).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from hotpipe.errors import NodeTimeout

if TYPE_CHECKING:
    from hotpipe.node import Node
    from hotpipe.profile.stats import Stats

__all__ = ["HARD_KILL_AFTER", "SINK", "TIMEOUT_EXIT", "Guard", "guard", "sink"]

SINK: ContextVar[Stats | None] = ContextVar("hotpipe_guard_sink", default=None)
"""The collector retries and timeouts are counted in (the chunk's :class:`Stats`)."""

HARD_KILL_AFTER = 2.0
"""Seconds past its limit after which a call that ignores ``SIGALRM`` (stuck in native
code) kills its ``Processes`` worker."""

TIMEOUT_EXIT = 87
"""The exit code of a worker killed by the watchdog (read back by ``Processes``)."""

IN_WORKER = False
"""True in a ``Processes`` worker: a call stuck past its limit may end the process."""


def guard(node: Node, func: Callable[..., Any], slot: int) -> Callable[..., Any]:
    """``func`` itself when ``node`` has neither retries nor a timeout, else a wrapper."""
    if not node.retries and node.timeout is None:
        return func
    cls = AsyncGuard if node.is_async else Guard
    return cls(func, node.name, slot, node.retries, node.retry_on, node.backoff, node.timeout)


class sink:
    """``with sink(stats):`` counts the retries and timeouts of the calls inside in ``stats``."""

    __slots__ = ("stats", "token")

    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    def __enter__(self) -> None:
        self.token = SINK.set(self.stats)

    def __exit__(self, *exc: object) -> None:
        SINK.reset(self.token)


class Guard:
    """A node's function with retries and/or a timeout (picklable: it goes to workers)."""

    __slots__ = ("backoff", "func", "name", "retries", "retry_on", "seconds", "slot")

    def __init__(self, func: Callable[..., Any], name: str, slot: int, retries: int,
                 retry_on: tuple[type[BaseException], ...],
                 backoff: float | Callable[[int], float], seconds: float | None) -> None:
        self.func = func
        self.name = name
        self.slot = slot
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff
        self.seconds = seconds

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state, strict=True):
            setattr(self, s, v)

    def __call__(self, *args: Any) -> Any:
        attempt = 0
        while True:
            try:
                if self.seconds is None:
                    return self.func(*args)
                return call_with_timeout(self.func, args, self.seconds, self.name)
            except self.retry_on as exc:
                attempt = self._again(exc, attempt)
                time.sleep(self._delay(attempt))
            except NodeTimeout as exc:
                _count("timeouts", self.slot)
                _note(exc, attempt, self.retries)
                raise

    def _again(self, exc: BaseException, attempt: int) -> int:
        """Count a failure; re-raise it when no retry is left, else the next attempt number."""
        if isinstance(exc, NodeTimeout):
            _count("timeouts", self.slot)
        if attempt >= self.retries:
            _note(exc, attempt, self.retries)
            raise exc
        _count("retries", self.slot)
        return attempt + 1

    def _delay(self, attempt: int) -> float:
        if callable(self.backoff):
            return max(0.0, float(self.backoff(attempt)))
        return self.backoff * 2 ** (attempt - 1) if self.backoff else 0.0

    def __repr__(self) -> str:
        return (f"Guard({self.name!r}, retries={self.retries}, timeout={self.seconds})")


class AsyncGuard(Guard):
    """The same for an ``async def`` node: a coroutine, cancelled at the limit."""

    __slots__ = ()

    async def __call__(self, *args: Any) -> Any:  # type: ignore[override]
        import asyncio

        attempt = 0
        while True:
            try:
                if self.seconds is None:
                    return await self.func(*args)
                limit = asyncio.timeout(self.seconds)
                try:
                    async with limit:
                        return await self.func(*args)
                except TimeoutError as exc:
                    if not limit.expired():
                        raise  # the node's own TimeoutError
                    raise NodeTimeout(self.name, self.seconds,
                                      " (the call was cancelled)") from exc
            except self.retry_on as exc:
                attempt = self._again(exc, attempt)
                await asyncio.sleep(self._delay(attempt))
            except NodeTimeout as exc:
                _count("timeouts", self.slot)
                _note(exc, attempt, self.retries)
                raise


def _count(what: str, slot: int) -> None:
    stats = SINK.get()
    if stats is not None:
        counts = getattr(stats, what)
        counts[slot] = counts.get(slot, 0) + 1


def _note(exc: BaseException, attempt: int, retries: int) -> None:
    if retries:
        exc.add_note(f"hotpipe: the call failed {attempt + 1} times (retries={retries})")


# ----------------------------------------------------------------------------- timeouts


def call_with_timeout(func: Callable[..., Any], args: tuple[Any, ...], seconds: float,
                      name: str) -> Any:
    """``func(*args)``, failing with :class:`NodeTimeout` after ``seconds``."""
    if threading.current_thread() is threading.main_thread() and _alarm_free():
        return _call_with_alarm(func, args, seconds, name)
    return _call_on_thread(func, args, seconds, name)


def _alarm_free() -> bool:
    """SIGALRM is ours to use: no handler of someone else's, no timer running."""
    if not hasattr(signal, "setitimer"):
        return False
    handler = signal.getsignal(signal.SIGALRM)
    return handler in (signal.SIG_DFL, signal.SIG_IGN, None) and \
        signal.getitimer(signal.ITIMER_REAL)[0] == 0.0


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so ``except Exception`` in the
    node's own code does not swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm


def _call_with_alarm(func: Callable[..., Any], args: tuple[Any, ...], seconds: float,
                     name: str) -> Any:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    watch = None
    if IN_WORKER:
        # native code holding the GIL starves a watchdog thread: its CPU time ends the
        # process instead (SIGVTALRM's default action), the thread covers blocked calls
        signal.signal(signal.SIGVTALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_VIRTUAL, seconds + HARD_KILL_AFTER)
        watch = _Watchdog.arm(seconds)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Alarm:
        raise NodeTimeout(name, seconds, " (the call was interrupted)") from None
    finally:
        if watch is not None:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            watch.disarm()
        signal.signal(signal.SIGALRM, previous)


def _call_on_thread(func: Callable[..., Any], args: tuple[Any, ...], seconds: float,
                    name: str) -> Any:
    box: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            box.append((True, func(*args)))
        except BaseException as exc:
            box.append((False, exc))
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"hotpipe-timeout-{name}", daemon=True)
    thread.start()
    if not done.wait(seconds):
        raise NodeTimeout(name, seconds, " (it runs on a thread, which Python cannot stop: "
                          "the call goes on in the background and its result is dropped)")
    ok, value = box[0]
    if ok:
        return value
    raise value


class _Watchdog:
    """One thread per worker process: ends the process when a call outlives its limit by
    ``HARD_KILL_AFTER`` seconds without returning to Python (SIGALRM cannot reach it)."""

    _instance: _Watchdog | None = None

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.wake = threading.Condition()
        threading.Thread(target=self._run, name="hotpipe-watchdog", daemon=True).start()

    @classmethod
    def arm(cls, seconds: float) -> _Watchdog:
        if cls._instance is None:
            cls._instance = cls()
        dog = cls._instance
        with dog.wake:
            dog.deadline = time.monotonic() + seconds + HARD_KILL_AFTER
            dog.wake.notify()
        return dog

    def disarm(self) -> None:
        with self.wake:
            self.deadline = None
            self.wake.notify()

    def _run(self) -> None:
        with self.wake:
            while True:
                if self.deadline is None:
                    self.wake.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left <= 0:
                    os._exit(TIMEOUT_EXIT)
                self.wake.wait(left)
