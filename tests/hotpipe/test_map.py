import numpy as np
import pytest

from hotpipe import FAILED, InputError, Local, NodeError, Pipeline, node


def test_map_zip_columnar(chain):
    r = chain.map({"x": [1, 2, 3]}, over="x")
    assert r == {"y": [2, 3, 4], "z": [4, 6, 8], "s": ["4", "6", "8"]}
    assert r.errors == []


@pytest.mark.parametrize("values", [(1, 2, 3), range(1, 4), np.array([1, 2, 3])])
def test_map_accepts_sized_iterables(chain, values):
    assert chain.map({"x": values}, over="x", outputs="s")["s"] == ["4", "6", "8"]


def test_map_outputs_subset(chain):
    assert chain.map({"x": [1]}, over="x", outputs=["z"]) == {"z": [4]}


def test_map_product_is_row_major_in_over_order():
    @node(output="pair")
    def pair(a, b):
        return f"{a}{b}"

    p = Pipeline([pair])
    r = p.map({"a": [1, 2], "b": ["x", "y", "z"]}, over=["a", "b"], mode="product")
    assert r["pair"] == ["1x", "1y", "1z", "2x", "2y", "2z"]
    r = p.map({"a": [1, 2], "b": ["x", "y", "z"]}, over=["b", "a"], mode="product")
    assert r["pair"] == ["1x", "2x", "1y", "2y", "1z", "2z"]


def test_map_zip_two_inputs_and_broadcast():
    @node(output="y")
    def f(a, b, c):
        return a + b + c

    p = Pipeline([f])
    assert p.map({"a": [1, 2], "b": [10, 20], "c": 100}, over=["a", "b"])["y"] == [111, 122]


def test_broadcast_only_nodes_run_once_and_are_replicated():
    seen = []

    @node(output="table")
    def load(path):
        seen.append(path)
        return {"a": 1, "b": 2}

    @node(output="v")
    def look(table, key):
        return table[key]

    p = Pipeline([load, look])
    r = p.map({"path": "p", "key": ["a", "b", "a"]}, over="key")
    assert r["v"] == [1, 2, 1]
    assert r["table"] == [{"a": 1, "b": 2}] * 3
    assert seen == ["p"]
    assert r.profile["load"].calls == 1 and r.profile["look"].calls == 3


def test_map_empty():
    p = Pipeline([node(lambda x: x, output="y")])
    assert p.map({"x": []}, over="x") == {"y": []}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": {"a": [1, 2], "b": [1]}, "over": ["a", "b"]}, "equal length"),
        ({"inputs": {"a": [1]}, "over": ["a", "b"]}, "no value for 'b'"),
        ({"inputs": {"a": [1], "b": 2}, "over": "a", "outputs": "nope"}, "unknown output"),
        ({"inputs": {"a": [1], "b": 2}, "over": "c"}, "'c' is not an input"),
        ({"inputs": {"a": [1], "b": 2}, "over": "y"}, "produced by node 'f'"),
        ({"inputs": {"a": {1, 2}, "b": 2}, "over": "a"}, "has no order"),
        ({"inputs": {"a": "abc", "b": 2}, "over": "a"}, "sequence of items"),
        ({"inputs": {"a": iter([1]), "b": 2}, "over": "a", "mode": "product"}, "mode='zip'"),
        ({"inputs": {"a": [1], "b": 2}, "over": "a", "mode": "cross"}, "choose one of"),
        ({"inputs": {"a": [1], "b": 2}, "over": "a", "on_error": "skip"}, "choose one of"),
        ({"inputs": {"a": [1], "b": 2}, "over": []}, "input name"),
        ({"inputs": {"a": [1]}, "over": "a"}, "missing input 'b'"),
    ],
)
def test_map_errors_before_any_node_runs(kwargs, message):
    ran = []

    @node(output="y")
    def f(a, b):
        ran.append(a)
        return a + b

    with pytest.raises(InputError, match=message):
        Pipeline([f]).map(**kwargs)
    assert ran == []


def test_on_error_raise_names_item_index():
    @node(output="y")
    def inv(x):
        return 1 / x

    with pytest.raises(NodeError) as info:
        Pipeline([inv]).map({"x": [1, 2, 0, 4]}, over="x")
    assert info.value.index == 2 and "item 2" in str(info.value) and "x=0" in str(info.value)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 1024])
def test_on_error_collect_keeps_other_items(chunk_size):
    @node(output="y")
    def inv(x):
        return 1 / x

    @node(output="z")
    def neg(y):
        return -y

    @node(output=("lo", "hi"))
    def split(z):
        return (z - 1, z + 1)

    p = Pipeline([inv, neg, split])
    r = p.map({"x": [1, 0, 2, 0, 4]}, over="x", on_error="collect", engine=Local(chunk_size))
    assert r["y"] == [1.0, FAILED, 0.5, FAILED, 0.25]
    assert r["z"] == [-1.0, FAILED, -0.5, FAILED, -0.25]
    assert r["lo"][1] is FAILED and r["hi"][4] == 0.75
    assert [(e.index, e.node) for e in r.errors] == [(1, "inv"), (3, "inv")]
    assert all(isinstance(e.exception, ZeroDivisionError) for e in r.errors)
    assert r.profile["neg"].calls == 3
    assert not FAILED and repr(FAILED) == "FAILED"


def test_collect_broadcast_failure_fails_every_item():
    @node(output="t")
    def load(path):
        raise OSError("gone")

    @node(output="v")
    def use(t, k):
        return t + k

    r = Pipeline([load, use]).map({"path": "p", "k": [1, 2]}, over="k", on_error="collect")
    assert r["v"] == [FAILED, FAILED]
    assert [(e.index, e.node) for e in r.errors] == [(0, "load"), (1, "load")]


def test_collect_bad_tuple_arity_per_item():
    @node(output=("a", "b"))
    def pair(x):
        return (x, x) if x else None

    r = Pipeline([pair]).map({"x": [1, 0, 2]}, over="x", on_error="collect")
    assert r["a"] == [1, FAILED, 2]
    assert "must return a tuple of 2" in str(r.errors[0].exception)


@pytest.mark.parametrize("chunk_size", [1, 7, 1024])
def test_chunking_gives_same_values(chain, chunk_size):
    xs = list(range(50))
    r = chain.map({"x": xs}, over="x", engine=Local(chunk_size=chunk_size))
    assert r["s"] == [str((x + 1) * 2) for x in xs]
    assert r.profile["inc"].calls == 50


def test_local_rejects_bad_chunk_size():
    with pytest.raises(InputError, match="chunk_size"):
        Local(chunk_size=0)


def test_error_index_across_chunks():
    @node(output="y")
    def inv(x):
        return 1 / x

    xs = [1] * 10 + [0]
    with pytest.raises(NodeError) as info:
        Pipeline([inv]).map({"x": xs}, over="x", engine=Local(chunk_size=4))
    assert info.value.index == 10
