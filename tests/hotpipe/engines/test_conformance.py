"""Every engine computes what Local computes: one suite, run over all of them."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotpipe import FAILED, NodeError, Pipeline, node
from tests.hotpipe.test_properties import build, dags, reference


@pytest.fixture(scope="module")
def chain():
    offset = 100  # a closure value: Processes must ship it with cloudpickle

    @node(output="y")
    def inc(x):
        return x + 1

    dbl = node(lambda y: y * 2, output="z")

    @node(output="s")
    def fmt(z):
        return str(z + offset)

    return Pipeline([inc, dbl, fmt], name="chain")


def test_map_values(engine, chain):
    xs = list(range(23))
    r = chain.map({"x": xs}, over="x", engine=engine)
    assert r["s"] == [str((x + 1) * 2 + 100) for x in xs]
    assert r.profile["inc"].items == 23
    assert r.profile.engine == engine.name


def test_run_values(engine, chain):
    assert chain.run({"x": 1}, engine=engine) == {"y": 2, "z": 4, "s": "104"}


def test_empty_map(engine, chain):
    assert chain.map({"x": []}, over="x", engine=engine) == {"y": [], "z": [], "s": []}


def test_product_and_broadcast(engine):
    calls = []

    @node(output="base")
    def load(path):
        calls.append(path)
        return len(path)

    @node(output="v")
    def combine(base, a, b):
        return f"{base}:{a}{b}"

    p = Pipeline([load, combine])
    r = p.map({"path": "abc", "a": [1, 2], "b": ["x", "y"]}, over=["a", "b"], mode="product",
              engine=engine)
    assert r["v"] == ["3:1x", "3:1y", "3:2x", "3:2y"]
    assert r.profile["load"].calls == 1


def test_collect_errors_keep_other_items(engine):
    @node(output="inv")
    def invert(x):
        return 1 / x

    @node(output=("lo", "hi"))
    def around(inv):
        return (inv - 1, inv + 1)

    xs = [1, 0, 2, 0, 4, 5, 0]
    r = Pipeline([invert, around]).map({"x": xs}, over="x", on_error="collect", engine=engine)
    assert r["inv"] == [1.0, FAILED, 0.5, FAILED, 0.25, 0.2, FAILED]
    assert r["hi"][4] == 1.25 and r["lo"][6] is FAILED
    assert sorted(e.index for e in r.errors) == [1, 3, 6]
    assert all(e.node == "invert" and isinstance(e.exception, ZeroDivisionError)
               for e in r.errors)


def test_raise_names_item_and_keeps_type(engine):
    @node(output="inv")
    def invert(x):
        return 1 / x

    with pytest.raises(NodeError) as info:
        Pipeline([invert]).map({"x": [3, 2, 1, 0, 5]}, over="x", engine=engine)
    assert info.value.node == "invert" and info.value.index == 3
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_nested_map_inside_engine(engine):
    inner = Pipeline([node(lambda v: v * v, output="sq")], name="inner")
    per = inner.as_node(name="per", over="v", inputs={"vs": "v"})
    total = node(lambda sq: sum(sq), output="total")
    r = Pipeline([per, total]).map({"vs": [[1, 2], [3], []]}, over="vs", engine=engine)
    assert r["total"] == [5, 9, 0]


def test_progress_counts_every_item(engine, chain):
    seen = []
    chain.map({"x": range(17)}, over="x", engine=engine, progress=seen.append)
    assert sum(seen) == 17


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dags(), st.lists(st.integers(-50, 50), min_size=0, max_size=5))
def test_random_dags_match_reference(engine, dag, a_values):
    specs, nest_upto, bind_b = dag
    pipe = build(specs, nest_upto, bind_b)
    if "a" not in pipe.inputs:
        return
    bound = dict(pipe.bound)
    inputs = {r: 11 * (k + 1) for k, r in enumerate("abc") if r in pipe.inputs}
    inputs["a"] = a_values
    expected = [reference(specs, {**inputs, "a": a, **bound}) for a in a_values]
    got = pipe.map(inputs, over="a", engine=engine)
    assert got == {o: [e[o] for e in expected] for o in pipe.outputs}
