"""The Daft engine beyond the conformance suite: the generated script, the missing extra, the
runner chosen once per process, the profile note. Ray runs in its own subprocess
(test_daft_ray.py): Daft fixes the runner once per process."""

import ast
import inspect
import itertools
import math
import os
import re
import subprocess
import sys

import pytest

import hotpipe
from hotpipe import Pipeline, node

daft = pytest.importorskip("daft")
from hotpipe.engines._daft_query import query_source  # noqa: E402
from hotpipe.engines.daft import Daft, MissingDaft, require_daft  # noqa: E402

SCALE = 2


@node(output="y")
def inc(x: int) -> int:
    return x + 1


@node(output="z")
def double(y: int, k) -> int:
    return y * SCALE * k


@node(output="kk")
def kk(k):
    return k + 0


@node(output=("s", "t"))
def split(z, kk) -> tuple:
    return str(math.floor(z)), kk


@node(output="total", batch=True)
def total(z):
    return [v + 1 for v in z]


PIPE = Pipeline([inc, double, kk, split, total])


@node(output="w")
def plus(v: int, off) -> int:
    return v + off


@node(output="off")
def offset(base):
    return base * 2


@node(output="n_inner")
def add_up(ws: list) -> int:
    return sum(ws)


NESTED = Pipeline([
    Pipeline([offset, plus], name="inner").as_node(name="per", over="v", inputs={"vs": "v"},
                                                   outputs={"w": "ws"}),
    add_up,
], name="outer")


def _script_values(tmp_path, script):
    path = tmp_path / "script.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("outputs", [None, "z", ["s", "total"]])
def test_to_daft_script_runs_standalone_with_the_same_values(tmp_path, outputs):
    inputs = {"x": list(range(20)), "k": 3}
    script = PIPE.to_daft(inputs, outputs=outputs, over="x")
    assert "def double(y: int, k) -> int:" in script  # the user's own source
    assert "@daft.method.batch" in script and "@daft.func\n" not in script
    expected = PIPE.map(inputs, over="x", outputs=outputs)
    got = _script_values(tmp_path, script)
    assert got == dict(expected.items())  # every output, the same values


def test_to_daft_nested_map_is_a_helper_over_the_run_without_a_shuffle(tmp_path):
    inputs = {"vs": [[1, 2], [], [5], list(range(50))], "base": 10}
    script = NESTED.to_daft(inputs, over="vs")
    assert "explode/groupby cycles: 0 (1 nested map: 'per': a helper inside the fused UDF in " \
        "this script, hotpipe's column executor in the engine" in script
    # `offset` runs once per map: the engine runs its executor, and the header says so
    assert "# NOT what engine=hotpipe.Daft() runs for this map" in script
    assert "inner steps run once per map" in script
    expected = NESTED.map(inputs, over="vs")
    got = _script_values(tmp_path, script)
    assert got == {"ws": expected["ws"], "n_inner": expected["n_inner"]}
    assert got["ws"][1] == []  # an empty inner list stays empty


def test_to_daft_header_analyses_the_pipeline():
    script = PIPE.to_daft({"x": [1], "k": 1}, outputs="z", over="x")
    assert "explode/groupby cycles: 0" in script
    assert "fused into ONE batch UDF" in script
    assert "'z': typed(outputs['z'], DataType.int64())" in script  # typed from `-> int`
    assert "broadcast steps, once in the driver" in script


def test_to_daft_says_what_it_cannot_write():
    lam = Pipeline([node(lambda x: x + 1, output="y")])
    with pytest.raises(hotpipe.InputError, match="lambda"):
        lam.to_daft({"x": [1]}, over="x")


def test_missing_daft_is_a_clear_error_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "daft", None)
    with pytest.raises(MissingDaft, match=r"pip install 'hotpipe\[daft\]'"):
        require_daft()
    with pytest.raises(hotpipe.InputError):
        PIPE.map({"x": [1, 2], "k": 1}, over="x", engine=Daft())


def test_bad_arguments():
    with pytest.raises(hotpipe.InputError, match="runner"):
        Daft(runner="spark")
    with pytest.raises(hotpipe.InputError, match="address"):
        Daft(address="ray://x:10001")


def test_the_runner_is_fixed_once_per_process():
    r = PIPE.map({"x": [1, 2], "k": 1}, over="x", engine=Daft())
    assert r["y"] == [2, 3]
    with pytest.raises(hotpipe.InputError, match="once per process"):
        PIPE.map({"x": [1, 2], "k": 1}, over="x", engine=Daft(runner="ray"))


def test_profile_notes_the_query_and_daft_overhead():
    r = PIPE.map({"x": list(range(100)), "k": 1}, over="x", engine=Daft(batch_size=16))
    assert r["total"][:2] == [3, 5]
    note = next(n for n in r.profile.notes if n.startswith("daft:"))
    assert "batch UDF call(s)" in note and "overhead" in note
    plan_note = next(n for n in r.profile.notes if n.startswith("daft plan:"))
    text = plan_note.split("\n", 1)[1]
    names = ["inc", "double", "split", "total"]
    assert text.startswith("# every per-item step over one run of rows")
    assert text.endswith(query_source(runner="native", n=100, names=names, hints={},
                                      batch_size=16, block=None, partitions=None))
    assert "@daft.method.batch(return_dtype=DataType.int64(), batch_size=16)" in text
    assert "['inc', 'double', 'split', 'total']" in text
    assert r.profile["inc"].calls == 100


def test_the_engine_runs_the_generated_text(monkeypatch):
    """The query is compiled from the generated text: change the text, the map changes."""
    import hotpipe.engines._daft_query as generated

    real = generated.query_source

    def edited(**kw):
        return real(**kw).replace("def query(box):\n",
                                  "def query(box):\n    raise LookupError('edited text')\n")

    monkeypatch.setattr(generated, "query_source", edited)
    with pytest.raises(LookupError, match="edited text") as info:
        PIPE.map({"x": [1, 2], "k": 1}, over="x", engine=Daft())
    assert info.traceback[-1].frame.code.raw.co_filename == generated.FILENAME


def test_the_ray_query_text_compiles():
    text = query_source(runner="ray", n=1000, names=["inc"], hints={"cpus": 2},
                        batch_size=None, block=250, partitions=4)
    compile(text, "<test>", "exec")
    assert "@daft.cls(cpus=2)" in text and "df.into_partitions(4)" in text
    assert "runs = [(k * 250, min(1000, k * 250 + 250)) for k in index.to_pylist()]" in text


def test_errors_keep_the_item_index_and_type():
    @node(output="y")
    def bad(x):
        if x == 7:
            raise KeyError(x)
        return x

    with pytest.raises(hotpipe.NodeError) as info:
        Pipeline([bad]).map({"x": list(range(20))}, over="x", engine=Daft(batch_size=4))
    assert info.value.index == 7 and isinstance(info.value.__cause__, KeyError)


def test_cache_hits_skip_the_work(tmp_path):
    calls = []

    @node(output="y")
    def slow(x):
        calls.append(x)
        return x * 2

    cache = hotpipe.Cache(tmp_path / "c")
    pipe = Pipeline([slow])
    first = pipe.map({"x": list(range(10))}, over="x", engine=Daft(), cache=cache)
    second = pipe.map({"x": list(range(10))}, over="x", engine=Daft(), cache=cache)
    assert first["y"] == second["y"] == [2 * i for i in range(10)]
    assert len(calls) == 10


def test_an_unpicklable_input_is_named_before_work_starts():
    import threading

    from hotpipe.engines.daft import packed
    from hotpipe.execute import Broadcast

    plan = PIPE._plan(frozenset({"x", "k"}), None, frozenset({"x"}))
    bc = Broadcast({"k": threading.Lock()})
    with pytest.raises(hotpipe.InputError, match="broadcast value 'k' cannot be pickled"):
        packed((plan, {"x": [1]}, bc, None, "raise", 0, ("y",), True))


def test_on_ray_each_row_carries_only_its_own_items():
    """Ray: the items travel in the query's rows (a block each), not in the payload every
    worker unpickles; an input that cannot be pickled is still named before work starts."""
    import pickle
    import threading

    from hotpipe.engines._daft_query import BLOCK, query_source
    from hotpipe.engines.daft import _blocks
    from hotpipe.execute import Broadcast

    plan = PIPE._plan(frozenset({"x", "k"}), None, frozenset({"x"}))
    payload = (plan, {}, Broadcast({"k": 1}), None, "raise", 0, ("y",), None, None)
    blobs = _blocks({"x": list(range(5))}, 5, 2, payload)
    assert [pickle.loads(b) for b in blobs] == [{"x": [0, 1]}, {"x": [2, 3]}, {"x": [4]}]
    text = query_source(runner="ray", n=5, names=["double"], hints={}, batch_size=None,
                        block=2, partitions=2)
    assert "def query(box, blocks):" in text and f"{BLOCK!r}: blocks" in text
    with pytest.raises(hotpipe.InputError, match="mapped input 'x' cannot be pickled"):
        _blocks({"x": [threading.Lock()]}, 1, 1, payload)


