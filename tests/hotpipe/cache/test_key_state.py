"""Keys cover all the state that equality or behaviour depends on (issue 11): ndarray
subclasses, masked arrays, builtin subclasses with ``__slots__``, pandas 2 and 3 objects,
helpers at any module depth, user modules named like standard-library ones; and a property
test of look-alike values across these families, stored and looked up in every store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotpipe.cache import STORES, Cache, open_store
from hotpipe.cache.keys import UnstableValue, fingerprint, fingerprint_function

SRC = str(Path(__file__).resolve().parents[3] / "src")


class Meta(np.ndarray):
    """An ndarray subclass carrying metadata in its ``__dict__`` (an astropy-like unit)."""


def meta(data, unit=None):
    a = np.asarray(data).view(Meta)
    if unit is not None:
        a.unit = unit
    return a


class SlotList(list):
    __slots__ = ("tag",)


class DictInt(int):
    pass


def slot_list(data, tag=None):
    v = SlotList(data)
    if tag is not None:
        v.tag = tag
    return v


def dict_int(n, note=None):
    v = DictInt(n)
    if note is not None:
        v.note = note
    return v


# --- the families, one by one -------------------------------------------------------------


def test_masked_arrays_differ_by_mask_fill_value_and_hardness():
    a = np.ma.array([1, 2, 3], mask=[0, 1, 0])
    assert fingerprint(a) != fingerprint(np.ma.array([1, 2, 3], mask=[1, 0, 0]))
    assert fingerprint(a) != fingerprint(np.ma.array([1, 2, 3], mask=[0, 1, 0], fill_value=7))
    assert fingerprint(a) != fingerprint(np.ma.array([1, 2, 3], mask=[0, 1, 0], hard_mask=True))
    assert fingerprint(a) != fingerprint(np.array([1, 2, 3]))
    assert fingerprint(a) == fingerprint(np.ma.array([1, 2, 3], mask=[0, 1, 0]))
    assert fingerprint(np.ma.array([1, 2])) == fingerprint(np.ma.array([1, 2], mask=False))


def test_ndarray_subclasses_keep_their_class_and_metadata():
    assert fingerprint(meta([1, 2], "m")) != fingerprint(meta([1, 2], "s"))
    assert fingerprint(meta([1, 2], "m")) == fingerprint(meta([1, 2], "m"))
    assert fingerprint(meta([1, 2])) != fingerprint(np.array([1, 2]))
    assert fingerprint(np.array([1, 2]).view(np.recarray)) != fingerprint(np.array([1, 2]))


def test_ndarray_subclass_metadata_that_is_not_data_is_refused():
    a = meta([1])
    a.unit = iter([1])
    with pytest.raises(UnstableValue, match="unit"):
        fingerprint(a)


def test_builtin_subclasses_include_slots_and_dict():
    assert fingerprint(slot_list([1], "a")) != fingerprint(slot_list([1], "b"))
    assert fingerprint(slot_list([1])) != fingerprint(slot_list([1], "a"))
    assert fingerprint(slot_list([1], "a")) == fingerprint(slot_list([1], "a"))
    assert fingerprint(dict_int(1, "x")) != fingerprint(dict_int(1, "y"))


def _pd():
    return pytest.importorskip("pandas")


def test_pandas_objects_are_fingerprinted_not_refused():
    pd = _pd()
    values = [
        pd.Series([1, 2]), pd.Series([1, 2], name="x"), pd.Series([1, 2], index=[5, 6]),
        pd.Series([1.0, 2.0]), pd.Series([1, None], dtype="Int64"),
        pd.Series([1, 2], dtype="Int64"), pd.Series(["a", "b"]),
        pd.Series(["a", "b"], dtype=object), pd.Series(["a", "b"], dtype="category"),
        pd.Series(pd.date_range("2020", periods=2)),
        pd.Series(pd.date_range("2020", periods=2, tz="UTC")),
        pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [1, 2]}),
        pd.DataFrame({"a": [1, 2], "b": [3, 4]}), pd.DataFrame({"b": [3, 4], "a": [1, 2]}),
        pd.Index([1, 2]), pd.Index([1, 2], name="n"), pd.RangeIndex(2), pd.RangeIndex(3),
        pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]), pd.DatetimeIndex(["2020-01-01"]),
        pd.Categorical(["a", "b"]), pd.array([1, None], dtype="Int64"),
        pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-01", tz="UTC"), pd.Timedelta(1),
        pd.Period("2020-01"), pd.Interval(1, 2), pd.Interval(1, 2, closed="both"),
        pd.NA, pd.NaT,
    ]
    digests = [fingerprint(v) for v in values]
    assert len(set(digests)) == len(values)
    assert fingerprint(pd.DataFrame({"a": [1, 2]})) == fingerprint(pd.DataFrame({"a": [1, 2]}))


def test_pandas_attrs_and_nulls_are_part_of_the_key():
    pd = _pd()
    plain, tagged = pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1]})
    tagged.attrs["unit"] = "m"
    assert fingerprint(plain) != fingerprint(tagged)
    assert fingerprint(pd.Series([1.0, None])) != fingerprint(pd.Series([1.0, 0.0]))
    assert fingerprint(pd.Series([1, None], dtype="Int64")) != fingerprint(
        pd.Series([1, 0], dtype="Int64"))


# --- code: helpers at any depth, user modules named like the standard library ----------------


def _fingerprint_in_child(tmp_path: Path, files: dict[str, str], expr: str) -> str:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    code = (f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {SRC!r}]\n"
            "from hotpipe.cache.keys import fingerprint_function\n"
            f"import main\nprint(fingerprint_function({expr}).hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    return out.stdout.strip()


DEEP = {
    "main.py": "import a\ndef f(x):\n    return a.b.c.d.helper(x)\n",
    "a/__init__.py": "from . import b\n",
    "a/b/__init__.py": "from . import c\n",
    "a/b/c/__init__.py": "from . import d\n",
    "a/b/c/d.py": "def helper(x):\n    return x + 1\n",
}


def test_a_helper_four_module_levels_away_is_traced(tmp_path):
    before = _fingerprint_in_child(tmp_path, DEEP, "main.f")
    edited = {"a/b/c/d.py": "def helper(x):\n    return x + 2\n"}
    assert _fingerprint_in_child(tmp_path, edited, "main.f") != before


def test_a_user_module_named_like_the_standard_library_is_traced(tmp_path):
    files = {
        "main.py": "import calendar\ndef f(x):\n    return calendar.shift(x)\n",
        "calendar.py": "def shift(x):\n    return x + 1\n",
    }
    before = _fingerprint_in_child(tmp_path, files, "main.f")
    edited = {"calendar.py": "def shift(x):\n    return x + 2\n"}
    assert _fingerprint_in_child(tmp_path, edited, "main.f") != before


def test_the_real_standard_library_is_still_named_not_traced():
    import json

    def f(x):
        return json.dumps(x)

    from hotpipe.cache.keys import _is_stdlib

    assert _is_stdlib("json") and _is_stdlib("os.path") and _is_stdlib("builtins")
    assert fingerprint_function(f) == fingerprint_function(f)


# --- the property: look-alike values never share a key, in any store ------------------------

_ints = st.lists(st.integers(0, 3), min_size=2, max_size=2)


def _families():
    fams = [
        st.tuples(st.just("builtin"),
                  st.sampled_from(["1", "1.0", "True", "'1'", "b'1'", "(1,)", "[1]", "0.0",
                                   "-0.0", "float('nan')", "{1}", "{1: 1}"])),
        st.tuples(st.just("masked"), _ints, st.lists(st.booleans(), min_size=2, max_size=2),
                  st.sampled_from([None, 0, 7]), st.booleans()),
        st.tuples(st.just("meta"), _ints, st.sampled_from([None, "m", "s"])),
        st.tuples(st.just("plain"), _ints, st.sampled_from(["int64", "int32", "float64"])),
        st.tuples(st.just("slots"), _ints, st.sampled_from([None, "a", "b"])),
        st.tuples(st.just("dictint"), st.integers(0, 2), st.sampled_from([None, "x", "y"])),
    ]
    try:
        import pandas  # noqa: F401
    except ImportError:
        return fams
    fams.append(st.tuples(st.just("series"), _ints, st.sampled_from([None, "x", "y"]),
                          st.sampled_from(["int64", "Int64", "float64"]),
                          st.sampled_from([(0, 1), (1, 2)]), st.sampled_from([None, "m"])))
    fams.append(st.tuples(st.just("frame"), _ints, st.sampled_from([("a",), ("b",)]),
                          st.sampled_from([None, "m"])))
    return fams


def build(params):
    kind, *p = params
    if kind == "builtin":
        return eval(p[0])
    if kind == "masked":
        data, mask, fill, hard = p
        return np.ma.array(data, mask=mask, fill_value=fill, hard_mask=hard)
    if kind == "meta":
        return meta(p[0], p[1])
    if kind == "plain":
        return np.array(p[0], dtype=p[1])
    if kind == "slots":
        return slot_list(p[0], p[1])
    if kind == "dictint":
        return dict_int(p[0], p[1])
    import pandas as pd

    if kind == "series":
        data, name, dtype, index, unit = p
        s = pd.Series(data, name=name, dtype=dtype, index=list(index))
        if unit:
            s.attrs["unit"] = unit
        return s
    data, columns, unit = p
    df = pd.DataFrame({columns[0]: data})
    if unit:
        df.attrs["unit"] = unit
    return df


def canonical(params):
    """Params that build indistinguishable values: NaN is one value."""
    if params[0] == "builtin" and params[1] == "float('nan')":
        return ("builtin", "nan")
    return params


@pytest.fixture(scope="module", params=sorted(n for n, k in STORES.items() if k.keeps))
def shared_cache(request, tmp_path_factory):
    store = open_store(request.param, tmp_path_factory.mktemp(request.param))
    yield Cache(store=store)
    store.close()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_look_alike_values_never_share_a_key_in_any_store(shared_cache, data):
    families = _families()
    index = data.draw(st.integers(0, len(families) - 1))
    first = data.draw(families[index])
    second = data.draw(families[index])
    a, b = build(first), build(second)
    ka, kb = fingerprint(a), fingerprint(b)
    if canonical(first) != canonical(second):
        assert ka != kb, (first, second)
    shared_cache.put_many({ka: (first, a)})
    found = shared_cache.get_many([kb])
    if kb in found:  # a hit must hand back what b would have computed
        assert canonical(found[kb][0]) == canonical(second)
