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
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import xxhash

from hotpipe.cache import _index, _ownership
from hotpipe.cache.store import (
    HEAD,
    INLINE_LIMIT,
    CacheWarning,
    Labels,
    PrefixStats,
    Store,
    StoreStats,
)
from hotpipe.errors import CacheDirectoryError

__all__ = ["SQLiteStore"]

_CHUNK = 500  # keys per SELECT ... IN (...)
_FLUSH_TOUCHES = 4096  # pending access-time updates that trigger a write
_ORPHAN_AGE = 3600.0  # an unindexed blob file older than this (seconds) is removed by prune
_checksum = xxhash.xxh3_64_digest
T = TypeVar("T")
_COLUMNS = "entries(key, value, size, accessed, pack, written) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_NEW = f"INSERT OR IGNORE INTO {_COLUMNS}"
_INSERT = f"INSERT OR REPLACE INTO {_COLUMNS}"
_INLINE, _FILE = ord("i"), ord("f")
_IS_FILE = "substr(value, 1, 1) = x'66'"
_DELETE_EXACT = "DELETE FROM entries WHERE key = ? AND substr(value, 1, 9) = ?"
# a label is rewritten only when it changed: a rerun's writes leave the table untouched
_LABEL = ("INSERT INTO labels(prefix, node, pipeline) VALUES (?, ?, ?) ON CONFLICT(prefix) "
          "DO UPDATE SET node = excluded.node, pipeline = excluded.pipeline "
          "WHERE node != excluded.node OR pipeline != excluded.pipeline")
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


