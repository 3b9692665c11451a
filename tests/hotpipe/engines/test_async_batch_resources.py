"""async def nodes, batch nodes and resources, on every engine."""

import asyncio
import os
import threading
import time

import numpy as np
import pytest

from hotpipe import (
    FAILED,
    DefinitionError,
    NodeError,
    Pipeline,
    Processes,
    Threads,
    node,
    resource,
)

# --------------------------------------------------------------------------- async


@node(output="y", max_concurrency=8)
async def fetch(x):
    await asyncio.sleep(0.02)
    if x == 13:
        raise ConnectionError("host unreachable")
    return x * 2


IN_FLIGHT = [0]


@node(output="seen")
async def overlapping(x):
    """Returns how many items of this process were in flight while this one waited."""
    IN_FLIGHT[0] += 1
    await asyncio.sleep(0.02)
    seen = IN_FLIGHT[0]
    await asyncio.sleep(0)
    IN_FLIGHT[0] -= 1
    return seen


def test_async_map_runs_items_concurrently(engine):
    p = Pipeline([fetch])
    r = p.map({"x": list(range(24))}, over="x", on_error="collect", engine=engine)
    assert r["y"][:13] == [x * 2 for x in range(13)] and r["y"][13] is FAILED
    assert isinstance(r.errors[0].exception, ConnectionError)
    seen = Pipeline([overlapping]).map({"x": list(range(24))}, over="x", engine=engine)["seen"]
    assert max(seen) > 1  # items waited at the same time


def test_async_run_and_broadcast(engine):
    p = Pipeline([fetch, node(lambda y: y + 1, output="z")])
    assert p.run({"x": 2}, engine=engine) == {"y": 4, "z": 5}
    with pytest.raises(NodeError) as info:
        p.run({"x": 13}, engine=engine)
    assert isinstance(info.value.__cause__, ConnectionError) and info.value.node == "fetch"


def test_async_max_concurrency_is_respected():
    running, peak = [0], [0]

    @node(output="y", max_concurrency=3)
    async def limited(x):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.01)
        running[0] -= 1
        return x

    Pipeline([limited]).map({"x": list(range(20))}, over="x")
    assert peak[0] == 3


def test_async_inside_a_running_event_loop():
    # a caller that already runs a loop (Jupyter does) can still run pipelines
    async def main():
        return Pipeline([fetch]).run({"x": 4})

    assert asyncio.run(main()) == {"y": 8}


# --------------------------------------------------------------------------- batch


@node(output="root")
def root(x):
    return np.sqrt(np.float64(x))


@root.batch
def root(x):
    return np.sqrt(np.asarray(x, dtype=np.float64))


@node(output="norm", batch=True)
def normalise(v, scale):
    assert isinstance(v, list) and isinstance(scale, list) and len(v) == len(scale)
    return [a / b for a, b in zip(v, scale, strict=True)]


def test_batch_values_identical_to_singular(engine):
    xs = list(range(300))
    single = Pipeline([node(root.func, output="root")]).map({"x": xs}, over="x")["root"]
    r = Pipeline([root]).map({"x": xs}, over="x", engine=engine)
    assert r["root"] == single
    assert all(type(a) is type(b) for a, b in zip(r["root"], single, strict=True))
    prof = r.profile["root"]
    assert prof.items == 300 and prof.calls < 300


def test_batch_true_in_map_and_run(engine):
    p = Pipeline([normalise])
    assert p.map({"v": [2, 4, 6], "scale": 2}, over="v", engine=engine)["norm"] == [1, 2, 3]
    assert p.run({"v": 9, "scale": 3}, engine=engine) == {"norm": 3.0}


def test_batch_size_fixed_and_learned():
    sizes = []

    @node(output="y", batch=True, batch_size=5)
    def fixed(x):
        sizes.append(len(x))
        return x

    Pipeline([fixed]).map({"x": list(range(12))}, over="x")
    assert sizes == [5, 5, 2]

    seen = []

    @node(output="y", batch=True)
    def learned(x):
        seen.append(len(x))
        time.sleep(0.001)  # a fixed cost per call: bigger batches pay off
        return x

    Pipeline([learned]).map({"x": list(range(1000))}, over="x")
    assert seen[0] == 16 and max(seen) > 16


def test_batch_failure_located_with_singular_function():
    @node(output="y")
    def inv(x):
        return 1 / x

    @inv.batch
    def inv(x):
        return [1 / v for v in x]

    r = Pipeline([inv]).map({"x": [1, 2, 0, 4]}, over="x", on_error="collect")
    assert r["y"] == [1.0, 0.5, FAILED, 0.25]
    assert [e.index for e in r.errors] == [2]


