"""``SQLiteStore``: the default store, a directory with an SQLite index and blob files.

``index.sqlite`` (WAL mode) holds every key, its checksum, size and access time, small
payloads inline and large ones as files in ``blobs/``, written to a temporary file and renamed
so a reader never sees half a file. A checksum that does not match (a truncated or garbage
file, a damaged row) makes the entry a miss with a ``CacheWarning``: the node is recomputed
and the entry rewritten, never a crash. See docs/caching.md, "The store".
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import xxhash

from hotpipe.cache.store import INLINE_LIMIT, CacheWarning, Store, StoreStats

__all__ = ["SQLiteStore"]

_CHUNK = 500  # keys per SELECT ... IN (...)
_FLUSH_TOUCHES = 4096  # pending access-time updates that trigger a write
_ORPHAN_AGE = 3600.0  # an unindexed blob file older than this (seconds) is removed by prune
_checksum = xxhash.xxh3_64_digest
T = TypeVar("T")
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
