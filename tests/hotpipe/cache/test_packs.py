"""Packs (one entry per chunk and step), step-prefixed keys, schema version 2, insert path."""

from __future__ import annotations

import pickle
import sqlite3
import warnings

import pytest

import hotpipe.cache.run as cache_run
from hotpipe import FAILED, Local, Pipeline, node
from hotpipe.cache import Cache, CacheWarning, MemoryStore, SQLiteStore, Store, serialize
from hotpipe.cache.store import INLINE_LIMIT

CALLS: list[tuple[str, object]] = []


@node(output="y")
def inc(x):
    CALLS.append(("inc", x))
    return x + 1


@node(output="z")
def dbl(y):
    CALLS.append(("dbl", y))
    return y * 2


@node(output="z")
def dbl_edited(y):
    CALLS.append(("dbl_edited", y))
    return y * 2 + 1


@node(output="y")
def risky(x):
    CALLS.append(("risky", x))
    if x == 7:
        raise ValueError("seven")
    return x + 1


@node(output=("a", "b"))
def split(x):
    CALLS.append(("split", x))
    return x, -x


@node(output="c")
def join(a, b):
    CALLS.append(("join", (a, b)))
    return f"{a}/{b}"


@node(output="y")
def text(x):
    return f"{x:04d}" * 600  # 2.4 KB per item: a chunk of 50 packs to ~120 KB (> inline)


class Counting:
    """Records every get_many (the keys asked) and prefixes_present call."""

    def __init__(self, *args):
        super().__init__(*args)
        self.calls: list[list[bytes]] = []
        self.prefix_calls: list[set[bytes]] = []

    _inner = False  # inside get_linked (MemoryStore's calls get_many): count once

    def get_many(self, keys):
        keys = list(keys)
        if not self._inner:
            self.calls.append(keys)
        return super().get_many(keys)

    def get_linked(self, keys, members):
        keys = list(keys)
        self.calls.append(keys)
        self._inner = True
        try:
            return super().get_linked(keys, members)
        finally:
            self._inner = False

    def prefixes_present(self, prefixes):
        prefixes = set(prefixes)
        self.prefix_calls.append(prefixes)
        return super().prefixes_present(prefixes)

    def reset(self):
        self.calls.clear()
        self.prefix_calls.clear()

    def sizes(self):
        return [len(c) for c in self.calls]


class CountingMemory(Counting, MemoryStore):
    pass


class CountingSQLite(Counting, SQLiteStore):
    pass


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = CountingMemory() if request.param == "memory" else CountingSQLite(tmp_path / "c")
    yield s
    s.close()


@pytest.fixture
def mem():
    return CountingMemory()


def chain_map(store, items, chunk=50, pipe=None, **kw):
    pipe = pipe or Pipeline([inc, dbl], name="chain")
    return pipe.map({"x": list(items)}, over="x", engine=Local(chunk_size=chunk),
                    cache=Cache(store=store), **kw)


def pack_keys(store):
    """The keys of the packs in a store, oldest first."""
    if isinstance(store, MemoryStore):
        return sorted(store._packs, key=lambda k: store._data[k][1])
    with sqlite3.connect(store.path / "index.sqlite") as conn:
        return [k for (k,) in conn.execute("SELECT key FROM entries WHERE pack = 1 "
                                           "ORDER BY rowid")]


def hits_misses(result):
    return [(n.hits, n.misses) for n in result.profile.nodes]


def ran(name):
    return [v for n, v in CALLS if n == name]


# --- rerun of the same map: one lookup per (chunk, step) --------------------------------------


def test_rerun_of_the_same_map_reads_one_pack_per_chunk_and_step(store):
    first = chain_map(store, range(200))
    assert first["z"] == [2 * (x + 1) for x in range(200)]
    stats = store.stats()
    assert (stats.entries, stats.packs) == (200 * 2, 4 * 2)
    assert hits_misses(first) == [(0, 200), (0, 200)]
    assert len(store.prefix_calls) == 1 and len(store.prefix_calls[0]) == 2  # once per map

    store.reset()
    CALLS.clear()
    again = chain_map(store, range(200))
    assert again["y"] == first["y"] and again["z"] == first["z"]
    assert CALLS == []
    assert store.sizes() == [1] * (4 * 2)  # 4 chunks x 2 steps, one key each
    assert hits_misses(again) == [(200, 0), (200, 0)]
    assert all(n.bytes_read > 0 and n.saved > 0 for n in again.profile.nodes)
    assert len(store.prefix_calls) == 1
    stats = store.stats()
    assert (stats.entries, stats.packs) == (400, 8)  # nothing new written