def test_batch_wrong_length_is_clear():
    bad = node(lambda x: x[:-1], output="y", batch=True)
    with pytest.raises(NodeError, match="returned 2 results for a batch of 3"):
        Pipeline([bad]).map({"x": [1, 2, 3]}, over="x")


def test_batch_definition_errors():
    with pytest.raises(DefinitionError, match="same parameter names"):
        root.batch(lambda y: y)
    with pytest.raises(DefinitionError, match="batch_size needs batch=True"):
        node(lambda x: x, output="y", batch_size=4)
    with pytest.raises(DefinitionError, match="async def nodes only"):
        node(lambda x: x, output="y", max_concurrency=4)


# --------------------------------------------------------------------------- resources

BUILDS = []


class Encoder:
    def __init__(self, dim):
        BUILDS.append((os.getpid(), threading.get_ident()))
        self.dim = dim
        time.sleep(0.05)  # slow to build: a race would build it twice

    def encode(self, text):
        return [len(text)] * self.dim


@node(output="emb")
def embed(text, encoder):
    return encoder.encode(text)


def test_resource_built_once_per_process_and_shared_by_threads():
    BUILDS.clear()
    enc = resource(Encoder, 2)
    p = Pipeline([embed])
    texts = [f"t{i}" * (i % 3 + 1) for i in range(40)]
    r = p.map({"text": texts, "encoder": enc}, over="text", engine=Threads(8, chunk_size=1))
    assert r["emb"][0] == [2, 2]
    assert len(BUILDS) == 1
    p.map({"text": texts, "encoder": enc}, over="text")
    assert len(BUILDS) == 1 and enc.built
    assert "built" in repr(enc)


def test_resource_in_processes_is_built_in_workers_not_pickled():
    enc = resource(Encoder, 3)
    p = Pipeline([embed, node(lambda emb: os.getpid(), output="pid")])
    r = p.map({"text": ["a", "bb", "ccc", "dd"] * 3, "encoder": enc}, over="text",
              engine=Processes(2, chunk_size=2))
    assert r["emb"][2] == [3, 3, 3]
    assert os.getpid() not in set(r["pid"])
    assert not enc.built  # never built in this process


def test_resource_in_run_and_bound():
    enc = resource(Encoder, 1)
    assert Pipeline([embed]).run({"text": "abc", "encoder": enc}) == {"emb": [3]}
    bound = Pipeline([embed]).bind(encoder=enc)
    assert bound.map({"text": ["a", "ab"]}, over="text")["emb"] == [[1], [2]]


def test_batch_node_receives_built_resource():
    @node(output="emb", batch=True)
    def embed_many(text, encoder):
        assert isinstance(encoder, Encoder) and isinstance(text, list)
        return [encoder.encode(t) for t in text]

    enc = resource(Encoder, 1)
    p = Pipeline([embed_many])
    assert p.map({"text": ["a", "bb"], "encoder": enc}, over="text")["emb"] == [[1], [2]]
    assert p.run({"text": "xyz", "encoder": enc}) == {"emb": [3]}


def test_cached_run_and_map_hand_nodes_the_built_resource(engine, tmp_path):
    """Issue 11: with a cache, run() handed the node the unbuilt declaration; every engine,
    run and map, a bound resource and a batch node get the built object (cold and warm)."""
    from hotpipe import Cache

    @node(output="n", batch=True)
    def count_many(emb, encoder):
        assert isinstance(encoder, Encoder)
        return [len(e) for e in emb]

    enc = resource(Encoder, 2)
    p = Pipeline([embed, count_many])
    cache = Cache(tmp_path / "c")
    for _ in range(2):  # cold, then warm
        assert p.run({"text": "abc", "encoder": enc}, engine=engine, cache=cache) == {
            "emb": [3, 3], "n": 2}
        r = p.map({"text": ["a", "bb", "ccc"], "encoder": enc}, over="text", engine=engine,
                  cache=cache)
        assert r["emb"] == [[1, 1], [2, 2], [3, 3]] and r["n"] == [2, 2, 2]
    bound = p.bind(encoder=resource(Encoder, 1))
    assert bound.run({"text": "ab"}, engine=engine, cache=cache)["emb"] == [2]
    only = Pipeline([node(lambda encoder: encoder.dim, output="dim", name="dim")])
    assert only.run({"encoder": enc}, engine=engine, cache=cache) == {"dim": 2}
