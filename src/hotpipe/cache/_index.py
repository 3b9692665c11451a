"""The SQLite index of ``SQLiteStore``: opening, recognising, creating and migrating it.

A file is hotpipe's when its ``application_id`` is ``APP_ID`` (``'hpip'``). A file with
another id, or with id 0 holding tables that are not an older hotpipe's ``entries``, is
refused untouched: hotpipe never creates a table in, migrates or empties a database it did
not create. Read-only opens change nothing in the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

from hotpipe.cache import _ownership

__all__ = ["APP_ID", "LABELS", "SCHEMA_VERSION", "WRITTEN", "connect", "empty", "has_labels",
           "has_written", "is_corrupt", "probe"]

APP_ID = 0x68706970  # 'hpip'
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE entries (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,  -- b'i' + checksum + payload, or b'f' + checksum for a blob file
    size INTEGER NOT NULL,
    accessed REAL NOT NULL,
    -- pack: 1 for a pack (the values of many items, see Store.put_many); written: when
    -- the entry was (last) written, for Cache(max_age=), see WRITTEN
    pack INTEGER NOT NULL,
    written REAL
);
"""
LABELS = """
CREATE TABLE IF NOT EXISTS labels (
    prefix BLOB PRIMARY KEY,  -- the first bytes of a pipeline step's keys (cache.run)
    node TEXT NOT NULL,
    pipeline TEXT NOT NULL
) WITHOUT ROWID
"""
"""Which node each key prefix belongs to, written with the entries (``hotpipe cache stats``
groups by it). Added without a format change: an older hotpipe ignores the table, and an
index it wrote gains the table when this version opens it for writing."""
WRITTEN = "ALTER TABLE entries ADD COLUMN written REAL"
"""The write time of each entry, added without a format change like ``labels``: an index
of an older hotpipe gains the column when this version opens it for writing, its entries
with no time (NULL: expired for any ``max_age``); an older hotpipe writing into it leaves
the column NULL for its entries."""
_LEGACY_COLUMNS = ({"key", "value", "size", "created", "accessed"},  # format 1
                   {"key", "value", "size", "accessed", "pack"})  # format 2, before the id
_CORRUPT = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_corrupt(error: BaseException) -> bool:
    """A damaged database file ("malformed", "not a database"), not a busy or full one."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT
    text = str(error).lower()
    return "malformed" in text or "not a database" in text


def _is_busy(error: Exception) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def probe(conn: Any, index: Path) -> str:
    """``"ours"``, ``"new"`` (an empty file), ``"legacy"`` (an older hotpipe's, without the
    id) or raises: a newer hotpipe's (``RuntimeError``), or not hotpipe's at all. Read in one
    transaction: another process may be creating the schema meanwhile."""
    if conn.in_transaction:
        return _probe(conn, index)
    conn.execute("BEGIN")
    try:
        return _probe(conn, index)
    finally:
        conn.execute("ROLLBACK")


def _probe(conn: Any, index: Path) -> str:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{index} was written by a newer hotpipe (cache format {version}, this one "
            f"reads {SCHEMA_VERSION}); upgrade hotpipe or use another cache directory"
        )
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    if app == APP_ID:
        return "ours"
    if app != 0:
        raise _ownership.foreign(index.parent, f"{index.name} is another application's "
                                 f"SQLite database (application_id {app:#x})")
    tables = {r[0].decode() if isinstance(r[0], bytes) else r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    if not tables and version == 0:
        return "new"
    columns = {r[1].decode() if isinstance(r[1], bytes) else r[1]
               for r in conn.execute("PRAGMA table_info(entries)")}
    if tables == {"entries"} and version in (1, 2) and columns in _LEGACY_COLUMNS:
        return "legacy"
    raise _ownership.foreign(index.parent, f"{index.name} is an SQLite database hotpipe did "
                             f"not create (tables {sorted(tables)}, user_version {version})")


def _uri(index: Path, immutable: bool) -> str:
    path = urllib.parse.quote(os.path.abspath(index))
    return f"file:{path}?mode=ro" + ("&immutable=1" if immutable else "")


def empty() -> Any:
    """An in-memory index with the schema: what a read-only store without a file reads."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute(_SCHEMA)
    conn.execute(LABELS)
    return conn


