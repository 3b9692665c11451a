"""Arrow arrays as mapped inputs on every engine, with and without the cache: numbers
without nulls are numpy array columns (zero copy where Arrow's memory allows), anything else
the Python values ``to_pylist()`` gives; ``import hotpipe`` never imports pyarrow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hotpipe import Pipeline, node
from hotpipe._arrays import as_column
from hotpipe.cache import Cache, open_store
from tests.hotpipe.engines.test_arrays import XS, check, poly, scale, shift, square

pa = pytest.importorskip("pyarrow", reason="Arrow inputs need pyarrow (pip install pyarrow)")


@pytest.fixture(scope="module")
def pipe():
    return Pipeline([scale, shift, square, poly], name="arrow-arrays")


def chunked(xs):
    return pa.chunked_array([xs[:10], xs[10:17], xs[17:]])


@pytest.mark.parametrize("make", [pa.array, chunked], ids=["array", "chunked"])
def test_arrow_numbers_are_array_columns(engine, pipe, make):
    r = pipe.map({"x": make(XS)}, over="x", engine=engine)
    check(r, XS)  # batch nodes got numpy slices; the same values and dtypes as numpy's map


def test_arrow_array_columns_cached(engine, pipe, tmp_path):
    cache = Cache(store=open_store("sqlite", tmp_path / "c"))
    cold = pipe.map({"x": chunked(XS)}, over="x", engine=engine, cache=cache)
    warm = pipe.map({"x": pa.array(XS)}, over="x", engine=engine, cache=cache)
    check(cold, XS)
    check(warm, XS)
    assert warm.profile["poly"].hits == len(XS)  # keyed by value, as a numpy input is
    from_numpy = pipe.map({"x": XS}, over="x", engine=engine, cache=cache)
    assert from_numpy.profile["poly"].hits == len(XS)


@node(output="label")
def label(v):
    return "none" if v is None else f"{type(v).__name__}:{v}"


@node(output="n", batch=True)
def count(v):
    assert type(v) is list, type(v)  # not an array column: lists, as for a list input
    return [0 if x is None else len(str(x)) for x in v]


def test_nulls_and_strings_are_python_values(engine):
    pipe = Pipeline([label, count])
    r = pipe.map({"v": pa.array([3, None, 12])}, over="v", engine=engine)
    assert r["label"] == ["int:3", "none", "int:12"] and r["n"] == [1, 0, 2]
    r = pipe.map({"v": pa.chunked_array([["a"], ["bc", None]])}, over="v", engine=engine)
    assert r["label"] == ["str:a", "str:bc", "none"] and r["n"] == [1, 2, 0]


def test_zero_copy_where_arrow_allows():
    floats = pa.array(XS)
    col = as_column("x", floats)
    assert type(col) is np.ndarray and col.dtype == np.float64
    assert col.ctypes.data == floats.buffers()[1].address  # the same memory: no copy
    assert not col.flags.writeable  # a read-only view of the Arrow buffer
    one_chunk = pa.chunked_array([floats])
    assert as_column("x", one_chunk).ctypes.data == floats.buffers()[1].address
    ints = as_column("x", pa.chunked_array([[1, 2], [3]], type=pa.int32()))
    assert ints.dtype == np.int32 and ints.tolist() == [1, 2, 3]  # several chunks: joined
    flags = as_column("x", pa.array([True, False]))  # bits in Arrow: unpacked, one copy
    assert flags.dtype == np.bool_ and flags.tolist() == [True, False]
    empty = as_column("x", pa.chunked_array([], type=pa.float32()))
    assert type(empty) is np.ndarray and empty.dtype == np.float32 and len(empty) == 0
    assert as_column("x", pa.array([1.5, None])) == [1.5, None]


def test_nested_map_over_arrow_values():
    inner = Pipeline([label], name="inner").as_node(name="each", over="v",
                                                    outputs={"label": "labels"})
    r = Pipeline([inner]).map({"v": [pa.array([1, 2]), pa.array(["x"])]}, over="v")
    assert r["labels"] == [["int:1", "int:2"], ["str:x"]]  # Python values, not Arrow scalars


def test_import_hotpipe_does_not_import_pyarrow():
    code = "import sys, hotpipe; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_docs_example_runs():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "engines.md").read_text()
    marker = "# needs pyarrow; run by tests/hotpipe/engines/test_arrow_arrays.py"
    block = text.split(marker, 1)[1].split("```", 1)[0]
    exec(compile(block, "docs/engines.md[arrow]", "exec"), {"__name__": "docs_arrow"})
