"""Default in-process chunks grow for cheap, small, uncached items and stay put otherwise."""

from __future__ import annotations

import numpy as np

from hotpipe import Cache, Local, Pipeline, node
from hotpipe.schedule import IN_PROCESS_CHUNK

N = 20_000


def _chunks(pipe: Pipeline, **kw) -> int:
    return pipe.map({"x": list(range(N))}, over="x", **kw).profile.stats.chunks


def test_cheap_small_values_grow_the_chunk():
    pipe = Pipeline([node(lambda x: x + 1, output="y")])
    assert _chunks(pipe) < N // IN_PROCESS_CHUNK


def test_an_explicit_chunk_size_is_kept():
    pipe = Pipeline([node(lambda x: x + 1, output="y")])
    assert _chunks(pipe, engine=Local(chunk_size=500)) == N // 500


def test_large_values_keep_the_default_chunk():
    pipe = Pipeline([node(lambda x: np.zeros(512), output="y")])  # 4 KiB each
    assert _chunks(pipe) == -(-N // IN_PROCESS_CHUNK)


def test_a_cached_map_keeps_the_default_chunk(tmp_path):
    pipe = Pipeline([node(lambda x: x + 1, output="y")])
    assert _chunks(pipe, cache=Cache(tmp_path / "c")) == -(-N // IN_PROCESS_CHUNK)


def test_grown_chunks_keep_item_order_and_every_output():
    # the first chunk is short and the grown one long: the merge puts the short prefix in
    # front of the long chunk instead of copying the long one
    pipe = Pipeline([node(lambda x: x + 1, output="y"), node(lambda y: (y, -y), output=("a", "b"))])
    r = pipe.map({"x": list(range(N))}, over="x")
    assert r.profile.stats.chunks > 1
    assert r["y"] == [x + 1 for x in range(N)]
    assert r["a"] == r["y"] and r["b"] == [-(x + 1) for x in range(N)]
