"""Stores: a handful of primitives on raw payload bytes, and ``Cache`` on top of them.

A store maps 16-byte keys to payload bytes. ``SQLiteStore`` is the default: one directory
with ``index.sqlite`` (WAL mode) holding every key, its checksum, size and access time, small
payloads inline and large ones as files in ``blobs/``, written to a temporary file and renamed
so a reader never sees half a file. A checksum that does not match (a truncated or garbage
file, a damaged row) makes the entry a miss with a ``CacheWarning``: the node is recomputed
and the entry rewritten, never a crash. ``NullStore`` is the disabled cache; ``MemoryStore``
keeps everything in a dict (tests, one-off runs).

>>> cache = Cache(store=MemoryStore())
>>> cache.put_many({b"k" * 16: None})
>>> cache.get_many([b"k" * 16, b"x" * 16])
{b'kkkkkkkkkkkkkkkk': None}
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shutil
import threading
import time
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import xxhash

from hotpipe.cache import serialize

__all__ = [
    "Cache",
    "CacheStats",
    "CacheWarning",
    "MemoryStore",
    "NullStore",
    "SQLiteStore",
    "Store",
    "StoreStats",
]

HEAD = 8  # bytes: the key prefix a pipeline step's keys share (see hotpipe.cache.run)
INLINE_LIMIT = 64 * 1024  # payloads up to this size live in the index, larger ones in files
_CHUNK = 500  # keys per SELECT ... IN (...)
_FLUSH_TOUCHES = 4096  # pending access-time updates that trigger a write
_ORPHAN_AGE = 3600.0  # an unindexed blob file older than this (seconds) is removed by prune
_checksum = xxhash.xxh3_64_digest
T = TypeVar("T")


class CacheWarning(UserWarning):
    """The cache could not read or write an entry; the value is computed instead."""


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


class Store(ABC):
    """The primitives every store implements; keys are bytes, values are payload bytes."""

    @abstractmethod
    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """The payloads of the keys present; missing or corrupt keys are left out."""

    @abstractmethod
    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None) -> None:
        """Store all items at once (one transaction where the store has them). ``packs``
        are entries like the items, counted apart in :meth:`stats`: each holds the values of
        many items, a copy written to read them back with one lookup."""

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
                 packs: Mapping[bytes, bytes] | None = None) -> None:
        pass

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


class MemoryStore(Store):
    """A dict in this process: for tests and runs that need no persistence."""

    def __init__(self) -> None:
        self._data: dict[bytes, tuple[bytes, float]] = {}
        self._packs: set[bytes] = set()
        self._heads: dict[bytes, int] = {}  # keys per first HEAD bytes, for prefixes_present
        self._lock = threading.Lock()

    def _add(self, key: bytes, payload: bytes, now: float) -> None:
        if key not in self._data:
            head = key[:HEAD]
            self._heads[head] = self._heads.get(head, 0) + 1
        self._data[key] = (bytes(payload), now)

    def _remove(self, key: bytes) -> bool:
        if self._data.pop(key, None) is None:
            return False
        self._packs.discard(key)
        head = key[:HEAD]
        self._heads[head] -= 1
        if not self._heads[head]:
            del self._heads[head]
        return True

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        now = time.time()
        found = {}
        with self._lock:
            for key in keys:
                entry = self._data.get(key)
                if entry is not None:
                    found[key] = entry[0]
                    self._data[key] = (entry[0], now)
        return found

    def get_linked(self, keys: Iterable[bytes],
                   members: Callable[[bytes], Iterable[bytes]]) -> dict[bytes, bytes]:
        found = self.get_many(keys)
        now = time.time()
        with self._lock:
            for key in found:
                for member in members(key):
                    entry = self._data.get(member)
                    if entry is not None:
                        self._data[member] = (entry[0], now)
        return found

    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None) -> None:
        now = time.time()
        with self._lock:
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
            size = sum(len(p) for p, _ in self._data.values())
            packs = len(self._packs)
        n = len(times) - packs
        return StoreStats(entries=n, bytes=size, inline_entries=n, file_entries=0, packs=packs,
                          oldest_access=min(times, default=None),
                          newest_access=max(times, default=None))

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
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


# --- SQLite + files ------------------------------------------------------------------------

_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE entries (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,  -- b'i' + checksum + payload, or b'f' + checksum for a blob file
    size INTEGER NOT NULL,
    accessed REAL NOT NULL,
    pack INTEGER NOT NULL  -- 1 for a pack (the values of many items, see Store.put_many)
);
"""
_COLUMNS = "entries(key, value, size, accessed, pack) VALUES (?, ?, ?, ?, ?)"
_INSERT_NEW = f"INSERT OR IGNORE INTO {_COLUMNS}"
_INSERT = f"INSERT OR REPLACE INTO {_COLUMNS}"
_INLINE, _FILE = ord("i"), ord("f")
_IS_FILE = "substr(value, 1, 1) = x'66'"
_DELETE_EXACT = "DELETE FROM entries WHERE key = ? AND substr(value, 1, 9) = ?"
_ABANDONED: list[Any] = []  # connections inherited through fork: never used, never closed
_LIVE: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after(prefix: bytes) -> bytes | None:
    """The smallest byte string above every string starting with ``prefix`` (None: no bound)."""
    head = prefix.rstrip(b"\xff")
    return head[:-1] + bytes([head[-1] + 1]) if head else None


