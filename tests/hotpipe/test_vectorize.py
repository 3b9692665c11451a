"""``@node(vectorize="numpy")``: one call per batch when a sample agrees with per-item
calls, else per item with a VectorizeWarning; the decision is kept and reported; bad
arguments are DefinitionErrors; prefetched batches come in order."""

from __future__ import annotations

import math
import threading
import time
import warnings

import numpy as np
import pytest

from hotpipe import DefinitionError, Pipeline, VectorizeWarning, node
from hotpipe._state import state_of
from hotpipe._vectorize import bucket, mismatch, prefetched

XS = np.linspace(-2.0, 3.0, 200)


def _map(n, xs=XS, **kw):
    return Pipeline([n]).map({"x": xs}, over="x", **kw)


def test_array_safe_function_is_called_once_per_batch():
    calls = []

    @node(output="y", vectorize="numpy")
    def poly(x):
        calls.append(np.shape(x))
        return x * x - 3.0 * x + 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        r = _map(poly)
    assert type(r["y"]) is np.ndarray and r["y"].dtype == np.float64
    assert r["y"].tolist() == [float(x * x - 3.0 * x + 1.0) for x in XS]
    array_calls = [s for s in calls if s != ()]
    assert len(array_calls) < 20  # whole batches (the first ones small while sizes grow)
    assert calls.count(()) == 16  # the sample, once per item
    assert any("called once per batch (numpy); checked on 16 items" in n
               for n in r.profile.notes)


def test_lists_in_lists_out_with_python_values():
    @node(output="y", vectorize="numpy")
    def poly(x):
        return x * 2 + 1

    r = _map(poly, list(range(50)))
    assert r["y"] == [x * 2 + 1 for x in range(50)]
    assert {type(v) for v in r["y"]} == {int}


