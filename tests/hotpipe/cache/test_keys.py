"""Fingerprints of values and functions: collisions, stability, refusals, function edits."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import enum
import functools
import io
import math
import os
import pathlib
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotpipe.cache.keys import (
    UnstableValue,
    combine,
    fingerprint,
    fingerprint_function,
    register,
)

# --- distinct values have distinct fingerprints ---------------------------------------------


def test_values_that_compare_equal_across_types_differ():
    values = [1, 1.0, True, "1", b"1", (1,), [1], {1}, frozenset({1}), {1: 1}, 1 + 0j]
    values += [bytearray(b"1"), np.int64(1), np.float64(1.0), np.array(1), np.array([1])]
    values += [pathlib.PurePosixPath("1"), None, 0, 0.0, False, "", b"", (), [], {}]
    digests = [fingerprint(v) for v in values]
    assert len(set(digests)) == len(values)
    assert all(len(d) == 16 for d in digests)


def test_negative_zero_differs_and_nan_is_one_value():
    assert fingerprint(-0.0) != fingerprint(0.0)
    other_nan = struct.unpack("<d", b"\x01\x00\x00\x00\x00\x00\xf8\xff")[0]
    assert math.isnan(other_nan)
    assert fingerprint(float("nan")) == fingerprint(other_nan) == fingerprint(math.nan)
    assert fingerprint(complex(0.0, -0.0)) != fingerprint(complex(0.0, 0.0))


def test_nesting_and_order():
    assert fingerprint(((1, 2), 3)) != fingerprint((1, (2, 3)))
    assert fingerprint([[1], [2]]) != fingerprint([[1, 2]])
    assert fingerprint(("ab", "c")) != fingerprint(("a", "bc"))
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": 1, "b": 2}) != fingerprint({"a": 2, "b": 1})
    assert fingerprint({3, 1, 2}) == fingerprint({2, 3, 1})
    assert fingerprint({1, 2}) != fingerprint(frozenset({1, 2}))
    assert fingerprint(10**5000) != fingerprint(10**5000 + 1)


def test_builtin_subclasses_keep_their_class():
    point = namedtuple("point", "x y")
    assert fingerprint(point(1, 2)) != fingerprint((1, 2))
    assert fingerprint(OrderedDict(a=1, b=2)) != fingerprint(OrderedDict(b=2, a=1))
    assert fingerprint(defaultdict(list)) != fingerprint(defaultdict(int))
    assert fingerprint(defaultdict(list, a=[1])) == fingerprint(defaultdict(list, a=[1]))


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_like)
def test_equal_values_have_equal_fingerprints(value):
    assert fingerprint(value) == fingerprint(copy.deepcopy(value))


@given(st.dictionaries(st.text(), st.integers(), min_size=1), st.randoms())
def test_dict_and_set_order_does_not_matter(mapping, rnd):
    items = list(mapping.items())
    rnd.shuffle(items)
    assert fingerprint(mapping) == fingerprint(dict(items))
    keys = [k for k, _ in items]
    assert fingerprint(set(mapping)) == fingerprint(set(keys))


# --- other kinds of values ------------------------------------------------------------------


def test_numpy_arrays_by_dtype_shape_and_bytes():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.astype(np.int32))
    assert fingerprint(a) != fingerprint(a.reshape(4, 3))
    assert fingerprint(a) != fingerprint(a + 1)
    assert fingerprint(np.asfortranarray(a)) == fingerprint(a)
    assert fingerprint(a[:, ::2]) == fingerprint(np.ascontiguousarray(a[:, ::2]))
    assert fingerprint(np.array([1, None], dtype=object)) != fingerprint(
        np.array([1, "1"], dtype=object)
    )
    dates = np.array(["2024-01-01"], dtype="datetime64[ns]")
    assert fingerprint(dates) != fingerprint(dates.astype("datetime64[s]"))
    assert fingerprint(np.float32(1)) != fingerprint(np.float64(1))
    assert fingerprint(np.dtype("f4")) != fingerprint(np.dtype("f8"))


def test_numpy_fingerprint_is_at_least_1_gb_per_second():
    a = np.random.default_rng(0).random(100 * 2**20 // 8)
    best = min(_seconds(fingerprint, a) for _ in range(3))
    assert a.nbytes / best > 1e9


def test_small_values_are_fast():
    n = 20_000
    start = time.perf_counter()
    for i in range(n):
        fingerprint(i)
    assert (time.perf_counter() - start) / n < 5e-6  # ~0.3 us on a laptop; slack for CI


def _seconds(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


@dataclasses.dataclass
class Point:
    x: int
    y: list


@dataclasses.dataclass
class Other:
    x: int
    y: list


class Colour(enum.Enum):
    RED = 1
    GREEN = 2


class Plain:
    def __init__(self, a):
        self.a = a


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


def test_dataclasses_enums_paths_and_plain_objects():
    assert fingerprint(Point(1, [2])) == fingerprint(Point(1, [2]))
    assert fingerprint(Point(1, [2])) != fingerprint(Point(1, [3]))
    assert fingerprint(Point(1, [2])) != fingerprint(Other(1, [2]))
    assert fingerprint(Colour.RED) != fingerprint(Colour.GREEN)
    assert fingerprint(Colour.RED) != fingerprint(1)
    assert fingerprint(pathlib.Path("a/b")) == fingerprint(pathlib.Path("a") / "b")
    assert fingerprint(pathlib.Path("a")) != fingerprint("a")
    assert fingerprint(Plain([1])) == fingerprint(Plain([1])) != fingerprint(Plain([2]))
    assert fingerprint(Slotted(1)) == fingerprint(Slotted(1)) != fingerprint(Slotted(2))


def test_standard_library_values_by_their_pickle_state():
    import datetime
    import decimal
    import fractions
    import re
    import uuid

    pairs = [
        (datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)),
        (decimal.Decimal("1.5"), decimal.Decimal("1.50")),
        (fractions.Fraction(1, 2), fractions.Fraction(1, 3)),
        (uuid.UUID(int=1), uuid.UUID(int=2)),
        (re.compile("a+"), re.compile("a*")),
        (range(3), range(4)),
    ]
    for a, b in pairs:
        assert fingerprint(a) == fingerprint(copy.deepcopy(a))
        assert fingerprint(a) != fingerprint(b)


def helper_one(x):
    return x + 1


def helper_two(x):
    return x + 2


def test_functions_and_classes_as_values():
    assert fingerprint(helper_one) != fingerprint(helper_two)
    assert fingerprint(helper_one) == fingerprint_function(helper_one)
    assert fingerprint(len) != fingerprint(sum)
    assert fingerprint(np.sum) != fingerprint(np.mean)
    assert fingerprint(np.add) != fingerprint(np.multiply)
    assert fingerprint(int) != fingerprint(float)
    assert fingerprint(Point) != fingerprint(Other)
    assert fingerprint(functools.partial(helper_one, 1)) != fingerprint(
        functools.partial(helper_one, 2)
    )
    assert fingerprint(Plain(1).__init__) == fingerprint(Plain(1).__init__)


def test_cache_key_overrides_everything():
    class Connection:
        def __init__(self, url):
            self.url = url
            self.lock = threading.Lock()

        def __cache_key__(self):
            return self.url

    assert fingerprint(Connection("db://a")) == fingerprint(Connection("db://a"))
    assert fingerprint(Connection("db://a")) != fingerprint(Connection("db://b"))


def test_register_by_type_and_by_name():
    class Opaque:
        def __init__(self, v):
            self.v = v

        def __reduce__(self):
            return (Opaque, (self.v,))

    with pytest.raises(UnstableValue, match="customises pickling"):
        fingerprint(Opaque(1))
    register(Opaque)(lambda o: o.v)
    assert fingerprint(Opaque(1)) != fingerprint(Opaque(2))

    class Named(Opaque):
        pass

    register(f"{Named.__module__}.{Named.__qualname__}")(lambda o: ("named", o.v))
    assert fingerprint(Named(1)) != fingerprint(Opaque(1))


def test_import_stays_light():
    heavy = "{'numpy', 'pandas', 'pyarrow', 'pydantic', 'rich'}"
    code = f"import sys, hotpipe.cache; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- refusals ------------------------------------------------------------------------------


def _gen():
    yield 1


async def _coro():
    return 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (threading.Lock, "lock"),
        (threading.RLock, "lock"),
        (lambda: io.StringIO("x"), "open file"),
        (lambda: iter([1]), "iterator"),
        (_gen, "generator"),
        (lambda: os, "module"),
        (object, "identity"),
        (lambda: socket.socket(), "socket"),
        (lambda: {"a": [1, threading.Lock()]}, r"\['a'\]\[1\]: a lock"),
        (lambda: Plain(threading.Lock()), "lock"),
    ],
)
def test_unstable_values_are_refused(make, reason):
    value = make()
    try:
        with pytest.raises(UnstableValue, match=reason):
            fingerprint(value)
    finally:
        if isinstance(value, io.IOBase | socket.socket):
            value.close()


def test_coroutines_files_and_cycles_are_refused():
    coro = _coro()
    with pytest.raises(UnstableValue, match="coroutine"):
        fingerprint(coro)
    asyncio.run(coro)
    with open(__file__) as f, pytest.raises(UnstableValue, match="open file"):
        fingerprint(f)
    loop = [1]
    loop.append(loop)
    with pytest.raises(UnstableValue, match="itself"):
        fingerprint(loop)
    shared = [1]
    assert fingerprint([shared, shared]) == fingerprint([[1], [1]])  # shared is not a cycle


def test_objects_with_hidden_state_are_refused_with_a_fix():
    class Custom:
        def __getstate__(self):
            return {}

    with pytest.raises(UnstableValue, match="__cache_key__"):
        fingerprint(Custom())


# --- stability across processes ------------------------------------------------------------

_PROBE = """
import sys, dataclasses, enum, pathlib
sys.path.insert(0, {dir!r})
from hotpipe.cache.keys import fingerprint, fingerprint_function
import probe_mod
value = [{{"b": 1, "a": (2.5, None)}}, {{"x", "y", "z"}}, frozenset({{b"q", 3}}), "é", -0.0,
         pathlib.Path("p"), probe_mod.Colour.A, probe_mod.Pt(1, "s")]
