"""Streaming maps: items from iterators of unknown length, in bounded buffers.

A background thread reads the mapped iterators (zipped strictly) and groups the items into
chunks, putting at most ``buffer`` chunks in a queue; the engine takes chunks as they come.
Loading (the iterator's work: reading files, decoding) overlaps compute, and memory holds
``buffer`` chunks of inputs, not N items. :meth:`Pipeline.imap` yields results item by item
(memory bounded too); :meth:`Pipeline.map` with an iterator collects them into lists.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe.engines.base import Outcome
from hotpipe.errors import InputError, ItemError
from hotpipe.profile.stats import Stats

if TYPE_CHECKING:
    from hotpipe.cache.store import Cache
    from hotpipe.engines.base import Engine
    from hotpipe.plan import Plan
    from hotpipe.profile import Profile

__all__ = ["Stream", "is_stream"]

_END = object()


def is_stream(value: Any) -> bool:
    """An iterator or generator without a length: mapped item by item as it is read."""
    return hasattr(value, "__next__") and not hasattr(value, "__len__")


class _Prefetch:
    """Reads ``sources`` on a thread into chunks of ``size`` items, ``buffer`` chunks ahead."""

    def __init__(self, sources: dict[str, Any], size: int, buffer: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=buffer)
        self._stop = threading.Event()
        self._names = list(sources)
        self._iters = [iter(v) for v in sources.values()]
        self._size = size
        self._thread = threading.Thread(target=self._run, name="hotpipe-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        rows = zip(*self._iters, strict=True)
        try:
            while True:
                chunk: list[tuple[Any, ...]] = []
                for row in rows:
                    chunk.append(row)
                    if len(chunk) >= self._size:
                        break
                if not chunk:
                    break
                cols = {name: [r[i] for r in chunk] for i, name in enumerate(self._names)}
                if not self._put(cols):
                    return
                if len(chunk) < self._size:
                    break
        except ValueError as exc:
            if "zip()" in str(exc):
                exc = InputError(
                    f"map(mode='zip') over streams {self._names}: {exc}. Fix: give iterators "
                    "of the same length."
                )
            self._put(exc)
            return
        except BaseException as exc:  # the user's iterator raised: hand it over
            self._put(exc)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[dict[str, list[Any]]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()


class Stream:
    """Results of :meth:`Pipeline.imap`: iterate for one ``dict`` of outputs per item, in order.

    ``profile`` and ``errors`` cover the items processed so far (all of them once the stream
    is exhausted).
    """

    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        sources: dict[str, Any],
        scalars: dict[str, Any],
        on_error: str,
        cache: Cache | None,
        chunk_size: int,
        buffer: int,
        progress: Callable[[int], None] | bool | None = None,
        label: str = "map",
        refresh: frozenset[str] = frozenset(),
    ) -> None:
        if buffer < 1 or not isinstance(buffer, int):
            raise InputError(f"buffer={buffer!r}: must be an int >= 1 (chunks read ahead).")
        from hotpipe.runners import runner_for

        self._plan, self._engine, self._on_error = plan, engine, on_error
        self._runner = runner_for(cache, refresh)
        self._sources, self._scalars = sources, scalars
        self._chunk_size, self._buffer, self._progress = chunk_size, buffer, progress
        self._label = label
        self._stats = Stats.empty(plan.width)
        self._t0 = perf_counter()
        self._wall = 0.0
        self._n = 0
        self._notes: list[str] = []
        self._started = False

    def chunks(self) -> Iterator[dict[str, list[Any]]]:
        """The results chunk by chunk, as columns (one list per output)."""
        if self._started:
            raise InputError("a stream can be iterated only once; call imap() again.")
        self._started = True
        plan, stats = self._plan, self._stats
        bc = self._runner.broadcast(plan, self._scalars, 0, self._on_error, stats)
        failure = bc.failure
        prefetch = _Prefetch(self._sources, self._chunk_size, self._buffer)
        with self._progress_callback() as advance:
            try:
                for cols in prefetch:
                    n = len(next(iter(cols.values())))
                    outcome = self._engine.run_map(plan, cols, self._scalars, n, self._on_error,
                                                   None, self._runner, bc, self._n)
                    stats.merge(outcome.stats)
                    self._notes.extend(x for x in outcome.notes if x not in self._notes)
                    if failure is not None:
                        for i in range(self._n, self._n + n):
                            stats.failed(ItemError(i, *failure, (i,)))
                    self._n += n
                    self._wall = perf_counter() - self._t0
                    if advance is not None:
                        advance(n)
                    yield outcome.values
            finally:
                prefetch.close()
                self._wall = perf_counter() - self._t0

    def _progress_callback(self) -> Any:
        """A bar without a total (the stream's length is unknown), a callable, or nothing."""
        if self._progress is True:
            from hotpipe.progress import progress_bar

            return progress_bar(self._label, None)
        return nullcontext(self._progress if callable(self._progress) else None)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self._plan.outputs
        for cols in self.chunks():
            columns = [cols[name] for name in names]
            for row in zip(*columns, strict=True):
                yield dict(zip(names, row, strict=True))

    @property
    def errors(self) -> list[ItemError]:
        return self._stats.errors

    @property
    def profile(self) -> Profile:
        from hotpipe.profile import Profile

        outcome = Outcome({}, self._wall, self._n, self._t0, stats=self._stats)
        outcome.notes.extend(self._notes)
        return Profile(self._plan, outcome, "map", self._engine.name)