def test_imap_streams_through_daft():
    @node(output="n")
    def width(line):
        return len(line)

    def lines():
        for i in range(3000):
            yield f"line {i}"

    stream = Pipeline([width]).imap({"line": lines()}, over="line", engine=Daft())
    assert [item["n"] for item in stream] == [len(f"line {i}") for i in range(3000)]


def test_hints_become_daft_options():
    from hotpipe.engines._daft_query import hints_of as _hints

    @node(output="e", cpus=2)
    def embed(y):
        return y

    plan = Pipeline([inc, embed])._plan(frozenset({"x"}), None, frozenset({"x"}))
    assert _hints(plan) == {"cpus": 2}

    @node(output="w", gpus=0.5, memory="2MB")
    def heavy(v: int) -> int:
        return v + 1

    nested = Pipeline([Pipeline([heavy], name="inner").as_node(
        name="per", over="v", inputs={"vs": "v"}, outputs={"w": "ws"}), embed_ws])
    plan = nested._plan(frozenset({"vs"}), None, frozenset({"vs"}))
    # an inner node's hints count (it runs inside the fused UDF); memory has no option
    assert _hints(plan) == {"cpus": 2, "gpus": 0.5}
    inputs = {"vs": [[1], [2, 3]]}
    text = "\n".join(nested.map(inputs, over="vs", engine=Daft()).profile.notes)
    assert "@daft.cls(cpus=2, gpus=0.5, use_process=False)" in text


@node(output="e", cpus=2)
def embed_ws(ws: list) -> int:
    return len(ws)


def test_a_batch_of_rows_in_any_order_is_cut_into_contiguous_runs():
    from daft import Series

    from hotpipe.engines.daft import _row_runs

    assert _row_runs(Series.from_pylist([7, 5, 6, 4])) == [(4, 8)]  # one run, any order
    assert _row_runs(Series.from_pylist([5, 3, 4, 9, 10, 1])) == [(1, 2), (3, 6), (9, 11)]
    assert _row_runs(Series.from_pylist([], dtype=daft.DataType.int64())) == []


np = pytest.importorskip("numpy")


@node(output="r", batch=True)
def root(x):
    return np.sqrt(np.asarray(x, dtype=np.float64))


@node(output="v", vectorize="numpy")
def affine(r, k):
    return r * k + 1.0


@node(output="e", batch=True)
def embed(v):
    v = np.asarray(v)
    return np.stack([v, v * 2, v * 3], axis=1)


@node(output="c", vectorize="numpy")
def clipped(v: float) -> float:
    if v > 3:  # not vectorisable: the check falls back to one call per item
        return 3.0
    return v


ARRAYS = Pipeline([root, affine, embed, clipped])


@pytest.mark.filterwarnings("ignore::hotpipe.VectorizeWarning")
def test_to_daft_keeps_numpy_results_as_arrow_columns(tmp_path):
    inputs = {"x": [float(i) for i in range(40)], "k": 2.0}
    script = ARRAYS.to_daft(inputs, outputs="e", over="x")
    assert "vectorized(affine, affine, [r, k_], [True, False])" in script  # not per item
    assert "e = embed(tolist(v))" in script and "DataType.embedding" in script
    got = _script_values_np(tmp_path, script, "e")
    expected = ARRAYS.map(inputs, over="x", outputs="e")["e"]
    assert got["type"] == "Embedding[Float64; 3]"  # fixed-size lists, not Python objects
    np.testing.assert_array_equal(np.stack(got["values"]), np.stack(expected))
    script = ARRAYS.to_daft(inputs, outputs="c", over="x")
    assert "'c': typed(outputs['c'], DataType.float64())" in script  # `-> float`
    got = _script_values_np(tmp_path, script, "c")
    assert got["values"] == ARRAYS.map(inputs, over="x", outputs="c")["c"]