@pytest.mark.parametrize(("func", "why"), [
    (lambda x: x if x > 0 else 0.0, "raised ValueError: The truth value"),
    (lambda x: math.sqrt(abs(x)), "raised TypeError"),
    (lambda x: 1.5, "returned a float, not an array of 16 results"),
    (lambda x: x / np.max(np.abs(x)), "differs from one call per item: item 1"),
    (lambda x: np.sum(x), "returned a float64, not an array"),
])
def test_fallback_per_item_with_a_warning(func, why):
    pipe = Pipeline([node(func, output="y", vectorize="numpy")])
    with pytest.warns(VectorizeWarning, match="fell back to one call per item") as warned:
        r = pipe.map({"x": XS}, over="x")
    assert why in str(warned[0].message)
    assert list(r["y"]) == [func(x) for x in list(XS)]  # right, only slower
    assert any("called once per item" in n and why in n for n in r.profile.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # decided once per plan: no second warning
        r2 = pipe.map({"x": XS}, over="x")
    assert list(r2["y"]) == list(r["y"])


def test_decision_is_learned_per_plan():
    @node(output="y", vectorize="numpy")
    def poly(x):
        return x + 1

    pipe = Pipeline([poly])
    pipe.map({"x": XS}, over="x")
    plan = pipe._plan(frozenset({"x"}), None, frozenset({"x"}))
    decision = state_of(plan).tuning.vector[0]
    assert decision.ok is True and decision.mode == "numpy"


def test_rows_of_a_2d_array():
    @node(output="y", vectorize="numpy")
    def norm2(x):
        return (x * x).sum(axis=-1)

    grid = np.arange(40.0).reshape(20, 2)
    r = _map(norm2, grid)
    assert type(r["y"]) is np.ndarray
    assert r["y"].tolist() == [float((row * row).sum()) for row in grid]


def test_broadcast_values_are_passed_once():
    @node(output="y", vectorize="numpy")
    def affine(x, a, b=1.0):
        assert np.ndim(a) == 0
        return a * x + b

    r = Pipeline([affine]).map({"x": XS, "a": 3.0}, over="x")
    assert r["y"].tolist() == [float(3.0 * x + 1.0) for x in XS]


def test_item_errors_are_reported_per_item():
    @node(output="y", vectorize="numpy")
    def check(x):
        if np.any(np.asarray(x) > 2.5):
            raise ValueError("too big")
        return x * 2

    r = _map(check, on_error="collect")
    bad = [i for i, x in enumerate(XS) if x > 2.5]
    assert sorted(e.index for e in r.errors) == bad


def test_run_calls_it_on_one_item():
    @node(output="y", vectorize="numpy")
    def poly(x):
        return x * 2

    assert Pipeline([poly]).run({"x": 3}) == {"y": 6}


def test_bad_arguments():
    with pytest.raises(DefinitionError, match=r"vectorize='torch' is not one of \['numpy', "
                                              r"'jax'\]"):
        node(lambda x: x, output="y", vectorize="torch")
    with pytest.raises(DefinitionError, match="with batch=True"):
        node(lambda x: x, output="y", vectorize="numpy", batch=True)

    async def slow(x):
        return x

    with pytest.raises(DefinitionError, match="with an async function"):
        node(slow, output="y", vectorize="numpy")
    with pytest.raises(DefinitionError, match="prefetch= needs vectorize"):
        node(lambda x: x, output="y", prefetch=2)
    with pytest.raises(DefinitionError, match="prefetch=-1 must be an int >= 0"):
        node(lambda x: x, output="y", vectorize="numpy", prefetch=-1)
    f = node(lambda x: x, output="y", vectorize="numpy")
    with pytest.raises(DefinitionError, match="drop vectorize= to attach a batch version"):
        f.batch(lambda x: x)
    assert node(lambda x: x, output="y", vectorize="numpy", batch_size=64).batch_size == 64


def test_mismatch_reasons():
    assert mismatch(np.array([1.0, 2.0]), [1.0, 2.0], 2, 1e-12) is None
    assert mismatch(np.array([1.0, 2.0 + 1e-15]), [1.0, 2.0], 2, 1e-12) is None
    assert "shape (3,)" in mismatch(np.array([1.0, 2.0, 3.0]), [1.0, 2.0], 2, 1e-12)
    assert "dtype" in mismatch(np.array(["a", "b"]), [1.0, 2.0], 2, 1e-12)
    assert "do not form an array" in mismatch(np.array([1, 2]), [[1], [1, 2]], 2, 1e-12)


def test_buckets_are_few():
    sizes = {bucket(m, 16_384) for m in range(1, 16_385)}
    assert sizes == {16, 64, 256, 1024, 4096, 16_384}
    assert bucket(100, 100) == 100 and bucket(5000, 5000) == 5000


# --- prefetch ---------------------------------------------------------------------------


def test_prefetch_keeps_order_and_runs_ahead():
    log: list[tuple[str, int]] = []
    lock = threading.Lock()

    def prepare(b):
        with lock:
            log.append(("prepare", b))
        return b * 10

    out = []
    for b, ready, exc in prefetched(iter(range(6)), prepare, ahead=2):
        assert exc is None
        time.sleep(0.01)  # the current batch "computes": the next ones are prepared meanwhile
        with lock:
            log.append(("run", b))
        out.append((b, ready))
    assert out == [(b, b * 10) for b in range(6)]
    runs = [b for kind, b in log if kind == "run"]
    assert runs == list(range(6))
    # batch 1 was prepared before batch 0 finished computing
    assert log.index(("prepare", 1)) < log.index(("run", 0))
    # never more than `ahead` + 1 batches prepared beyond the one running
    for i in range(6):
        prepared = sum(1 for kind, b in log[:log.index(("run", i))] if kind == "prepare")
        assert prepared <= i + 1 + 2 + 1


def test_prefetch_passes_errors_in_order():
    def prepare(b):
        if b == 2:
            raise KeyError(b)
        return b

    got = [(b, type(exc).__name__ if exc else None)
           for b, _, exc in prefetched(iter(range(4)), prepare, ahead=1)]
    assert got == [(0, None), (1, None), (2, "KeyError"), (3, None)]


def test_prefetch_in_a_map_gives_the_same_results():
    order = []

    @node(output="y", vectorize="numpy", prefetch=2, batch_size=16)
    def poly(x):
        order.append(float(np.asarray(x).ravel()[0]))
        return x * 2

    r = _map(poly)
    assert r["y"].tolist() == [float(x * 2) for x in XS]
    starts = order[16 + 1:]  # after the sample's per-item calls and its one array call
    assert starts == sorted(starts)  # batches computed in item order


# --- batch sizes for arrays --------------------------------------------------------------


def test_array_batches_start_near_256_kb_and_may_grow_past_65536():
    from hotpipe._batch import ARRAY_MAX_SIZE, MAPPED, MAX_SIZE, START_SIZE, _seed
    from hotpipe._state import BatchSizing

    floats = BatchSizing(START_SIZE)
    _seed(floats, (np.zeros(1),), (MAPPED,))
    assert floats.size == 32_768 and floats.limit == ARRAY_MAX_SIZE  # 8 bytes per item
    images = BatchSizing(START_SIZE)
    _seed(images, (np.zeros((1, 224, 224, 3), dtype=np.uint8),), (MAPPED,))
    assert images.size == START_SIZE  # 150 KB per item: start small
    lists = BatchSizing(START_SIZE)
    _seed(lists, ([1.0],), (MAPPED,))
    assert lists.size == START_SIZE and lists.limit == MAX_SIZE  # lists: as before


def test_array_batches_try_the_largest_size_once():
    from hotpipe._batch import _learn
    from hotpipe._state import BatchSizing

    def run(rate_at):  # items per second at each size
        state = BatchSizing(1024, limit=1 << 20)
        for _ in range(40):
            if state.done:
                break
            m = min(state.size, 1_000_000)  # a chunk shorter than the limit
            _learn(state, m, m / rate_at(state.size))
        return state

    # cheap: mid sizes are worse than one call on everything -> the whole chunk
    whole = run(lambda size: 3e8 if size < 4096 else 1e8 if size < (1 << 20) else 9e8)
    assert whole.done and whole.size == 1 << 20
    # long functions: cache-sized batches win -> back to the best mid size
    mid = run(lambda size: 1e8 if size <= 8192 else 5e7)
    assert mid.done and mid.size == 8192


def test_profile_reports_the_batch_size_and_its_curve():
    @node(output="y", batch=True)
    def double(x):
        return x * 2

    pipe = Pipeline([double])
    for _ in range(3):
        r = pipe.map({"x": np.arange(200_000.0)}, over="x")
    [note] = [n for n in r.profile.notes if n.startswith("batch size: node 'double'")]
    assert "items per call" in note and "items/s by size 32,768: " in note
    fixed = Pipeline([node(lambda x: x, output="y", batch=True, batch_size=8)])
    assert "8 items per call (fixed)" in fixed.map({"x": [1, 2]}, over="x").profile.notes[0]


def test_array_and_list_batch_sizes_are_learned_apart():
    """A list map of a batch node does not settle the size its array maps use, nor the
    reverse: each is learned (and reported) on its own."""
    from hotpipe._batch import MAX_SIZE

    @node(output="y", batch=True)
    def double(x):
        return np.asarray(x) * 2

    pipe = Pipeline([double])
    tuning = state_of(pipe._plan(frozenset({"x"}), None, frozenset({"x"}))).tuning
    listed = pipe.map({"x": list(range(3000))}, over="x")
    assert list(tuning.batch) == [0] and not tuning.array_batch
    list_size = tuning.batch[0].size
    assert list_size < 32_768  # grown from 16 over lists
    arrays = pipe.map({"x": np.arange(300_000.0)}, over="x")
    assert tuning.batch[0].size == list_size  # untouched by the array map
    assert tuning.array_batch[0].size >= 32_768  # its own: seeded at ~256 KB of floats
    again = pipe.map({"x": list(range(3000))}, over="x")
    assert tuning.batch[0].size <= MAX_SIZE and type(again["y"]) is list
    assert type(arrays["y"]) is np.ndarray and listed["y"] == again["y"]
    [note] = [n for n in arrays.profile.notes if "over arrays" in n]
    assert note.startswith("batch size: node 'double' over arrays: ")


# --- the cache ---------------------------------------------------------------------------


def test_vectorize_is_part_of_the_cache_key(tmp_path):
    """numpy on whole batches may round differently from per-item calls, so a cached map
    never returns values computed with another ``vectorize=`` setting."""
    from hotpipe.cache import Cache, open_store

    calls = []

    def poly(x):
        calls.append(1)
        return x * x * 0.5 + 1.0

    cache = Cache(store=open_store("sqlite", tmp_path / "c"))
    plain = Pipeline([node(poly, output="y")], name="p")
    vec = Pipeline([node(poly, output="y", vectorize="numpy")], name="p")
    cold = plain.map({"x": XS}, over="x", cache=cache)
    assert cold.profile["poly"].misses == len(XS)
    calls.clear()
    other = vec.map({"x": XS}, over="x", cache=cache)  # another setting: computed again
    assert other.profile["poly"].hits == 0 and other.profile["poly"].misses == len(XS)
    assert calls  # the function ran
    assert np.allclose(other["y"], cold["y"], rtol=1e-12)
    calls.clear()
    for pipe, first in ((plain, cold), (vec, other)):  # the same setting twice: all hits
        warm = pipe.map({"x": XS}, over="x", cache=cache)
        assert warm.profile["poly"].hits == len(XS) and warm.profile["poly"].misses == 0
        assert np.array_equal(np.asarray(warm["y"]), np.asarray(first["y"]))
    assert not calls