def test_only_the_requested_output_pack_is_read(mem):
    chain_map(mem, range(200))
    mem.reset()
    again = chain_map(mem, range(200), outputs="z")
    assert again["z"] == [2 * (x + 1) for x in range(200)]
    assert mem.sizes() == [1] * 4
    assert hits_misses(again) == [(0, 0), (200, 0)]


def test_a_last_chunk_of_one_item_gets_no_pack(mem):
    chain_map(mem, range(101))  # chunks of 50, 50, 1
    assert (mem.stats().entries, mem.stats().packs) == (202, 4)
    mem.reset()
    CALLS.clear()
    again = chain_map(mem, range(101))
    assert again["z"][-1] == 202 and CALLS == []
    assert hits_misses(again) == [(101, 0), (101, 0)]
    # 2 packed chunks x 2 steps, then the single item read by its own key per step
    assert mem.sizes() == [1] * 6


def test_chunk_size_one_writes_no_packs(mem):
    r = chain_map(mem, range(5), chunk=1)
    assert r["z"] == [2, 4, 6, 8, 10]
    assert (mem.stats().entries, mem.stats().packs) == (10, 0)
    assert hits_misses(chain_map(mem, range(5), chunk=1)) == [(5, 0), (5, 0)]


def test_single_run_writes_no_pack(mem):
    pipe = Pipeline([inc, dbl])
    cache = Cache(store=mem)
    assert pipe.run({"x": 3}, cache=cache)["z"] == 8
    assert mem.stats().packs == 0 and mem.stats().entries == 2
    again = pipe.run({"x": 3}, cache=cache)
    assert again["z"] == 8 and again.profile["dbl"].hits == 1


def test_streamed_map_rerun_reads_packs(mem):
    pipe = Pipeline([inc, dbl])
    engine = Local(chunk_size=50)
    first = pipe.map({"x": (i for i in range(200))}, over="x", engine=engine,
                     cache=Cache(store=mem))
    assert mem.stats().packs == 8
    mem.reset()
    CALLS.clear()
    again = pipe.map({"x": (i for i in range(200))}, over="x", engine=engine,
                     cache=Cache(store=mem))
    assert again["z"] == first["z"] and CALLS == []
    assert mem.sizes() == [1] * 8


def test_tuple_outputs_round_trip_through_packs(store):
    pipe = Pipeline([split, join])
    first = chain_map(store, range(120), chunk=40, pipe=pipe)
    assert first["a"] == list(range(120))
    assert first["b"] == [-x for x in range(120)]
    assert first["c"][5] == "5/-5"
    assert (store.stats().entries, store.stats().packs) == (240, 6)
    store.reset()
    CALLS.clear()
    again = chain_map(store, range(120), chunk=40, pipe=pipe)
    assert CALLS == []
    assert again["a"] == first["a"] and again["b"] == first["b"] and again["c"] == first["c"]
    assert type(again["a"][3]) is int and type(again["b"][3]) is int
    assert store.sizes() == [1] * 6
    assert hits_misses(again) == [(120, 0), (120, 0)]


def test_tuple_outputs_read_through_their_pack_when_only_one_is_requested(mem):
    pipe = Pipeline([split, join])
    chain_map(mem, range(100), pipe=pipe)
    mem.reset()
    CALLS.clear()
    again = chain_map(mem, range(100), pipe=pipe, outputs="b")
    assert again["b"] == [-x for x in range(100)] and CALLS == []
    assert mem.sizes() == [1] * 2
    assert hits_misses(again) == [(100, 0)]  # join is not in the plan


def test_packs_larger_than_inline_live_in_files_in_sqlite(tmp_path):
    store = CountingSQLite(tmp_path / "c")
    pipe = Pipeline([text])
    first = chain_map(store, range(100), pipe=pipe)
    stats = store.stats()
    assert (stats.entries, stats.packs, stats.file_entries) == (100, 2, 0)
    assert stats.inline_entries == 100
    assert len(list((tmp_path / "c" / "blobs").glob("*/*"))) == 2  # the two packs
    store.reset()
    again = chain_map(store, range(100), pipe=pipe)
    assert again["y"] == first["y"]
    assert store.sizes() == [1, 1]
    assert again.profile["text"].bytes_read > INLINE_LIMIT
    store.close()