def _script_values_np(tmp_path, script, name):
    """The script's output ``name`` from its ``run()``, and its Arrow type in the script's
    typed DataFrame, ``frame()`` (run as a program: ``runpy`` in a subprocess)."""
    path = tmp_path / "arrays.py"
    path.write_text(script)
    code = (f"import pickle, runpy, sys; g = runpy.run_path({str(path)!r}); "
            "outputs = g['run'](); "
            f"kind = str(g['frame'](outputs).schema()[{name!r}].dtype); "
            f"out = {{'values': outputs[{name!r}], 'type': kind}}; "
            "sys.stdout.buffer.write(pickle.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    import pickle

    return pickle.loads(done.stdout)


def test_to_daft_writes_a_jax_node_as_one_compiled_call_per_batch(tmp_path):
    pytest.importorskip("jax")

    @node(output="j", vectorize="jax")
    def scaled(r, k):
        return r * k

    pipe = Pipeline([root, scaled])
    inputs = {"x": [float(i) for i in range(40)], "k": 2.0}
    script = pipe.to_daft(inputs, over="x", outputs="j")
    assert "scaled_jax = jax.jit(jax.vmap(scaled, in_axes=(0, None)))" in script
    got = _script_values_np(tmp_path, script, "j")
    assert got["type"] == "Float32"  # JAX's own precision, as on Local
    assert got["values"] == pipe.map(inputs, over="x", outputs="j")["j"]


def test_daft_used_before_hotpipe_keeps_its_runner():
    code = ("import daft, hotpipe; daft.from_pydict({'a': [1]}).collect(); "
            "p = hotpipe.Pipeline([hotpipe.node(lambda x: x + 1, output='y')]); "
            "print(p.map({'x': [1, 2]}, over='x', engine=hotpipe.Daft())['y'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "[2, 3]", done.stderr[-2000:]


class _Tracked:
    def __init__(self, v):
        self.v = v


def test_a_map_leaves_nothing_alive_after_it():
    """Daft keeps a query's UDF class and arguments: the map's inputs and results must not
    stay alive with them (they did: every map's values, walked by each full collection)."""
    import gc
    import weakref

    @node(output="out")
    def wrap(item):
        return _Tracked(item.v + 1)

    items = [_Tracked(i) for i in range(50)]
    result = Pipeline([wrap]).map({"item": items}, over="item", engine=Daft())
    assert [r.v for r in result["out"]] == list(range(1, 51))
    refs = [weakref.ref(items[0]), weakref.ref(result["out"][0])]
    del items, result
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_time_inside_the_udf_counts_overlapping_batches_once():
    from hotpipe.engines.daft import _covered

    spans = [(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]  # two threads at once, then one
    assert _covered(spans, one_clock=True) == 4.0
    assert _covered(spans, one_clock=False) == 5.0  # Ray: one clock per worker, summed


def _ran_text(result):
    note = next(n for n in result.profile.notes if n.startswith("daft plan:"))
    return note.split("\n", 1)[1]


def _body(result):
    note = next(n for n in result.profile.notes if n.startswith("daft:"))
    return note.split("the body that ran: ", 1)[1]


@pytest.mark.parametrize("outputs", [None, "z", ["s", "total"]])
def test_the_engine_runs_the_text_to_daft_writes(tmp_path, outputs):
    """Issue 15: what users read is what runs. The engine's compiled text (fused_steps and
    the query) is in the to_daft script verbatim, and both give pipe.map's values."""
    inputs = {"x": list(range(20)), "k": 3}
    r = PIPE.map(inputs, over="x", outputs=outputs, engine=Daft())
    text = _ran_text(r)
    assert "def fused_steps(" in text and "    y.extend(map(inc, x))\n" in text
    assert _body(r).startswith("the fused text")
    script = PIPE.to_daft(inputs, outputs=outputs, over="x")
    assert text in script
    from hotpipe.engines import _daft_glue as glue

    for helper in (glue.Clock, glue.run_rows, glue.row_runs, glue.index_column):
        assert inspect.getsource(helper) in script  # copied, not written a second time
    assert _script_values(tmp_path, script) == {k: r[k] for k in r}
    assert r == PIPE.map(inputs, over="x", outputs=outputs)


def test_the_engine_calls_the_node_functions_themselves():
    """Names in the text are bound to the nodes' function objects, not to re-executed
    source: a closure's value (not in any source) is the one used."""
    def make(step):
        @node(output="y")
        def bump(x):
            return x + step

        return bump

    r = Pipeline([make(5)]).map({"x": [1, 2, 3]}, over="x", engine=Daft())
    assert r["y"] == [6, 7, 8] and "y.extend(map(bump, x))" in _ran_text(r)


def test_the_profile_comes_from_the_clock_lines():
    r = PIPE.map({"x": list(range(50)), "k": 2}, over="x", engine=Daft(batch_size=16))
    assert _body(r).startswith("the fused text")
    for name in ("inc", "double", "split"):
        assert r.profile[name].calls == r.profile[name].items == 50
    assert r.profile["total"].items == 50 and r.profile["total"].calls == 4  # once per run
    assert r.profile["kk"].calls == 1  # a broadcast step, once in the driver
    assert r.profile["inc"].wall > 0 and r.profile["split"].p50 is not None


SEEN: list = []  # the items `invert` was called on


@node(output="inv")
def invert(x):
    SEEN.append(x)
    return 1 / x


@node(output="twice")
def twice(inv):
    return inv * 2


def test_a_failing_run_resumes_at_the_failing_item():
    """A run whose fused text raises resumes at the item that raised, through the executor:
    that item is named or collected with its original exception, never called again, and
    no other item is called twice (a node that mutates or fails once behaves as on Local)."""
    pipe = Pipeline([invert, twice])
    xs = [1, 0, 2, 4, 0, 5]
    SEEN.clear()
    r = pipe.map({"x": xs}, over="x", on_error="collect", engine=Daft(batch_size=2))
    assert sorted(SEEN) == sorted(xs)  # each item once
    assert r["inv"] == [1.0, hotpipe.FAILED, 0.5, 0.25, hotpipe.FAILED, 0.2]
    assert r["twice"] == [2.0, hotpipe.FAILED, 1.0, 0.5, hotpipe.FAILED, 0.4]
    assert sorted(e.index for e in r.errors) == [1, 4]
    body = _body(r)
    assert body.startswith("the fused text") and "2 run(s) of rows raised in the fused text " \
        "and ran on from the failing item" in body
    local = pipe.map({"x": xs}, over="x", on_error="collect")
    assert [(e.index, e.node, type(e.exception)) for e in r.errors] == \
        [(e.index, e.node, type(e.exception)) for e in local.errors]
    assert r.profile["invert"].items == local.profile["invert"].items == 4  # as on Local
    SEEN.clear()
    with pytest.raises(hotpipe.NodeError) as info:
        pipe.map({"x": [3, 0, 1]}, over="x", engine=Daft(batch_size=3))
    assert info.value.index == 1 and isinstance(info.value.__cause__, ZeroDivisionError)
    assert SEEN == [3, 0]  # item 1 raised once and was not called again


def test_what_the_text_does_not_write_runs_the_executor_and_says_why():
    lam = Pipeline([node(lambda x: x + 1, output="y")])
    r = lam.map({"x": [1, 2]}, over="x", engine=Daft())
    assert r["y"] == [2, 3]
    assert "hotpipe's column executor (node 'y' is a lambda" in _body(r)
    assert "fused_steps = None\n" in _ran_text(r)


def test_callable_objects_run_the_executor():
    import functools

    class Twice:
        def __call__(self, y):
            return y * 2

    def add(x, k):
        return x + k

    pipe = Pipeline([node(functools.partial(add, k=1), output="y", name="add1"),
                     node(Twice(), output="z", name="twice")])
    r = pipe.map({"x": [1, 2]}, over="x", engine=Daft())
    assert r == {"y": [2, 3], "z": [4, 6]}
    assert "executor (node 'add1' is a partial object, not a function" in _body(r)
    with pytest.raises(hotpipe.InputError, match="partial object, not a function"):
        pipe.to_daft({"x": [1]}, over="x")


def test_two_functions_with_one_name_are_not_written():
    def make(step):
        def bump(x):
            return x + step

        return node(bump, output=f"y{step}", name=f"bump{step}")

    pipe = Pipeline([make(1), make(2)])
    with pytest.raises(hotpipe.InputError, match="two different functions are named 'bump'"):
        pipe.to_daft({"x": [1]}, over="x")
    r = pipe.map({"x": [1]}, over="x", engine=Daft())
    assert r == {"y1": [2], "y2": [3]} and "executor (two different" in _body(r)


@node(output="sizes", batch=True, batch_size=3)
def sizes(x):
    return [len(x)] * len(x)  # each item sees the size of the call it came in


def test_a_batch_size_is_kept_by_the_text(tmp_path):
    inputs = {"x": list(range(10))}
    pipe = Pipeline([sizes])
    r = pipe.map(inputs, over="x", engine=Daft())
    assert _body(r).startswith("the fused text")
    assert r == pipe.map(inputs, over="x") == {"sizes": [3] * 9 + [1]}
    assert r.profile["sizes"].calls == 4
    script = pipe.to_daft(inputs, over="x")
    assert "sizes_ = batched(sizes, 3, [x])" in script
    assert _script_values(tmp_path, script) == {"sizes": r["sizes"]}


class Scaler:
    """A resource whose init is counted: one line per build in the file it is given."""

    def __init__(self, factor, log):
        self.factor = factor
        with open(log, "a") as f:
            f.write("built\n")

    def __call__(self, x):
        return x * self.factor


@node(output="scaled")
def scale(x: int, scaler) -> int:
    return scaler(x)


def _builds(log):
    return log.read_text().count("built") if log.exists() else 0


def test_to_daft_writes_a_resource_built_once_per_worker(tmp_path):
    """Issue 15: a resource becomes the factory's source and a declaration with literal
    arguments, built in the @daft.cls __init__ (unbox), once per worker even when Daft runs
    many batches at once; never shipped built."""
    log = tmp_path / "builds.txt"
    inputs = {"x": list(range(200)), "scaler": hotpipe.resource(Scaler, 3, str(log))}
    pipe = Pipeline([scale, inc])
    script = pipe.to_daft(inputs, over="x")
    assert "class Scaler:" in script and "daft.lit(" not in script
    assert f"scaler = Resource(Scaler, 3, {str(log)!r})" in script
    assert "self.payload = unbox(box)" in script
    # many small batches, run by Daft's threads at once: still one build in this worker
    batched = re.sub(r"@daft\.method\.batch\(return_dtype=DataType\.int64\(\)(, batch_size=\d+)?\)",
                     "@daft.method.batch(return_dtype=DataType.int64(), batch_size=7)", script)
    assert batched != script  # the batch line was found and rewritten
    script = batched
    expected = pipe.map(inputs, over="x")
    log.unlink()
    assert _script_values(tmp_path, script) == expected
    assert _builds(log) == 1  # native runner: one worker process


def test_the_engine_runs_the_fused_text_for_a_resource(tmp_path):
    log = tmp_path / "builds.txt"
    inputs = {"x": list(range(100)), "scaler": hotpipe.resource(Scaler, 2, str(log))}
    pipe = Pipeline([scale])
    r = pipe.map(inputs, over="x", engine=Daft(batch_size=5))
    assert _body(r).startswith("the fused text")
    assert "scaled.extend(map(scale, x, itertools.repeat(scaler)))" in _ran_text(r)
    assert r["scaled"] == [2 * x for x in range(100)] and _builds(log) == 1
    assert any(o.kind == "resource" for o in r.profile.one_offs)  # the build, apart
    fused = _ran_text(r).split("# hotpipe.Daft query")[0]  # the query has batch_size=5
    assert "def fused_steps(clock, n, x, scaler):" in fused
    assert fused in pipe.to_daft(inputs, over="x")


def test_to_daft_imports_a_factory_from_a_package(tmp_path):
    import collections

    @node(output="seen")
    def count(word, counter):
        return counter[word]

    inputs = {"word": ["a", "b", "a"], "counter": hotpipe.resource(collections.Counter, a=2)}
    script = Pipeline([count]).to_daft(inputs, over="word")
    assert "Counter = __import__('collections', fromlist=['_']).Counter" in script
    assert "counter = Resource(Counter, a=2)" in script
    assert _script_values(tmp_path, script) == {"seen": [2, 0, 2]}


def test_to_daft_names_a_resource_argument_that_is_not_a_literal():
    inputs = {"x": [1], "scaler": hotpipe.resource(Scaler, object(), "log")}
    with pytest.raises(hotpipe.InputError, match=r"resource 'scaler' \(Scaler\): its "
                       r"argument 0 \(object\) cannot be written as a literal"):
        Pipeline([scale]).to_daft(inputs, over="x")


ACTIVE = {"now": 0, "peak": 0}


@node(output="fetched", max_concurrency=4)
async def fetch(x: int) -> int:
    import asyncio

    ACTIVE["now"] += 1
    ACTIVE["peak"] = max(ACTIVE["peak"], ACTIVE["now"])
    await asyncio.sleep(0.01)
    ACTIVE["now"] -= 1
    return x * 10


def test_async_nodes_are_awaited_concurrently_in_the_text(tmp_path):
    """Issue 15: an async node is awaited a run at a time, max_concurrency at once, in the
    engine (hotpipe's event loop) and in the script (asyncio.run per run)."""
    inputs = {"x": list(range(40))}
    pipe = Pipeline([inc, fetch])
    ACTIVE["peak"] = 0
    r = pipe.map(inputs, over="x", engine=Daft())
    assert _body(r).startswith("the fused text")
    assert "fetched = gathered(fetch, 4, n, x)" in _ran_text(r)
    assert 1 < ACTIVE["peak"] <= 4
    assert r == pipe.map(inputs, over="x")
    script = pipe.to_daft(inputs, over="x")
    assert "async def fetch(x: int) -> int:" in script and _ran_text(r) in script
    assert _script_values(tmp_path, script) == {k: r[k] for k in r}


def test_a_failing_async_item_is_named_by_the_executor():
    @node(output="inv")
    async def inverse(x):
        return 1 / x

    r = Pipeline([inverse]).map({"x": [1, 0, 2]}, over="x", on_error="collect",
                                engine=Daft())
    assert r["inv"] == [1.0, hotpipe.FAILED, 0.5] and [e.index for e in r.errors] == [1]
    assert "1 run(s) of rows raised" in _body(r)


def test_the_resource_script_in_the_docs_is_what_to_daft_writes(tmp_path, monkeypatch):
    """docs/engines.md shows the script for its "Resources" example: the example's own code,
    imported from a file (to_daft reads source), writes every line the docs show."""
    import importlib
    import pathlib
    import re

    docs = (pathlib.Path(__file__).parents[3] / "docs" / "engines.md").read_text()
    example = next(b for b in re.findall(r"^```python\n(.*?)^```", docs, re.S | re.M)
                   if "class Encoder:" in b)
    shown = next(b for b in re.findall(r"^```py\n(.*?)^```", docs, re.S | re.M)
                 if "Resource(Encoder, 2)" in b)
    (tmp_path / "docs_resources.py").write_text(
        "import hotpipe\nfrom hotpipe import Pipeline, node\n\n" + example)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("docs_resources")
    script = Pipeline([mod.embed]).to_daft(
        {"text": ["a", "abc"], "encoder": hotpipe.resource(mod.Encoder, 2)}, over="text")
    for line in shown.splitlines():
        if line != "...":
            assert line in script.splitlines(), line
    assert _script_values(tmp_path, script) == {"embedding": [[1, 1], [3, 3]]}


def test_a_resource_factory_named_like_a_node_function_is_refused():
    def scale(factor):  # a factory with the name of the node function `scale`
        return lambda x: x * factor

    inputs = {"x": [1], "scaler": hotpipe.resource(scale, 2)}
    with pytest.raises(hotpipe.InputError, match="has the name of the function"):
        Pipeline([globals()["scale"]]).to_daft(inputs, over="x")


SPANS: list[tuple[float, float]] = []


@node(output="w")
def waits(x: int) -> int:
    import time

    t0 = time.perf_counter()
    time.sleep(0.05)  # releases the GIL, like numpy, torch or I/O
    SPANS.append((t0, time.perf_counter()))
    return x


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for two Daft threads")
def test_a_small_map_is_spread_over_the_cores():
    """Daft's native runner would run a 16-item map as one batch on one thread: the engine
    gives it about two batches per core, so a node that releases the GIL overlaps."""
    from hotpipe.engines._daft_query import spread_batch

    SPANS.clear()
    r = Pipeline([waits]).map({"x": list(range(16))}, over="x", engine=Daft())
    assert r["w"] == list(range(16))
    assert f"batch_size={spread_batch(16)}" in _ran_text(r)
    spans = sorted(SPANS)
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))  # in parallel
    assert spread_batch(10_000_000) is None  # a large map keeps Daft's own batch size


# ----------------------------------------------------------------------------- the cache

CALLED = {"first": [], "second": []}  # items each node was called on (appends: thread-safe)
FAILS: set = set()  # values of y that make `second` raise


@node(output="y")
def first(x):
    CALLED["first"].append(x)
    return x + 1


@node(output="z")
def second(y):
    CALLED["second"].append(y)
    if y in FAILS:
        raise ValueError(y)
    return y * 3


@node(output="z", name="second")
def second_edited(y):  # the same node after an edit (another body): its key changes
    CALLED["second"].append(y)
    return y * 4


CACHED = Pipeline([first, second])


@pytest.fixture
def queries(monkeypatch):
    """The Daft queries the engine runs: per query, its per-item steps and items."""
    seen = []
    real = Daft._query

    def spy(self, daft_module, job, start, stop, **kw):
        seen.append(([s.name for s in job.plan.steps if s.mapped], stop - start))
        return real(self, daft_module, job, start, stop, **kw)

    monkeypatch.setattr(Daft, "_query", spy)
    for calls in CALLED.values():
        calls.clear()
    return seen


def _forget(queries):
    """Start counting queries and node calls afresh."""
    queries.clear()
    for calls in CALLED.values():
        calls.clear()


def _mapped(pipe, n, cache, engine=None, **kw):
    return pipe.map({"x": list(range(n))}, over="x", engine=engine, cache=cache, **kw)


def test_cached_cold_run_is_one_query_and_a_warm_rerun_none(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    cold = _mapped(CACHED, 12, cache, Daft(), outputs="z")
    assert queries == [(["first", "second"], 12)]  # the whole plan, every item, once
    assert sorted(CALLED["first"]) == list(range(12))
    assert cold["z"] == [(x + 1) * 3 for x in range(12)]
    assert "the fused text" in _body(cold)  # the plain runner's query: the fused text ran
    queries.clear()
    CALLED["first"].clear()
    warm = _mapped(CACHED, 12, cache, Daft(), outputs="z")
    assert queries == [] and CALLED["first"] == []  # hits looked up in the driver
    assert warm["z"] == cold["z"]
    assert any("no Daft query ran" in note for note in warm.profile.notes)
    assert warm.profile["second"].hits == 12 and warm.profile["second"].saved > 0
    # the intermediate values came back from the query and were stored too
    assert _mapped(CACHED, 12, cache, Daft(), outputs="y")["y"] == list(range(1, 13))
    assert CALLED["first"] == []


def test_cached_partial_runs_only_the_misses(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    _mapped(CACHED, 10, cache, Daft())
    _forget(queries)
    more = _mapped(CACHED, 14, cache, Daft())  # 4 new items
    assert queries == [(["first", "second"], 4)]
    assert sorted(CALLED["first"]) == [10, 11, 12, 13]
    assert more["z"] == [(x + 1) * 3 for x in range(14)]
    _forget(queries)
    edited = Pipeline([first, second_edited])
    r = _mapped(edited, 14, cache, Daft())
    # the edited node (and what follows it) runs; its input is loaded from the cache
    assert queries == [(["second"], 14)] and CALLED["first"] == []
    assert r["z"] == [(x + 1) * 4 for x in range(14)]
    assert r["y"] == list(range(1, 15))


def test_cached_items_grouped_by_the_steps_they_miss(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    _mapped(CACHED, 6, cache, Daft(), outputs="y")  # only `first` stored for items 0..5
    _forget(queries)
    r = _mapped(CACHED, 9, cache, Daft(), outputs="z")
    # items 0..5 miss `second` only, items 6..8 both: one query per group
    assert sorted(queries) == [(["first", "second"], 3), (["second"], 6)]
    assert sorted(CALLED["first"]) == [6, 7, 8]
    assert r["z"] == [(x + 1) * 3 for x in range(9)]


def test_cached_daft_and_local_hit_each_others_entries(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    local = _mapped(CACHED, 2000, cache, hotpipe.Local(), outputs="z")
    queries.clear()
    CALLED["first"].clear()
    on_daft = _mapped(CACHED, 2000, cache, Daft(), outputs="z")
    assert queries == [] and CALLED["first"] == [] and on_daft["z"] == local["z"]
    assert on_daft.profile["second"].hits == 2000
    other = hotpipe.Cache(tmp_path / "d")
    _mapped(CACHED, 2000, other, Daft(), outputs="z")
    for calls in CALLED.values():
        calls.clear()
    back = _mapped(CACHED, 2000, other, hotpipe.Local(), outputs="z")
    assert CALLED["second"] == [] and back["z"] == local["z"]
    assert back.profile["second"].hits == 2000 and back.profile["second"].saved > 0


def test_cached_refresh_recomputes_only_the_named_steps(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    _mapped(CACHED, 8, cache, Daft())
    _forget(queries)
    r = _mapped(CACHED, 8, cache, Daft(), refresh=["second"])
    assert queries == [(["second"], 8)] and CALLED["first"] == []
    assert len(CALLED["second"]) == 8 and r["z"] == [(x + 1) * 3 for x in range(8)]


def test_cached_value_keyed_node_runs_first_then_the_hits(tmp_path, queries):
    @node(output="y", cache=False)
    def reads_state(x):
        CALLED["first"].append(x)
        return x + 1

    pipe = Pipeline([reads_state, second])
    cache = hotpipe.Cache(tmp_path / "c")
    first_run = _mapped(pipe, 6, cache, Daft())
    _forget(queries)
    again = _mapped(pipe, 6, cache, Daft())
    # not stored: it runs again (alone: its values are the keys of what reads it); the
    # cached node after it hits
    assert queries == [(["reads_state"], 6)] and CALLED["second"] == []
    assert again["z"] == first_run["z"] == [(x + 1) * 3 for x in range(6)]


def test_cached_collect_keeps_the_map_index_and_stores_no_failure(tmp_path, queries,
                                                                 monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {16})
    cache = hotpipe.Cache(tmp_path / "c")
    _mapped(CACHED, 10, cache, Daft())
    for calls in CALLED.values():
        calls.clear()
    r = _mapped(CACHED, 20, cache, Daft(), on_error="collect")  # item 15 fails (y == 16)
    assert [e.index for e in r.errors] == [15] and r.errors[0].node == "second"
    assert r["z"][15] is hotpipe.FAILED and r["z"][14] == 45
    local = _mapped(CACHED, 20, hotpipe.Cache(tmp_path / "l"), on_error="collect")
    assert r["z"] == local["z"]
    for calls in CALLED.values():
        calls.clear()
    again = _mapped(CACHED, 20, cache, Daft(), on_error="collect")
    # the failed item was not stored: it runs again (twice: the fused text raised, then the
    # executor ran its run again to name the item)
    assert set(CALLED["second"]) == {16}
    assert [e.index for e in again.errors] == [15]
    with pytest.raises(hotpipe.NodeError) as info:
        _mapped(CACHED, 20, cache, Daft())
    assert info.value.index == 15 and isinstance(info.value.__cause__, ValueError)


def test_cached_run_and_imap_on_daft(tmp_path, queries):
    cache = hotpipe.Cache(tmp_path / "c")
    assert CACHED.run({"x": 3}, engine=Daft(), cache=cache)["z"] == 12
    assert CACHED.run({"x": 3}, engine=Daft(), cache=cache)["z"] == 12
    assert CALLED["first"] == [3] and len(queries) == 1
    stream = CACHED.imap({"x": iter(range(6))}, over="x", engine=Daft(), cache=cache)
    assert [item["z"] for item in stream] == [(x + 1) * 3 for x in range(6)]
    assert sorted(CALLED["first"]) == [0, 1, 2, 3, 4, 5]  # item 3 was a hit


def test_cached_values_equal_local_for_tuple_and_batch_nodes(tmp_path):
    inputs = {"x": list(range(30)), "k": 3}
    on_daft, on_local = hotpipe.Cache(tmp_path / "d"), hotpipe.Cache(tmp_path / "l")
    for n in (20, 20, 30):  # cold, warm, new items
        part = {"x": inputs["x"][:n], "k": 3}
        a = PIPE.map(part, over="x", engine=Daft(), cache=on_daft)
        b = PIPE.map(part, over="x", cache=on_local)
        assert {k: a[k] for k in ("y", "z", "s", "t", "total")} == \
            {k: b[k] for k in ("y", "z", "s", "t", "total")}
        assert a.profile.cache.hits == b.profile.cache.hits


INNER_CALLS: list = []  # inner items the inner nodes below were called on


@node(output="sq")
def square(v: int, bump) -> int:
    INNER_CALLS.append(v)
    if v in FAILS:
        raise ValueError(f"bad inner value {v}")
    return v * v + bump


@node(output="bump")
def bump_of(k: int) -> int:  # reads a per-outer value, no inner one: a mapped pre step
    return k % 3


@node(output="tagged")
def tag(sq: int, w: str) -> str:
    return f"{w}{sq}"


@node(output="total")
def sum_up(sqs: list) -> int:
    return sum(sqs)


SQUARES = Pipeline([
    Pipeline([bump_of, square], name="inner").as_node(name="per", over="v",
                                                      outputs={"sq": "sqs"}),
    sum_up,
], name="squares")


def _squares(outer, cache, engine=None, on_error="raise", pipe=SQUARES, **kw):
    inputs = {"v": outer, "k": list(range(len(outer)))}
    return pipe.map(inputs, over=["v", "k"], engine=engine, cache=cache, on_error=on_error,
                    **kw)


def test_cached_nested_map_looks_its_inner_items_up_in_the_driver(tmp_path, queries):
    outer = [[1, 2], [], [3], list(range(4, 30))]
    cache = hotpipe.Cache(tmp_path / "c")
    local = _squares(outer, None)
    INNER_CALLS.clear()
    cold = _squares(outer, cache, Daft())
    assert cold["sqs"] == local["sqs"] and cold["total"] == local["total"]
    assert cold["sqs"][1] == []  # an empty inner list stays empty
    # the inner plan's per-outer step over the outer items, its inner items as ONE flat
    # query (every outer item's), then the step after the nested map
    assert queries == [(["per/bump_of"], 4), (["per/square"], 29), (["sum_up"], 4)]
    assert sorted(INNER_CALLS) == sorted(v for vs in outer for v in vs)
    _forget(queries)
    INNER_CALLS.clear()
    warm = _squares(outer, cache, Daft())
    assert warm["sqs"] == local["sqs"] and warm["total"] == local["total"]
    assert queries == [] and INNER_CALLS == []  # every value a hit, in the driver
    note = next(n for n in warm.profile.notes if n.startswith("daft cache:"))
    assert "no Daft query ran" in note
    assert warm.profile["per/square"].hits == 29 and warm.profile["sum_up"].hits == 4


def test_cached_nested_map_shares_entries_with_local_and_runs_only_new_inner_items(
        tmp_path, queries):
    outer = [[1, 2], [3], [4, 5]]
    cache = hotpipe.Cache(tmp_path / "c")
    on_local = _squares(outer, cache)  # Local writes the entries ...
    _forget(queries)
    INNER_CALLS.clear()
    on_daft = _squares(outer, cache, Daft())  # ... that Daft reads: no query
    assert queries == [] and INNER_CALLS == []
    assert on_daft["sqs"] == on_local["sqs"]
    assert on_daft.profile.cache.hits == _squares(outer, cache).profile.cache.hits
    more = [*outer, [7, 2], [8]]  # two new outer items
    expected = _squares(more, None)["sqs"]
    _forget(queries)
    INNER_CALLS.clear()
    grown = _squares(more, cache, Daft())
    assert grown["sqs"] == expected
    # outer item 3 has k=3, the bump of item 0 (k=0): its inner item 2 is a hit
    assert sorted(INNER_CALLS) == [7, 8]
    assert queries == [(["per/bump_of"], 2), (["per/square"], 2), (["sum_up"], 2)]


@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_cached_nested_map_inner_failures_match_local(tmp_path, monkeypatch, on_error):
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {5, 9})
    outer = [[1, 2], [3, 5], [], [9, 4], [6]]
    got = {}
    for engine in (hotpipe.Local(), Daft()):
        cache = hotpipe.Cache(tmp_path / engine.name)
        for attempt in ("cold", "warm"):
            if on_error == "raise":
                with pytest.raises(hotpipe.NodeError) as info:
                    _squares(outer, cache, engine)
                err = info.value
                got[engine.name, attempt] = (err.node, err.index, err.path,
                                             type(err.__cause__))
            else:
                r = _squares(outer, cache, engine, on_error="collect")
                got[engine.name, attempt] = (
                    r["sqs"], r["total"],
                    [(e.index, e.path, e.node, type(e.exception)) for e in r.errors])
    assert got["daft", "cold"] == got["local", "cold"] == got["daft", "warm"]
    if on_error == "raise":
        assert got["daft", "cold"] == ("per/square", 1, (1, 1), ValueError)
    else:
        assert [e[:2] for e in got["daft", "cold"][2]] == [(1, (1, 1)), (3, (3, 0))]


@node(output="pair")
def pair(a: str, b: int) -> str:
    return f"{a}{b}"


@node(output=("lo", "hi"))
def around(w: int, width) -> tuple:
    return w - width, w + width


@node(output="span")
def span(lo: int, hi: int) -> int:
    return hi - lo


DEEP = Pipeline([Pipeline([  # a nested map inside a nested map, tuple outputs inside
    Pipeline([around, span], name="leaf").as_node(name="each", over="w",
                                                  outputs={"span": "spans"}),
], name="mid").as_node(name="per", over="w", inputs={"ws": "w"}, outputs={"spans": "spanss"})])
NESTS = {"ws": [[[1, 2], [3]], [], [[4], []]], "width": 2}


def test_cached_nested_maps_product_tuple_and_nested_in_nested_match_local(tmp_path,
                                                                           queries):
    crossed = Pipeline([Pipeline([pair], name="inner").as_node(
        name="per", over=["a", "b"], mode="product", outputs={"pair": "pairs"})])
    items = {"a": [["x", "y"], ["z"], []], "b": [[1, 2], [3], [4]]}
    deep, nests = DEEP, NESTS
    for j, (pipe, inputs, over) in enumerate(((crossed, items, ["a", "b"]),
                                              (deep, nests, "ws"))):
        cache = hotpipe.Cache(tmp_path / str(j))
        expected = pipe.map(inputs, over=over)
        for _ in ("cold", "warm"):
            _forget(queries)
            got = pipe.map(inputs, over=over, engine=Daft(), cache=cache)
            assert {k: got[k] for k in expected} == dict(expected.items())
        assert queries == []  # warm: every inner item a hit
        assert got.profile.cache.hits == pipe.map(inputs, over=over,
                                                  cache=cache).profile.cache.hits


def test_cached_raise_names_the_lowest_failing_item_across_queries(tmp_path, queries,
                                                                   monkeypatch):
    cache = hotpipe.Cache(tmp_path / "c")
    CACHED.map({"x": [0, 2, 4]}, over="x", engine=Daft(), cache=cache, outputs="y")
    queries.clear()
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {5, 2})  # items 4 and 1
    with pytest.raises(hotpipe.NodeError) as info:
        _mapped(CACHED, 6, cache, Daft(), outputs="z")
    # items 0, 2, 4 miss `second` only, 1, 3, 5 both: two queries, the first fails at
    # item 4, the second at item 1, the one a loop over the items reports
    assert sorted(queries) == [(["first", "second"], 3), (["second"], 3)]
    assert info.value.index == 1 and isinstance(info.value.__cause__, ValueError)


# ----------------------------------------------------------------------------- mutation

@node(output="a")
def make_list(x):
    return [x]


@node(output="n")
def grow(a):
    a.append(0)  # mutates the list `make_list` returned
    if a[0] in FAILS:
        raise ValueError(a[0])
    return len(a)


@node(output="m")
def extend(a, n):
    return [*a, n]


MUTATES = Pipeline([make_list, grow, extend])


def _calls(pipe, cache, engine, outputs, xs=(1, 2, 3), **kw):
    r = pipe.map({"x": list(xs)}, over="x", outputs=outputs, cache=cache, engine=engine,
                 **kw)
    return {name: r[name] for name in ([outputs] if isinstance(outputs, str) else outputs)}


@pytest.mark.parametrize("variant", ["fused", "executor"])
def test_cached_mutation_stores_values_as_produced_like_local(tmp_path, variant):
    """A node mutating its input: Daft's cache holds what Local's holds, the value as its
    node returned it (docs/caching.md, "Mutation"), cold and warm, whatever is asked."""
    pipe = MUTATES
    if variant == "executor":  # a node the fused text does not write: the executor runs
        pipe = Pipeline([make_list, node(output="n", retries=1)(grow.func), extend])
    asks = [["a", "n", "m"], "a", "m", ["a", "m"], "n"]
    uncached = [_calls(pipe, None, None, o) for o in asks]
    for engine in (hotpipe.Local(), Daft()):  # each on a cache of its own, cold then warm
        cache = hotpipe.Cache(tmp_path / engine.name)
        got = [_calls(pipe, cache, engine, o) for o in asks]
        assert got[0] == uncached[0]  # cold: the live (mutated) values, as uncached
        assert got[1]["a"] == [[1], [2], [3]]  # the value `make_list` returned
        assert got[2] == uncached[2] and got[4] == uncached[4]
        # warm: grow does not run, so `a` is as produced (inherent, as on Local)
        assert got[3] == {"a": [[1], [2], [3]], "m": uncached[3]["m"]}
        if engine.name == "local":
            want = got
        assert got == want
    if variant == "fused":
        r = pipe.map({"x": [1]}, over="x", cache=hotpipe.Cache(tmp_path / "t"),
                     engine=Daft(), outputs=["a", "m"])
        text = next(n for n in r.profile.notes if n.startswith("daft plan:"))
        assert "    a_kept = kept(a)\n    t = clock()\n" in text
        # stored: the kept columns; returned too: the live `a` the map asks for
        assert "return [a_kept, n__kept, m, a]" in text
        uncached_text = next(n for n in pipe.map({"x": [1]}, over="x", engine=Daft())
                             .profile.notes if n.startswith("daft plan:"))
        assert "kept(" not in uncached_text


def test_cached_mutation_on_a_rerun_run_of_rows(tmp_path, monkeypatch):
    """A run whose fused text raised runs again through the executor: its values are kept
    as produced too."""
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {2})
    cache = hotpipe.Cache(tmp_path / "c")
    cold = _calls(MUTATES, cache, Daft(), ["a", "m"], on_error="collect")
    local = _calls(MUTATES, hotpipe.Cache(tmp_path / "l"), None, ["a", "m"],
                   on_error="collect")
    assert cold == local and cold["a"][0] == [1, 0]
    assert _calls(MUTATES, cache, Daft(), "a")["a"] == [[1], [2], [3]]


def test_kept_copies_only_mutable_columns():
    from hotpipe.engines.daft import kept

    ints = [1, 2.5, "s", b"b", None, True, 3j, (1, ("x", frozenset({2})))]
    assert kept(ints) is ints  # immutable values: the column itself, no copy
    lists = [[1], {"k": 2}]
    copied = kept(lists)
    assert copied == lists and copied[0] is not lists[0]
    nested = [(1, [2])]  # a tuple holding a list can change
    assert kept(nested) == nested and kept(nested)[0][1] is not nested[0][1]
    lock = __import__("threading").Lock()
    mixed = [[1], lock]  # one value cannot be pickled: it stays live, the others copied
    out = kept(mixed)
    assert out[1] is lock and out[0] == [1] and out[0] is not mixed[0]


def test_cached_pack_of_loaded_values_is_encoded_before_a_query_mutates_them(tmp_path):
    """Values loaded from per-item entries and packed for the chunk: the pack is encoded
    at once, before a query of a later (mutating) step reads them."""
    pipe = Pipeline([make_list, node(output="n", cache=False)(grow.func)])
    for engine in (None, Daft()):
        cache = hotpipe.Cache(tmp_path / ("local" if engine is None else "daft"))
        _calls(pipe, cache, engine, "a", xs=[1, 2])
        _calls(pipe, cache, engine, "a", xs=[3])  # per-item entries, no pack of [1, 2, 3]
        assert _calls(pipe, cache, engine, "n")["n"] == [2, 2, 2]  # packs `a`, mutates it
        assert _calls(pipe, cache, engine, "a")["a"] == [[1], [2], [3]]


def test_cached_worker_died_names_the_items_by_their_index_in_the_map(tmp_path,
                                                                      monkeypatch):
    from hotpipe.engines.daft import _worker_died

    cache = hotpipe.Cache(tmp_path / "c")
    CACHED.map({"x": [2, 3, 4, 5, 6, 7]}, over="x", engine=Daft(), cache=cache)
    seen = []

    def dies(self, daft_module, job, start, stop, **kw):  # every run's workers died
        seen.append(stop - start)
        raise _worker_died(job.plan, job.offset, [(0, 2, 2), (2, stop - start, 2)])

    monkeypatch.setattr(Daft, "_query", dies)
    with pytest.raises(hotpipe.WorkerDied) as info:
        _mapped(CACHED, 12, cache, Daft())
    # the query held the misses, items 0, 1 and 8..11 of the map, at its positions 0..5
    assert seen == [6]
    assert "items 0..1, 8..11 (nodes ['first', 'second'])" in str(info.value)


# ----------------------------------------------------------------------------- nested, fused

BATCH_CALLS: list = []  # the sizes of the inner batch node's calls


@node(output="enc", batch=True)
def encode(v: list) -> list:
    BATCH_CALLS.append(len(v))
    return [x * 10 for x in v]


@node(output=("lo", "hi"))
def bounds(v: int, w: int) -> tuple:
    return min(v, w), max(v, w)


def _fused_matches_local(pipe, inputs, over, tmp_path, on_error="raise"):
    """The map on Daft ran the fused text (the nested map inline) and gives Local's values
    (and errors); the to_daft script gives the same values standalone."""
    on_daft = pipe.map(inputs, over=over, engine=Daft(nested="inline"), on_error=on_error)
    on_local = pipe.map(inputs, over=over, on_error=on_error)
    assert _body(on_daft).startswith("the fused text")
    assert dict(on_daft.items()) == dict(on_local.items())
    assert [(e.index, e.path, e.node) for e in on_daft.errors] == \
        [(e.index, e.path, e.node) for e in on_local.errors]
    if on_error == "raise":
        got = _script_values(tmp_path, pipe.to_daft(inputs, over=over, nested="inline"))
        assert got == {k: on_local[k] for k in got}
    return on_daft


def test_fused_nested_map_runs_inner_steps_once_over_the_runs_inner_items(tmp_path):
    outer = [[1, 2], [], [3], list(range(4, 40))]
    # a per-outer inner step (`bump_of`) runs once per outer item, before the explode
    # (the script used to map it over an endless repeat: it never finished)
    _fused_matches_local(SQUARES, {"v": outer, "k": [0, 1, 2, 3]}, ["v", "k"], tmp_path)
    pipe = Pipeline([Pipeline([encode], name="inner").as_node(
        name="per", over="v", inputs={"vs": "v"}, outputs={"enc": "encs"})])
    BATCH_CALLS.clear()
    r = _fused_matches_local(pipe, {"vs": outer}, "vs", tmp_path)
    assert r["encs"][1] == [] and r["encs"][3][0] == 40
    # the batch node saw the inner items of many outer items at once (Local: the chunk's)
    BATCH_CALLS.clear()
    pipe.map({"vs": outer}, over="vs", engine=Daft(batch_size=4, nested="inline"))
    assert BATCH_CALLS == [39]


def test_fused_nested_map_zip_of_two_lists_and_tuple_outputs(tmp_path):
    pipe = Pipeline([Pipeline([bounds], name="inner").as_node(
        name="per", over=["v", "w"], inputs={"vs": "v", "ws": "w"},
        outputs={"lo": "los", "hi": "his"})])
    inputs = {"vs": [[1, 9], [], [5]], "ws": [[4, 2], [], [5]]}
    r = _fused_matches_local(pipe, inputs, ["vs", "ws"], tmp_path)
    assert r["los"] == [[1, 2], [], [5]] and r["his"] == [[4, 9], [], [5]]
    # unequal lengths fail that outer item only, as on Local (the run is run again
    # through the executor, which names it)
    bad = {"vs": [[1, 9], [1], [5]], "ws": [[4, 2], [], [5]]}
    r = _fused_matches_local(pipe, bad, ["vs", "ws"], tmp_path, on_error="collect")
    assert [e.index for e in r.errors] == [1]


def test_fused_nested_map_inner_failure_and_nested_in_nested(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {5})
    inputs = {"v": [[1, 2], [3, 5], [], [4]], "k": [0, 1, 2, 3]}
    r = _fused_matches_local(SQUARES, inputs, ["v", "k"], tmp_path, on_error="collect")
    assert [(e.index, e.path) for e in r.errors] == [(1, (1, 1))]
    with pytest.raises(hotpipe.NodeError) as info:
        SQUARES.map(inputs, over=["v", "k"], engine=Daft())
    assert info.value.index == 1 and info.value.path == (1, 1)
    deep, nests = DEEP, NESTS
    r = _fused_matches_local(deep, nests, "ws", tmp_path)
    assert r["spanss"] == [[[4, 4], [4]], [], [[4], []]]


def _quoted_in_order(start: str, script: str) -> None:
    """Every line docs/engines.md quotes from ``start`` to the block's end is in the
    script, in order ("..." lines aside)."""
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "engines.md").read_text()
    begin = doc.index(start)
    quoted = doc[begin:doc.index("```", begin)].splitlines()
    lines = iter(script.splitlines())
    for line in quoted:
        if line.strip() != "...":
            assert any(got == line for got in lines), line


def test_the_nested_helper_quoted_in_the_docs_is_what_to_daft_writes():
    inputs = {"v": [[1, 2], [], [3]], "k": [0, 1, 2]}
    _quoted_in_order("def nested_per(clock, n, k_, v):",
                     SQUARES.to_daft(inputs, over=["v", "k"], nested="inline"))
    _quoted_in_order("def run() -> dict:\n    # the map as 3 Daft queries",
                     SQUARES.to_daft(inputs, over=["v", "k"], nested="explode"))


@node(output="z")
def dbl(y: int, factor: int) -> int:
    return y * factor


@node(output="s")
def fmt(z: int) -> str:
    return f"<{z}>"


def test_the_chain_script_quoted_in_the_docs_is_what_to_daft_writes():
    """docs/engines.md quotes the script of its `chain` (inc, dbl, then fmt) for
    x = [1, 2, 3] and factor = 2: every line it shows is in the script, in order (the
    batch size is the 3 items spread over the cores: 1 on any machine of 2 cores or more)."""
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "engines.md").read_text()
    start = doc.index("# Daft script generated by hotpipe for pipeline 'chain'.")
    quoted = doc[start:doc.index("```", start)].splitlines()
    chain = Pipeline([inc, dbl, fmt], name="chain")
    script = chain.to_daft({"x": [1, 2, 3], "factor": 2}, over="x")
    lines = iter(script.splitlines())
    for line in quoted:
        if line.strip() not in ("...", "#   ...") and (os.cpu_count() or 1) > 1:
            assert any(got == line for got in lines), line  # in order


# ----------------------------------------------------------------------------- nested, exploded

def _notes_of(result, prefix):
    return [n for n in result.profile.notes if n.startswith(prefix)]


def test_exploded_nested_map_runs_the_texts_to_daft_writes(tmp_path):
    """nested="explode": the per-outer inner steps, every inner item, the steps after, as
    three queries (no step comes before the nested map here), each the fused text and in
    the script verbatim; the script's run() explodes and regroups as the engine does."""
    inputs = {"v": [[1, 2], [], [3], list(range(4, 40))], "k": [0, 1, 2, 3]}
    r = SQUARES.map(inputs, over=["v", "k"], engine=Daft(nested="explode"))
    local = SQUARES.map(inputs, over=["v", "k"])
    assert dict(r.items()) == dict(local.items()) and r["sqs"][1] == []
    assert _notes_of(r, "daft nested:") == [
        "daft nested: map 'per' ran explode: nested='explode' was asked for"]
    assert _notes_of(r, "daft queries:") == [
        "daft queries: 3 ran, in order: ['per/bump_of'] over 4 item(s) (fused text, 0 "
        "rerun(s)); ['per/square'] over 39 item(s) (fused text, 0 rerun(s)); ['sum_up'] over "
        "4 item(s) (fused text, 0 rerun(s))"]
    script = SQUARES.to_daft(inputs, over=["v", "k"], nested="explode")
    texts = _ran_text(r)
    assert "def query_1(box):" in texts and "def query_3(box):" in texts
    assert texts in script  # every query's text, verbatim, in order
    assert "'per' over ['v']: EXPLODED into one flat Daft query" in script
    assert "(1 nested map: 'per': exploded in the driver into one flat query" in script
    assert _script_values(tmp_path, script) == {k: local[k] for k in local}
    assert r.profile["per/square"].calls == 39 and r.profile["sum_up"].calls == 4


ENCODE = Pipeline([Pipeline([encode], name="inner").as_node(
    name="per", over="v", inputs={"vs": "v"}, outputs={"enc": "encs"})])


def test_auto_explodes_a_long_inner_list_and_keeps_even_ones_inline(tmp_path):
    cores = os.cpu_count() or 1
    one_long = {"vs": [list(range(8 * cores))]}
    uneven = {"vs": [list(range(40 * cores)), [1, 2], [3]]}
    even = {"vs": [list(range(8))] * (2 * cores)}
    tiny = {"vs": [[1], [2, 3]]}
    cases = [(ENCODE, uneven, "explode", "its longest inner list"),
             (ENCODE, even, "inline", "evenly enough"),
             (ENCODE, tiny, "inline", "too few to spread")]
    if cores > 1:  # one core: nothing to spread over
        cases.append((ENCODE, one_long, "explode", "(inner node 'per/encode' is a batch"))
        # plain Python inner steps: Daft's native threads share the GIL
        cases.append((SQUARES, {"v": uneven["vs"], "k": [0, 1, 2]}, "inline",
                      "plain Python calls"))
    for pipe, inputs, how, why in cases:
        over = list(inputs)
        r = pipe.map(inputs, over=over, engine=Daft())
        assert dict(r.items()) == dict(pipe.map(inputs, over=over).items())
        (note,) = _notes_of(r, "daft nested:")
        assert note.startswith(f"daft nested: map 'per' ran {how}: ") and why in note, note
        script = pipe.to_daft(inputs, over=over)
        assert ("EXPLODED" in script) == (how == "explode")
        assert note.split(": ", 2)[2] in script  # the same reason in the header
    # lists an earlier step makes: their lengths are unknown before the query
    made = Pipeline([node(output="v")(_lists_of), Pipeline([bump_of, square], name="inner")
                     .as_node(name="per", over="v", outputs={"sq": "sqs"}), sum_up])
    r = made.map({"m": [200, 300], "k": [0, 1]}, over=["m", "k"], engine=Daft())
    assert "made by an earlier step" in _notes_of(r, "daft nested:")[0]
    # asked to explode, both run it inline: no script could size the flat query beforehand
    r = made.map({"m": [200, 300], "k": [0, 1]}, over=["m", "k"],
                 engine=Daft(nested="explode"))
    (note,) = _notes_of(r, "daft nested:")
    assert note.startswith("daft nested: map 'per' ran inline: nested='explode' was asked for,"
                           " but its lists 'v' are made by an earlier step")
    script = made.to_daft({"m": [200, 300], "k": [0, 1]}, over=["m", "k"], nested="explode")
    assert "EXPLODED" not in script and note.split(": ", 2)[2] in script


def _lists_of(m: int) -> list:
    return list(range(m))


@pytest.mark.parametrize("on_error", ["raise", "collect"])
def test_exploded_nested_map_failures_match_local(monkeypatch, on_error):
    monkeypatch.setattr(sys.modules[__name__], "FAILS", {5, 9})
    inputs = {"v": [[1, 2], [3, 5], [], [9, 4], [6]], "k": [0, 1, 2, 3, 4]}
    got = {}
    for name, engine in (("local", None), ("daft", Daft(nested="explode"))):
        if on_error == "raise":
            with pytest.raises(hotpipe.NodeError) as info:
                SQUARES.map(inputs, over=["v", "k"], engine=engine)
            got[name] = (info.value.node, info.value.index, info.value.path,
                         type(info.value.__cause__))
        else:
            r = SQUARES.map(inputs, over=["v", "k"], engine=engine, on_error="collect")
            got[name] = (dict(r.items()), [(e.index, e.path, e.node) for e in r.errors])
    assert got["daft"] == got["local"]


def test_exploded_zip_of_unequal_lists_and_a_batch_node_over_every_inner_item():
    pipe = Pipeline([Pipeline([bounds], name="inner").as_node(
        name="per", over=["v", "w"], inputs={"vs": "v", "ws": "w"},
        outputs={"lo": "los", "hi": "his"})])
    bad = {"vs": [[1, 9], [1], [5]], "ws": [[4, 2], [], [5]]}
    a = pipe.map(bad, over=["vs", "ws"], engine=Daft(nested="explode"), on_error="collect")
    b = pipe.map(bad, over=["vs", "ws"], on_error="collect")
    assert dict(a.items()) == dict(b.items()) and [e.index for e in a.errors] == [1]
    BATCH_CALLS.clear()
    ticks = []
    r = ENCODE.map({"vs": [list(range(50)), [], list(range(30))]}, over="vs",
                engine=Daft(nested="explode", batch_size=100), progress=ticks.append)
    assert r["encs"][1] == [] and r["encs"][2][-1] == 290
    assert BATCH_CALLS == [80]  # every outer item's inner items in one call
    assert sum(ticks) == 3


def test_nested_strategy_is_checked():
    with pytest.raises(hotpipe.InputError, match="nested='sideways'"):
        Daft(nested="sideways")
    with pytest.raises(hotpipe.InputError, match="nested='sideways'"):
        SQUARES.to_daft({"v": [[1]], "k": [0]}, over=["v", "k"], nested="sideways")


# ----------------------------------------------------------------------------- script helpers

WORD = re.compile(r"[a-z]+", re.I)


def _halved(v):  # a helper beside the nodes, calling another one
    return _floor_of(v / 2)


def _floor_of(v):
    return math.floor(v)


@node(output="h")
def halve(x: int) -> int:
    return _halved(x)


@node(output="words")
def split_words(line: str) -> list:
    return WORD.findall(line)


class _Tally:
    def count(self, v):
        return v


TALLY = _Tally()


@node(output="t")
def tally(x: int) -> int:
    return TALLY.count(x)


def test_to_daft_copies_the_helpers_the_nodes_call(tmp_path):
    """A node calling a helper defined beside it (which calls another), or reading a
    compiled pattern: the script holds their source and runs standalone."""
    pipe = Pipeline([halve])
    script = pipe.to_daft({"x": [3, 8]}, over="x")
    assert "def _halved(v):" in script and "def _floor_of(v):" in script
    assert _script_values(tmp_path, script) == {"h": [1, 4]}
    pipe = Pipeline([split_words])
    script = pipe.to_daft({"line": ["Ab cd", "e"]}, over="line")
    assert _script_values(tmp_path, script) == {"words": [["Ab", "cd"], ["e"]]}


def test_to_daft_names_a_global_it_cannot_write():
    with pytest.raises(hotpipe.InputError, match="reads the global 'TALLY', a _Tally"):
        Pipeline([tally]).to_daft({"x": [1]}, over="x")


def test_the_rules_script_quoted_in_the_docs_is_what_to_daft_writes(tmp_path):
    from ._daft_rules import INPUTS, RULES

    script = RULES.to_daft(INPUTS, over="x")
    _quoted_in_order("# --- broadcast steps: once, in the driver (a resource built here too) ---",
                     script)
    # numpy values print as calls: the script's outputs as plain floats, for literal_eval
    plain = ("\nprint(repr({k: [[float(x) for x in v] if hasattr(v, '__len__') else float(v)"
             " for v in vals] for k, vals in run().items()}))\n")
    got = _script_values(tmp_path, script + plain)
    expected = RULES.map(INPUTS, over="x")
    assert set(got) == set(expected) and got["z"] == expected["z"] == [40, 60, 80]
    assert got["e"] == [[float(x) for x in v] for v in expected["e"]]
    assert got["r"] == [float(v) for v in expected["r"]]
    assert "# NOT what engine=hotpipe.Daft() runs for this map" in script  # vectorize=


# ----------------------------------------------------------------------------- review fixes

ONCE: dict = {}  # item -> calls, for nodes that fail once


@node(output=("lo2", "hi2"))
def split_once(x: int) -> tuple:
    ONCE[x] = ONCE.get(x, 0) + 1
    if x == 3 and ONCE[x] == 1:
        raise ConnectionError("transient")
    return x - 1, x + 1


@node(output=("only",))
def one_tuple(x: int) -> tuple:
    return (x * 3,)


@node(output="t_")
def shift(t: int) -> int:
    return t + 1


def test_tuple_outputs_resume_and_one_tuples_and_renamed_names_match_local():
    pipe = Pipeline([split_once])
    for engine in (None, Daft(batch_size=5)):
        ONCE.clear()
        r = pipe.map({"x": list(range(5))}, over="x", on_error="collect", engine=engine)
        assert r["lo2"] == [-1, 0, 1, hotpipe.FAILED, 3] and [e.index for e in r.errors] == [3]
        assert dict.fromkeys(range(5), 1) == ONCE  # no item called twice, the error kept
    one = Pipeline([one_tuple])
    assert one.map({"x": [1, 2]}, over="x", engine=Daft())["only"] == [3, 6] == \
        one.map({"x": [1, 2]}, over="x")["only"]
    renamed = Pipeline([shift])  # the input `t` is written `t_`, as is the output `t_`
    assert renamed.map({"t": [1, 2, 3]}, over="t", engine=Daft())["t_"] == [2, 3, 4]


@node(output="pre")
def before_nested(x: int) -> int:
    if x == 1:
        raise ValueError("boom")
    return x + 1


@node(output="w")
def doubled(v: int) -> int:
    return v * 2


@node(output="neg")
def negated(x: int) -> int:  # reads x only: runs for an item whose `pre` failed
    return -x


def test_exploded_map_skips_only_the_steps_whose_arguments_failed():
    pipe = Pipeline([before_nested, Pipeline([doubled], name="inner").as_node(
        name="per", over="v", inputs={"vs": "v"}, outputs={"w": "ws"}), negated])
    inputs = {"x": [0, 1, 2], "vs": [[1], [2, 3], [4]]}
    local = pipe.map(inputs, over=["x", "vs"], on_error="collect")
    for nested in ("inline", "explode"):
        r = pipe.map(inputs, over=["x", "vs"], on_error="collect", engine=Daft(nested=nested))
        assert dict(r.items()) == dict(local.items())
        assert r["ws"][1] == [4, 6] and r["neg"] == [0, -1, -2]


def _scaled_all(vs):
    return [_floor_of(v) for v in vs]  # a helper read only inside a comprehension


@node(output="fl")
def floors(vs: list) -> list:
    return _scaled_all(vs)


@node(output="row_runs_out")
def uses_glue_named(x: int) -> int:
    return row_runs(x)


def row_runs(x):  # named like the glue the script defines
    return x


def test_to_daft_copies_helpers_read_in_comprehensions_and_refuses_glue_names(tmp_path):
    script = Pipeline([floors]).to_daft({"vs": [[1.5, 2.5]]}, over="vs")
    assert "def _floor_of(v):" in script
    assert _script_values(tmp_path, script) == {"fl": [[1, 2]]}
    with pytest.raises(hotpipe.InputError, match="named like a name of the generated text"):
        Pipeline([uses_glue_named]).to_daft({"x": [1]}, over="x")


@node(output="first")
def first_of(xs: list) -> int:
    return next(iter(xs))


def test_a_node_raising_stop_iteration_fails_its_item_on_daft_and_in_the_script(tmp_path):
    pipe = Pipeline([first_of])
    inputs = {"xs": [[1], [2], [], [4]]}
    local = pipe.map(inputs, over="xs", on_error="collect")
    for engine in (Daft(), Daft(batch_size=2)):
        r = pipe.map(inputs, over="xs", on_error="collect", engine=engine)
        assert r["first"] == local["first"] == [1, 2, hotpipe.FAILED, 4]
        assert [(e.index, type(e.exception)) for e in r.errors] == [(2, RuntimeError)]
    path = tmp_path / "script.py"
    path.write_text(pipe.to_daft(inputs, over="xs"))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0 and "raised StopIteration" in done.stderr


STEP_SIZE = 10


class _Cfg:  # a class attribute reading a global, when the script defines the class
    scale = SCALE


def _scaled(v, k=STEP_SIZE):  # a default reading a global, when the script defines it
    return v * _Cfg.scale + k


@node(output="sc")
def scaled(x: int) -> int:
    return _scaled(x)


def test_to_daft_writes_the_globals_a_definition_reads(tmp_path):
    pipe = Pipeline([scaled])
    script = pipe.to_daft({"x": [1, 2]}, over="x")
    assert "STEP_SIZE = 10" in script and "class _Cfg:" in script
    assert _script_values(tmp_path, script) == {"sc": pipe.map({"x": [1, 2]}, over="x")["sc"]}
