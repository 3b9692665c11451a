"""The SQLite store under crashes, races and damage, and the Cache facade (the conformance
suite over every store is test_all_stores.py)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest

from hotpipe.cache import Cache, CacheWarning, MemoryStore, NullStore, SQLiteStore
from hotpipe.cache.store import INLINE_LIMIT


def key(i: int) -> bytes:
    return i.to_bytes(16, "big")


def payload(i: int, size: int = 32) -> bytes:
    seed = i.to_bytes(8, "big")
    return (seed * (size // 8 + 1))[:size]


# --- SQLite: large values, damage, threads, processes, crashes ---------------------------


def test_large_values_live_in_files(tmp_path):
    s = SQLiteStore(tmp_path)
    big = {key(i): os.urandom(INLINE_LIMIT + 1 + i) for i in range(3)}
    s.put_many({**big, key(9): b"small"})
    stats = s.stats()
    assert (stats.inline_entries, stats.file_entries) == (1, 3)
    assert len(list((tmp_path / "blobs").glob("*/*"))) == 3
    assert s.get_many(list(big)) == big
    s.put_many({key(0): b"now small"})  # replacing a file entry removes its file
    assert len(list((tmp_path / "blobs").glob("*/*"))) == 2
    s.delete([key(1)])
    assert len(list((tmp_path / "blobs").glob("*/*"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_damaged_blob_is_a_miss_with_a_warning_then_rewritten(tmp_path, damage):
    s = SQLiteStore(tmp_path)
    value = os.urandom(INLINE_LIMIT * 2)
    s.put_many({key(1): value})
    (blob,) = (tmp_path / "blobs").glob("*/*")
    if damage == "truncate":
        blob.write_bytes(value[:1000])
    elif damage == "garbage":
        blob.write_bytes(os.urandom(len(value)))
    else:
        blob.unlink()
    with pytest.warns(CacheWarning, match="1 corrupt entry"):
        assert s.get_many([key(1)]) == {}
    assert s.contains_many([key(1)]) == set()  # the entry was dropped
    s.put_many({key(1): value})
    assert s.get_many([key(1)]) == {key(1): value}


def test_damaged_inline_value_is_a_miss_with_a_warning(tmp_path):
    import sqlite3

    s = SQLiteStore(tmp_path)
    s.put_many({key(1): b"hello", key(2): b"world"})
    s.close()
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE entries SET value = value || x'00' WHERE key = ?", (key(1),))
    with pytest.warns(CacheWarning):
        assert SQLiteStore(tmp_path).get_many([key(1), key(2)]) == {key(2): b"world"}


def test_garbage_index_file_is_moved_aside(tmp_path):
    (tmp_path / "index.sqlite").write_bytes(b"not a database" * 100)
    s = SQLiteStore(tmp_path)
    with pytest.warns(CacheWarning, match="not a readable SQLite database"):
        s.put_many({key(1): b"x"})
    assert s.get_many([key(1)]) == {key(1): b"x"}
    assert list(tmp_path.glob("index.sqlite.corrupt-*"))


def test_eight_threads_put_and_get(tmp_path):
    s = SQLiteStore(tmp_path)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for batch in range(20):
                items = {key(t * 10_000 + batch * 10 + i): payload(t + i, 64) for i in range(10)}
                s.put_many(items)
                assert s.get_many(list(items)) == items
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert s.stats().entries == 8 * 200


_WRITER = """
import sys
sys.path.insert(0, {src!r})
from hotpipe.cache import SQLiteStore
path, first, batches, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = SQLiteStore(path)