# --- reordered items: per-item entries, then packs for the new chunks ------------------------


def test_reordered_items_hit_through_entries_then_through_new_packs(store):
    chain_map(store, range(200))
    before = store.stats()
    store.reset()
    CALLS.clear()
    items = list(reversed(range(200)))
    again = chain_map(store, items)
    assert again["z"] == [2 * (x + 1) for x in items]
    assert CALLS == []
    assert hits_misses(again) == [(200, 0), (200, 0)]
    after = store.stats()
    assert (before.entries, before.packs) == (400, 8)
    assert (after.entries, after.packs) == (400, 16)  # the new chunking got its packs
    # per chunk and step: the pack key (missed), then the 50 item keys
    assert sorted(store.sizes()) == [1] * 8 + [50] * 8
    store.reset()
    third = chain_map(store, items)
    assert third["z"] == again["z"] and CALLS == []
    assert store.sizes() == [1] * 8
    assert store.stats().packs == 16


# --- step prefixes: no per-item lookups for a step with nothing stored -----------------------


def test_cold_map_looks_up_no_key(store):
    first = chain_map(store, range(200))
    assert first["z"][:3] == [2, 4, 6]
    assert store.sizes() == []  # neither step had any entry: no pack, no item looked up
    assert len(store.prefix_calls) == 1
    assert store.stats().packs == 8


@pytest.mark.parametrize("cached", [100, 75])  # on a chunk boundary, and inside a chunk
def test_map_after_a_partial_map_then_pack_hits_everywhere(store, cached):
    chain_map(store, range(cached))
    CALLS.clear()
    r = chain_map(store, range(200))
    assert r["z"] == [2 * (x + 1) for x in range(200)]
    assert sorted(ran("inc")) == list(range(cached, 200))
    assert sorted(ran("dbl")) == [x + 1 for x in range(cached, 200)]
    assert hits_misses(r) == [(cached, 200 - cached)] * 2
    stale = 2 if cached % 50 else 0  # the first map's short last chunk keeps its packs
    assert (store.stats().entries, store.stats().packs) == (400, 8 + stale)
    store.reset()
    CALLS.clear()
    again = chain_map(store, range(200))
    assert again["y"] == r["y"] and again["z"] == r["z"] and CALLS == []
    assert store.sizes() == [1] * 8
    assert hits_misses(again) == [(200, 0), (200, 0)]


def test_editing_a_node_changes_its_prefix(mem):
    chain_map(mem, range(100))
    old_prefixes = {key[:8] for key in pack_keys(mem)}
    assert len(old_prefixes) == 2
    mem.reset()
    CALLS.clear()
    edited = Pipeline([inc, dbl_edited])
    r = chain_map(mem, range(100), pipe=edited)
    assert r["z"] == [2 * (x + 1) + 1 for x in range(100)]
    assert ran("inc") == [] and len(ran("dbl_edited")) == 100
    assert hits_misses(r) == [(100, 0), (0, 100)]
    # inc read through its packs; dbl_edited has no entry: nothing of it is looked up
    assert mem.sizes() == [1] * 2
    asked = mem.prefix_calls[0]
    assert len(asked) == 2 and len(asked & old_prefixes) == 1
    (new_prefix,) = asked - old_prefixes
    assert mem.prefixes_present(asked) == asked  # the edited step has entries now
    assert not any(keys[0].startswith(new_prefix) for keys in mem.calls)
    again = chain_map(mem, range(100), pipe=edited)
    assert hits_misses(again) == [(100, 0), (100, 0)]


# --- failures, limits, corruption -------------------------------------------------------------


def test_failed_item_means_no_pack_for_its_chunk(store):
    pipe = Pipeline([risky, dbl])
    r = chain_map(store, range(200), pipe=pipe, on_error="collect")
    assert r["y"][7] is FAILED and r["z"][7] is FAILED and len(r.errors) == 1
    assert r["z"][8] == 18
    stats = store.stats()
    assert stats.entries == 199 * 2
    assert stats.packs == 8 - 2  # neither step of chunk 0 is packed
    CALLS.clear()
    store.reset()
    again = chain_map(store, range(200), pipe=pipe, on_error="collect")
    assert again["y"][7] is FAILED and again["z"][7] is FAILED and len(again.errors) == 1
    assert again["y"][:7] == r["y"][:7] and again["z"][8:] == r["z"][8:]
    assert CALLS == [("risky", 7)]  # only the failed item is retried
    assert hits_misses(again) == [(199, 1), (199, 1)]
    assert store.stats().packs == 6
    # chunks 1-3: one pack key per step; chunk 0: its pack key, then its 50 item keys
    assert sorted(store.sizes()) == [1] * 8 + [50] * 2


