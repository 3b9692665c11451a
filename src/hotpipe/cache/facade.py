"""``Cache``: values by key over any store, with pickling, counters and warnings.

The store below keeps raw payload bytes (see :mod:`hotpipe.cache.store`); this facade turns
values into payloads and back and never raises on a bad entry or a failing store: each is a
``CacheWarning`` and a miss, so a broken cache costs time, never a run.

>>> from hotpipe.cache.memory import MemoryStore
>>> cache = Cache(store=MemoryStore())
>>> cache.put_many({b"k" * 16: None})
>>> cache.get_many([b"k" * 16, b"x" * 16])
{b'kkkkkkkkkkkkkkkk': None}
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hotpipe.cache import serialize
from hotpipe.cache.store import CacheWarning, Labels, NullStore, PrefixStats, Store, StoreStats
from hotpipe.errors import InputError

__all__ = ["Cache", "CacheStats"]


def _max_age(max_age: Any) -> float | None:
    """``max_age=`` in seconds (a number or a ``timedelta``), or None (entries never expire)."""
    if max_age is None:
        return None
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
            or not 0 < seconds < float("inf"):
        raise InputError(
            f"Cache(max_age={max_age!r}): give a positive number of seconds or a "
            "datetime.timedelta (entries written longer ago are recomputed), or None."
        )
    return float(seconds)


def _check_arguments(path: Any, store: Any, sign: Any, trusted: Any, read_only: Any) -> None:
    """Cache(...)'s arguments, before anything is opened or created."""
    if store is not None and not (hasattr(store, "get_many") and hasattr(store, "put_many")):
        raise InputError(
            f"Cache(store={store!r}): must be a hotpipe.cache.Store (SQLiteStore, "
            "MemoryStore, NullStore, or one from open_store(name, path)), or None."
        )
    if path is not None and not isinstance(path, str | os.PathLike):
        raise InputError(
            f"Cache(path={path!r}): must be a directory path (str or pathlib.Path), or None "
            "for a disabled cache."
        )
    if not (isinstance(sign, bool) or (isinstance(sign, bytes) and sign)):
        raise InputError(
            f"Cache(sign={sign!r}): choose False (no signatures), True (the key in your "
            "config directory) or a non-empty bytes key."
        )
    if not isinstance(trusted, bool):
        raise InputError(f"Cache(trusted={trusted!r}): choose True or False.")
    if read_only is not None and not isinstance(read_only, bool):
        raise InputError(
            f"Cache(read_only={read_only!r}): choose True, False, or None (read-only when "
            "the directory cannot be written)."
        )


@dataclass(frozen=True)
class CacheStats:
    """The store's contents plus this process's counters for one ``Cache`` object."""

    store: StoreStats = field(default_factory=StoreStats)
    hits: int = 0
    misses: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    unpicklable: int = 0
    corrupt: int = 0


