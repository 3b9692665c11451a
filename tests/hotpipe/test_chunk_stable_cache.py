"""A cached map on an engine that sizes its own chunks cuts them on a grid fixed by the item
count (``schedule.stable_chunk``): a warm rerun reads every pack the cold run wrote."""

from __future__ import annotations

import time

import pytest

from hotpipe import Cache, Pipeline, Processes, Threads, node
from hotpipe.cache import SQLiteStore
from hotpipe.schedule import IN_PROCESS_CHUNK, STABLE_MIN, stable_chunk


@node(output="y")
def slowish(x):
    time.sleep(0.0002)  # a probe would take a different number of items on every run
    return x * 3


@node(output="z")
def label(y):
    return f"v{y}"


def test_stable_chunk_depends_on_the_item_count_only():
    assert stable_chunk(0) == stable_chunk(1) == STABLE_MIN
    assert stable_chunk(5_000) == 128
    assert stable_chunk(10**7) == IN_PROCESS_CHUNK
    sizes = [stable_chunk(n) for n in range(1, 100_000, 997)]
    assert sizes == sorted(sizes)  # more items, never smaller chunks
    assert all(s & (s - 1) == 0 for s in sizes)  # powers of two


def _packs(store: SQLiteStore) -> int:
    return store.stats().packs


@pytest.mark.parametrize("engine", [lambda: Processes(2), lambda: Threads(3)],
                         ids=["processes", "threads"])
def test_a_warm_rerun_hits_every_pack_the_cold_run_wrote(tmp_path, engine):
    pipe = Pipeline([slowish, label], name="stable")
    xs = list(range(600))
    store = SQLiteStore(tmp_path / "c")
    cache = Cache(store=store)
    eng = engine()
    cold = pipe.map({"x": xs}, over="x", engine=eng, cache=cache)
    grid = stable_chunk(len(xs))
    chunks = -(-len(xs) // grid)
    assert _packs(store) == chunks * 2  # one pack per chunk and node
    assert [(n.hits, n.misses) for n in cold.profile.nodes] == [(0, 600), (0, 600)]

    warm = pipe.map({"x": xs}, over="x", engine=eng, cache=cache)
    assert warm["y"] == cold["y"] == [x * 3 for x in xs]
    assert warm["z"] == cold["z"]
    assert [(n.hits, n.misses) for n in warm.profile.nodes] == [(600, 0), (600, 0)]
    # a pack that missed would be written again under the new chunk's key
    assert _packs(store) == chunks * 2
    store.close()


def test_a_cached_map_with_progress_keeps_its_chunks(tmp_path):
    pipe = Pipeline([slowish, label], name="stable-progress")
    store = SQLiteStore(tmp_path / "c")
    cache = Cache(store=store)
    seen: list[int] = []
    pipe.map({"x": list(range(300))}, over="x", engine=Threads(2), cache=cache)
    packs = _packs(store)
    again = pipe.map({"x": list(range(300))}, over="x", engine=Threads(2), cache=cache,
                     progress=seen.append)
    assert [n.misses for n in again.profile.nodes] == [0, 0]
    assert _packs(store) == packs
    assert sum(seen) == 300
    store.close()