def test_values_over_the_pack_limit_are_not_packed(store, monkeypatch):
    monkeypatch.setattr(cache_run, "PACK_LIMIT", 64)
    first = chain_map(store, range(200))
    assert (store.stats().entries, store.stats().packs) == (400, 0)
    store.reset()
    CALLS.clear()
    again = chain_map(store, range(200))
    assert again["z"] == first["z"] and CALLS == []
    assert hits_misses(again) == [(200, 0), (200, 0)]
    assert store.stats().packs == 0
    assert sorted(store.sizes()) == [1] * 8 + [50] * 8


def test_pack_limit_counts_the_encoded_values(mem, monkeypatch):
    monkeypatch.setattr(cache_run, "PACK_LIMIT", 10_000)
    chain_map(mem, range(50), pipe=Pipeline([text]))  # 50 x 2.4 KB: over the limit
    chain_map(mem, range(50), pipe=Pipeline([inc]))  # 50 small ints: under it
    assert mem.stats().packs == 1


def test_corrupt_pack_warns_and_falls_back_to_entries(mem):
    chain_map(mem, range(200))
    packs = pack_keys(mem)
    assert len(packs) == 8
    mem.put_many({}, dict.fromkeys(packs, b"garbage"))
    assert mem.stats().packs == 8
    mem.reset()
    CALLS.clear()
    with pytest.warns(CacheWarning, match="cannot be unpickled"):
        again = chain_map(mem, range(200))
    assert again["z"] == [2 * (x + 1) for x in range(200)] and CALLS == []
    assert hits_misses(again) == [(200, 0), (200, 0)]
    assert sorted(mem.sizes()) == [1] * 8 + [50] * 8
    assert sorted(pack_keys(mem)) == sorted(packs)  # dropped, then written again
    mem.reset()
    third = chain_map(mem, range(200))
    assert third["z"] == again["z"] and mem.sizes() == [1] * 8


@pytest.mark.parametrize("bad", [([1, 2], [0.0, 0.0]), (list(range(50)),), "a string"])
def test_short_or_unknown_pack_falls_back_to_entries(mem, bad):
    chain_map(mem, range(50))
    mem.put_many({}, dict.fromkeys(pack_keys(mem), serialize.dumps(bad)))
    mem.reset()
    CALLS.clear()
    again = chain_map(mem, range(50))
    assert again["z"] == [2 * (x + 1) for x in range(50)] and CALLS == []
    assert hits_misses(again) == [(50, 0), (50, 0)]
    assert sorted(mem.sizes()) == [1, 1, 50, 50]


@pytest.mark.parametrize("bad", [(1, 2), ([1] * 50, ["x"] * 50), (None, None)])
def test_pack_of_the_wrong_shape_does_not_crash_the_map(mem, bad):
    chain_map(mem, range(50))
    mem.put_many({}, dict.fromkeys(pack_keys(mem), serialize.dumps(bad)))
    again = chain_map(mem, range(50))
    assert again["z"] == [2 * (x + 1) for x in range(50)]


# --- prefixes_present -------------------------------------------------------------------------


def test_failing_prefix_check_warns_and_assumes_every_prefix_present():
    class Broken(MemoryStore):
        def prefixes_present(self, prefixes):
            raise OSError("disk gone")

    cache = Cache(store=Broken())
    with pytest.warns(CacheWarning, match="prefixes"):
        assert cache.prefixes_present([b"a" * 8, b"b" * 8]) == {b"a" * 8, b"b" * 8}


