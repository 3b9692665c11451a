"""The conformance cases on native Daft with the fused text running.

The engine suite (test_conformance.py, test_nested_maps.py) mostly builds its nodes from
lambdas, which the text cannot call by name, so on Daft those tests run hotpipe's column
executor inside the query. Here the same cases use module-level functions: each test checks
that the `daft:` note says the fused text ran, and that values, errors and profile rows are
Local's.
"""

from __future__ import annotations

import pytest

from hotpipe import FAILED, NodeError, Pipeline, node
from hotpipe.engines.daft import Daft

pytest.importorskip("daft")

OFFSET = 100


@node(output="y")
def inc(x):
    return x + 1


@node(output="z")
def dbl(y):
    return y * 2


@node(output="s")
def fmt(z):
    return str(z + OFFSET)


CHAIN = Pipeline([inc, dbl, fmt], name="chain")


@node(output="inv")
def invert(x):
    return 1 / x


@node(output=("lo", "hi"))
def around(inv):
    return inv - 1, inv + 1


@node(output="sq")
def square(v):
    return v * v


@node(output="total")
def add_up(sqs):
    return sum(sqs)


@node(output="n")
def count(invs):
    return len(invs)


@node(output=("low", "high"))
def widen(w, width):
    return w - width, w + width


@node(output="scaled")
def scale_total(total, factor):
    return total * factor


@node(output="q")
def ratio(x, y):
    return x / y


@node(output="label")
def label(size, colour):
    return f"{size}-{colour}"


def _per(inner_nodes, **kwargs):
    return Pipeline(inner_nodes, name="inner").as_node(name="per", **kwargs)


SQUARE_SUM = Pipeline([_per([square], over="v", inputs={"vs": "v"}, outputs={"sq": "sqs"}),
                       add_up], name="outer")
INVERTS = Pipeline([_per([invert], over="x", inputs={"xs": "x"}, outputs={"inv": "invs"}),
                    count], name="inverts")


@pytest.fixture(params=["one-batch-per-core", "runs-of-two"])
def daft_engine(request):
    """Native Daft with its own batches, and with runs of two rows (several runs to merge,
    a failing run rerun through the executor while the others keep the fused result)."""
    return Daft() if request.param == "one-batch-per-core" else Daft(batch_size=2)


def _fused(result):
    """The map ran the fused text, not hotpipe's column executor (the `daft:` note)."""
    note = next(n for n in result.profile.notes if n.startswith("daft:"))
    assert "the body that ran: the fused text" in note, note
    return note


def _both(engine, pipe, inputs, **kwargs):
    """The map on native Daft (its fused text checked) and on Local, with equal values."""
    on_daft = pipe.map(inputs, engine=engine, **kwargs)
    local = pipe.map(inputs, **kwargs)
    _fused(on_daft)
    assert on_daft == local
    return on_daft, local


def _errors(result):
    return sorted((e.index, e.node, e.path, type(e.exception)) for e in result.errors)


def test_map_values(daft_engine):
    r, local = _both(daft_engine, CHAIN, {"x": list(range(23))}, over="x")
    assert r["s"] == [str((x + 1) * 2 + OFFSET) for x in range(23)]
    assert r.profile["inc"].items == local.profile["inc"].items == 23
    assert r.profile.engine == "daft"


def test_tuple_outputs(daft_engine):
    r, _ = _both(daft_engine, Pipeline([invert, around]), {"x": [1, 2, 4, 5]}, over="x")
    assert r["lo"] == [0.0, -0.5, -0.75, -0.8] and r["hi"][2] == 1.25


def test_tuple_outputs_with_collected_errors(daft_engine):
    xs = [1, 0, 2, 0, 4, 5, 0]
    r, local = _both(daft_engine, Pipeline([invert, around]), {"x": xs}, over="x",
                     on_error="collect")
    assert r["inv"] == [1.0, FAILED, 0.5, FAILED, 0.25, 0.2, FAILED]
    assert r["hi"][4] == 1.25 and r["lo"][6] is FAILED
    assert _errors(r) == _errors(local) == [(i, "invert", (i,), ZeroDivisionError)
                                            for i in (1, 3, 6)]


def test_progress_counts_every_item(daft_engine):
    seen = []
    r = CHAIN.map({"x": range(17)}, over="x", engine=daft_engine, progress=seen.append)
    _fused(r)
    assert sum(seen) == 17
    assert r == CHAIN.map({"x": range(17)}, over="x")


def test_raise_names_item_and_keeps_type(daft_engine):
    """A raising map leaves no note: the same pipeline on items that succeed shows that it
    runs the fused text (the text depends on the plan, not on the values)."""
    _fused(Pipeline([invert]).map({"x": [3, 2, 1]}, over="x", engine=daft_engine))
    with pytest.raises(NodeError) as on_daft:
        Pipeline([invert]).map({"x": [3, 2, 1, 0, 5]}, over="x", engine=daft_engine)
    with pytest.raises(NodeError) as local:
        Pipeline([invert]).map({"x": [3, 2, 1, 0, 5]}, over="x")
    assert on_daft.value.node == local.value.node == "invert"
    assert on_daft.value.index == local.value.index == 3
    assert type(on_daft.value.__cause__) is type(local.value.__cause__) is ZeroDivisionError
    assert str(on_daft.value) == str(local.value)


def test_nested_map_inside_the_engine(daft_engine):
    r, _ = _both(daft_engine, SQUARE_SUM, {"vs": [[1, 2], [3], []]}, over="vs")
    assert r["total"] == [5, 9, 0]
    assert "def nested_per(clock, n, v):" in next(
        n for n in r.profile.notes if n.startswith("daft plan:"))  # a helper per outer item


