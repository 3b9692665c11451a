"""``@node(vectorize="jax")``: jit(vmap(f)) over padded batches; compilations counted and
timed apart; fallback with a warning; the missing extra named. CPU only: there is no GPU
here, so the device paths (device_put to a GPU) are not exercised."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from hotpipe import DefinitionError, Pipeline, Threads, VectorizeWarning, node

XS = np.linspace(0.0, 2.0, 100, dtype=np.float32)


def rational(x):
    y = x
    for _ in range(6):  # a few dozen element-wise operations
        y = y * 0.5 + 1.0 / (1.0 + y * y)
    return y


def want(xs):
    return np.array([rational(x) for x in xs], dtype=np.float32)


def test_missing_extra_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    with pytest.raises(DefinitionError, match=r"pip install 'hotpipe\[jax\]'"):
        node(rational, output="y", vectorize="jax")


jax = pytest.importorskip("jax", reason="vectorize='jax' needs the extra: pip install "
                                        "'hotpipe[jax]' (make test installs it)")


def counters(r, name):
    return r.profile.stats.counters.get((0, name), 0)


def test_values_and_compilations():
    pipe = Pipeline([node(rational, output="y", vectorize="jax", batch_size=64)])
    r = pipe.map({"x": XS}, over="x")
    assert type(r["y"]) is np.ndarray and r["y"].dtype == np.float32
    assert np.allclose(r["y"], want(XS), rtol=1e-5)
    # the sample (16 items), the full batch (64) and the tail (36 -> padded to 64): 2 sizes
    assert counters(r, "jit compiles") == 2
    compile_s = counters(r, "jit seconds")
    assert compile_s > 0
    assert r.profile.stats.timed_wall[0] < compile_s  # compiling is not item time
    assert any("2 compilation(s) in this map" in n for n in r.profile.notes)
    again = pipe.map({"x": XS[:50]}, over="x")  # 50 items: padded to 64, compiled already
    assert counters(again, "jit compiles") == 0
    assert np.allclose(again["y"], want(XS[:50]), rtol=1e-5)


def test_broadcast_values_and_threads():
    @node(output="y", vectorize="jax", batch_size=32)
    def affine(x, a):
        return a * x + 1.0

    r = Pipeline([affine]).map({"x": XS, "a": 3.0}, over="x",
                               engine=Threads(2, chunk_size=40))
    assert np.allclose(r["y"], 3.0 * XS + 1.0, rtol=1e-6)


def test_python_branch_falls_back_with_a_warning():
    @node(output="y", vectorize="jax")
    def branchy(x):
        return x if x > 1.0 else -x

    with pytest.warns(VectorizeWarning, match="fell back to one call per item"):
        r = Pipeline([branchy]).map({"x": XS}, over="x")
    assert list(r["y"]) == [x if x > 1.0 else -x for x in XS]


def test_lists_in():
    r = Pipeline([node(rational, output="y", vectorize="jax")]).map(
        {"x": [float(x) for x in XS]}, over="x")
    assert type(r["y"]) is list
    assert np.allclose(r["y"], want(XS), rtol=1e-5)


def test_the_docs_example_runs(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "engines.md").read_text()
    marker = "# needs pip install 'hotpipe[jax]'; run by tests/hotpipe/test_vectorize_jax.py"
    block = text.split(marker, 1)[1].split("```", 1)[0]
    exec(compile(block, "docs/engines.md[jax]", "exec"), {"__name__": "docs_jax"})
    assert "compilation(s) in this map" in capsys.readouterr().out


def test_compilations_count_the_distinct_buckets():
    """Batches of 100, 37 and 100 items (two chunks: 137 and 100) with batch_size=100:
    padded to 100, 64 and 100, plus the 16-item sample: 3 distinct sizes, 3 compilations,
    however many batches share them."""
    from hotpipe import Local
    from hotpipe._vectorize import bucket

    pipe = Pipeline([node(rational, output="y", vectorize="jax", batch_size=100)])
    xs = np.linspace(0.0, 2.0, 237, dtype=np.float32)
    r = pipe.map({"x": xs}, over="x", engine=Local(chunk_size=137))
    assert r.profile.stats.chunks == 2
    assert {bucket(m, 100) for m in (100, 37, 100)} == {100, 64}
    assert counters(r, "jit compiles") == len({16, 100, 64})
    assert np.allclose(r["y"], want(xs), rtol=1e-5)
    again = pipe.map({"x": xs[:37]}, over="x")  # a 37-item batch again: compiled already
    assert counters(again, "jit compiles") == 0


def test_prefetch_prepares_the_next_batch_while_one_computes(monkeypatch):
    from hotpipe import _vectorize

    log: list[tuple[str, float, str]] = []
    prepare, compute = _vectorize._JaxCall.prepare, _vectorize._JaxCall.compute

    def logged_prepare(self, args, per_item):
        import threading

        log.append(("prepare", float(args[0][0]), threading.current_thread().name))
        return prepare(self, args, per_item)

    def slow_compute(self, prepared, m, per_item):
        first = float(np.asarray(prepared[0])[0])
        log.append(("start", first, ""))
        time.sleep(0.1)  # the batch "computes": the next one is prepared meanwhile
        out = compute(self, prepared, m, per_item)
        log.append(("end", first, ""))
        return out

    import time

    monkeypatch.setattr(_vectorize._JaxCall, "prepare", logged_prepare)
    monkeypatch.setattr(_vectorize._JaxCall, "compute", slow_compute)
    pipe = Pipeline([node(rational, output="y", vectorize="jax", batch_size=16, prefetch=2)])
    r = pipe.map({"x": XS}, over="x")  # 100 items: batches of 16 (the last one 4)
    assert np.allclose(r["y"], want(XS), rtol=1e-5)  # results in item order
    firsts = [float(x) for x in XS[::16]]
    helper = [v for kind, v, t in log if kind == "prepare" and t == "hotpipe-prefetch-batch"]
    assert helper == firsts  # every batch prepared on the helper thread, in item order
    # (the 16-item sample check is prepared and computed in the map's own thread)
    started = [v for kind, v, _ in log if kind == "start"]
    assert started == [0.0, *firsts]  # the sample, then the batches in item order
    ends = {v: i for i, (kind, v, _) in enumerate(log) if kind == "end"}  # the last end
    for a, b in itertools.pairwise(firsts):  # batch b was ready before batch a finished
        assert log.index(("prepare", b, "hotpipe-prefetch-batch")) < ends[a]