@functools.cache
def _in(sql: str, n: int) -> str:
    return sql.replace("(?)", "(" + ",".join("?" * n) + ")")


def _chunks(keys: list[bytes]) -> Iterable[list[bytes]]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i : i + _CHUNK]


def _is_busy(error: Exception) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(Store):
    """A directory with ``index.sqlite`` and ``blobs/``; safe across threads and processes.

    Connections open lazily, one per thread; after ``fork`` or unpickling the store reopens,
    since only the path is carried. Writes are ``BEGIN IMMEDIATE`` transactions that wait up
    to 30 s for another writer. Access times for LRU pruning are batched in memory and
    written with the next ``put_many``, every 4096 accesses, or on ``close``; an entry read
    within ``touch_interval`` (1 hour) of its last recorded access is not written again, so a
    repeated warm run writes nothing.
    """

    touch_interval = 3600.0  # seconds: the resolution of access times used by prune

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._local = threading.local()
        self._conns: list[Any] = []
        self._pending: dict[bytes, float] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._conns, self._pending)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # connections

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
            with self._lock:
                self._conns.append(conn)
        return conn

    def _open(self) -> Any:
        import sqlite3

        (self.path / "blobs").mkdir(parents=True, exist_ok=True)
        index = self.path / "index.sqlite"
        try:
            return _connect(index)
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError):
                raise
            aside = index.with_name(f"index.sqlite.corrupt-{int(time.time())}")
            warnings.warn(
                f"hotpipe cache: {index} is not a readable SQLite database ({e}); moved it to "
                f"{aside.name} and started an empty cache",
                CacheWarning,
                stacklevel=4,
            )
            os.replace(index, aside)
            return _connect(index)

    def _after_fork(self) -> None:
        _ABANDONED.extend(self._conns)  # closing them here could disturb the parent's WAL
        self._finalizer.detach()
        self._reset()

    def _transaction(self, body: Callable[[Any], T]) -> T:
        import sqlite3

        conn = self._conn()
        for attempt in range(6):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or attempt == 5:
                    raise
                time.sleep(0.05 * 2**attempt)
                continue
            try:
                result = body(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        raise AssertionError("unreachable")

    # blobs

    def _blob(self, key: bytes, checksum: bytes) -> Path:
        # spread over 256 directories by the key's last byte (a step's keys share a prefix)
        name = key.hex()
        return self.path / "blobs" / name[-2:] / f"{name}-{checksum.hex()}"

    def _write_blob(self, path: Path, payload: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)  # atomic: readers see the old file or the whole new one

    def _read_blob(self, key: bytes, checksum: bytes) -> bytes | None:
        try:
            with open(self._blob(key, checksum), "rb") as f:
                return f.read()
        except OSError:
            return None

    # primitives

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        return self._get(keys, None)

    def get_linked(self, keys: Iterable[bytes],
                   members: Callable[[bytes], Iterable[bytes]]) -> dict[bytes, bytes]:
        return self._get(keys, members)

    def _get(self, keys: Iterable[bytes],
             members: Callable[[bytes], Iterable[bytes]] | None) -> dict[bytes, bytes]:
        wanted = list(dict.fromkeys(keys))
        conn = self._conn()
        sql = "SELECT key, value, accessed FROM entries WHERE key IN (?)"
        found: dict[bytes, bytes] = {}
        bad: list[tuple[bytes, bytes]] = []
        stale: list[bytes] = []
        # access times have a resolution of touch_interval: only entries not read for that
        # long get a write, so a warm run that repeats within the interval writes nothing
        before = time.time() - self.touch_interval
        for chunk in _chunks(wanted):
            for key, value, accessed in conn.execute(_in(sql, len(chunk)), chunk):
                checksum = value[1:9]
                if value[0] == _INLINE:
                    payload: bytes | memoryview | None = memoryview(value)[9:]  # no copy
                else:
                    payload = self._read_blob(key, checksum)
                if payload is None or _checksum(payload) != checksum:
                    bad.append((key, value[:9]))
                    continue
                found[key] = payload
                if accessed < before:
                    stale.append(key)
        if bad:
            self._discard(bad)
        if stale:
            if members is not None:
                stale += [m for key in stale for m in members(key)]
            self._touch(stale)
        return found

    def _touch(self, keys: list[bytes]) -> None:
        """Remember access times to write later (with the next put, or in batches)."""
        now = time.time()
        with self._lock:
            self._pending.update(dict.fromkeys(keys, now))
            flush = len(self._pending) >= _FLUSH_TOUCHES
        if flush:
            with contextlib.suppress(Exception):
                self._transaction(self._flush_touches)

    def _flush_touches(self, conn: Any) -> None:
        with self._lock:
            pending = dict(self._pending)
            self._pending.clear()  # in place: the exit finalizer holds this dict
        if pending:
            conn.executemany(
                "UPDATE entries SET accessed = ? WHERE key = ?",
                [(t, k) for k, t in pending.items()],
            )

    def _discard(self, bad: list[tuple[bytes, bytes]]) -> None:
        warnings.warn(
            f"hotpipe cache: {len(bad)} corrupt entr{'y' if len(bad) == 1 else 'ies'} in "
            f"{self.path} (checksum mismatch or missing blob file); they count as misses and "
            "are rewritten when recomputed",
            CacheWarning,
            stacklevel=3,
        )

        def body(conn: Any) -> None:
            conn.executemany(_DELETE_EXACT, bad)

        with contextlib.suppress(Exception):
            self._transaction(body)
        self._unlink(bad)

    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None) -> None:
        if not items and not packs:
            return
        self._conn()  # opens (and creates) the store before its files are written
        now = time.time()
        rows = []
        for group, flag in ((items, 0), (packs or {}, 1)):
            for key, payload in group.items():
                checksum = _checksum(payload)
                if len(payload) <= INLINE_LIMIT:
                    value = b"i" + checksum + payload
                else:
                    self._write_blob(self._blob(key, checksum), payload)
                    value = b"f" + checksum
                rows.append((key, value, len(payload), now, flag))

        def body(conn: Any) -> list[tuple[bytes, bytes]]:
            # the common case, new keys only, costs one statement; when some keys exist,
            # they are replaced and the files of replaced file entries removed
            old: list[tuple[bytes, bytes]] = []
            if conn.executemany(_INSERT_NEW, rows).rowcount != len(rows):
                old = self._file_rows(conn, [r[0] for r in rows])
                conn.executemany(_INSERT, rows)
            self._flush_touches(conn)
            return old

        replaced = self._transaction(body)
        new_files = {(r[0], r[1]) for r in rows if r[1][0] == _FILE}
        self._unlink([kc for kc in replaced if kc not in new_files])

    def prefixes_present(self, prefixes: Iterable[bytes]) -> set[bytes]:
        conn = self._conn()
        found = set()
        for prefix in set(prefixes):
            end = _after(prefix)
            if end is None:
                row = conn.execute("SELECT 1 FROM entries WHERE key >= ? LIMIT 1", (prefix,))
            else:
                row = conn.execute("SELECT 1 FROM entries WHERE key >= ? AND key < ? LIMIT 1",
                                   (prefix, end))
            if row.fetchone() is not None:
                found.add(prefix)
        return found

    def _file_rows(self, conn: Any, keys: list[bytes]) -> list[tuple[bytes, bytes]]:
        sql = f"SELECT key, substr(value, 1, 9) FROM entries WHERE {_IS_FILE} AND key IN (?)"
        return [row for chunk in _chunks(keys) for row in conn.execute(_in(sql, len(chunk)), chunk)]

    def _unlink(self, files: Iterable[tuple[bytes, bytes]]) -> None:
        for key, head in files:
            if head[0] == _FILE:
                with contextlib.suppress(OSError):
                    os.unlink(self._blob(key, head[1:9]))

    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        wanted = list(dict.fromkeys(keys))
        conn = self._conn()
        sql = "SELECT key FROM entries WHERE key IN (?)"
        return {row[0] for c in _chunks(wanted) for row in conn.execute(_in(sql, len(c)), c)}

    def delete(self, keys: Iterable[bytes]) -> int:
        wanted = list(dict.fromkeys(keys))

        def body(conn: Any) -> tuple[int, list[tuple[bytes, bytes]]]:
            files = self._file_rows(conn, wanted)
            sql = "DELETE FROM entries WHERE key IN (?)"
            n = sum(conn.execute(_in(sql, len(c)), c).rowcount for c in _chunks(wanted))
            return n, files

        count, files = self._transaction(body)
        self._unlink(files)
        return count

    def stats(self) -> StoreStats:
        self._transaction(self._flush_touches)
        row = (
            self._conn()
            .execute(
                f"SELECT count(*), coalesce(sum(size), 0), "
                f"coalesce(sum(pack = 0 AND {_IS_FILE}), 0), "
                "min(accessed), max(accessed), coalesce(sum(pack), 0) FROM entries"
            )
            .fetchone()
        )
        n, size, files, oldest, newest, packs = row
        n -= packs
        return StoreStats(entries=n, bytes=size, inline_entries=n - files,
                          file_entries=files, packs=packs, oldest_access=oldest,
                          newest_access=newest)

    def clear(self) -> None:
        self._transaction(lambda conn: conn.execute("DELETE FROM entries"))
        with self._lock:
            self._pending.clear()
        blobs = self.path / "blobs"
        shutil.rmtree(blobs, ignore_errors=True)
        blobs.mkdir(exist_ok=True)
        self._vacuum()

    def prune(self, max_bytes: int) -> int:
        conn = self._conn()
        self._transaction(self._flush_touches)
        (total,) = conn.execute("SELECT coalesce(sum(size), 0) FROM entries").fetchone()
        victims: list[tuple[bytes, bytes]] = []
        if total > max_bytes:
            query = "SELECT key, substr(value, 1, 9), size FROM entries ORDER BY accessed, key"
            for key, head, size in conn.execute(query):
                if total <= max_bytes:
                    break
                victims.append((key, head))
                total -= size
        self._transaction(lambda conn: conn.executemany(_DELETE_EXACT, victims))
        self._unlink(victims)
        self._sweep_orphans()
        self._vacuum()
        return len(victims)

    def _sweep_orphans(self) -> None:
        """Remove blob files no entry points to (a writer killed between file and index)."""
        sql = f"SELECT key, substr(value, 2, 8) FROM entries WHERE {_IS_FILE}"
        rows = self._conn().execute(sql)
        known = {self._blob(k, c).name for k, c in rows}
        cutoff = time.time() - _ORPHAN_AGE
        for path in (self.path / "blobs").glob("*/*"):
            with contextlib.suppress(OSError):
                if path.name not in known and path.stat().st_mtime < cutoff:
                    path.unlink()

    def _vacuum(self) -> None:
        with contextlib.suppress(Exception):
            self._conn().execute("PRAGMA incremental_vacuum")

    def close(self) -> None:
        self._finalizer()  # writes pending access times, closes and empties the lists
        with self._lock:
            self._local = threading.local()
            self._finalizer = weakref.finalize(self, _close_all, self._conns, self._pending)


