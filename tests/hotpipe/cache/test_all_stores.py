"""One conformance suite over every registered store (``hotpipe.cache.STORES``), and every
store under every engine. A new store is done when it passes this file."""

from __future__ import annotations

import pickle
import time

import pytest

from hotpipe import Local, Pipeline, Processes, Threads, node
from hotpipe.cache import STORES, Cache, NullStore, Store, open_store

KINDS = sorted(STORES)
KEEPING = sorted(name for name, kind in STORES.items() if kind.keeps)


def key(i: int) -> bytes:
    return i.to_bytes(16, "big")


def payload(i: int, size: int = 32) -> bytes:
    seed = i.to_bytes(8, "big")
    return (seed * (size // 8 + 1))[:size]


@pytest.fixture(params=KEEPING)
def store(request, tmp_path):
    s = open_store(request.param, tmp_path / "c")
    yield s
    s.close()


@pytest.fixture(params=KINDS)
def any_store(request, tmp_path):
    s = open_store(request.param, tmp_path / "c")
    yield s
    s.close()


def test_the_registry_opens_every_kind(tmp_path):
    assert {"memory", "sqlite", "null"} <= set(STORES)
    for name in KINDS:
        with open_store(name, tmp_path / name) as s:
            assert isinstance(s, Store)
    with pytest.raises(ValueError, match="the stores are"):
        open_store("nope")


# --- what every store does, the null store included ---------------------------------------


def test_every_store_answers_every_primitive(any_store):
    any_store.put_many({key(1): b"x"}, {key(2): b"pack"})
    found = any_store.get_many([key(1), key(3)])
    assert found in ({key(1): b"x"}, {})
    assert any_store.get_linked([key(2)], lambda k: [key(1)]) in ({key(2): b"pack"}, {})
    assert any_store.contains_many([key(3)]) == set()
    assert any_store.prefixes_present([key(3)[:8]]) <= {key(3)[:8]}
    assert any_store.delete([key(3)]) == 0
    assert any_store.stats().entries in (0, 1)
    any_store.prune(0)
    any_store.clear()
    assert any_store.get_many([key(1)]) == {}
    any_store.close()


def test_the_null_store_keeps_nothing():
    s = open_store("null")
    assert isinstance(s, NullStore)
    s.put_many({key(1): b"x"})
    assert (s.get_many([key(1)]), s.stats().entries, s.prune(0)) == ({}, 0, 0)


# --- stores that keep values ----------------------------------------------------------------


def test_put_get_contains_delete(store):
    items = {key(i): payload(i) for i in range(1200)}
    store.put_many(items)
    assert store.get_many(list(items)) == items
    assert store.get_many([key(5000)]) == {}
    assert store.contains_many([key(1), key(5000)]) == {key(1)}
    assert store.delete([key(1), key(2), key(5000)]) == 2
    assert store.contains_many([key(1), key(2), key(3)]) == {key(3)}


def test_overwrite_and_empty_payload(store):
    store.put_many({key(1): b"old", key(2): b""})
    store.put_many({key(1): b"new"})
    assert store.get_many([key(1), key(2)]) == {key(1): b"new", key(2): b""}


def test_stats_and_clear(store):
    assert store.stats().entries == 0
    store.put_many({key(i): payload(i, 100) for i in range(10)})
    stats = store.stats()
    assert (stats.entries, stats.bytes) == (10, 1000)
    assert stats.oldest_access <= stats.newest_access
    store.clear()
    assert store.stats().entries == 0
    assert store.get_many([key(1)]) == {}


def test_prune_removes_least_recently_used_first(store):
    if hasattr(store, "touch_interval"):
        store.touch_interval = 0.0  # record every access (the default resolution is 1 hour)
    for i in range(5):
        store.put_many({key(i): payload(i, 100)})
        time.sleep(0.01)
    store.get_many([key(0)])  # the oldest write becomes the most recent access
    assert store.prune(300) == 2
    assert store.contains_many([key(i) for i in range(5)]) == {key(0), key(3), key(4)}
    assert store.prune(10_000) == 0


def test_large_payloads_round_trip(store):
    big = {key(i): payload(i, 200_000 + i) for i in range(3)}
    store.put_many(big)
    assert store.get_many(list(big)) == big
    assert store.stats().bytes == sum(map(len, big.values()))


def test_reopened_store_sees_the_entries_when_persistent(request, tmp_path):
    for name in KEEPING:
        kind = STORES[name]
        with open_store(name, tmp_path / name) as s:
            s.put_many({key(1): b"kept"})
        with open_store(name, tmp_path / name) as again:
            found = again.get_many([key(1)])
        assert found == ({key(1): b"kept"} if kind.persistent else {}), name


def test_a_pickled_persistent_store_reopens_on_the_same_entries(tmp_path):
    for name in KEEPING:
        if not STORES[name].persistent:
            continue
        with open_store(name, tmp_path / name) as s:
            s.put_many({key(1): b"v"})
            clone = pickle.loads(pickle.dumps(s))
        assert clone.get_many([key(1)]) == {key(1): b"v"}
        clone.close()


# --- stores x engines -------------------------------------------------------------------------


@node(output="sq")
def _square(x):
    return x * x


@node(output="out")
def _plus_one(sq):
    return sq + 1


ENGINES = {
    "local": lambda: Local(chunk_size=4),
    "threads": lambda: Threads(2, chunk_size=3),
    "processes": lambda: Processes(2, chunk_size=4),
}


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("kind", KINDS)
def test_cached_map_equals_uncached_on_every_store_and_engine(kind, engine, tmp_path):
    if engine == "processes" and not STORES[kind].persistent and STORES[kind].keeps:
        pytest.skip("a store in one process's memory is not shared with worker processes")
    pipe = Pipeline([_square, _plus_one], name="sq")
    xs = list(range(30))
    want = pipe.map({"x": xs}, over="x")["out"]
    with open_store(kind, tmp_path / "c") as s:
        cache = Cache(store=s)
        cold = pipe.map({"x": xs}, over="x", cache=cache, engine=ENGINES[engine]())
        warm = pipe.map({"x": xs}, over="x", cache=cache, engine=ENGINES[engine]())
        assert cold["out"] == warm["out"] == want
        hits = warm.profile["_plus_one"].hits
        assert hits == (len(xs) if STORES[kind].keeps else 0)
        groups = s.by_prefix()  # the per-node breakdown names the nodes, on every engine
        if STORES[kind].keeps:
            assert {(g.node, g.pipeline, g.entries) for g in groups} == {
                ("_square", "sq", len(xs)), ("_plus_one", "sq", len(xs))}
        else:
            assert groups == []


# --- by_prefix: what a store holds per key prefix (one per pipeline step) -------------------


def test_by_prefix_counts_entries_packs_bytes_and_labels(store):
    a, b = b"A" * 8, b"B" * 8
    store.put_many({a + key(i): payload(i, 10) for i in range(3)}, {a + b"pack" * 4: b"p" * 5},
                   labels={a: ("inc", "pipe")})
    store.put_many({b + key(1): b"xy"})
    rows = {g.prefix: g for g in store.by_prefix()}
    assert set(rows) == {a, b}
    assert (rows[a].node, rows[a].pipeline, rows[a].entries, rows[a].packs, rows[a].bytes) \
        == ("inc", "pipe", 3, 1, 35)
    assert (rows[b].node, rows[b].entries, rows[b].bytes) == (None, 1, 2)  # never labelled
    assert rows[a].oldest_access <= rows[a].newest_access
    assert [g.prefix for g in store.by_prefix()] == [a, b]  # largest first
    store.put_many({a + key(9): b"z"}, labels={a: ("inc2", "pipe")})  # a renamed node
    assert {g.prefix: g.node for g in store.by_prefix()}[a] == "inc2"
    store.delete([b + key(1)])
    assert [g.prefix for g in store.by_prefix()] == [a]
    store.clear()
    assert store.by_prefix() == []


def test_a_store_without_labels_still_works_under_cache():
    """A third-party store whose ``put_many`` takes no ``labels`` gets none (nor an error)."""
    from hotpipe.cache import MemoryStore

    class Old(MemoryStore):
        def put_many(self, items, packs=None):  # an older signature
            super().put_many(items, packs)

    old = Old()
    pipe = Pipeline([_square], name="sq")
    pipe.map({"x": [1, 2, 3]}, over="x", cache=Cache(store=old))
    assert [(g.node, g.entries) for g in old.by_prefix()] == [(None, 3)]
    assert pipe.map({"x": [1, 2, 3]}, over="x", cache=Cache(store=old)).profile[
        "_square"].hits == 3


# --- prefixes_present and put_many (every store keeping values) -------------------------------




def test_prefixes_present_on_an_empty_store(store):
    assert store.prefixes_present([]) == set()
    assert store.prefixes_present([b"\x00" * 8, b"\xff" * 8, b"abcdefgh"]) == set()


def test_prefixes_present(store):
    ff = b"\xff" * 8
    keys = [
        b"abcdefgh" + b"k" * 16,
        ff + b"\x00" * 16,
        b"\x00\xff\xff\xff\xff\xff\xff\xff" + b"x" * 16,
    ]
    store.put_many({k: b"v" for k in keys}, {b"packpack" + b"p" * 16: b"pack"})
    asked = [
        b"abcdefgh", ff, b"\x00\xff\xff\xff\xff\xff\xff\xff", b"packpack",  # present
        b"abcdefgi", b"abcdefgg", b"\xfe" + b"\xff" * 7, b"\x00" * 8,  # neighbours
        b"\x01\x00\x00\x00\x00\x00\x00\x00", b"\xff" * 7 + b"\xfe",
    ]
    assert store.prefixes_present(iter(asked)) == set(asked[:4])
    assert store.prefixes_present([ff]) == {ff}
    store.delete([ff + b"\x00" * 16])
    assert store.prefixes_present([ff, b"abcdefgh"]) == {b"abcdefgh"}


def test_prefixes_of_other_lengths(store):
    assert store.prefixes_present([b""]) == set()
    store.put_many({b"abcdefgh" + b"k" * 16: b"v", b"short": b"s"})
    asked = [b"", b"a", b"abcdefg", b"abcdefgh", b"abcdefghk", b"abcdefghkkkk", b"sh",
             b"short", b"shortxyz", b"abcdefghx", b"b", b"abcdefgi"]
    assert store.prefixes_present(asked) == set(asked[:8])


def test_prefixes_follow_deletes_prunes_and_clear(store):
    a1, a2, b1 = b"aaaaaaaa" + b"1" * 16, b"aaaaaaaa" + b"2" * 16, b"bbbbbbbb" + b"1" * 16
    store.put_many({a1: b"x", a2: b"y"}, {b1: b"pack"})
    store.put_many({a1: b"x again"})  # an existing key: still counted once
    both = {b"aaaaaaaa", b"bbbbbbbb"}
    assert store.prefixes_present(both) == both
    store.delete([a1])
    assert store.prefixes_present(both) == both
    store.delete([a2])
    assert store.prefixes_present(both) == {b"bbbbbbbb"}
    store.put_many({a1: b"x"})
    assert store.prune(0) == 2
    assert store.prefixes_present(both) == set()
    store.put_many({a1: b"x"}, {b1: b"pack"})
    store.clear()
    assert store.prefixes_present(both | {b""}) == set()
    store.put_many({a2: b"y"})
    assert store.prefixes_present(both) == {b"aaaaaaaa"}


# --- put_many: new keys only, or replacing ----------------------------------------------------


def test_put_many_new_keys_then_replacing(store):
    k1, k2, k3 = (bytes([i]) * 24 for i in (1, 2, 3))
    store.put_many({k1: b"one", k2: b"two"})
    store.put_many({k3: b"three"})  # new keys only
    assert store.get_many([k1, k2, k3]) == {k1: b"one", k2: b"two", k3: b"three"}
    store.put_many({k1: b"ONE", k3: b"3"}, {k2: b"a pack now"})  # mix: replace
    assert store.get_many([k1, k2, k3]) == {k1: b"ONE", k2: b"a pack now", k3: b"3"}
    stats = store.stats()
    assert (stats.entries, stats.packs) == (2, 1)
    store.put_many({k2: b"an entry again"})
    assert (store.stats().entries, store.stats().packs) == (3, 0)
