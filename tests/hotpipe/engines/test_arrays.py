"""Array columns on every engine, with and without the cache: a mapped numpy array stays an
array through batch steps; singular nodes see the items ``list(array)`` gives; the values
(==, dtype, element types) are what the same map over lists computes."""

from __future__ import annotations

import numpy as np
import pytest

from hotpipe import FAILED, Local, Pipeline, node
from hotpipe.cache import Cache, open_store

XS = np.arange(23, dtype=np.float64) * 0.37


@node(output="y", batch=True)
def scale(x):
    assert type(x) is np.ndarray, type(x)  # array slices, never lists
    return x * 2.0


@node(output="z")
def shift(y):
    return y + 1


@node(output="w", batch=True)
def square(y):
    assert type(y) is np.ndarray, type(y)  # the array column passed on without conversion
    return y * y


@node(output="v", vectorize="numpy")
def poly(w):
    return w * 3.0 - 1.0


@pytest.fixture(scope="module")
def pipe():
    return Pipeline([scale, shift, square, poly], name="arrays")


def expected(xs):
    y = [v * 2.0 for v in xs]
    return {"y": y, "z": [v + 1 for v in y], "w": [v * v for v in y],
            "v": [v * v * 3.0 - 1.0 for v in y]}


def check(r, xs):
    want = expected(list(xs))
    for name in ("y", "w", "v"):  # batch outputs over an array: arrays of the same dtype
        assert type(r[name]) is np.ndarray, name
        assert r[name].dtype == np.float64
        assert r[name].tolist() == [float(v) for v in want[name]]
    assert type(r["z"]) is list  # a singular node's output: a list, as before
    assert r["z"] == want["z"]
    assert {type(v) for v in r["z"]} == {np.float64}  # it saw list(array)'s numpy scalars


def test_array_columns(engine, pipe):
    r = pipe.map({"x": XS}, over="x", engine=engine)
    check(r, XS)
    assert r.profile["scale"].items == len(XS)


def test_lists_unchanged(engine):
    @node(output="y", batch=True)
    def scale(x):
        assert type(x) is list
        return np.asarray(x) * 2.0

    r = Pipeline([scale, shift]).map({"x": list(XS)}, over="x", engine=engine)
    assert type(r["y"]) is list and type(r["z"]) is list  # lists in, lists out: as before
    assert r["z"] == expected(list(XS))["z"]


def test_array_columns_cached(engine, pipe, tmp_path):
    cache = Cache(store=open_store("sqlite", tmp_path / "c"))
    cold = pipe.map({"x": XS}, over="x", engine=engine, cache=cache)
    warm = pipe.map({"x": XS}, over="x", engine=engine, cache=cache)
    check(cold, XS)
    check(warm, XS)
    assert warm.profile["poly"].hits == len(XS)
    plain = pipe.map({"x": XS}, over="x", engine=engine)
    for name in plain:
        assert type(warm[name]) is type(plain[name])
        assert np.array_equal(np.asarray(warm[name]), np.asarray(plain[name]))


def test_failed_items_make_a_list(engine):
    @node(output="y", batch=True)
    def half(x):
        return x / 2

    @node(output="inv", name="invert")
    def strict(y):  # 1 / np.float64(0) would be inf: fail on purpose
        if y == 0:
            raise ZeroDivisionError("zero")
        return 1 / y

    @node(output="out", batch=True)
    def again(inv):
        return np.asarray(inv, dtype=float) * 10

    xs = np.array([2.0, 0.0, 4.0])
    r = Pipeline([half, strict, again]).map({"x": xs}, over="x", on_error="collect",
                                            engine=engine)
    assert type(r["y"]) is np.ndarray
    assert r["out"][0] == 10.0 and r["out"][1] is FAILED and r["out"][2] == 5.0
    assert [e.index for e in r.errors] == [1]


def test_two_dimensional_rows(engine):
    @node(output="total")
    def total(row):
        return row.sum()

    @node(output="scaled", batch=True)
    def scaled(row):
        return row * 2

    grid = np.arange(12, dtype=np.int64).reshape(6, 2)
    r = Pipeline([total, scaled]).map({"row": grid}, over="row", engine=engine)
    assert r["total"] == [1, 5, 9, 13, 17, 21]
    assert type(r["scaled"]) is np.ndarray and r["scaled"].shape == (6, 2)
    assert r["scaled"].dtype == np.int64 and np.array_equal(r["scaled"], grid * 2)


def test_empty_array(engine, pipe):
    r = pipe.map({"x": np.array([], dtype=float)}, over="x", engine=engine)
    assert all(len(r[name]) == 0 for name in r)


def test_local_uses_large_chunks_for_array_batches(pipe):
    xs = np.arange(3000, dtype=np.float64)
    r = pipe.map({"x": xs}, over="x")
    assert r.profile.stats.chunks == 1  # one chunk of up to ARRAY_CHUNK items, not 1024
    r = pipe.map({"x": xs}, over="x", engine=Local(chunk_size=1000))
    assert r.profile.stats.chunks == 3  # another chunk size is kept
    assert type(r["v"]) is np.ndarray and len(r["v"]) == 3000


def test_nested_map_over_the_rows_of_an_array(engine):
    @node(output="y", batch=True)
    def double(x):
        return np.asarray(x) * 2

    inner = Pipeline([double], name="inner")
    per_row = inner.as_node(name="per_row", over="x", inputs={"row": "x"},
                            outputs={"y": "ys"})

    @node(output="total", batch=True)
    def total(row):
        return row.sum(axis=1)

    grid = np.arange(12.0).reshape(4, 3)
    r = Pipeline([per_row, total]).map({"row": grid}, over="row", engine=engine)
    assert [list(map(float, ys)) for ys in r["ys"]] == [[2 * v for v in row] for row in
                                                        grid.tolist()]
    assert type(r["total"]) is np.ndarray and r["total"].tolist() == [3.0, 12.0, 21.0, 30.0]