def connect(index: Path, read_only: bool = False) -> Any:
    """A connection to the index: created or adopted when writable, else read as it is
    (``immutable`` when the directory cannot be written, so SQLite creates no files)."""
    if read_only:
        immutable = not os.access(index.parent, os.W_OK)
        conn = sqlite3.connect(_uri(index, immutable), uri=True, timeout=30.0,
                               isolation_level=None, check_same_thread=False)
        conn.text_factory = bytes
        try:
            kind = probe(conn, index)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except BaseException:
            conn.close()
            raise
        if kind == "new" or version != SCHEMA_VERSION:  # nothing this version can find
            conn.close()
            return empty()
        return conn
    conn = sqlite3.connect(index, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.text_factory = bytes  # a damaged row holding TEXT still reads, and fails its checksum
    try:
        kind = probe(conn, index)  # before anything changes the file
        conn.execute("PRAGMA busy_timeout = 30000")
        if kind == "new":
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect only on a new file
        _wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        # Cold writes into a node that already has many entries insert random keys into its
        # range of the key index: each chunk dirties hundreds of index pages. A page cache
        # that holds the index (a ceiling, filled only as pages are read) and a checkpoint
        # every 256 MiB of WAL instead of every 4 MiB (a page rewritten by many chunks is
        # copied back once) keep those writes flat as the cache grows (benchmarks/cache.py
        # --growth); the WAL file is cut back to 64 MiB after each checkpoint.
        conn.execute("PRAGMA cache_size = -131072")
        conn.execute("PRAGMA wal_autocheckpoint = 65536")
        conn.execute(f"PRAGMA journal_size_limit = {64 << 20}")
        if kind != "ours" or conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            _create_schema(conn, index)  # checks again, under the write lock
        if not has_labels(conn):
            conn.execute(LABELS)
        if not has_written(conn):
            _add_written(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def has_labels(conn: Any) -> bool:
    """Whether the index has the ``labels`` table (an older hotpipe's may not)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                        "name = 'labels'").fetchone() is not None


def has_written(conn: Any) -> bool:
    """Whether ``entries`` has the ``written`` column (an older hotpipe's may not)."""
    return any((r[1].decode() if isinstance(r[1], bytes) else r[1]) == "written"
               for r in conn.execute("PRAGMA table_info(entries)"))


def _add_written(conn: Any) -> None:
    """Add the column; another process adding it at the same time is no error."""
    try:
        conn.execute(WRITTEN)
    except sqlite3.OperationalError as e:
        if "duplicate column" not in str(e).lower():
            raise


def _wal(conn: Any) -> None:
    """WAL is a property of the file: only its creator switches it on. The switch needs an
    exclusive lock and fails at once (no busy wait) while another connection is creating the
    file, so it is retried."""
    for attempt in range(50):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != b"wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if not _is_busy(e) or attempt == 49:
                raise
            time.sleep(0.01 * (1 + attempt % 10))


def _create_schema(conn: Any, index: Path) -> None:
    """Create the table in a new file and mark it; adopt a format-2 file of an older hotpipe
    (same table, marked now); empty a format-1 file first (its keys are of another format:
    none of them could ever be found again), then remove its blob files."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        kind = probe(conn, index)  # again: another process may have created it meanwhile
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            if version != 0:
                conn.execute("DROP INDEX IF EXISTS entries_accessed")
                conn.execute("DROP TABLE IF EXISTS entries")
                conn.execute("DROP TABLE IF EXISTS labels")
            conn.execute(_SCHEMA)
            conn.execute(LABELS)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if kind != "ours":
            conn.execute(f"PRAGMA application_id = {APP_ID}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    if version not in (0, SCHEMA_VERSION):  # the old entries' files, once nothing points
        _ownership.remove_blobs(index.parent)  # to them any more
