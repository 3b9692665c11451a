"""``MemoryStore``: the store interface over a dict in this process (tests, one-off runs).

>>> store = MemoryStore()
>>> store.put_many({b"k" * 16: b"payload"})
>>> store.get_many([b"k" * 16, b"x" * 16])
{b'kkkkkkkkkkkkkkkk': b'payload'}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

from hotpipe.cache.store import HEAD, Labels, PrefixStats, Store, StoreStats

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """A dict in this process: for tests and runs that need no persistence."""

    def __init__(self) -> None:
        self._data: dict[bytes, tuple[bytes, float]] = {}
        self._packs: set[bytes] = set()
        self._heads: dict[bytes, int] = {}  # keys per first HEAD bytes, for prefixes_present
        self._labels: dict[bytes, tuple[str, str]] = {}
        self._written: dict[bytes, float] = {}  # when each entry was written (max_age)
        self._lock = threading.Lock()

    def _add(self, key: bytes, payload: bytes, now: float) -> None:
        if key not in self._data:
            head = key[:HEAD]
            self._heads[head] = self._heads.get(head, 0) + 1
        self._data[key] = (bytes(payload), now)
        self._written[key] = now

    def _remove(self, key: bytes) -> bool:
        if self._data.pop(key, None) is None:
            return False
        self._written.pop(key, None)
        self._packs.discard(key)
        head = key[:HEAD]
        self._heads[head] -= 1
        if not self._heads[head]:
            del self._heads[head]
        return True

    keeps_write_times = True

    def get_many(self, keys: Iterable[bytes],
                 newer_than: float | None = None) -> dict[bytes, bytes]:
        now = time.time()
        found = {}
        with self._lock:
            for key in keys:
                entry = self._data.get(key)
                if entry is not None and (newer_than is None
                                          or self._written[key] >= newer_than):
                    found[key] = entry[0]
                    self._data[key] = (entry[0], now)
        return found

    def get_linked(self, keys: Iterable[bytes],
                   members: Callable[[bytes], Iterable[bytes]],
                   newer_than: float | None = None) -> dict[bytes, bytes]:
        found = (self.get_many(keys) if newer_than is None  # a subclass may not take it
                 else self.get_many(keys, newer_than=newer_than))
        now = time.time()
        with self._lock:
            for key in found:
                for member in members(key):
                    entry = self._data.get(member)
                    if entry is not None:
                        self._data[member] = (entry[0], now)
        return found

    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None,
                 labels: Labels | None = None) -> None:
        now = time.time()
        with self._lock:
            self._labels.update(labels or {})
            for key, payload in items.items():
                self._add(key, payload, now)
            self._packs.difference_update(items)
            for key, payload in (packs or {}).items():
                self._add(key, payload, now)
                self._packs.add(key)

    def prefixes_present(self, prefixes: Iterable[bytes]) -> set[bytes]:
        found = set()
        with self._lock:
            for p in set(prefixes):
                if len(p) >= HEAD and p[:HEAD] not in self._heads:
                    continue
                if len(p) == HEAD or any(k.startswith(p) for k in self._data):
                    found.add(p)
        return found

    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        return {k for k in keys if k in self._data}

    def delete(self, keys: Iterable[bytes]) -> int:
        with self._lock:
            return sum(self._remove(k) for k in set(keys))

    def stats(self) -> StoreStats:
        with self._lock:
            times = [t for _, t in self._data.values()]
            writes = list(self._written.values())
            size = sum(len(p) for p, _ in self._data.values())
            packs = len(self._packs)
        n = len(times) - packs
        return StoreStats(entries=n, bytes=size, inline_entries=n, file_entries=0, packs=packs,
                          oldest_access=min(times, default=None),
                          newest_access=max(times, default=None),
                          oldest_write=min(writes, default=None),
                          newest_write=max(writes, default=None))

    def by_prefix(self) -> list[PrefixStats]:
        groups: dict[bytes, list[tuple[bytes, bytes, float]]] = {}
        with self._lock:
            for key, (payload, t) in self._data.items():
                groups.setdefault(key[:HEAD], []).append((key, payload, t))
            labels = dict(self._labels)
            packs = set(self._packs)
        rows = []
        for prefix, entries in groups.items():
            node, pipeline = labels.get(prefix, (None, None))
            n_packs = sum(key in packs for key, _, _ in entries)
            times = [t for _, _, t in entries]
            rows.append(PrefixStats(prefix, node, pipeline, len(entries) - n_packs, n_packs,
                                    sum(len(p) for _, p, _ in entries), min(times), max(times)))
        return sorted(rows, key=lambda r: (-r.bytes, r.prefix))

    def clear(self) -> None:
        with self._lock:
            self._labels.clear()
            self._data.clear()
            self._written.clear()
            self._packs.clear()
            self._heads.clear()

    def prune(self, max_bytes: int) -> int:
        with self._lock:
            total = sum(len(p) for p, _ in self._data.values())
            removed = 0
            for key, (payload, _) in sorted(self._data.items(), key=lambda kv: kv[1][1]):
                if total <= max_bytes:
                    break
                self._remove(key)
                total -= len(payload)
                removed += 1
        return removed

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self._data)} entries>)"
