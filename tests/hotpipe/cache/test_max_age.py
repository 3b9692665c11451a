"""``Cache(max_age=)``: entries written longer ago are misses, recomputed and overwritten."""

import sqlite3
import time
from datetime import timedelta

import pytest

import hotpipe
from hotpipe import Cache, InputError, Pipeline, node
from hotpipe.cache.memory import MemoryStore


def _counted(calls):
    @node(output="y")
    def double(x):
        calls.append(x)
        return x * 2

    return Pipeline([double])


@pytest.mark.parametrize("store", ["sqlite", "memory"])
def test_entries_older_than_max_age_are_recomputed_and_overwritten(tmp_path, store):
    def cache():
        if store == "memory":
            return Cache(store=memory, max_age=0.5)
        return Cache(tmp_path / "c", max_age=timedelta(seconds=0.5))

    memory = MemoryStore()
    calls = []
    pipe = _counted(calls)
    inputs = {"x": [1, 2, 3]}
    assert pipe.map(inputs, over="x", cache=cache())["y"] == [2, 4, 6]
    assert calls == [1, 2, 3]
    warm = pipe.map(inputs, over="x", cache=cache())
    assert calls == [1, 2, 3] and warm.profile["double"].hits == 3  # young: hits
    time.sleep(0.6)
    expired = pipe.map(inputs, over="x", cache=cache())
    assert expired["y"] == [2, 4, 6] and calls == [1, 2, 3] * 2
    assert expired.profile["double"].hits == 0
    again = pipe.map(inputs, over="x", cache=cache())  # overwritten with a new time
    assert again.profile["double"].hits == 3 and calls == [1, 2, 3] * 2
    assert pipe.run({"x": 1}, cache=cache())["y"] == 2 and calls == [1, 2, 3] * 2


def test_without_max_age_nothing_expires(tmp_path):
    calls = []
    pipe = _counted(calls)
    pipe.map({"x": [1, 2]}, over="x", cache=Cache(tmp_path / "c", max_age=0.2))
    time.sleep(0.3)
    r = pipe.map({"x": [1, 2]}, over="x", cache=Cache(tmp_path / "c"))
    assert r.profile["double"].hits == 2 and calls == [1, 2]


def test_max_age_on_processes(tmp_path):
    calls = []
    pipe = _counted(calls)
    cache = Cache(tmp_path / "c", max_age=0.5)
    engine = hotpipe.Processes(2, chunk_size=2)
    pipe.map({"x": [1, 2, 3, 4]}, over="x", cache=cache, engine=engine)
    assert pipe.map({"x": [1, 2, 3, 4]}, over="x", cache=cache,
                    engine=engine).profile["double"].hits == 4
    time.sleep(0.6)
    assert pipe.map({"x": [1, 2, 3, 4]}, over="x", cache=cache,
                    engine=engine).profile["double"].hits == 0


def test_an_index_without_write_times_is_migrated(tmp_path):
    calls = []
    pipe = _counted(calls)
    path = tmp_path / "c"
    first = Cache(path)
    pipe.map({"x": [1, 2]}, over="x", cache=first)
    first.close()
    conn = sqlite3.connect(path / "index.sqlite")  # as an older hotpipe wrote it
    conn.execute("ALTER TABLE entries DROP COLUMN written")
    conn.close()
    r = pipe.map({"x": [1, 2]}, over="x", cache=Cache(path))
    assert r.profile["double"].hits == 2  # still read without max_age
    conn = sqlite3.connect(path / "index.sqlite")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(entries)")]
    conn.close()
    assert "written" in columns  # the column came back when opened for writing
    r = pipe.map({"x": [1, 2]}, over="x", cache=Cache(path, max_age=3600))
    assert r.profile["double"].hits == 0 and calls == [1, 2, 1, 2]  # no time: expired
    r = pipe.map({"x": [1, 2]}, over="x", cache=Cache(path, max_age=3600))
    assert r.profile["double"].hits == 2


@pytest.mark.parametrize("bad", [0, -1, "1h", True, float("inf"), timedelta(0)])
def test_bad_max_age_is_an_input_error(tmp_path, bad):
    with pytest.raises(InputError, match="max_age"):
        Cache(tmp_path / "c", max_age=bad)


def test_a_store_without_write_times_refuses_max_age():
    from hotpipe.cache.store import NullStore

    with pytest.raises(InputError, match="keeps no write times"):
        Cache(store=NullStore(), max_age=10)