class Cache:
    """Values by key over a store: ``Cache(".hotpipe/cache")``, or ``Cache(None)`` to disable.

    Values are pickled (protocol 5); ``None`` is a value like any other, told apart from a
    missing key by ``get_many`` leaving the key out. Nothing here raises on a bad entry or a
    failing store: a value that cannot be pickled, a payload that cannot be unpickled and an
    I/O error each give a ``CacheWarning`` and count as a miss. Pickling a ``Cache`` carries
    only its location; the store reopens in the new process.

    Options for the default store (see docs/caching.md, "Safety"): ``sign=True`` signs every
    entry with the key in the user's config directory (``sign=b"..."``: this key) and never
    unpickles one that does not verify; ``trusted=True`` accepts a directory owned by another
    user or writable by every user; ``read_only=True`` only reads (the default: read-only
    when the directory cannot be written). An empty path is an error, not the current
    directory.

    ``max_age`` (seconds, or a ``timedelta``) makes entries expire: one written longer ago
    is a miss, recomputed and overwritten (with a new write time). Entries written by a
    hotpipe that kept no write times count as expired. The store must keep write times
    (``SQLiteStore`` and ``MemoryStore`` do).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = ".hotpipe/cache", *, store: Store | None = None,
        sign: bool | bytes = False, trusted: bool = False, read_only: bool | None = None,
        max_age: float | timedelta | None = None,
    ) -> None:
        _check_arguments(path, store, sign, trusted, read_only)
        self.max_age = _max_age(max_age)
        if store is None:
            if path is None:
                store = NullStore()
            else:
                from hotpipe.cache.sqlite import SQLiteStore

                store = SQLiteStore(path, read_only=read_only, trusted=trusted)
        if self.max_age is not None and not getattr(store, "keeps_write_times", False):
            raise InputError(
                f"Cache(max_age={max_age!r}): the store {store!r} keeps no write times, so "
                "entries cannot expire. Fix: use the default store (a directory path) or "
                "MemoryStore, or drop max_age."
            )
        self.store = store
        self._sign = sign
        self._signer = None
        if sign:
            from hotpipe.cache._signing import Signer, load_key

            self._signer = Signer(sign if isinstance(sign, bytes) else load_key())
        self._warned_read_only = False
        params = inspect.signature(store.put_many).parameters
        self._takes_packs = "packs" in params
        self._takes_labels = "labels" in params
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("hits", "misses", "bytes_read", "bytes_written", "unpicklable", "corrupt"), 0
        )

    @classmethod
    def disabled(cls) -> Cache:
        """A cache that stores nothing (the null object: callers need no ``if``)."""
        return cls(None)

    @property
    def path(self) -> Path | None:
        return getattr(self.store, "path", None)

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})" if self.path else f"Cache(store={self.store!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store, "sign": self._sign, "max_age": self.max_age}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(store=state["store"], sign=state.get("sign", False),  # type: ignore[misc]
                      max_age=state.get("max_age"))

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for name, n in amounts.items():
                self._counts[name] += n

    def _warn(self, what: str, error: BaseException) -> None:
        where = self.path or self.store
        message = f"hotpipe cache {where}: {what}: {type(error).__name__}: {error}"
        warnings.warn(message, CacheWarning, stacklevel=3)

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, Any]:
        """The values of the keys found; a key left out is a miss (``None`` is a value)."""
        return self.load(keys)[0]

    def load(self, keys: Iterable[bytes], sizes: dict[bytes, int] | None = None,
             members: Callable[[bytes], Iterable[bytes]] | None = None,
             ) -> tuple[dict[bytes, Any], int]:
        """Like :meth:`get_many`, with the number of payload bytes read (and, when ``sizes``
        is given, each found key's payload size). ``members``: see
        :meth:`Store.get_linked`."""
        keys = list(keys)
        try:
            if self.max_age is not None:  # written before this has expired
                since = time.time() - self.max_age
                payloads = (self.store.get_many(keys, newer_than=since) if members is None
                            else self.store.get_linked(keys, members, newer_than=since))
            elif members is None:
                payloads = self.store.get_many(keys)
            else:
                payloads = self.store.get_linked(keys, members)
        except Exception as e:
            self._warn("reading failed, treating every key as a miss", e)
            payloads = {}
        values, broken, read = {}, [], 0
        loads = serialize.loads
        signer = self._signer
        for key, payload in payloads.items():
            if signer is not None:
                verified = signer.verify(key, payload)
                if verified is None:
                    self._warn("an entry is not signed with this cache's key (tampered with, "
                               "or written without sign=), not loading it",
                               ValueError("bad signature"))
                    broken.append(key)
                    continue
                payload = verified
            try:
                values[key] = loads(payload)
            except Exception as e:
                self._warn("an entry cannot be unpickled, recomputing it", e)
                broken.append(key)
                continue
            read += len(payload)
            if sizes is not None:
                sizes[key] = len(payload)
        if broken:
            with contextlib.suppress(Exception):
                self.store.delete(broken)
        self._count(hits=len(values), misses=len(keys) - len(values), bytes_read=read,
                    corrupt=len(broken))
        return values, read

    def put_many(self, items: Mapping[bytes, Any]) -> None:
        """Store the values; one that cannot be pickled is skipped with a warning."""
        self.save(items)

    def save(self, items: Mapping[bytes, Any], sizes: dict[bytes, int] | None = None) -> int:
        """Like :meth:`put_many`, returning the number of payload bytes written (and, when
        ``sizes`` is given, filling it with each written key's payload size)."""
        payloads = self.encode(items)
        written = self.write(payloads)
        if sizes is not None and written:
            sizes.update((key, len(payload)) for key, payload in payloads.items())
        return written

    def encode(self, items: Mapping[bytes, Any]) -> dict[bytes, bytes]:
        """The payloads of the values; one that cannot be pickled is left out, with a warning."""
        payloads = {}
        dumps = serialize.dumps
        sign = self._signer.sign if self._signer is not None else None
        for key, value in items.items():
            try:
                payloads[key] = dumps(value) if sign is None else sign(key, dumps(value))
            except Exception as e:
                self._warn(f"a {type(value).__qualname__} cannot be pickled, not caching it", e)
                self._count(unpicklable=1)
        return payloads

    def write(self, payloads: Mapping[bytes, bytes],
              packs: Mapping[bytes, bytes] | None = None, labels: Labels | None = None) -> int:
        """Store encoded payloads (and packs and the prefixes' labels, see
        :meth:`Store.put_many`) in one transaction; returns the bytes written, 0 (with a
        warning) when the store fails."""
        if not payloads and not packs:
            return 0
        if getattr(self.store, "read_only", False):  # read, never written: one warning
            if not self._warned_read_only:
                self._warned_read_only = True
                self._warn("the cache is read-only; computed values are not stored",
                           PermissionError("read-only"))
            return 0
        if not self._takes_packs:
            packs = None  # a store written before packs existed: items only
        args = (payloads, packs) if packs else (payloads,)
        try:
            if labels and self._takes_labels:
                self.store.put_many(*args, labels=labels)
            else:
                self.store.put_many(*args)
        except Exception as e:
            n = len(payloads) + len(packs or ())
            self._warn(f"writing {n} entries failed, they stay uncached", e)
            return 0
        written = sum(map(len, payloads.values())) + sum(map(len, (packs or {}).values()))
        self._count(bytes_written=written)
        return written

    def prefixes_present(self, prefixes: Iterable[bytes]) -> set[bytes]:
        """The prefixes some stored key starts with; all of them when the store fails (a
        lookup then finds out)."""
        prefixes = set(prefixes)
        try:
            return self.store.prefixes_present(prefixes)
        except Exception as e:
            self._warn("checking key prefixes failed", e)
            return prefixes

    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        """The keys present (not verified: a corrupt one still turns into a miss on read)."""
        try:
            return self.store.contains_many(keys)
        except Exception as e:
            self._warn("checking keys failed", e)
            return set()

    def stats(self) -> CacheStats:
        """What the store holds and this object's hits, misses and bytes moved."""
        with self._lock:
            counts = dict(self._counts)
        return CacheStats(self.store.stats(), **counts)

    def by_node(self) -> list[PrefixStats] | None:
        """What the store holds per pipeline step (key prefix), largest first, named by node
        where a write labelled it (:meth:`Store.by_prefix`; None: the store cannot tell)."""
        return self.store.by_prefix()

    def clear(self) -> None:
        """Remove every entry."""
        self.store.clear()

    def prune(self, max_bytes: int) -> int:
        """Remove least recently used entries down to ``max_bytes`` of payload."""
        return self.store.prune(max_bytes)

    def close(self) -> None:
        """Flush access times and close connections; the cache reopens on next use."""
        self.store.close()
