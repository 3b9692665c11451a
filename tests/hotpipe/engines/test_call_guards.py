"""``map/run/imap(retries=, timeout=)``: defaults for the nodes that set none of their own."""

import time

import pytest

from hotpipe import InputError, Local, NodeTimeout, Pipeline, Processes, Threads, node
from tests.hotpipe.engines.conftest import built
from tests.hotpipe.engines.test_retries_timeouts import _flaky_once

ENGINES = {
    "local": lambda: Local(),
    "threads": lambda: Threads(2, chunk_size=2),
    "processes": lambda: Processes(2, chunk_size=2),
}


@pytest.fixture(params=sorted(ENGINES), scope="module")
def engine(request):
    yield from built(ENGINES[request.param])


def _sleepy(x):
    if x == 3:
        time.sleep(5)
    return x + 1


def test_map_retries_are_a_default_for_nodes_without_their_own(engine, tmp_path):
    pipe = Pipeline([node(_flaky_once, output="y")])
    xs = list(range(6))
    r = pipe.map({"x": xs, "marks": str(tmp_path)}, over="x", engine=engine, retries=1)
    assert r["y"] == [x * 2 for x in xs] and not r.errors
    assert r.profile["_flaky_once"].retries == len(xs)
    # the plain call is unchanged: no retries
    bad = pipe.map({"x": [10], "marks": str(tmp_path)}, over="x", engine=engine,
                   on_error="collect")
    assert len(bad.errors) == 1


def test_map_timeout_is_a_default(engine):
    pipe = Pipeline([node(_sleepy, output="y")])
    t0 = time.perf_counter()
    r = pipe.map({"x": list(range(6))}, over="x", engine=engine, timeout=0.3,
                 on_error="collect")
    assert time.perf_counter() - t0 < 4.5
    assert [e.index for e in r.errors] == [3]
    err = r.errors[0].exception
    assert isinstance(err, NodeTimeout) and err.seconds == 0.3
    assert r["y"][:3] == [1, 2, 3] and r.profile["_sleepy"].timeouts == 1


def test_a_nodes_own_setting_wins(tmp_path):
    own = node(_sleepy, output="y", timeout=0.2)
    with pytest.raises(Exception) as info:
        Pipeline([own]).map({"x": [3]}, over="x", timeout=30)
    assert "0.2 s" in str(info.value)
    calls = []

    @node(output="y", retries=1)
    def always(x):
        calls.append(x)
        raise ValueError("no")

    Pipeline([always]).map({"x": [1]}, over="x", retries=5, on_error="collect")
    assert calls == [1, 1]  # its own retries=1, not the map's 5

    @node(output="y", retry_on=KeyError)
    def picky(x):
        calls.append(x)
        raise ValueError("not retried")

    calls.clear()
    Pipeline([picky]).map({"x": [1]}, over="x", retries=3, on_error="collect")
    assert calls == [1]  # its retry_on applies to the default retries


def test_run_and_imap_take_the_defaults(tmp_path):
    pipe = Pipeline([node(_flaky_once, output="y")])
    assert pipe.run({"x": 1, "marks": str(tmp_path)}, retries=1)["y"] == 2
    assert pipe.run({"x": 2, "marks": str(tmp_path)}, retries=1, cache=False)["y"] == 4
    out = pipe.imap({"x": iter([5, 6]), "marks": str(tmp_path)}, over="x", retries=2)
    assert [d["y"] for d in out] == [10, 12] and out.profile["_flaky_once"].retries == 2
    with pytest.raises(Exception, match=r"0\.2 s"):
        Pipeline([node(_sleepy, output="y")]).run({"x": 3}, timeout=0.2)


def test_defaults_reach_the_nodes_of_a_nested_map(tmp_path):
    inner = Pipeline([node(_flaky_once, output="y")], name="inner")
    outer = Pipeline([inner.as_node(over="x", outputs={"y": "ys"})])
    r = outer.map({"x": [[1, 2], [3]], "marks": str(tmp_path)}, over="x", retries=1)
    assert r["ys"] == [[2, 4], [6]] and not r.errors


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"retries": -1}, "map(retries=-1): must be an int >= 0"),
    ({"retries": 1.5}, "map(retries=1.5)"),
    ({"timeout": 0}, "map(timeout=0): must be seconds > 0"),
    ({"timeout": True}, "map(timeout=True)"),
])
def test_bad_defaults_are_input_errors(kwargs, fragment):
    pipe = Pipeline([node(_sleepy, output="y")])
    with pytest.raises(InputError) as info:
        pipe.map({"x": [1]}, over="x", **kwargs)
    assert fragment in str(info.value)
    with pytest.raises(InputError, match=r"run\("):
        pipe.run({"x": 1}, **kwargs)
