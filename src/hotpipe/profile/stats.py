"""The profile's collector: running counters fed by the executors' events.

:class:`Stats` is the one listener every executor reports to, through its event methods:
``step_done`` (a step finished on a chunk, or once), ``record``/``record_batch`` (an item or
a batch was timed), ``cache_read``/``cache_written`` (hits, misses, bytes), ``cache_op``
(the cache layer worked: keys, lookups, reads, writes), ``failed`` (an item failed with
``on_error="collect"``). There is no other accounting path. Everything is
O(1) per event and O(steps) in memory, whatever the number of items: sums, a log-bucketed
histogram of per-item times (8 buckets per octave: percentiles within ~4.5 %), the maximum,
and the k slowest items; one timeline event per step per chunk for the trace. A worker's
collector comes back to the caller as data and merges by addition (:meth:`Stats.merge`).
The progress bar listens to the other event, a chunk done (``on_progress``).
"""

from __future__ import annotations

import heapq
import math
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from hotpipe.errors import ItemError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotpipe._oneoff import OneOff

__all__ = ["CACHE_INPUTS", "CACHE_MAP", "CACHE_WRITE", "CHEAP_ITEM", "SAMPLE_ITEMS",
           "SAMPLE_SINGLE", "TIME_EVERY_ITEM_ABOVE", "TOP_K", "Event", "ItemError", "Stats"]

SAMPLE_ITEMS = 64
"""Items timed at the start of every map, per node (the rest run in C loops)."""

SAMPLE_SINGLE = 8
"""Of the sample, the items always timed one by one. A node whose mean over them is under
:data:`CHEAP_ITEM` has the rest of its sample timed as one block: two clock reads and a
Python loop cost more than such a call, so one-by-one times would measure the clock."""

CHEAP_ITEM = 10e-6
"""Seconds per item under which a node's sample is timed as a block (see SAMPLE_SINGLE)."""

TIME_EVERY_ITEM_ABOVE = 100e-6
"""A node whose sampled mean is above this many seconds is timed item by item for the whole
map. Timing one item costs ~1-2 us on the reference machine (two clock reads, the O(1)
record, and a Python loop instead of the C one), so under ~2 % of such a node; faster
nodes keep the C loop and their percentiles come from the sample (benchmarks/
profile_overhead.py measures both)."""

TOP_K = 5

# ``Stats.cache_op`` steps for cache work that belongs to no single node:
CACHE_MAP = -1
"""Once per map: the step fingerprints, the broadcast inputs' keys, which steps have entries."""
CACHE_INPUTS = -2
"""Per chunk: the keys of the mapped inputs."""
CACHE_WRITE = -3
"""A write of several nodes' entries in one transaction (its time is shared by their bytes)."""
_BUCKETS_PER_OCTAVE = 8


def _first(entry: tuple[Any, ...]) -> Any:
    return entry[0]


class Event(NamedTuple):
    """A step ran ``items`` items from ``start`` to ``end`` (perf_counter seconds) on a worker."""

    step: int
    pid: int
    tid: int
    start: float
    end: float
    items: int


def bucket_of(seconds: float) -> int:
    """Histogram bucket of a duration (log scale, 8 buckets per octave).

    ``frexp`` splits the float into mantissa and exponent without a logarithm: the exponent
    gives the octave and the mantissa (0.5..1) one of 8 linear sub-buckets, within ~9 % of
    the log-spaced ones and cheaper to compute.
    """
    if seconds <= 0:
        return -10_000
    mantissa, exponent = math.frexp(seconds)
    return exponent * _BUCKETS_PER_OCTAVE + int((mantissa - 0.5) * 2 * _BUCKETS_PER_OCTAVE)


def bucket_value(bucket: int) -> float:
    """Middle of a bucket, in seconds (the inverse of :func:`bucket_of`)."""
    exponent, sub = divmod(bucket, _BUCKETS_PER_OCTAVE)
    return math.ldexp(0.5 + (sub + 0.5) / (2 * _BUCKETS_PER_OCTAVE), exponent)


