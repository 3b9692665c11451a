"""The store interface: a handful of primitives on raw payload bytes, and the store registry.

A store maps 16-byte keys to payload bytes. The stores live one per module, the way joblib
splits its backends from its memory facade: ``hotpipe.cache.sqlite`` (``SQLiteStore``, the
default: a directory with an SQLite index and blob files), ``hotpipe.cache.memory``
(``MemoryStore``, a dict) and ``NullStore`` here (the disabled cache: a null object).
``hotpipe.cache.facade.Cache`` puts pickling, counters and warnings on top of any of them.

``STORES`` names every store kind, so that one conformance suite
(``tests/hotpipe/cache/test_all_stores.py``) runs over all of them; a new store is done when
it passes it. ``Cache``, ``MemoryStore`` and ``SQLiteStore`` are still importable from here
(they load on first access).

>>> sorted(STORES)
['memory', 'null', 'sqlite']
>>> from hotpipe.cache import Cache
>>> cache = Cache(store=open_store("memory"))
>>> cache.put_many({b"k" * 16: None})
>>> cache.get_many([b"k" * 16, b"x" * 16])
{b'kkkkkkkkkkkkkkkk': None}
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hotpipe.errors import CacheWarning

__all__ = [
    "STORES",
    "CacheWarning",
    "NullStore",
    "PrefixStats",
    "Store",
    "StoreKind",
    "StoreStats",
    "open_store",
    "register_store",
]

HEAD = 8  # bytes: the key prefix a pipeline step's keys share (see hotpipe.cache.run)
INLINE_LIMIT = 64 * 1024  # payloads up to this size live in the index, larger ones in files
T = TypeVar("T")


@dataclass(frozen=True)
class StoreStats:
    """What a store holds: entry count, payload bytes, and the range of access times."""

    entries: int = 0
    bytes: int = 0
    inline_entries: int = 0
    file_entries: int = 0
    packs: int = 0
    oldest_access: float | None = None
    newest_access: float | None = None
    oldest_write: float | None = None
    """When the oldest entry with a write time was written (None: no entry has one)."""
    newest_write: float | None = None


@dataclass(frozen=True)
class PrefixStats:
    """What a store holds under one key prefix: the entries of one pipeline step (keys start
    with the first ``HEAD`` bytes of the step's fingerprint, see :mod:`hotpipe.cache.run`).
    ``node`` and ``pipeline`` name the step when a write labelled the prefix (None for
    entries written before labels existed, or through ``Cache.put_many`` by hand)."""

    prefix: bytes
    node: str | None = None
    pipeline: str | None = None
    entries: int = 0
    packs: int = 0
    bytes: int = 0
    oldest_access: float | None = None
    newest_access: float | None = None


Labels = Mapping[bytes, tuple[str, str]]
"""Key prefix -> (node name, pipeline name), written with the entries (``put_many``)."""


class Store(ABC):
    """The primitives every store implements; keys are bytes, values are payload bytes.

    A store that sets ``keeps_write_times = True`` records when each entry was written and
    takes ``newer_than`` (a ``time.time()`` value) in :meth:`get_many` and
    :meth:`get_linked`, leaving out entries written before it: ``Cache(max_age=...)``
    needs that."""

    keeps_write_times = False

    @abstractmethod
    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """The payloads of the keys present; missing or corrupt keys are left out."""

    @abstractmethod
    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None,
                 labels: Labels | None = None) -> None:
        """Store all items at once (one transaction where the store has them). ``packs``
        are entries like the items, counted apart in :meth:`stats`: each holds the values of
        many items, a copy written to read them back with one lookup. ``labels`` name the
        key prefixes of the steps written (for :meth:`by_prefix`); a store may ignore them
        (``Cache`` passes them only to a ``put_many`` that takes them)."""

    def by_prefix(self) -> list[PrefixStats] | None:
        """What the store holds per key prefix (one per pipeline step), largest first, with
        the labels written for them; None when this store cannot tell."""
        return None

    def prefixes_present(self, prefixes: Iterable[bytes]) -> set[bytes]:
        """The prefixes that at least one stored key starts with. This default answers all
        of them (always safe: the lookups then find out); stores with an ordered index
        answer exactly."""
        return set(prefixes)

    def get_linked(self, keys: Iterable[bytes],
                   members: Callable[[bytes], Iterable[bytes]]) -> dict[bytes, bytes]:
        """Like :meth:`get_many`, for keys that stand for others (a pack and its items): when
        a key's access time is refreshed, so are those of ``members(key)``, so that pruning
        by last access keeps the items of a pack in use. This default is ``get_many``, for
        stores that keep no access times."""
        return self.get_many(keys)

    @abstractmethod
    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        """The keys present, without reading or verifying their payloads."""

    @abstractmethod
    def delete(self, keys: Iterable[bytes]) -> int:
        """Remove the keys; returns how many were present."""

    @abstractmethod
    def stats(self) -> StoreStats:
        """Counts, sizes and access times."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every entry."""

    @abstractmethod
    def prune(self, max_bytes: int) -> int:
        """Remove least recently used entries until at most ``max_bytes``; returns the count."""

    def close(self) -> None:  # noqa: B027 - optional: stores without resources need nothing
        """Release connections and flush pending bookkeeping; the store reopens on next use."""

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullStore(Store):
    """The disabled cache: stores nothing, finds nothing."""

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        return {}

    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None,
                 labels: Labels | None = None) -> None:
        pass

    def by_prefix(self) -> list[PrefixStats]:
        return []

    def prefixes_present(self, prefixes: Iterable[bytes]) -> set[bytes]:
        return set()

    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        return set()

    def delete(self, keys: Iterable[bytes]) -> int:
        return 0

    def stats(self) -> StoreStats:
        return StoreStats()

    def clear(self) -> None:
        pass

    def prune(self, max_bytes: int) -> int:
        return 0

    def __repr__(self) -> str:
        return "NullStore()"


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreKind:
    """One kind of store: how to open it in a directory, and what it promises.

    ``keeps``: it returns what was put (False only for the null store). ``persistent``: a
    new store opened on the same directory sees the entries (another process too).
    """

    name: str
    factory: Callable[[Path], Store]
    keeps: bool = True
    persistent: bool = False


