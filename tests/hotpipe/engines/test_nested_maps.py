"""Nested maps run by the engine: values, errors with index paths, profile rows, cache.

Every test runs on every engine (the ``engine`` fixture); the property at the end checks that
random nested DAGs give the reference values with no cache, a cold cache and a warm one.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hotpipe import FAILED, Cache, NodeError, Pipeline, node
from tests.hotpipe.test_properties import _make_function, dags, reference


def _per(inner_nodes, **kwargs):
    return Pipeline(inner_nodes, name="inner").as_node(name="per", **kwargs)


@pytest.fixture(scope="module")
def square_sum():
    sq = node(lambda v: v * v, output="sq")
    per = _per([sq], over="v", inputs={"vs": "v"}, outputs={"sq": "sqs"})
    total = node(lambda sqs: sum(sqs), output="total")
    return Pipeline([per, total], name="outer")


def test_values_and_empty_lists(engine, square_sum):
    vs = [[1, 2], [3], [], list(range(10))]
    r = square_sum.map({"vs": vs}, over="vs", engine=engine)
    assert r["sqs"] == [[1, 4], [9], [], [v * v for v in range(10)]]
    assert r["total"] == [5, 9, 0, 285]


def test_inner_rows_in_profile(engine, square_sum):
    vs = [[1, 2], [3], [], [4, 5, 6]]
    prof = square_sum.map({"vs": vs}, over="vs", engine=engine).profile
    names = [n.name for n in prof.nodes]
    assert names == ["per", "per/sq", "total"]
    inner = prof["per/sq"]
    assert inner.items == 6 and inner.phase == "per"
    assert prof["per"].items == 4
    assert inner.wall >= 0 and prof["per"].wall >= 0


def test_zip_product_and_per_outer_inputs(engine):
    calls = {"scale": 0}

    @node(output="k")
    def scale(factor):  # reads no over value: once per outer item, not per inner item
        calls["scale"] += 1
        return factor * 10

    @node(output="out")
    def combine(a, b, k, offset):
        return f"{a}{b}{k + offset}"

    zipped = _per([scale, combine], over=["a", "b"], outputs={"out": "outs"})
    crossed = Pipeline([scale, combine], name="inner").as_node(
        name="per", over=["a", "b"], mode="product", outputs={"out": "outs"})
    items = {"a": [["x", "y"], ["z"]], "b": [[1, 2], [3]], "factor": [1, 2], "offset": 0}
    r = Pipeline([zipped]).map(items, over=["a", "b", "factor"], engine=engine)
    assert r["outs"] == [["x110", "y210"], ["z320"]]
    if engine.name == "local":
        assert calls["scale"] == 2
    r = Pipeline([crossed]).map(items, over=["a", "b", "factor"], engine=engine)
    assert r["outs"] == [["x110", "x210", "y110", "y210"], ["z320"]]


def test_tuple_outputs_bound_and_nesting_inside_nesting(engine):
    @node(output=("lo", "hi"))
    def around(w, width):
        return w - width, w + width

    innermost = Pipeline([around], name="leaf").bind(width=1).as_node(
        name="leaf", over="w", inputs={"ws": "w"}, outputs={"lo": "los", "hi": "his"})
    middle = Pipeline([innermost], name="mid").as_node(
        name="mid", over="ws", inputs={"wss": "ws"}, outputs={"his": "hiss"})
    r = Pipeline([middle]).map({"wss": [[[1, 2], []], [[5]]]}, over="wss", engine=engine)
    assert r["hiss"] == [[[2, 3], []], [[6]]]
    prof = r.profile
    assert [n.name for n in prof.nodes] == ["mid", "mid/leaf", "mid/leaf/around"]
    assert prof["mid/leaf/around"].items == 3


def test_raise_names_inner_node_and_path(engine):
    @node(output="inv")
    def invert(x):
        return 1 / x

    per = _per([invert], over="x", inputs={"xs": "x"}, outputs={"inv": "invs"})
    with pytest.raises(NodeError) as info:
        Pipeline([per]).map({"xs": [[1, 2], [4, 0, 5], [0]]}, over="xs", engine=engine)
    err = info.value
    assert err.node == "per/invert" and err.index == 1 and err.path == (1, 1)
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert "on item 1, inner item 1" in str(err)
    assert str(err).count("traceback") == 1 and "x=0" in str(err)


def test_collect_fails_exactly_the_outer_items(engine):
    @node(output="inv")
    def invert(x):
        return 1 / x

    per = _per([invert], over="x", inputs={"xs": "x"}, outputs={"inv": "invs"})
    count = node(lambda invs: len(invs), output="n")
    r = Pipeline([per, count]).map({"xs": [[1, 2], [4, 0, 0], [5], [0]]}, over="xs",
                                   on_error="collect", engine=engine)
    assert r["invs"] == [[1.0, 0.5], FAILED, [0.2], FAILED]
    assert r["n"] == [2, FAILED, 1, FAILED]
    assert sorted((e.index, e.node, e.path) for e in r.errors) == [
        (1, "per/invert", (1, 1)), (1, "per/invert", (1, 2)), (3, "per/invert", (3, 0))]


def test_bad_inner_values_fail_the_outer_item(engine, square_sum):
    r = square_sum.map({"vs": [[1], 5, [2, 3]]}, over="vs", on_error="collect", engine=engine)
    assert r["sqs"] == [[1], FAILED, [4, 9]]
    (err,) = r.errors
    assert err.index == 1 and err.node == "per" and "sequence of items" in str(err.exception)


def test_run_explodes_too():
    @node(output="inv")
    def invert(x):
        return 1 / x

    per = _per([invert], over="x", inputs={"xs": "x"}, outputs={"inv": "invs"})
    pipe = Pipeline([per])
    r = pipe.run({"xs": [1, 2, 4]})
    assert r["invs"] == [1.0, 0.5, 0.25]
    assert r.profile["per/invert"].calls == 3
    with pytest.raises(NodeError) as info:
        pipe.run({"xs": [1, 0]})
    assert info.value.node == "per/invert" and info.value.index is None
    assert info.value.path == (1,) and "on inner item 1" in str(info.value)


def test_inner_nodes_cached_per_inner_item(engine, square_sum, tmp_path):
    cache = Cache(tmp_path / "c")
    vs = [[1, 2], [3], [4, 5]]
    cold = square_sum.map({"vs": vs}, over="vs", engine=engine, cache=cache)
    assert cold.profile["per/sq"].misses == 5 and cold.profile["per/sq"].hits == 0
    warm = square_sum.map({"vs": vs}, over="vs", engine=engine, cache=cache)
    assert warm["total"] == cold["total"] == [5, 9, 41]
    assert warm.profile["total"].hits == 3  # the outer node is a hit: nothing inner runs
    # one new inner item: only it is computed, the other inner items are hits
    edited = square_sum.map({"vs": [[1, 2], [3, 6]]}, over="vs", engine=engine, cache=cache)
    assert edited["total"] == [5, 45]
    assert edited.profile["per/sq"].hits == 3 and edited.profile["per/sq"].calls == 1


def test_disabled_cache_computes_no_keys():
    import threading

    lock = threading.Lock()  # has no fingerprint: a cache would refuse it
    use = node(lambda v, lock: v + 1, output="w")
    per = _per([use], over="v", inputs={"vs": "v"}, outputs={"w": "ws"})
    r = Pipeline([per]).map({"vs": [[1], [2, 3]], "lock": lock}, over="vs",
                            cache=Cache.disabled())
    assert r["ws"] == [[2], [3, 4]]


# ----------------------------------------------------------------------------- property


def _nested_pipe(specs, wanted):
    nodes = [node(_make_function(i, params, defaults, len(outs)),
                  output=outs[0] if len(outs) == 1 else tuple(outs))
             for i, params, defaults, outs in specs]
    inner = Pipeline(nodes, name="inner")
    per = inner.as_node(name="per", over="a", inputs={"as_": "a"},
                        outputs={o: f"{o}s" for o in wanted})
    return Pipeline([per], name="outer")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dags(), st.lists(st.lists(st.integers(-9, 9), max_size=4), max_size=4), st.booleans(),
       st.data())
def test_random_nested_dags_cached_equals_uncached(engine, tmp_path_factory, dag, outer,
                                                   b_mapped, data):
    specs, _, _ = dag
    inner = Pipeline([node(_make_function(i, p, d, len(o)),
                           output=o[0] if len(o) == 1 else tuple(o)) for i, p, d, o in specs])
    assume("a" in inner.inputs)
    inner_out = inner.outputs
    wanted = data.draw(st.lists(st.sampled_from(inner_out), min_size=1, unique=True))
    pipe = _nested_pipe(specs, wanted)
    inputs: dict = {"as_": outer}
    over = ["as_"]
    for root in ("b", "c"):
        if root in pipe.inputs:
            inputs[root] = 3 if root == "c" else 4
    if b_mapped and "b" in pipe.inputs:
        inputs["b"] = list(range(len(outer)))
        over.append("b")
    expected = {f"{o}s": [] for o in wanted}
    for j, items in enumerate(outer):
        scalars = {k: (v[j] if k in over else v) for k, v in inputs.items() if k != "as_"}
        refs = [reference(specs, {**scalars, "a": a}) for a in items]
        for o in wanted:
            expected[f"{o}s"].append([r[o] for r in refs])
    cache = Cache(tmp_path_factory.mktemp("nested") / "c")
    plain = pipe.map(inputs, over=over, engine=engine)
    cold = pipe.map(inputs, over=over, engine=engine, cache=cache)
    warm = pipe.map(inputs, over=over, engine=engine, cache=cache)
    assert dict(plain) == dict(cold) == dict(warm) == expected
