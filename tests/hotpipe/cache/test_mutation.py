"""A node that mutates its input (issue 11): the cache stores each value as its node
returned it, serialised before any other node sees it, so a cached run (cold or warm) gives
the values an uncached run gives. Before, a chunk's values were pickled when the chunk ended,
after later nodes had mutated them, and a warm run returned (or fed on) the mutated value."""

from __future__ import annotations

import pytest

from hotpipe import Pipeline, Processes, Threads, node
from hotpipe.cache import Cache


@node(output="a")
def make(x):
    return [x]


def _grow(a):
    a.append(0)  # mutates the value `make` returned
    return len(a)


grow = node(_grow, output="n", name="grow")
grow_uncached = node(_grow, output="n", name="grow", cache=False)


@node(output="c")
def const():
    return {"k": 1}  # a once-per-map step


@node(output="m")
def spoil(c):
    c["k"] += 1  # another once-per-map step mutates it
    return c["k"]


@node(output="y")
def ident(x):
    return x


def _pipes():
    return {"cached-grow": Pipeline([make, grow]), "uncached-grow": Pipeline([make, grow_uncached])}


ENGINES = {"local": lambda: None, "threads": lambda: Threads(2, chunk_size=2),
           "processes": lambda: Processes(2, chunk_size=2)}
try:  # a cached map on Daft stores from the driver what its queries computed
    import daft  # noqa: F401

    from hotpipe import Daft

    ENGINES["daft"] = Daft
except ImportError:
    pass


@pytest.mark.parametrize("which", ["cached-grow", "uncached-grow"])
@pytest.mark.parametrize("eng", sorted(ENGINES))
def test_map_cold_and_warm_give_the_uncached_values(tmp_path, which, eng):
    pipe = _pipes()[which]
    engine = ENGINES[eng]()
    xs = {"x": [1, 2, 3, 1]}
    expect_a = pipe.map(xs, over="x", outputs="a", engine=engine)["a"]
    expect_n = pipe.map(xs, over="x", outputs="n", engine=engine)["n"]
    assert expect_a == [[1], [2], [3], [1]] and expect_n == [2, 2, 2, 2]
    cache = Cache(tmp_path / "c")
    cold = pipe.map(xs, over="x", engine=engine, cache=cache)
    assert cold["n"] == expect_n  # the cold run itself mutates `a`, as an uncached run does
    for _ in range(2):  # warm, twice: packs (same chunks), then again
        assert pipe.map(xs, over="x", outputs="a", engine=engine, cache=cache)["a"] == expect_a
        assert pipe.map(xs, over="x", outputs="n", engine=engine, cache=cache)["n"] == expect_n
    # other chunks: per-item entries, not packs
    rev = {"x": xs["x"][::-1]}
    assert pipe.map(rev, over="x", outputs="a", cache=cache)["a"] == expect_a[::-1]
    assert pipe.map(rev, over="x", outputs="n", cache=cache)["n"] == expect_n[::-1]


@pytest.mark.parametrize("which", ["cached-grow", "uncached-grow"])
def test_run_cold_and_warm_give_the_uncached_values(tmp_path, which):
    pipe = _pipes()[which]
    cache = Cache(tmp_path / "c")
    assert pipe.run({"x": 5}, cache=cache)["n"] == 2
    for _ in range(2):
        assert pipe.run({"x": 5}, outputs="a", cache=cache)["a"] == [5]
        assert pipe.run({"x": 5}, outputs="n", cache=cache)["n"] == 2


def test_once_per_map_values_are_stored_as_produced(tmp_path):
    pipe = Pipeline([const, spoil, ident])
    cache = Cache(tmp_path / "c")
    assert pipe.map({"x": [1, 2]}, over="x", cache=cache)["m"] == [2, 2]
    assert pipe.map({"x": [1, 2]}, over="x", outputs="c")["c"] == [{"k": 1}] * 2
    assert pipe.map({"x": [1, 2]}, over="x", outputs="c", cache=cache)["c"] == [{"k": 1}] * 2
    assert pipe.run({"x": 1}, outputs="c", cache=cache)["c"] == {"k": 1}


@pytest.mark.parametrize("which", ["cached-grow", "uncached-grow"])
def test_nested_map_cold_and_warm_give_the_uncached_values(tmp_path, which):
    inner = _pipes()[which]
    per = inner.as_node(name="per", over="x", inputs={"xs": "x"},
                        outputs={"a": "as_", "n": "ns"})
    pipe = Pipeline([per])
    data = {"xs": [[1, 2], [3], [1, 1, 4]]}
    expect_a = pipe.map(data, over="xs", outputs="as_")["as_"]
    expect_n = pipe.map(data, over="xs", outputs="ns")["ns"]
    assert expect_a == [[[1], [2]], [[3]], [[1], [1], [4]]]
    cache = Cache(tmp_path / "c")
    assert pipe.map(data, over="xs", cache=cache)["ns"] == expect_n
    for _ in range(2):
        assert pipe.map(data, over="xs", outputs="as_", cache=cache)["as_"] == expect_a
        assert pipe.map(data, over="xs", outputs="ns", cache=cache)["ns"] == expect_n


@node(output="seen", cache=False)
def look(a):
    return list(a)  # reads `a` after (or before) `grow` mutated it


def test_cold_run_calls_nodes_in_the_uncached_order(tmp_path):
    """Demand-driven evaluation must not reorder a cold run: `look` sees `a` after `grow`,
    as without a cache, whatever order the outputs are asked in."""
    pipe = Pipeline([make, grow, look])
    asked = ["seen", "n"]
    plain = pipe.map({"x": [1, 2]}, over="x", outputs=asked)
    assert plain["seen"] == [[1, 0], [2, 0]]
    cold = pipe.map({"x": [1, 2]}, over="x", outputs=asked, cache=Cache(tmp_path / "c"))
    assert cold["seen"] == plain["seen"] and cold["n"] == plain["n"]