def test_sqlite_replacing_a_file_entry_removes_its_blob(tmp_path):
    store = SQLiteStore(tmp_path / "c")
    big, bigger = b"b" * (INLINE_LIMIT + 1), b"B" * (INLINE_LIMIT + 10)
    k, other = b"k" * 24, b"o" * 24
    blobs = tmp_path / "c" / "blobs"
    store.put_many({k: big, other: bigger})
    assert len(list(blobs.glob("*/*"))) == 2
    store.put_many({k: bigger})  # file replaced by another file
    assert store.get_many([k]) == {k: bigger}
    assert len(list(blobs.glob("*/*"))) == 2
    store.put_many({k: b"small"})  # file replaced by an inline value
    assert store.get_many([k, other]) == {k: b"small", other: bigger}
    assert len(list(blobs.glob("*/*"))) == 1
    store.put_many({other: bigger})  # the same file again: kept
    assert store.get_many([other]) == {other: bigger}
    assert len(list(blobs.glob("*/*"))) == 1
    assert store.stats().entries == 2
    store.close()


def test_duplicate_items_in_a_cold_map_replace_entries_in_sqlite(tmp_path):
    store = CountingSQLite(tmp_path / "c")
    items = list(range(50)) + list(reversed(range(50)))  # chunk 1: chunk 0's items reordered
    r = chain_map(store, items)
    assert r["z"] == [2 * (x + 1) for x in items]
    assert (store.stats().entries, store.stats().packs) == (100, 4)
    again = chain_map(store, items)
    assert again["z"] == r["z"] and hits_misses(again) == [(100, 0), (100, 0)]
    store.close()


# --- schema version 2 -------------------------------------------------------------------------


def _index(tmp_path):
    return tmp_path / "c" / "index.sqlite"


def test_new_sqlite_file_is_schema_version_2(tmp_path):
    store = SQLiteStore(tmp_path / "c")
    store.put_many({b"k" * 24: b"v"}, {b"p" * 24: b"pack"})
    store.close()
    conn = sqlite3.connect(_index(tmp_path))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        cols = [row[1] for row in conn.execute("PRAGMA table_info(entries)")]
        assert cols == ["key", "value", "size", "accessed", "pack", "written"]  # max_age
        rows = dict(conn.execute("SELECT key, pack FROM entries"))
        assert rows == {b"k" * 24: 0, b"p" * 24: 1}
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(entries)")]
        assert "entries_accessed" not in indexes
    finally:
        conn.close()


def test_version_1_file_is_emptied_and_recreated(tmp_path):
    (tmp_path / "c" / "blobs" / "ab").mkdir(parents=True)
    old_blob = tmp_path / "c" / "blobs" / "ab" / f"{'ab' * 16}-{'0' * 16}"  # hotpipe's naming
    old_blob.write_bytes(b"old")
    (tmp_path / "c" / "blobs" / "ab" / "notes.txt").write_bytes(b"not hotpipe's")
    conn = sqlite3.connect(_index(tmp_path))
    conn.executescript("""
        CREATE TABLE entries (key BLOB PRIMARY KEY, value BLOB NOT NULL,
                              size INTEGER NOT NULL, created REAL NOT NULL,
                              accessed REAL NOT NULL);
        CREATE INDEX entries_accessed ON entries(accessed);
        PRAGMA user_version = 1;
    """)
    conn.execute("INSERT INTO entries VALUES (?, ?, 3, 0, 0)", (b"k" * 16, b"i12345678old"))
    conn.commit()
    conn.close()

    store = SQLiteStore(tmp_path / "c")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a silent upgrade, no warning
        assert store.get_many([b"k" * 16]) == {}
        stats = store.stats()
    assert (stats.entries, stats.packs, stats.bytes) == (0, 0, 0)
    assert not old_blob.exists()
    # only files hotpipe's naming scheme proves are its own are deleted (issue 11)
    assert (tmp_path / "c" / "blobs" / "ab" / "notes.txt").exists()
    store.put_many({b"n" * 24: b"new"}, {b"p" * 24: b"pack"})
    assert store.get_many([b"n" * 24, b"p" * 24]) == {b"n" * 24: b"new", b"p" * 24: b"pack"}
    assert store.prefixes_present([b"n" * 8]) == {b"n" * 8}
    store.close()
    conn = sqlite3.connect(_index(tmp_path))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        cols = [row[1] for row in conn.execute("PRAGMA table_info(entries)")]
        assert "created" not in cols and "pack" in cols
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(entries)")]
        assert "entries_accessed" not in indexes
    finally:
        conn.close()