def value(i):
    size = 70_000 if big and i % 7 == 0 else 40
    return (i.to_bytes(8, "big") * (size // 8 + 1))[:size]

for b in range(batches):
    ids = range(first + b * 50, first + (b + 1) * 50)
    store.put_many({{i.to_bytes(16, "big"): value(i) for i in ids}})
    print(b, flush=True)
"""


def _writer(tmp_path: Path, first: int, batches: int, big: bool = True) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    src = str(Path(__file__).resolve().parents[3] / "src")
    script.write_text(textwrap.dedent(_WRITER.format(src=src)))
    args = [str(tmp_path / "c"), str(first), str(batches), str(int(big))]
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _expected(i: int, big: bool = True) -> bytes:
    size = 70_000 if big and i % 7 == 0 else 40
    return (i.to_bytes(8, "big") * (size // 8 + 1))[:size]


def test_kill_9_mid_write_keeps_every_committed_entry(tmp_path):
    proc = _writer(tmp_path, 0, 100_000)
    committed = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        committed = int(line)
        if committed >= 40:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # batches reported before the kill landed
        committed = int(line)
    s = SQLiteStore(tmp_path / "c")
    ids = range((committed + 1) * 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        got = s.get_many([key(i) for i in ids])
    assert got == {key(i): _expected(i) for i in ids}
    s.put_many({key(10**9): b"still writable"})
    assert s.get_many([key(10**9)]) == {key(10**9): b"still writable"}


def test_two_processes_write_concurrently(tmp_path):
    procs = [_writer(tmp_path, first, 40) for first in (0, 1_000_000)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Error" not in err
    s = SQLiteStore(tmp_path / "c")
    ids = [*range(2000), *range(1_000_000, 1_002_000)]
    got = s.get_many([key(i) for i in ids])
    assert got == {key(i): _expected(i) for i in ids}


# --- Cache: values, counters, pickling, failures ----------------------------------------


def test_cache_round_trips_values_including_none(tmp_path):
    cache = Cache(tmp_path / "c")
    cache.put_many({key(1): None, key(2): {"a": [1, 2.5]}, key(3): b"x" * 100_000})
    got = cache.get_many([key(1), key(2), key(3), key(4)])
    assert got == {key(1): None, key(2): {"a": [1, 2.5]}, key(3): b"x" * 100_000}
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.store.entries) == (3, 1, 3)
    assert stats.bytes_read == stats.bytes_written > 100_000


def test_unpicklable_value_warns_and_is_skipped():
    cache = Cache(store=MemoryStore())
    with pytest.warns(CacheWarning, match="cannot be pickled"):
        cache.put_many({key(1): threading.Lock(), key(2): 2})
    assert cache.get_many([key(1), key(2)]) == {key(2): 2}
    assert cache.stats().unpicklable == 1


def test_payload_that_cannot_be_unpickled_is_a_miss():
    store = MemoryStore()
    store.put_many({key(1): b"\x01garbage", key(2): b"\x09unknown format"})
    cache = Cache(store=store)
    with pytest.warns(CacheWarning, match="cannot be unpickled"):
        assert cache.get_many([key(1), key(2)]) == {}
    assert cache.stats().corrupt == 2
    assert store.contains_many([key(1), key(2)]) == set()


def test_failing_store_warns_instead_of_raising(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    cache = Cache(blocker / "cache")
    with pytest.warns(CacheWarning, match="writing 1 entries failed"):
        cache.put_many({key(1): 1})
    with pytest.warns(CacheWarning, match="reading failed"):
        assert cache.get_many([key(1)]) == {}


def test_pickled_cache_carries_only_its_path(tmp_path):
    cache = Cache(tmp_path / "c")
    cache.put_many({key(1): "v"})
    cache.get_many([key(1)])
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.path == cache.path
    assert clone.stats().hits == 0
    assert clone.get_many([key(1)]) == {key(1): "v"}


def test_disabled_cache_is_a_null_object():
    cache = Cache(None)
    assert isinstance(cache.store, NullStore) and Cache.disabled().path is None
    cache.put_many({key(1): 1})
    assert cache.get_many([key(1)]) == {}
    assert cache.stats().store.entries == 0
    assert cache.prune(0) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_store_reopens_after_fork(tmp_path):
    s = SQLiteStore(tmp_path)
    s.put_many({key(1): b"parent"})
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 0
        try:
            s.put_many({key(2): b"child"})
            code = 0 if s.get_many([key(1)]) == {key(1): b"parent"} else 1
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.get_many([key(1), key(2)]) == {key(1): b"parent", key(2): b"child"}


def test_reads_within_the_touch_interval_write_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "s")
    store.put_many({key(1): payload(1, 10)})
    store.get_many([key(1)])
    assert store._pending == {}  # written less than touch_interval ago: no access-time write
    store.touch_interval = 0.0
    store.get_many([key(1)])
    assert list(store._pending) == [key(1)]