print(fingerprint(value).hex(), fingerprint_function(probe_mod.caller).hex())
"""

_PROBE_MOD = '''
import dataclasses, enum

class Colour(enum.Enum):
    A = "a"

@dataclasses.dataclass
class Pt:
    x: int
    y: str

LIMIT = 10

def helper(x):
    """Add one."""
    return x + 1  # a comment

def caller(x, scale=2):
    return helper(x) * scale + LIMIT
'''


def _probe(directory, seed="0"):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    code = _PROBE.format(dir=str(directory))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.split()


def test_stable_across_processes_and_hash_seeds(tmp_path):
    (tmp_path / "probe_mod.py").write_text(_PROBE_MOD)
    results = {tuple(_probe(tmp_path, seed)) for seed in ("0", "1", "12345", "random")}
    assert len(results) == 1


def _function_fp(tmp_path, source):
    (tmp_path / "probe_mod.py").write_text(textwrap.dedent(source))
    return _probe(tmp_path)[1]


def test_function_fingerprint_follows_code_not_formatting(tmp_path):
    base = _function_fp(tmp_path, _PROBE_MOD)
    edits_that_keep = [
        _PROBE_MOD.replace("# a comment", "# another comment"),
        _PROBE_MOD.replace('"""Add one."""', '"""Add one to x."""'),
        _PROBE_MOD.replace(
            "return helper(x) * scale + LIMIT", "return (helper(x)*scale\n        + LIMIT)"
        ),
        "\n\n# moved down\n" + _PROBE_MOD,
    ]
    for source in edits_that_keep:
        assert _function_fp(tmp_path, source) == base, source
    edits_that_change = [
        _PROBE_MOD.replace("return x + 1", "return x + 2"),  # a helper it calls
        _PROBE_MOD.replace("LIMIT = 10", "LIMIT = 11"),  # a global constant it reads
        _PROBE_MOD.replace("scale=2", "scale=3"),  # a default
        _PROBE_MOD.replace("* scale", "/ scale"),  # its own code
    ]
    for source in edits_that_change:
        assert _function_fp(tmp_path, source) != base, source


def _make_adder(n):
    def add(x):
        return x + n

    return add


def test_closures_with_different_values_differ():
    assert fingerprint_function(_make_adder(1)) != fingerprint_function(_make_adder(2))
    assert fingerprint_function(_make_adder(1)) == fingerprint_function(_make_adder(1))


def test_unstable_closure_names_the_variable():
    lock = threading.Lock()

    def uses_lock(x):
        with lock:
            return x

    with pytest.raises(UnstableValue, match="closure variable 'lock'"):
        fingerprint_function(uses_lock)


def test_defaults_and_kwdefaults_are_part_of_the_function():
    def f(x, y=1, *, z=2):
        return x + y + z

    def g(x, y=1, *, z=3):
        return x + y + z

    assert fingerprint_function(f) != fingerprint_function(g)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


class Scaler:
    factor = 3

    def apply(self, x):
        return x * self.factor


def uses_class(x):
    return Scaler().apply(x)


def test_mutual_recursion_and_referenced_classes():
    assert fingerprint_function(is_even) != fingerprint_function(is_odd)
    assert fingerprint_function(is_even) == fingerprint_function(is_even)
    before = fingerprint_function(uses_class)
    assert before == fingerprint_function(uses_class)  # cached per function object


def test_lambdas_and_source_less_functions():
    namespace: dict = {}
    exec("def f(x):\n    return x * 2\n", namespace)
    exec("def g(x):\n    return x * 3\n", namespace)
    assert fingerprint_function(namespace["f"]) != fingerprint_function(namespace["g"])
    first, second = (lambda x: x + 1), (lambda x: x + 2)
    assert fingerprint_function(first) != fingerprint_function(second)


def test_combine_is_length_prefixed():
    a, b = fingerprint(1), fingerprint(2)
    assert combine(a, b) != combine(b, a)
    assert combine(a + b) != combine(a, b)
    assert len(combine(a, b)) == 16
