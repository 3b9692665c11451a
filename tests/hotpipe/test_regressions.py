"""Regression tests for bugs found in review: each one failed before its fix."""

import gc
import threading
import warnings

import pytest

from hotpipe import (
    FAILED,
    Cache,
    InputError,
    NodeError,
    Pipeline,
    Processes,
    ResourceError,
    Threads,
    node,
    resource,
)
from hotpipe.resources import _BUILT


def test_redefined_helper_changes_keys_in_the_same_process(tmp_path):
    cache = Cache(tmp_path / "c")
    ns = {}
    exec("def helper(x):\n    return x + 1\ndef use(x):\n    return helper(x)\n", ns)
    p = Pipeline([node(ns["use"], output="y")])
    assert p.map({"x": [1, 2]}, over="x", cache=cache)["y"] == [2, 3]
    exec("def helper(x):\n    return x * 100\n", ns)  # a notebook cell run again
    r = p.map({"x": [1, 2]}, over="x", cache=cache)
    assert r["y"] == [100, 200] and r.profile["use"].hits == 0


def test_global_caches_are_state_not_code(tmp_path):
    cache = Cache(tmp_path / "c")
    ns = {"MEMO": {}}
    exec("def f(x):\n    MEMO[x] = x\n    return x * 2\n", ns)
    p = Pipeline([node(ns["f"], output="y")])
    p.map({"x": [1, 2]}, over="x", cache=cache)
    assert p.map({"x": [1, 2]}, over="x", cache=cache).profile["f"].hits == 2


def test_version_inside_a_nested_mapped_pipeline_is_in_the_key(tmp_path):
    cache = Cache(tmp_path / "c")

    def double(v):
        return v * 2

    def build(version):
        inner = Pipeline([node(double, output="w", version=version)])
        return Pipeline([inner.as_node(name="each", over="v")])

    build("1").run({"v": [1, 2]}, cache=cache)
    # inner nodes are cached per inner item, under their qualified names
    assert build("1").run({"v": [1, 2]}, cache=cache).profile["each/double"].hits == 2
    assert build("2").run({"v": [1, 2]}, cache=cache).profile["each/double"].hits == 0


def test_cache_false_node_takes_unfingerprintable_inputs(tmp_path):
    cache = Cache(tmp_path / "c")
    lock = threading.Lock()

    @node(output="rows", cache=False)
    def query(conn, q):
        return [q]

    @node(output="handle", cache=False)
    def open_handle(q):
        return threading.Lock()

    p = Pipeline([query, open_handle])
    r = p.map({"conn": lock, "q": ["a", "b"]}, over="q", cache=cache)
    assert r["rows"] == [["a"], ["b"]]
    assert p.run({"conn": lock, "q": "c"}, cache=cache)["rows"] == ["c"]


def test_failed_broadcast_node_fails_only_what_depends_on_it():
    @node(output="cfg")
    def load_cfg(path):
        raise OSError("missing")

    @node(output="a")
    def uses_cfg(x, cfg):
        return x

    @node(output="b")
    def independent(x):
        return x * 2

    r = Pipeline([load_cfg, uses_cfg, independent]).map(
        {"path": "p", "x": [1, 2, 3]}, over="x", on_error="collect")
    assert r["a"] == [FAILED] * 3 and r["b"] == [2, 4, 6]
    assert r.profile["independent"].items == 3


def test_processes_probe_with_closures_as_items_and_unpicklable_inputs():
    p = Pipeline([node(lambda f: f(), output="y")])
    fs = [(lambda i=i: i) for i in range(20)]
    assert p.map({"f": fs}, over="f", engine=Processes(2))["y"] == list(range(20))
    q = Pipeline([node(lambda x, lock: x, output="y")])
    with pytest.raises(InputError, match="cannot be sent to worker processes"):
        q.map({"x": list(range(10)), "lock": threading.Lock()}, over="x",
              engine=Processes(2, chunk_size=2))


def test_batch_implementation_with_keyword_only_parameter_is_used():
    calls = []

    @node(output="y")
    def double(x, *, k=2):
        return x * k

    @double.batch
    def double(x, *, k=2):
        calls.append(len(x))
        return [v * kk for v, kk in zip(x, k, strict=True)]

    r = Pipeline([double]).map({"x": list(range(5)), "k": 3}, over="x")
    assert r["y"] == [0, 3, 6, 9, 12] and calls == [5]