@dataclass
class Stats:
    """Counters per step of one plan execution (one ``run``, one ``map``, or one chunk)."""

    calls: list[int]
    items: list[int]
    wall: list[float]
    cpu: list[float]
    timed: list[int]
    timed_wall: list[float]
    hist: list[dict[int, int]]
    peak: list[float]
    slowest: list[list[tuple[float, int, str]]]
    hits: list[int]
    misses: list[int]
    saved: list[float]
    bytes_read: list[int]
    bytes_written: list[int]
    events: list[Event] = field(default_factory=list)
    cache_time: list[float] = field(default_factory=list)
    cache_map: float = 0.0
    cache_inputs: float = 0.0
    cache_events: list[Event] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    retries: dict[int, int] = field(default_factory=dict)
    """Per step: calls retried after a failure (``@node(retries=...)``)."""
    timeouts: dict[int, int] = field(default_factory=dict)
    """Per step: calls that outlived their ``@node(timeout=...)``."""
    chunks: int = 0
    sample: int = SAMPLE_ITEMS
    slow: frozenset[int] = frozenset()
    cpu_measured: bool = True
    one_offs: list[OneOff] = field(default_factory=list)
    """One-off costs (resource builds, pool start-up, first calls: hotpipe._oneoff), kept
    out of the steps' wall and item times."""
    counters: dict[tuple[int, str], float] = field(default_factory=dict)
    """Named per-step counters some executors keep, e.g. ``(slot, "jit compiles")``,
    ``(slot, "jit seconds")`` for ``vectorize="jax"``; merged by addition."""

    def count(self, step: int, name: str, amount: float = 1) -> None:
        """Add ``amount`` to the counter ``name`` of ``step``."""
        key = (step, name)
        self.counters[key] = self.counters.get(key, 0) + amount

    @classmethod
    def empty(cls, steps: int, sample: int = SAMPLE_ITEMS,
              slow: frozenset[int] = frozenset()) -> Stats:
        """Zero counters. ``sample`` items per step are timed one by one; steps in ``slow``
        are timed item by item throughout (engines pass what a probe measured)."""
        return cls(
            sample=sample,
            slow=slow,
            calls=[0] * steps,
            items=[0] * steps,
            wall=[0.0] * steps,
            cpu=[0.0] * steps,
            timed=[0] * steps,
            timed_wall=[0.0] * steps,
            hist=[{} for _ in range(steps)],
            peak=[0.0] * steps,
            slowest=[[] for _ in range(steps)],
            hits=[0] * steps,
            misses=[0] * steps,
            saved=[0.0] * steps,
            bytes_read=[0] * steps,
            bytes_written=[0] * steps,
            cache_time=[0.0] * steps,
        )

    @classmethod
    def from_run(cls, wall: list[float], cpu: list[float] | None, start: float) -> Stats:
        """Counters of one ``run``: every step ran once, one after the other from ``start``.
        ``cpu`` is None when the run was too short to read the CPU clock per node."""
        stats = cls.empty(len(wall))
        stats.cpu_measured = cpu is not None
        cpu = cpu if cpu is not None else [0.0] * len(wall)
        pid, tid = os.getpid(), threading.get_ident()
        t = start
        for k, (w, c) in enumerate(zip(wall, cpu, strict=True)):
            stats.calls[k] = stats.items[k] = 1
            stats.wall[k] = w
            stats.cpu[k] = c
            stats.timed[k] = 1
            stats.timed_wall[k] = w
            stats.hist[k][bucket_of(w)] = 1
            stats.peak[k] = w
            stats.events.append(Event(k, pid, tid, t, t + w, 1))
            t += w
        stats.chunks = 1
        return stats

    def step_done(self, step: int, calls: int, items: int, start: float, end: float,
                  cpu: float, wall: float | None = None) -> None:
        """``step`` ran ``items`` items in ``calls`` calls from ``start`` to ``end``
        (``wall``, when given, is its own share: a nested map's time minus its inner
        steps')."""
        self.calls[step] += calls
        self.items[step] += items
        self.wall[step] += end - start if wall is None else wall
        self.cpu[step] += cpu
        self.events.append(Event(step, os.getpid(), threading.get_ident(), start, end, items))

    def cache_read(self, step: int, hits: int = 0, misses: int = 0, saved: float = 0.0,
                   nbytes: int = 0) -> None:
        """Lookups of ``step``'s results: hits (the seconds they saved), misses, bytes read."""
        self.hits[step] += hits
        self.misses[step] += misses
        self.saved[step] += saved
        self.bytes_read[step] += nbytes

    def cache_written(self, step: int, nbytes: int) -> None:
        self.bytes_written[step] += nbytes

    def cache_op(self, step: int, start: float, end: float,
                 shares: dict[int, int] | None = None) -> None:
        """The cache layer worked from ``start`` to ``end`` (perf_counter seconds): keys,
        lookups, reads, unpickling or writes of ``step``'s entries; ``step`` is
        :data:`CACHE_MAP` or :data:`CACHE_INPUTS` for work of no single node, or
        :data:`CACHE_WRITE` with ``shares`` (bytes per step) to split a write among the
        steps it stored."""
        seconds = end - start
        if step >= 0:
            self.cache_time[step] += seconds
        elif step == CACHE_MAP:
            self.cache_map += seconds
        elif step == CACHE_INPUTS:
            self.cache_inputs += seconds
        elif shares:
            total = sum(shares.values())
            for k, part in shares.items():
                self.cache_time[k] += seconds * part / total if total else seconds / len(shares)
        else:
            self.cache_map += seconds
        self.cache_events.append(Event(step, os.getpid(), threading.get_ident(), start, end, 0))

    def cache_spent(self) -> float:
        """Seconds the cache layer took so far (summed over what this collector holds)."""
        return sum(self.cache_time) + self.cache_map + self.cache_inputs

    def one_off(self, entries: list[OneOff]) -> float:
        """Keep one-off entries; returns the seconds of those that lay inside a step's
        measured interval (the caller takes them out of that step's wall)."""
        self.one_offs.extend(entries)
        return sum(e.seconds for e in entries if e.inside)

    def failed(self, error: ItemError) -> None:
        """An item failed and the map goes on (``on_error="collect"``)."""
        self.errors.append(error)

    def record(self, step: int, index: int, seconds: float, row: tuple[Any, ...],
               describe: Any) -> None:
        """One item of ``step`` took ``seconds``; ``describe(row)`` is called only for the
        k slowest so far."""
        self.timed[step] += 1
        self.timed_wall[step] += seconds
        h = self.hist[step]
        b = bucket_of(seconds)
        h[b] = h.get(b, 0) + 1
        if seconds > self.peak[step]:
            self.peak[step] = seconds
        top = self.slowest[step]
        if len(top) < TOP_K:
            heapq.heappush(top, (seconds, index, describe(row)))
        elif seconds > top[0][0]:
            heapq.heapreplace(top, (seconds, index, describe(row)))

    def record_many(self, step: int, times: list[tuple[float, int, tuple[Any, ...]]],
                    index_of: Callable[[int], int], describe: Callable[[Any], str]) -> None:
        """Items timed one by one: ``times`` holds ``(seconds, position, inputs)``;
        ``index_of(position)`` gives an item's map index and ``describe(inputs)`` its
        description, made only for the items that enter the slowest list."""
        if not times:
            return
        h = self.hist[step]
        peak = self.peak[step]
        total = 0.0
        for seconds, _, _ in times:
            total += seconds
            b = bucket_of(seconds)
            h[b] = h.get(b, 0) + 1
            if seconds > peak:
                peak = seconds
        self.peak[step] = peak
        self.timed[step] += len(times)
        self.timed_wall[step] += total
        top = self.slowest[step]
        for seconds, pos, row in heapq.nlargest(TOP_K, times, key=_first):
            if len(top) < TOP_K:
                heapq.heappush(top, (seconds, index_of(pos), describe(row)))
            elif seconds > top[0][0]:
                heapq.heapreplace(top, (seconds, index_of(pos), describe(row)))
            else:
                break

    def record_block(self, step: int, items: int, share: float) -> None:
        """Cheap items ran in one timed block taking ``share`` seconds per item: ``items`` of
        them count in the sample with that time; none enters the slowest list (none was
        timed alone)."""
        if items <= 0:
            return
        self.timed[step] += items
        self.timed_wall[step] += share * items
        h = self.hist[step]
        b = bucket_of(share)
        h[b] = h.get(b, 0) + items
        if share > self.peak[step]:
            self.peak[step] = share

    def record_batch(self, step: int, index: int, seconds: float, items: int,
                     row: tuple[Any, ...], describe: Any) -> None:
        """A batch of ``items`` items took ``seconds``: each item is counted with an equal
        share, in O(1); the batch enters the slowest list under its first item."""
        share = seconds / items
        self.record_block(step, items, share)
        top = self.slowest[step]
        if len(top) < TOP_K:
            heapq.heappush(top, (share, index, describe(row)))
        elif share > top[0][0]:
            heapq.heapreplace(top, (share, index, describe(row)))

    def merge(self, other: Stats) -> None:
        """Add another worker's or chunk's counters to these."""
        for name in ("calls", "items", "wall", "cpu", "timed", "timed_wall", "hits", "misses",
                     "saved", "bytes_read", "bytes_written", "cache_time"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for i, v in enumerate(theirs):
                mine[i] += v
        self.cache_map += other.cache_map
        self.cache_inputs += other.cache_inputs
        self.cache_events.extend(other.cache_events)
        for i, h in enumerate(other.hist):
            mine_h = self.hist[i]
            for b, c in h.items():
                mine_h[b] = mine_h.get(b, 0) + c
            self.peak[i] = max(self.peak[i], other.peak[i])
            merged = self.slowest[i] + other.slowest[i]
            self.slowest[i] = heapq.nlargest(TOP_K, merged)
            heapq.heapify(self.slowest[i])
        self.events.extend(other.events)
        self.errors.extend(other.errors)
        self.one_offs.extend(other.one_offs)
        for mine_d, theirs_d in ((self.retries, other.retries), (self.timeouts, other.timeouts)):
            for k, v in theirs_d.items():
                mine_d[k] = mine_d.get(k, 0) + v
        for key, amount in other.counters.items():
            self.counters[key] = self.counters.get(key, 0) + amount
        self.chunks += other.chunks
        self.cpu_measured = self.cpu_measured and other.cpu_measured

    def percentile(self, step: int, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the per-item times of ``step``, or None if untimed."""
        h = self.hist[step]
        total = sum(h.values())
        if not total:
            return None
        rank = q * (total - 1)
        seen = 0
        for b in sorted(h):
            seen += h[b]
            if seen > rank:
                return min(bucket_value(b), self.peak[step])
        return self.peak[step]  # pragma: no cover