def _version_3_file(tmp_path):
    (tmp_path / "c").mkdir()
    conn = sqlite3.connect(_index(tmp_path))
    conn.executescript("""
        CREATE TABLE entries (key BLOB PRIMARY KEY, future BLOB);
        INSERT INTO entries VALUES (x'00', x'01');
        PRAGMA user_version = 3;
    """)
    conn.commit()
    conn.close()


def test_newer_version_file_raises_in_the_store_and_warns_in_cache(tmp_path):
    _version_3_file(tmp_path)
    store = SQLiteStore(tmp_path / "c")
    with pytest.raises(RuntimeError, match="newer hotpipe"):
        store.get_many([b"k" * 24])
    cache = Cache(store=store)
    with pytest.warns(CacheWarning, match="reading failed"):
        assert cache.get_many([b"k" * 24]) == {}
    with pytest.warns(CacheWarning, match="writing"):
        cache.put_many({b"k" * 24: 1})
    cache.close()
    conn = sqlite3.connect(_index(tmp_path))
    try:  # left as it was: not emptied, not moved aside
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    finally:
        conn.close()


def test_map_over_a_newer_version_file_computes_and_warns(tmp_path):
    _version_3_file(tmp_path)
    store = SQLiteStore(tmp_path / "c")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = chain_map(store, range(10))
    assert r["z"] == [2 * (x + 1) for x in range(10)]
    assert caught and all(issubclass(w.category, CacheWarning) for w in caught)
    store.close()


# --- serialize: plain pickle protocol 5 -------------------------------------------------------


def test_serialize_is_pickle_protocol_5():
    value = {"a": [1, None, (2.5, b"x")]}
    payload = serialize.dumps(value)
    assert payload == pickle.dumps(value, protocol=5)
    assert payload[:2] == b"\x80\x05"
    assert serialize.loads(payload) == value
    assert serialize.loads(memoryview(payload)) == value
    with pytest.raises(ValueError, match="unknown cache payload format"):
        serialize.loads(pickle.dumps(value, protocol=4))
    with pytest.raises(ValueError, match="unknown cache payload format"):
        serialize.loads(b"garbage")


@pytest.mark.parametrize("foreign", ["a string", (1, 2), ("value", "not seconds"), None])
def test_item_entry_of_the_wrong_shape_is_a_miss(mem, foreign):
    first = chain_map(mem, range(50))
    entries = [k for k in mem._data if k not in mem._packs]
    mem.delete(pack_keys(mem))
    mem.put_many(dict.fromkeys(entries, serialize.dumps(foreign)))
    CALLS.clear()
    again = chain_map(mem, range(50))
    assert again["z"] == first["z"]
    assert hits_misses(again) == [(0, 50), (0, 50)]
    assert len(ran("inc")) == 50 and len(ran("dbl")) == 50
    assert Pipeline([inc, dbl]).run({"x": 3}, cache=Cache(store=mem))["z"] == 8


# --- review findings: shapes, partial packs, repeated items, LRU, nested outputs --------------


def test_tuple_output_entry_of_the_wrong_width_is_a_miss(mem):
    pipe = Pipeline([split])
    first = chain_map(mem, range(4), pipe=pipe, chunk=4)
    mem.delete(pack_keys(mem))
    for wrong in (("value", 1.0), ((1, 2, 3), 1.0)):
        mem.put_many(dict.fromkeys(list(mem._data), serialize.dumps(wrong)))
        CALLS.clear()
        again = chain_map(mem, range(4), pipe=pipe, chunk=4)
        assert (again["a"], again["b"]) == (first["a"], first["b"])
        assert hits_misses(again) == [(0, 4)] and len(ran("split")) == 4
        mem.delete(pack_keys(mem))
        mem.put_many(dict.fromkeys(list(mem._data), serialize.dumps(wrong)))
        assert pipe.run({"x": 2}, cache=Cache(store=mem))["b"] == -2


@node(output="y")
def slow_inc(x):
    CALLS.append(("slow_inc", x))
    return x + 1


def test_partial_pack_hit_counts_only_the_items_needed(mem):
    pipe = Pipeline([slow_inc, dbl])
    chain_map(mem, [0, 1, 2, 3], pipe=pipe, chunk=4, outputs=["y"])
    chain_map(mem, [0, 1], pipe=pipe, chunk=4, outputs=["z"])  # dbl cached for 0 and 1 only
    r = chain_map(mem, [0, 1, 2, 3], pipe=pipe, chunk=4, outputs=["z"])
    assert r["z"] == [2, 4, 6, 8]
    # z of 0 and 1 are per-item hits, so slow_inc is needed (and hit, from its pack) for
    # items 2 and 3 only
    assert hits_misses(r) == [(2, 0), (2, 2)]