def _connect(index: Path) -> Any:
    import sqlite3

    conn = sqlite3.connect(index, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.text_factory = bytes  # a damaged row holding TEXT still reads, and fails its checksum
    try:
        version = _check_version(conn, index)  # before anything changes the file
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect only on a new file
        # WAL is a property of the file: only its creator switches it on. The switch needs an
        # exclusive lock and fails at once (no busy wait) while another connection is
        # creating the file, so it is retried.
        for attempt in range(50):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != b"wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or attempt == 49:
                    raise
                time.sleep(0.01 * (1 + attempt % 10))
        conn.execute("PRAGMA synchronous = NORMAL")
        if version != _SCHEMA_VERSION:
            _create_schema(conn, index)  # checks again, under the write lock
    except BaseException:
        conn.close()
        raise
    return conn


def _check_version(conn: Any, index: Path) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > _SCHEMA_VERSION:
        raise RuntimeError(
            f"{index} was written by a newer hotpipe (cache format {version}, this one "
            f"reads {_SCHEMA_VERSION}); upgrade hotpipe or use another cache directory"
        )
    return version


def _create_schema(conn: Any, index: Path) -> None:
    """Create the table in a new file; a file from an older hotpipe is emptied first (its
    keys are of another format: none of them could ever be found again)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _check_version(conn, index)
        if version != _SCHEMA_VERSION:  # not created meanwhile by another process
            if version != 0:
                conn.execute("DROP INDEX IF EXISTS entries_accessed")
                conn.execute("DROP TABLE IF EXISTS entries")
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version not in (0, _SCHEMA_VERSION):  # the old entries' files, once nothing points
        blobs = index.parent / "blobs"  # to them any more
        shutil.rmtree(blobs, ignore_errors=True)
        blobs.mkdir(exist_ok=True)


def _close_all(conns: list[Any], pending: dict[bytes, float]) -> None:
    """Write pending access times and close; also run at exit for stores never closed."""
    if conns and pending:
        with contextlib.suppress(Exception):
            conns[0].execute("BEGIN IMMEDIATE")
            rows = [(t, k) for k, t in pending.items()]
            conns[0].executemany("UPDATE entries SET accessed = ? WHERE key = ?", rows)
            conns[0].execute("COMMIT")
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.close()
    conns.clear()
    pending.clear()


def _reset_stores_after_fork() -> None:
    for store in list(_LIVE):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_stores_after_fork)


# --- the user-facing cache -----------------------------------------------------------------


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
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = ".hotpipe/cache", *, store: Store | None = None
    ) -> None:
        if store is None:
            store = NullStore() if path is None else SQLiteStore(path)
        self.store = store
        self._takes_packs = "packs" in inspect.signature(store.put_many).parameters
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
        return {"store": self.store}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(store=state["store"])  # type: ignore[misc]

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
            if members is None:
                payloads = self.store.get_many(keys)
            else:
                payloads = self.store.get_linked(keys, members)
        except Exception as e:
            self._warn("reading failed, treating every key as a miss", e)
            payloads = {}
        values, broken, read = {}, [], 0
        loads = serialize.loads
        for key, payload in payloads.items():
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
        for key, value in items.items():
            try:
                payloads[key] = dumps(value)
            except Exception as e:
                self._warn(f"a {type(value).__qualname__} cannot be pickled, not caching it", e)
                self._count(unpicklable=1)
        return payloads

    def write(self, payloads: Mapping[bytes, bytes],
              packs: Mapping[bytes, bytes] | None = None) -> int:
        """Store encoded payloads (and packs, see :meth:`Store.put_many`) in one transaction;
        returns the bytes written, 0 (with a warning) when the store fails."""
        if not payloads and not packs:
            return 0
        if not self._takes_packs:
            packs = None  # a store written before packs existed: items only
        try:
            if packs:
                self.store.put_many(payloads, packs)
            else:
                self.store.put_many(payloads)
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

    def clear(self) -> None:
        """Remove every entry."""
        self.store.clear()

    def prune(self, max_bytes: int) -> int:
        """Remove least recently used entries down to ``max_bytes`` of payload."""
        return self.store.prune(max_bytes)

    def close(self) -> None:
        """Flush access times and close connections; the cache reopens on next use."""
        self.store.close()
