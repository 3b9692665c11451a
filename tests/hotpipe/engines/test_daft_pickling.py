"""hotpipe.Daft on the native runner: what cannot be pickled (a node's closure, a mapped item,
a broadcast value) is an InputError naming it and the fix, raised before any node runs (the
broadcast steps included); the payload's box does not make Daft pickle every item."""

import pickle
import threading

import pytest

import hotpipe
from hotpipe import Pipeline, node

pytest.importorskip("daft")
from hotpipe.engines._daft_pickle import Box
from hotpipe.engines.daft import Daft

RAN: list = []


@node(output="b")
def side_effect(k):
    RAN.append(k)  # a broadcast step: it must not run when the map is refused
    return k + 1


@node(output="y")
def add(x, b):
    return x + b if isinstance(x, int) else x


@node(output="y")
def ignore_lock(x, b, lk):
    return x + b


@pytest.fixture(autouse=True)
def _fresh():
    RAN.clear()


def _closing_over(value):
    @node(output="y")
    def held(x, b):
        return x + b + (value is None)

    return held


def _refused(pipe, inputs, *patterns, **kwargs):
    with pytest.raises(hotpipe.InputError) as info:
        pipe.map(inputs, over="x", engine=Daft(), **kwargs)
    text = str(info.value)
    for pattern in ("Daft(runner='native')", "Fix:", "before any node runs", *patterns):
        assert pattern in text, text
    assert "ray" not in text.split(".")[0].lower()  # the runner it ran on, not Ray
    assert RAN == []  # the broadcast step did not run
    return info.value


@pytest.mark.parametrize("held", [threading.Lock(), (i for i in range(3))],
                         ids=["lock", "open generator"])
def test_a_closure_that_cannot_be_pickled_names_the_node(held):
    pipe = Pipeline([side_effect, _closing_over(held)])
    error = _refused(pipe, {"x": [1, 2, 3], "k": 1}, "node 'held' cannot be pickled",
                     "its closure variable 'value' is a ", "hotpipe.resource(")
    assert error.__cause__ is not None  # pickle's own error, chained


def test_a_mapped_item_that_cannot_be_pickled_is_named_with_its_index():
    inputs = {"x": [1, 2, threading.Lock(), 4], "k": 1}
    _refused(Pipeline([side_effect, add]), inputs,
             "mapped input 'x' cannot be pickled: its item 2 is a _thread.lock")


def test_a_mapped_generator_is_told_to_become_a_list():
    inputs = {"x": [[1], (i for i in range(2))], "k": 1}
    _refused(Pipeline([side_effect, add]), inputs,
             "mapped input 'x' cannot be pickled: its item 1 is a generator", "list(...)")


def test_a_broadcast_input_that_cannot_be_pickled_is_named():
    inputs = {"x": [1, 2], "k": 1, "lk": threading.Lock()}
    _refused(Pipeline([side_effect, ignore_lock]), inputs,
             "broadcast value 'lk' cannot be pickled")


def test_an_inner_node_of_a_nested_map_is_named_not_the_outer_one():
    inner = Pipeline([_closing_over(threading.Lock())], name="inner")
    outer = Pipeline([side_effect, inner.as_node(name="per", over="x",
                                                  inputs={"xs": "x"},
                                                  outputs={"y": "ys"})])
    inputs = {"xs": [[1, 2], [3]], "k": 1}
    with pytest.raises(hotpipe.InputError) as info:
        outer.map(inputs, over="xs", engine=Daft())
    assert "node 'per/held' cannot be pickled" in str(info.value)
    assert RAN == []


def test_a_cached_map_is_refused_before_any_node_runs(tmp_path):
    pipe = Pipeline([side_effect, _closing_over(threading.Lock())])
    _refused(pipe, {"x": [1, 2], "k": 1}, "node 'held' cannot be pickled",
             cache=hotpipe.Cache(tmp_path / "c"))


def test_a_broadcast_output_that_cannot_be_pickled_is_named_before_the_items_run():
    @node(output="b")
    def make_lock(k):
        return threading.Lock()

    items = []

    @node(output="y")
    def use(x, b):
        items.append(x)
        return x

    with pytest.raises(hotpipe.InputError) as info:
        Pipeline([make_lock, use]).map({"x": [1, 2], "k": 1}, over="x", engine=Daft())
    assert ("broadcast value 'b' (the output of node 'make_lock', which ran once in the "
            "driver) cannot be pickled") in str(info.value)
    assert "before the map's items run" in str(info.value) and items == []


def test_plain_maps_still_run():
    r = Pipeline([side_effect, add]).map({"x": [1, 2, 3], "k": 1}, over="x", engine=Daft())
    assert r["y"] == [3, 4, 5] and RAN == [1]
    items = [(1,), [2], {"a": 3}, None]  # containers: pickled to check them
    r = Pipeline([side_effect, add]).map({"x": items, "k": -1}, over="x", engine=Daft())
    assert r["y"] == [(1,), [2], {"a": 3}, None]


def test_the_native_box_pickles_as_a_reference_not_its_items():
    """Daft's check pickles the query's arguments: the box is a reference in this process,
    so 1,000,000 items are not pickled for it (check_map pickled what needed it)."""
    box = Box([("payload", list(range(1_000_000)))])
    data = pickle.dumps(box)
    assert len(data) < 200 and pickle.loads(data) is box


def test_daft_own_serialisation_error_is_named_too(monkeypatch):
    """Should something pass the engine's check and fail Daft's (it pickles the query's
    functions when the query is built), the error still names the part, not Daft's text."""
    monkeypatch.setattr("hotpipe.engines.daft.check_map", lambda *args: None)
    pipe = Pipeline([side_effect, _closing_over(threading.Lock())])
    with pytest.raises(hotpipe.InputError, match="node 'held' cannot be pickled") as info:
        pipe.map({"x": [1, 2], "k": 1}, over="x", engine=Daft())
    assert "Daft(runner='native')" in str(info.value) and "Fix:" in str(info.value)


def test_plain_columns_are_checked_without_cloudpickle(monkeypatch):
    """Numbers, strings, tuples of them and numpy scalars all pickle: the check reads their
    types (cloudpickle took ~2.4 s per 1,000,000 numpy scalars in Daft's own check)."""
    np = pytest.importorskip("numpy")
    from hotpipe.engines import _daft_pickle

    def refuse(value):
        raise AssertionError(f"pickled {value!r:.40}")

    monkeypatch.setattr(_daft_pickle, "_unpicklable", refuse)
    for column in ([1, 2.5, None], ["a", "b"], [(1, "a"), ()], list(np.arange(3.0)),
                   [np.int64(1), 2], np.arange(3)):
        assert _daft_pickle._bad_item(column) is None