def test_list_valued_resource_in_batch_fallback_and_broken_batch_warns():
    table = resource(list, [10, 20, 30])

    @node(output="y")
    def pick(i, table):
        return table[i]

    @pick.batch
    def pick(i, table):
        raise RuntimeError("batch path down")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = Pipeline([pick]).map({"i": [0, 2], "table": table}, over="i")
    assert r["y"] == [10, 30]
    assert any("batch implementation" in str(w.message) for w in caught)


@pytest.mark.parametrize("engine", [Threads(8, chunk_size=5), Processes(2, chunk_size=5)],
                         ids=["threads", "processes"])
def test_parallel_failures_match_local(engine):
    @node(output="y")
    def bad(x):
        if x in (5, 45):
            raise ValueError(x)
        return x

    p = Pipeline([bad])
    with pytest.raises(NodeError) as info:
        p.map({"x": list(range(60))}, over="x", engine=engine)
    assert info.value.index == 5
    r = p.map({"x": list(range(60))}, over="x", engine=engine, on_error="collect")
    assert [e.index for e in r.errors] == [5, 45]


def test_a_failing_map_does_not_hang_another_on_the_same_threads_engine():
    engine = Threads(4, chunk_size=1)
    slow = Pipeline([node(lambda x: threading.Event().wait(0.01) or x, output="y")])
    bad = Pipeline([node(lambda x: 1 / 0, output="y")])
    results = {}

    def run_slow():
        results["slow"] = slow.map({"x": list(range(40))}, over="x", engine=engine)["y"]

    t = threading.Thread(target=run_slow)
    t.start()
    with pytest.raises(NodeError):
        bad.map({"x": list(range(10))}, over="x", engine=engine)
    t.join(timeout=30)
    assert not t.is_alive() and results["slow"] == list(range(40))


def test_resource_failure_names_the_resource():
    def bad_model():
        raise OSError("weights.bin not found")

    model = resource(bad_model)
    p = Pipeline([node(lambda x, model: x, output="y")])
    # run and map agree: a NodeError for the node that reads it, caused by the ResourceError
    with pytest.raises(NodeError, match=r"weights\.bin") as info:
        p.run({"x": 1, "model": model})
    assert isinstance(info.value.__cause__, ResourceError) and info.value.index is None
    r = p.map({"x": [1, 2], "model": model}, over="x", on_error="collect")
    assert r["y"] == [FAILED, FAILED]
    assert isinstance(r.errors[0].exception, ResourceError)


def test_cached_run_errors_have_no_item_index(tmp_path):
    p = Pipeline([node(lambda x: 1 / x, output="y")])
    with pytest.raises(NodeError) as info:
        p.run({"x": 0}, cache=Cache(tmp_path / "c"))
    assert info.value.index is None and "on_error" not in str(info.value)


def test_built_resources_are_freed_with_their_declaration():
    decl = resource(bytearray, 1000)
    decl.get()
    token = decl.token
    assert token in _BUILT
    del decl
    gc.collect()
    assert token not in _BUILT


def test_mapping_over_resources_is_refused():
    p = Pipeline([node(lambda m: m, output="y")])
    with pytest.raises(InputError, match="broadcast input"):
        p.map({"m": [resource(dict), resource(dict)]}, over="m")


def test_bind_twice_says_already_bound():
    p = Pipeline([node(lambda a, b: a + b, output="y")]).bind(a=1)
    with pytest.raises(InputError, match="already bound"):
        p.bind(a=2)


def test_a_node_raising_stop_iteration_fails_its_item_instead_of_ending_the_map():
    """map() ends at a StopIteration without an error: past the timed sample the executor
    lost the rest of the chunk. The item fails, with the same error wherever it ran."""
    import hotpipe

    @hotpipe.node(output="first")
    def first_of(xs):
        return next(iter(xs))

    pipe = hotpipe.Pipeline([first_of])
    for bad in (3, 250):  # inside the timed sample, and past it
        xs = [[i] for i in range(300)]
        xs[bad] = []
        r = pipe.map({"xs": xs}, over="xs", on_error="collect")
        assert len(r["first"]) == 300 and r["first"][bad] is hotpipe.FAILED
        assert r["first"][bad + 1] == bad + 1
        (err,) = r.errors
        assert err.index == bad and isinstance(err.exception, RuntimeError)
        assert "raised StopIteration" in str(err.exception)
    with pytest.raises(hotpipe.NodeError) as info:
        pipe.map({"xs": [[1], []]}, over="xs")
    assert info.value.index == 1 and isinstance(info.value.__cause__, RuntimeError)
