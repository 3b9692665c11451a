"""Store safety and security (issue 11): hotpipe touches only what it created, deletes only
what it can prove is its own, survives a full disk and a damaged index, reads a read-only
cache without writing, refuses directories other users control, and can sign its entries."""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import sqlite3
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from hotpipe import CacheKeyError, InputError, Pipeline, node  # noqa: F401
from hotpipe.cache import Cache, CacheWarning, SQLiteStore
from hotpipe.errors import CacheDirectoryError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def key(i: int) -> bytes:
    return i.to_bytes(24, "big")


def hotpipe(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hotpipe.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "COLUMNS": "120"})


def listing(root: Path) -> dict[str, bytes]:
    """Every file under root (links not followed) with its content."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = b"<link>" if path.is_symlink() else path.read_bytes()
    return out


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    """A real small filesystem (root only, where mounting is allowed), else skip."""
    where.mkdir(parents=True, exist_ok=True)
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# --- ownership: what hotpipe did not create is refused, untouched ---------------------------


def test_a_directory_holding_other_files_is_refused_and_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "photo.jpg").write_bytes(b"jpg")
    before = listing(tmp_path)
    with pytest.raises(CacheDirectoryError, match=r"not a hotpipe cache.*notes\.txt.*Fix"):
        Cache(tmp_path)
    for command in (["clear"], ["prune", "--max-size", "0"]):
        out = hotpipe("cache", *command, str(tmp_path))
        assert "not a hotpipe cache" in out.stderr or "nothing to" in out.stdout
    assert listing(tmp_path) == before


def test_another_applications_database_is_refused_and_never_rewritten(tmp_path):
    conn = sqlite3.connect(tmp_path / "index.sqlite")
    conn.executescript("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
    conn.close()
    before = (tmp_path / "index.sqlite").read_bytes()
    for command in (["stats"], ["clear"], ["prune", "--max-size", "0"]):
        out = hotpipe("cache", *command, str(tmp_path))
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert "did not create" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(CacheDirectoryError, match="did not create"):
        Cache(tmp_path)
    assert (tmp_path / "index.sqlite").read_bytes() == before
    assert not (tmp_path / "CACHEDIR.TAG").exists()


def test_a_database_with_another_application_id_is_refused(tmp_path):
    store = SQLiteStore(tmp_path / "c")
    store.put_many({key(1): b"x"})
    store.close()
    conn = sqlite3.connect(tmp_path / "c" / "index.sqlite")
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()
    with pytest.raises(CacheDirectoryError, match="application_id"):
        SQLiteStore(tmp_path / "c").get_many([key(1)])


def test_new_caches_are_marked_and_older_hotpipe_caches_are_adopted(tmp_path):
    with SQLiteStore(tmp_path / "new") as store:
        store.put_many({key(1): b"x"})
    assert (tmp_path / "new" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f59")
    conn = sqlite3.connect(tmp_path / "new" / "index.sqlite")
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x68706970
    conn.execute("PRAGMA application_id = 0")  # as an older hotpipe left it,
    conn.execute("DROP TABLE labels")  # which had no labels table
    conn.execute("ALTER TABLE entries DROP COLUMN written")  # and no write times
    conn.commit()
    conn.close()
    (tmp_path / "new" / "CACHEDIR.TAG").unlink()
    with SQLiteStore(tmp_path / "new") as again:
        assert again.get_many([key(1)]) == {key(1): b"x"}  # adopted, entries kept
        again.put_many({key(2): b"y"}, labels={key(2)[:8]: ("inc", "p")})  # labels added
        assert [(r.node, r.entries) for r in again.by_prefix()] == [("inc", 2)]
        assert again.get_many([key(1), key(2)], newer_than=0) == {key(2): b"y"}  # no time
    assert (tmp_path / "new" / "CACHEDIR.TAG").exists()


def test_an_empty_path_is_an_error_not_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CacheDirectoryError, match="empty"):
        Cache("")
    with pytest.raises(InputError):
        SQLiteStore("")
    assert list(tmp_path.iterdir()) == []


# --- deleting: only files proven hotpipe's, never through a link ----------------------------


def _filled(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.put_many({key(i): os.urandom(70_000) for i in range(3)})
    store.put_many({key(9): b"small"})
    return store


def test_clear_and_prune_keep_files_that_are_not_hotpipes(tmp_path):
    store = _filled(tmp_path / "c")
    shard = next((tmp_path / "c" / "blobs").iterdir())
    (shard / "keep.txt").write_text("not a blob")
    (tmp_path / "c" / "blobs" / "mine").mkdir()
    (tmp_path / "c" / "blobs" / "mine" / "data.bin").write_bytes(b"x")
    store.prune(0)
    store.put_many({key(5): os.urandom(70_000)})
    store.clear()
    assert (shard / "keep.txt").exists()
    assert (tmp_path / "c" / "blobs" / "mine" / "data.bin").exists()
    assert not [p for p in (tmp_path / "c" / "blobs").rglob("*-*") if p.is_file()]


@pytest.mark.parametrize("link", ["blobs", "shard"])
def test_clear_and_prune_never_follow_a_link_out_of_the_cache(tmp_path, link):
    outside = tmp_path / "outside"
    (outside / "ab").mkdir(parents=True)
    precious = outside / "ab" / f"{'ab' * 24}-{'0' * 16}"  # even named and placed like a blob
    precious.write_bytes(b"precious")
    store = _filled(tmp_path / "c")
    blobs = tmp_path / "c" / "blobs"
    if link == "blobs":
        store.clear()
        for shard in blobs.iterdir():
            shard.rmdir()
        blobs.rmdir()
        os.symlink(outside, blobs, target_is_directory=True)
    else:
        os.symlink(outside / "ab", blobs / "ab", target_is_directory=True)
    hours_ago = os.path.getmtime(precious) - 7200  # old enough for prune's orphan sweep
    os.utime(precious, (hours_ago, hours_ago))
    store.prune(0)
    store.clear()
    assert precious.read_bytes() == b"precious"


# --- a full disk: no orphans, and the cache recovers -----------------------------------------


def _orphans(path: Path) -> list[str]:
    conn = sqlite3.connect(path / "index.sqlite")
    rows = conn.execute("SELECT key, substr(value, 2, 8) FROM entries "
                        "WHERE substr(value, 1, 1) = x'66'").fetchall()
    conn.close()
    known = {f"{k.hex()}-{c.hex()}" for k, c in rows}
    files = [p.name for p in (path / "blobs").rglob("*") if p.is_file()]
    return [name for name in files if name not in known]


def test_a_full_disk_simulated_leaves_no_orphans_and_recovers(tmp_path, monkeypatch):
    store = SQLiteStore(tmp_path / "c")
    Cache(store=store).put_many({key(100): "before"})
    real_open = open
    calls = {"n": 0}

    def full_after_one(path, mode="r", *args, **kwargs):
        if "w" in mode and ".tmp-" in str(path):
            calls["n"] += 1
            if calls["n"] > 1:
                f = real_open(path, mode, *args, **kwargs)
                f.write(b"partial")
                f.close()
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_after_one)
    cache = Cache(store=store)
    with pytest.warns(CacheWarning, match="No space left"):
        cache.put_many({key(i): os.urandom(70_000) for i in range(3)})
    monkeypatch.setattr("builtins.open", real_open)
    assert _orphans(tmp_path / "c") == []
    # the index itself full: SQLite's own "database or disk is full"
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.warns(CacheWarning, match="full"):
        cache.put_many({key(i): os.urandom(70_000) if i % 2 else os.urandom(5000)
                        for i in range(10, 40)})
    assert _orphans(tmp_path / "c") == []
    conn.execute("PRAGMA max_page_count = 1073741823")  # space again
    cache.put_many({key(50): os.urandom(70_000), key(51): b"small"})
    assert set(cache.get_many([key(50), key(51), key(100)])) == {key(50), key(51), key(100)}


def test_a_real_full_filesystem_leaves_no_orphans_and_recovers(tmp_path):
    with tmpfs(tmp_path / "fs", "3m") as fs:
        cache = Cache(fs / "c")
        cache.put_many({key(0): b"first"})
        filler = fs / "filler"
        filler.write_bytes(b"\0" * 1_500_000)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for batch in range(40):
                cache.put_many({key(100 + batch * 4 + i): os.urandom(90_000) for i in range(4)})
        assert any("No space" in str(w.message) or "full" in str(w.message) for w in caught)
        cache.close()
        assert _orphans(fs / "c") == []
        assert not [p for p in (fs / "c" / "blobs").rglob(".tmp-*")]
        filler.unlink()
        cache.prune(0)
        cache.put_many({key(1): os.urandom(90_000)})
        assert key(1) in cache.get_many([key(1)])


# --- a damaged index: quarantined, rebuilt; clear always works -------------------------------


def _malformed(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.put_many({key(i): os.urandom(300) for i in range(3000)})
    data = bytearray((path / "index.sqlite").read_bytes())
    page = 4096
    assert len(data) > 20 * page
    data[10 * page: 14 * page] = os.urandom(4 * page)
    (path / "index.sqlite").write_bytes(bytes(data))
    conn = sqlite3.connect(path / "index.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("SELECT count(*), sum(size) FROM entries").fetchone()
    conn.close()


def test_a_malformed_index_is_quarantined_and_rebuilt(tmp_path):
    _malformed(tmp_path / "c")
    cache = Cache(tmp_path / "c")
    with pytest.warns(CacheWarning, match="moved it to index.sqlite.corrupt"):
        assert cache.stats().store.entries == 0
    assert list((tmp_path / "c").glob("index.sqlite.corrupt-*"))
    cache.put_many({key(1): "again"})
    assert cache.get_many([key(1)]) == {key(1): "again"}


def test_cache_clear_works_on_a_malformed_index(tmp_path):
    _malformed(tmp_path / "c")
    out = hotpipe("cache", "clear", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    out = hotpipe("cache", "stats", str(tmp_path / "c"))
    assert out.returncode == 0 and "entries" in out.stdout


# --- read-only: read, never written ----------------------------------------------------------


@node(output="y")
def _triple(x):
    return 3 * x


def _read_only_dir(tmp_path: Path):
    """A cache on a real read-only filesystem (root: a tmpfs remounted read-only), or a
    directory without write permission (other users)."""
    fs = tmp_path / "ro"
    if IS_ROOT:
        cm = tmpfs(fs, "8m")
        cm.__enter__()
    else:
        fs.mkdir()
        cm = None
    pipe = Pipeline([_triple])
    cache = Cache(fs / "c")
    pipe.map({"x": list(range(10))}, over="x", cache=cache)
    cache.close()
    if cm is not None:
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    else:
        for p in [fs / "c", *(fs / "c").rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
    return fs, cm, pipe


def test_a_read_only_cache_is_read_and_never_written(tmp_path):
    fs, cm, pipe = _read_only_dir(tmp_path)
    try:
        assert not os.access(fs / "c", os.W_OK)
        before = listing(fs / "c")
        cache = Cache(fs / "c")
        assert cache.store.read_only
        with pytest.warns(CacheWarning, match="read-only"):
            r = pipe.map({"x": list(range(15))}, over="x", cache=cache)
        assert r["y"] == [3 * x for x in range(15)]
        assert r.profile["_triple"].hits == 10
        assert cache.stats().store.entries == 10
        with pytest.raises(CacheDirectoryError, match="read-only"):
            cache.clear()
        cache.close()
        assert listing(fs / "c") == before
        out = hotpipe("cache", "stats", str(fs / "c"))
        assert out.returncode == 0 and "10" in out.stdout
    finally:
        if cm is not None:
            cm.__exit__(None, None, None)


def test_cache_stats_on_a_writable_cache_writes_nothing(tmp_path):
    with SQLiteStore(tmp_path / "c") as store:
        store.put_many({key(i): b"x" * 10 for i in range(5)})
        store.touch_interval = 0.0
        store.get_many([key(1)])  # a pending access time, written at close
    before = listing(tmp_path / "c")
    assert hotpipe("cache", "stats", str(tmp_path / "c")).returncode == 0
    after = listing(tmp_path / "c")
    assert after["index.sqlite"] == before["index.sqlite"]


# --- trust: directories other users can write are refused -----------------------------------


def test_a_world_writable_cache_is_refused_unless_trusted(tmp_path, monkeypatch):
    path = tmp_path / "c"
    with SQLiteStore(path) as store:
        store.put_many({key(1): b"x"})
    path.chmod(0o777)
    with pytest.raises(CacheDirectoryError, match=r"every user can write.*Fix"):
        Cache(path)
    assert Cache(path, trusted=True).store.get_many([key(1)]) == {key(1): b"x"}
    monkeypatch.setenv("HOTPIPE_TRUSTED_CACHES", str(path))
    Cache(path)


@pytest.mark.skipif(not IS_ROOT, reason="changing a directory's owner needs root")
def test_a_cache_owned_by_another_user_is_refused_unless_trusted(tmp_path, monkeypatch):
    path = tmp_path / "c"
    with SQLiteStore(path) as store:
        store.put_many({key(1): b"x"})
    os.chown(path, 4242, 4242)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(CacheDirectoryError, match="owned by another user"):
        Cache(path)
    out = hotpipe("cache", "stats", str(path))
    assert out.returncode == 1 and "owned by another user" in out.stderr
    (tmp_path / "config" / "hotpipe").mkdir(parents=True)
    (tmp_path / "config" / "hotpipe" / "trusted-caches").write_text(f"# shared\n{path}\n")
    assert Cache(path).store.get_many([key(1)]) == {key(1): b"x"}


# --- signed entries: a planted pickle is never loaded ----------------------------------------


class _Plant:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


def _plant(path: Path, k: bytes, marker: Path) -> None:
    payload = pickle.dumps(_Plant(str(marker)), protocol=5)
    import xxhash

    value = b"i" + xxhash.xxh3_64_digest(payload) + payload
    conn = sqlite3.connect(path / "index.sqlite")
    conn.execute("UPDATE entries SET value = ?, size = ? WHERE key = ?", (value, len(payload), k))
    conn.commit()
    conn.close()


def test_signed_entries_round_trip_and_a_planted_pickle_is_never_loaded(tmp_path, monkeypatch):
    keyfile = tmp_path / "config" / "cache.key"
    monkeypatch.setenv("HOTPIPE_CACHE_KEY_FILE", str(keyfile))
    cache = Cache(tmp_path / "c", sign=True)
    assert keyfile.stat().st_mode & 0o777 == 0o600
    cache.put_many({key(1): {"a": 1}, key(2): "two"})
    assert cache.get_many([key(1), key(2)]) == {key(1): {"a": 1}, key(2): "two"}
    cache.close()
    marker = tmp_path / "pwned"
    _plant(tmp_path / "c", key(1), marker)
    again = Cache(tmp_path / "c", sign=True)
    with pytest.warns(CacheWarning, match="not signed"):
        assert again.get_many([key(1), key(2)]) == {key(2): "two"}
    assert not marker.exists()
    clone = pickle.loads(pickle.dumps(again))  # workers sign and verify too
    assert clone.get_many([key(2)]) == {key(2): "two"}


def test_without_signing_a_planted_pickle_runs_which_is_why_signing_exists(tmp_path):
    cache = Cache(tmp_path / "c")
    cache.put_many({key(1): 1})
    cache.close()
    marker = tmp_path / "pwned"
    _plant(tmp_path / "c", key(1), marker)
    Cache(tmp_path / "c").get_many([key(1)])
    assert marker.read_text() == "code ran"  # the threat model in docs/caching.md


def test_a_signing_key_other_users_can_read_is_refused(tmp_path, monkeypatch):
    keyfile = tmp_path / "cache.key"
    keyfile.write_text(uuid.uuid4().hex * 2)
    keyfile.chmod(0o644)
    monkeypatch.setenv("HOTPIPE_CACHE_KEY_FILE", str(keyfile))
    with pytest.raises(CacheDirectoryError, match="chmod 600"):
        Cache(tmp_path / "c", sign=True)


# --- run(..., cache=) with a resource input (issue 11) ----------------------------------------


class _Model:
    def __init__(self, k: int) -> None:
        self.k = k


@node(output="y")
def _apply(x, model):
    return x * model.k


def test_run_with_a_cache_hands_the_node_the_built_resource(tmp_path):
    from hotpipe import resource

    pipe = Pipeline([_apply])
    model = resource(_Model, 3)
    assert pipe.run({"x": 2, "model": model})["y"] == 6
    assert pipe.run({"x": 2, "model": model}, cache=Cache(tmp_path / "c"))["y"] == 6


def test_map_with_a_cache_hands_the_node_the_built_resource(tmp_path):
    from hotpipe import resource

    pipe = Pipeline([_apply])
    model = resource(_Model, 3)
    r = pipe.map({"x": [1, 2], "model": model}, over="x", cache=Cache(tmp_path / "c"))
    assert r["y"] == [3, 6]