def _recovering(method: Callable[..., T]) -> Callable[..., T]:
    """Run a primitive; when the index turns out damaged ("malformed"), quarantine it, start
    an empty one and run the primitive once more (iterators among the arguments are read
    into lists first, so the second try sees them whole)."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStore, *args: Any, **kwargs: Any) -> T:
        import sqlite3

        args = tuple(list(a) if hasattr(a, "__next__") else a for a in args)
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            if self.read_only or not _index.is_corrupt(e):
                raise
            self._quarantine(e)
            return method(self, *args, **kwargs)

    return wrapper


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

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool | None = None,
                 trusted: bool = False) -> None:
        if not os.fspath(path):
            raise CacheDirectoryError(
                "the cache path is empty, which would put the cache in the current directory "
                "among your files. Fix: pass a directory of its own, e.g. '.hotpipe/cache' "
                "(or None to disable caching)."
            )
        self.path = Path(path)
        self.trusted = trusted
        self._read_only = read_only
        self._lock = threading.Lock()
        self._reset()
        _LIVE.add(self)
        _ownership.check_trusted(self.path, trusted)  # before anything is read from it
        if self.path.is_dir() and not _ownership.has_marker(self.path):
            self._check_unmarked()

    @property
    def read_only(self) -> bool:
        """Whether this store only reads: asked for, or a directory this process cannot
        write (a read-only mount, another user's files). Nothing is then created, migrated
        or written: misses are computed and not stored."""
        if self._read_only is None:
            self._read_only = self.path.is_dir() and not os.access(self.path, os.W_OK)
        return self._read_only

    def _reset(self) -> None:
        self._local = threading.local()
        self._conns: list[Any] = []
        self._pending: dict[bytes, float] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._conns, self._pending)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "read_only": self._read_only, "trusted": self.trusted}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], read_only=state.get("read_only"),  # type: ignore[misc]
                      trusted=state.get("trusted", False))

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # ownership

    def _check_unmarked(self) -> None:
        """An existing directory without hotpipe's marker: refused unless it is empty or an
        older hotpipe's cache (only its file names, and its index)."""
        import sqlite3

        others = _ownership.unmarked_entries(self.path)
        marker = self.path / _ownership.MARKER
        if marker.exists() and not _ownership.has_marker(self.path):
            raise _ownership.foreign(self.path, f"its {_ownership.MARKER} is another tool's")
        if marker.exists():
            return  # another process marked it meanwhile
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise _ownership.foreign(self.path, f"it holds files hotpipe did not write "
                                     f"({shown}) and no {_ownership.MARKER}")
        index = self.path / "index.sqlite"
        if index.is_file():
            try:
                # locking (not immutable) where it can: another process may be creating it
                immutable = not os.access(self.path, os.W_OK)
                conn = sqlite3.connect(_index._uri(index, immutable), uri=True, timeout=30.0)
            except sqlite3.Error:
                return
            try:
                _index.probe(conn, index)
            except (sqlite3.DatabaseError, RuntimeError):
                pass  # damaged (moved aside when opened) or newer (refused when used)
            finally:
                conn.close()

    def _claim(self) -> None:
        """Create the directory and its marker, or check an unmarked one before marking it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not _ownership.has_marker(self.path):
            self._check_unmarked()
            _ownership.write_marker(self.path)
        (self.path / "blobs").mkdir(exist_ok=True)

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

        index = self.path / "index.sqlite"
        if self.read_only:
            return _index.connect(index, True) if index.is_file() else _index.empty()
        self._claim()
        try:
            return _index.connect(index)
        except sqlite3.DatabaseError as e:
            if not _index.is_corrupt(e):
                raise
            self._move_aside(index, e)
            return _index.connect(index)

    def _move_aside(self, index: Path, error: BaseException) -> None:
        """Quarantine a damaged index (and its WAL): renamed, never deleted; the blob files
        it pointed to are removed (nothing can find them any more)."""
        aside = index.with_name(f"index.sqlite.corrupt-{int(time.time())}")
        warnings.warn(
            f"hotpipe cache: {index} is not a readable SQLite database ({error}); moved it to "
            f"{aside.name} and started an empty cache",
            CacheWarning,
            stacklevel=5,
        )
        os.replace(index, aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(f"{index}{suffix}", f"{aside}{suffix}")
        _ownership.remove_blobs(self.path)

    def _quarantine(self, error: BaseException) -> None:
        """The index went bad while open: close every connection and move it aside."""
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
            self._pending.clear()
            self._local = threading.local()
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        index = self.path / "index.sqlite"
        if index.exists():
            self._move_aside(index, error)

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

    def _write_blob(self, path: Path, payload: bytes) -> bool:
        """Write a blob file atomically; True if it is new (not there before). A failed
        write (a full disk) leaves no temporary file behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
        try:
            with open(tmp, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)  # atomic: readers see the old file or the whole new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return not existed

    def _read_blob(self, key: bytes, checksum: bytes) -> bytes | None:
        try:
            with open(self._blob(key, checksum), "rb") as f:
                return f.read()
        except OSError:
            return None

    def _refuse_writes(self, what: str) -> None:
        if self.read_only:
            raise CacheDirectoryError(
                f"cannot {what} the cache {self.path}: it is read-only (a read-only mount, "
                "a directory you cannot write, or opened with read_only=True); it is only "
                "read. Fix: run this where the directory is writable."
            )

    # primitives

    keeps_write_times = True

    @_recovering
    def get_many(self, keys: Iterable[bytes],
                 newer_than: float | None = None) -> dict[bytes, bytes]:
        return self._get(keys, None, newer_than)

    @_recovering
    def get_linked(self, keys: Iterable[bytes],
                   members: Callable[[bytes], Iterable[bytes]],
                   newer_than: float | None = None) -> dict[bytes, bytes]:
        return self._get(keys, members, newer_than)

    def _get(self, keys: Iterable[bytes],
             members: Callable[[bytes], Iterable[bytes]] | None,
             newer_than: float | None = None) -> dict[bytes, bytes]:
        wanted = list(dict.fromkeys(keys))
        conn = self._conn()
        sql = "SELECT key, value, accessed FROM entries WHERE key IN (?)"
        if newer_than is not None:  # an entry without a time (older hotpipe) has expired
            if not _index.has_written(conn):  # read-only, an older hotpipe's index
                return {}
            sql = "SELECT key, value, accessed FROM entries WHERE written >= ? AND key IN (?)"
        before_keys = [] if newer_than is None else [newer_than]
        found: dict[bytes, bytes] = {}
        bad: list[tuple[bytes, bytes]] = []
        stale: list[bytes] = []
        # access times have a resolution of touch_interval: only entries not read for that
        # long get a write, so a warm run that repeats within the interval writes nothing
        before = time.time() - self.touch_interval
        for chunk in _chunks(wanted):
            for key, value, accessed in conn.execute(_in(sql, len(chunk)), before_keys + chunk):
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
        if self.read_only:
            return
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

        if self.read_only:
            return
        with contextlib.suppress(Exception):
            self._transaction(body)
        self._unlink(bad)

    @_recovering
    def put_many(self, items: Mapping[bytes, bytes],
                 packs: Mapping[bytes, bytes] | None = None,
                 labels: Labels | None = None) -> None:
        if not items and not packs:
            return
        self._refuse_writes("write to")
        self._conn()  # opens (and creates) the store before its files are written
        now = time.time()
        rows = []
        written: list[Path] = []  # new blob files: removed again if the write fails
        try:
            for group, flag in ((items, 0), (packs or {}, 1)):
                for key, payload in group.items():
                    checksum = _checksum(payload)
                    if len(payload) <= INLINE_LIMIT:
                        value = b"i" + checksum + payload
                    else:
                        path = self._blob(key, checksum)
                        if self._write_blob(path, payload):
                            written.append(path)
                        value = b"f" + checksum
                    rows.append((key, value, len(payload), now, flag, now))
            replaced = self._transaction(self._insert(rows, labels))
        except BaseException:  # a full disk, a full index: no orphaned files
            for path in written:
                _ownership.safe_unlink(self.path, path.parent.name, path.name)
            raise
        new_files = {(r[0], r[1]) for r in rows if r[1][0] == _FILE}
        self._unlink([kc for kc in replaced if kc not in new_files])

    def _insert(self, rows: list[tuple[Any, ...]], labels: Labels | None = None,
                ) -> Callable[[Any], list[tuple[bytes, bytes]]]:

        def body(conn: Any) -> list[tuple[bytes, bytes]]:
            # the common case, new keys only, costs one statement; when some keys exist,
            # they are replaced and the files of replaced file entries removed
            old: list[tuple[bytes, bytes]] = []
            if conn.executemany(_INSERT_NEW, rows).rowcount != len(rows):
                old = self._file_rows(conn, [r[0] for r in rows])
                conn.executemany(_INSERT, rows)
            if labels:
                conn.executemany(_LABEL, [(p, n, pl) for p, (n, pl) in labels.items()])
            self._flush_touches(conn)
            return old

        return body

    @_recovering
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
        """Remove the blob files of file entries (never through a link)."""
        for key, head in files:
            if head[0] == _FILE:
                path = self._blob(key, head[1:9])
                _ownership.safe_unlink(self.path, path.parent.name, path.name)

    @_recovering
    def contains_many(self, keys: Iterable[bytes]) -> set[bytes]:
        wanted = list(dict.fromkeys(keys))
        conn = self._conn()
        sql = "SELECT key FROM entries WHERE key IN (?)"
        return {row[0] for c in _chunks(wanted) for row in conn.execute(_in(sql, len(c)), c)}

    @_recovering
    def delete(self, keys: Iterable[bytes]) -> int:
        self._refuse_writes("delete from")
        wanted = list(dict.fromkeys(keys))

        def body(conn: Any) -> tuple[int, list[tuple[bytes, bytes]]]:
            files = self._file_rows(conn, wanted)
            sql = "DELETE FROM entries WHERE key IN (?)"
            n = sum(conn.execute(_in(sql, len(c)), c).rowcount for c in _chunks(wanted))
            return n, files

        count, files = self._transaction(body)
        self._unlink(files)
        return count

    @_recovering
    def stats(self) -> StoreStats:
        if not self.read_only:
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
        written: tuple[Any, Any] = (None, None)
        if _index.has_written(self._conn()):  # an older hotpipe's index may lack the column
            written = self._conn().execute(
                "SELECT min(written), max(written) FROM entries").fetchone()
        return StoreStats(entries=n, bytes=size, inline_entries=n - files,
                          file_entries=files, packs=packs, oldest_access=oldest,
                          newest_access=newest, oldest_write=written[0],
                          newest_write=written[1])

    @_recovering
    def by_prefix(self) -> list[PrefixStats]:
        """Entries, packs, bytes and access times per key prefix (one full scan of the
        index), named from the ``labels`` table."""
        conn = self._conn()
        labels = {}
        if _index.has_labels(conn):
            labels = {bytes(p): (_text(n), _text(pl))
                      for p, n, pl in conn.execute("SELECT prefix, node, pipeline FROM labels")}
        query = (f"SELECT substr(key, 1, {HEAD}), count(*), coalesce(sum(pack), 0), "
                 "coalesce(sum(size), 0), min(accessed), max(accessed) FROM entries GROUP BY 1")
        rows = []
        for prefix, n, packs, size, oldest, newest in conn.execute(query):
            node, pipeline = labels.get(bytes(prefix), (None, None))
            rows.append(PrefixStats(bytes(prefix), node, pipeline, n - packs, packs, size,
                                    oldest, newest))
        return sorted(rows, key=lambda r: (-r.bytes, r.prefix))

    @_recovering
    def clear(self) -> None:
        """Remove every entry and every blob file hotpipe's naming scheme proves is one."""
        self._refuse_writes("clear")

        def body(conn: Any) -> None:
            conn.execute("DELETE FROM entries")
            if _index.has_labels(conn):
                conn.execute("DELETE FROM labels")

        self._transaction(body)
        with self._lock:
            self._pending.clear()
        _ownership.remove_blobs(self.path)
        self._vacuum()

    @_recovering
    def prune(self, max_bytes: int) -> int:
        self._refuse_writes("prune")
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
        """Remove blob files no entry points to (a writer killed between file and index),
        and abandoned temporary files: only names of hotpipe's scheme, never via a link."""
        sql = f"SELECT key, substr(value, 2, 8) FROM entries WHERE {_IS_FILE}"
        rows = self._conn().execute(sql)
        known = {self._blob(k, c).name for k, c in rows}
        cutoff = time.time() - _ORPHAN_AGE
        for shard, name, mtime in _ownership.blob_files(self.path):
            if name not in known and mtime < cutoff:
                _ownership.safe_unlink(self.path, shard, name)

    def _vacuum(self) -> None:
        with contextlib.suppress(Exception):
            self._conn().execute("PRAGMA incremental_vacuum")

    def close(self) -> None:
        self._finalizer()  # writes pending access times, closes and empties the lists
        with self._lock:
            self._local = threading.local()
            self._finalizer = weakref.finalize(self, _close_all, self._conns, self._pending)


def _text(value: bytes | str) -> str:
    """A TEXT column read with ``text_factory = bytes``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


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