@node(output="y")
def large(x):
    return "v" * 200_000


def test_repeated_items_count_each_time_toward_the_pack_limit(mem):
    chain_map(mem, [1] * 50, pipe=Pipeline([large]))
    assert (mem.stats().entries, mem.stats().packs) == (1, 0)  # 50 x 200 KB: over 1 MiB
    mem.clear()
    chain_map(mem, [1] * 5, pipe=Pipeline([large]))  # 5 x 200 KB = 1,000,000 bytes: under
    assert (mem.stats().entries, mem.stats().packs) == (1, 1)


def test_reading_a_pack_keeps_its_items_alive_for_prune(tmp_path):
    store = SQLiteStore(tmp_path / "c")
    store.touch_interval = 0.0  # record every access
    a, b = range(100), range(1000, 1100)
    chain_map(store, a)
    chain_map(store, b)
    for _ in range(3):
        chain_map(store, a)  # read through packs only
    store.close()
    total = store.stats().bytes
    store.prune(total // 2)
    CALLS.clear()
    subset = chain_map(store, list(a)[::2])  # other chunks: read item by item
    assert hits_misses(subset) == [(50, 0), (50, 0)] and CALLS == []
    store.close()


@node(output="a")
def fa(x):
    return x + 100


@node(output="b")
def fb(x):
    return -x


@node(output="sa")
def use_a(a):
    return ("A", a)


@node(output="sb")
def use_b(b):
    return ("B", b)


@pytest.mark.parametrize("order", [(["sa", "sb"], ["sa"]), (["sa"], ["sa", "sb"])])
def test_nested_step_computing_fewer_outputs_has_its_own_key(mem, order):
    nest = Pipeline([fa, fb], name="inner").as_node(name="nest", over="x")
    outer = Pipeline([nest, use_a, use_b])
    xs = [[1, 2], [3]]
    want = {"sa": [("A", [101, 102]), ("A", [103])], "sb": [("B", [-1, -2]), ("B", [-3])]}
    for outputs in order:
        r = outer.map({"x": xs}, over="x", outputs=outputs, engine=Local(chunk_size=2),
                      cache=Cache(store=mem))
        assert {name: r[name] for name in outputs} == {name: want[name] for name in outputs}


def test_pack_with_overflowing_seconds_is_a_miss(mem):
    chain_map(mem, range(50))
    mem.put_many({}, dict.fromkeys(pack_keys(mem), serialize.dumps(([1] * 50, [10**400] * 50))))
    again = chain_map(mem, range(50))
    assert again["z"] == [2 * (x + 1) for x in range(50)]


def test_large_results_spread_over_blob_directories(tmp_path):
    store = SQLiteStore(tmp_path / "c")
    chain_map(store, range(8), pipe=Pipeline([large]), chunk=1)
    dirs = {p.parent.name for p in (tmp_path / "c" / "blobs").glob("*/*")}
    assert len(dirs) >= 4  # 8 keys sharing a step prefix, spread by their last byte
    store.close()


class MinimalStore(MemoryStore):
    """A user store written against the older interface: no prefixes_present, no
    get_linked, put_many without packs."""

    prefixes_present = Store.prefixes_present
    get_linked = Store.get_linked

    def put_many(self, items):
        return super().put_many(items)


def test_store_without_the_new_methods_still_works():
    store = MinimalStore()
    first = chain_map(store, range(100))
    CALLS.clear()
    again = chain_map(store, range(100))
    assert again["z"] == first["z"] and CALLS == []
    assert hits_misses(again) == [(100, 0), (100, 0)]


def test_run_asks_no_prefix_and_a_stream_finds_what_it_wrote(mem):
    pipe = Pipeline([inc, dbl])
    assert pipe.run({"x": 1}, cache=Cache(store=mem))["z"] == 4
    assert mem.prefix_calls == []
    CALLS.clear()
    items = (x % 10 for x in range(200))  # a stream repeating ten items
    out = list(pipe.imap({"x": items}, over="x", cache=Cache(store=mem),
                         engine=Local(chunk_size=50)))
    assert len(out) == 200
    assert len(ran("inc")) < 200  # the repeats were found in the cache