STORES: dict[str, StoreKind] = {}


def register_store(name: str, factory: Callable[[Path], Store], *, keeps: bool = True,
                   persistent: bool = False) -> StoreKind:
    """Add a store kind to :data:`STORES` (``factory(directory)`` opens one)."""
    kind = STORES[name] = StoreKind(name, factory, keeps, persistent)
    return kind


def open_store(name: str, path: str | os.PathLike[str] | None = None) -> Store:
    """A store of the named kind; ``path`` is its directory (ignored by stores in memory)."""
    kind = STORES.get(name)
    if kind is None:
        raise ValueError(f"unknown store {name!r}; the stores are {sorted(STORES)}")
    return kind.factory(Path(path) if path is not None else Path(".hotpipe/cache"))


def _lazy(module: str, name: str) -> Callable[..., Any]:
    return lambda *args: getattr(importlib.import_module(module), name)(*args)


register_store("memory", lambda path: _lazy("hotpipe.cache.memory", "MemoryStore")())
register_store("sqlite", _lazy("hotpipe.cache.sqlite", "SQLiteStore"), persistent=True)
register_store("null", lambda path: NullStore(), keeps=False)

# Names that lived in this module before the split; they load on first access (the modules
# that define them import this one).
_MOVED = {
    "Cache": "hotpipe.cache.facade",
    "CacheStats": "hotpipe.cache.facade",
    "MemoryStore": "hotpipe.cache.memory",
    "SQLiteStore": "hotpipe.cache.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