def test_nested_values_and_empty_inner_lists(daft_engine):
    vs = [[1, 2], [3], [], list(range(10)), []]
    r, _ = _both(daft_engine, SQUARE_SUM, {"vs": vs}, over="vs")
    assert r["sqs"] == [[1, 4], [9], [], [v * v for v in range(10)], []]
    assert r["total"] == [5, 9, 0, 285, 0]


def test_nested_inner_rows_in_the_profile(daft_engine):
    vs = [[1, 2], [3], [], [4, 5, 6]]
    r, local = _both(daft_engine, SQUARE_SUM, {"vs": vs}, over="vs")
    prof = r.profile
    assert [n.name for n in prof.nodes] == [n.name for n in local.profile.nodes] == [
        "per", "per/square", "add_up"]
    assert prof["per/square"].items == local.profile["per/square"].items == 6
    assert prof["per/square"].phase == "per"
    assert prof["per"].items == local.profile["per"].items == 4
    assert prof["per/square"].wall >= 0 and prof["per"].wall >= 0


def test_nested_collect_fails_exactly_the_outer_items(daft_engine):
    xss = [[1, 2], [4, 0, 0], [5], [0], []]
    r, local = _both(daft_engine, INVERTS, {"xs": xss}, over="xs", on_error="collect")
    assert r["invs"] == [[1.0, 0.5], FAILED, [0.2], FAILED, []]
    assert r["n"] == [2, FAILED, 1, FAILED, 0]
    assert _errors(r) == _errors(local) == [
        (1, "per/invert", (1, 1), ZeroDivisionError),
        (1, "per/invert", (1, 2), ZeroDivisionError),
        (3, "per/invert", (3, 0), ZeroDivisionError)]


def test_nested_raise_names_the_item_and_keeps_the_type(daft_engine):
    _fused(INVERTS.map({"xs": [[1, 2], [4]]}, over="xs", engine=daft_engine))
    xss = [[1, 2], [4, 0, 5], [0]]
    with pytest.raises(NodeError) as on_daft:
        INVERTS.map({"xs": xss}, over="xs", engine=daft_engine)
    with pytest.raises(NodeError) as local:
        INVERTS.map({"xs": xss}, over="xs")
    got, want = on_daft.value, local.value
    assert (got.node, got.index, got.path) == (want.node, want.index, want.path) == (
        "per/invert", 1, (1, 1))
    assert type(got.__cause__) is type(want.__cause__) is ZeroDivisionError
    assert str(got) == str(want) and "on item 1, inner item 1" in str(got)


def test_bound_inputs(daft_engine):
    bound = Pipeline([widen]).bind(width=3)
    r, _ = _both(daft_engine, bound, {"w": [1, 5, 10]}, over="w")
    assert r["low"] == [-2, 2, 7] and r["high"] == [4, 8, 13]


def test_bound_inputs_of_a_nested_map(daft_engine):
    per = Pipeline([widen], name="inner").bind(width=1).as_node(
        name="per", over="w", inputs={"ws": "w"}, outputs={"low": "lows", "high": "highs"})
    r, _ = _both(daft_engine, Pipeline([per]), {"ws": [[1, 2], [], [5]]}, over="ws")
    assert r["highs"] == [[2, 3], [], [6]] and r["lows"] == [[0, 1], [], [4]]


def test_a_nested_map_inside_a_nested_map(daft_engine):
    leaf = Pipeline([widen], name="leaf").bind(width=1).as_node(
        name="leaf", over="w", inputs={"ws": "w"}, outputs={"low": "lows", "high": "highs"})
    middle = Pipeline([leaf], name="mid").as_node(
        name="mid", over="ws", inputs={"wss": "ws"}, outputs={"highs": "hiss"})
    r, local = _both(daft_engine, Pipeline([middle]), {"wss": [[[1, 2], []], [[5]], []]},
                     over="wss")
    assert r["hiss"] == [[[2, 3], []], [[6]], []]
    assert [(n.name, n.items) for n in r.profile.nodes] == [
        (n.name, n.items) for n in local.profile.nodes] == [
        ("mid", 3), ("mid/leaf", 3), ("mid/leaf/widen", 3)]


def test_outer_product_mode(daft_engine):
    inputs = {"size": ["S", "M"], "colour": ["red", "blue", "green"]}
    r, _ = _both(daft_engine, Pipeline([label]), inputs, over=["size", "colour"], mode="product")
    assert r["label"] == ["S-red", "S-blue", "S-green", "M-red", "M-blue", "M-green"]


def test_outer_product_mode_collects_the_failed_combinations(daft_engine):
    inputs = {"x": [1, 0, 2], "y": [1, 0]}
    r, local = _both(daft_engine, Pipeline([ratio]), inputs, over=["x", "y"],
                     mode="product", on_error="collect")
    assert r["q"] == [1.0, FAILED, 0.0, FAILED, 2.0, FAILED]
    assert _errors(r) == _errors(local) == [(i, "ratio", (i,), ZeroDivisionError)
                                            for i in (1, 3, 5)]


def test_outer_zip_mode(daft_engine):
    inputs = {"size": ["S", "M", "L"], "colour": ["red", "blue", "green"]}
    r, _ = _both(daft_engine, Pipeline([label]), inputs, over=["size", "colour"])
    assert r["label"] == ["S-red", "M-blue", "L-green"]


def test_outer_product_mode_around_a_nested_map(daft_engine):
    inputs = {"vs": [[1, 2], [], [3]], "factor": [1, 10]}
    scaled = Pipeline([_per([square], over="v", inputs={"vs": "v"}, outputs={"sq": "sqs"}),
                       add_up, scale_total])
    r, _ = _both(daft_engine, scaled, inputs, over=["vs", "factor"], mode="product")
    assert r["scaled"] == [5, 50, 0, 0, 9, 90]
