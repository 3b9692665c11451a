"""Fingerprints: stable 16-byte digests of values and of functions, the parts of a cache key.

A node's key for one item is ``combine(fingerprint_function(func), fingerprint(arg), ...)``:
a Merkle combination, so a changed input or a changed function gives a new key, and the same
ones give the same key in any process (no ``hash()``, no ``id()``, no ``PYTHONHASHSEED``).

Values dispatch on their exact type first (a dict of builtin types to functions, so an ``int``
or a ``str`` costs well under a microsecond), then on, in order: ``__cache_key__``, the registry
(``register``; numpy, pandas, pyarrow and pydantic are registered by qualified name, so none of
them is imported here), classes and functions, refusals (modules, files, locks, iterators...),
enums, paths, dataclasses and attrs classes, subclasses of builtins, and last the pickle
protocol (``__reduce_ex__``) when it is the standard library's or ``object``'s own.
What cannot be fingerprinted stably raises ``UnstableValue``; the caller turns it into a
``CacheKeyError`` that names the node and the parameter.

>>> fingerprint(1) == fingerprint(1.0)
False
>>> fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
True
>>> len(combine(fingerprint("x"), fingerprint(2)))
16
"""

from __future__ import annotations

import copyreg
import dataclasses
import enum
import functools
import io
import os
import struct
import sys
import sysconfig
import threading
import types
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, TypeVar

import xxhash

__all__ = ["UnstableValue", "combine", "fingerprint", "fingerprint_function", "register"]

_digest = xxhash.xxh3_128_digest
_u64 = struct.Struct("<Q").pack
_f64 = struct.Struct("<d").pack
_NAN = b"\x00\x00\x00\x00\x00\x00\xf8\x7f"  # every NaN hashes as this one
_BIG = 10**1000  # ints beyond this are hashed by their bytes (str() of them is limited)

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Any, set[int]], bytes]


class UnstableValue(Exception):
    """A value has no fingerprint that would be the same in another process.

    ``reason`` says why and ``path`` where inside the value (``[2]['a'].x``); the integration
    turns it into ``CacheKeyError`` naming the node and the parameter.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def at(self, step: str) -> UnstableValue:
        """Prepend one step of the location (containers call this as the error passes up)."""
        self.path = step + self.path
        return self

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def combine(*parts: bytes) -> bytes:
    """The Merkle combination of digests: xxh3_128 over the length-prefixed parts.

    >>> combine(b"ab", b"c") == combine(b"a", b"bc")
    False
    """
    return _digest(b"".join([_u64(len(p)) + p for p in parts]))


def fingerprint(value: Any) -> bytes:
    """The 16-byte fingerprint of a value; raises ``UnstableValue`` if it has none.

    Equal values of the same type give equal fingerprints; values of different types differ
    (``1``, ``1.0``, ``True``, ``"1"``, ``(1,)``, ``[1]``). ``-0.0`` and ``0.0`` differ (they
    behave differently), all NaNs are the same. Dicts and sets ignore order.
    """
    leaf = _LEAF.get(type(value))
    if leaf is not None:
        return leaf(value)
    try:
        return _fp(value, set())
    except RecursionError:
        raise UnstableValue("the value is nested too deeply to fingerprint") from None


# --- exact builtin types -------------------------------------------------------------------


def _lp(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return _u64(len(data)) + data


def _named(tag: bytes, name: str, *digests: bytes) -> bytes:
    return _digest(tag + _lp(name) + b"".join(digests))


def _fp_int(v: int) -> bytes:
    if -_BIG < v < _BIG:
        return _digest(b"i%d" % v)
    return _digest(b"I" + v.to_bytes((v.bit_length() + 8) >> 3, "little", signed=True))


def _float_bytes(v: float) -> bytes:
    return _NAN if v != v else _f64(v)


def _fp_float(v: float) -> bytes:
    return _digest(b"f" + (_NAN if v != v else _f64(v)))


def _fp_complex(v: complex) -> bytes:
    return _digest(b"c" + _float_bytes(v.real) + _float_bytes(v.imag))


def _fp_str(v: str) -> bytes:
    return _digest(b"s" + v.encode("utf-8", "surrogatepass"))


def _fp_bytes(v: bytes) -> bytes:
    return _digest(b"b" + v)


def _fp_bytearray(v: bytearray) -> bytes:
    return _digest(b"a" + v)


def _fp_memoryview(v: memoryview) -> bytes:
    shape = b"".join(_u64(n) for n in v.shape or ())
    h = xxhash.xxh3_128(b"m" + _lp(v.format) + _u64(v.ndim) + shape)
    h.update(v.cast("B") if v.c_contiguous else v.tobytes())
    return h.digest()


_LEAF: dict[type, Callable[[Any], bytes]] = {
    int: _fp_int,
    float: _fp_float,
    complex: _fp_complex,
    str: _fp_str,
    bytes: _fp_bytes,
    bytearray: _fp_bytearray,
    memoryview: _fp_memoryview,
    bool: lambda v: _digest(b"T" if v else b"F"),
    type(None): lambda v: _digest(b"N"),
    type(Ellipsis): lambda v: _digest(b"E"),
    type(NotImplemented): lambda v: _digest(b"n"),
}


# --- containers and dispatch -----------------------------------------------------------------


def _fp(value: Any, active: set[int]) -> bytes:
    leaf = _LEAF.get(type(value))
    if leaf is not None:
        return leaf(value)
    key = id(value)
    if key in active:
        raise UnstableValue("the value contains itself (a reference cycle)")
    active.add(key)
    try:
        handler = _CONTAINER.get(type(value)) or _resolve(type(value))
        return handler(value, active)
    finally:
        active.discard(key)


def _seq(tag: bytes, value: Any, active: set[int]) -> bytes:
    parts = []
    for i, item in enumerate(value):
        try:
            parts.append(_fp(item, active))
        except UnstableValue as e:
            raise e.at(f"[{i}]") from None
    return _digest(tag + b"".join(parts))


def _unordered(tag: bytes, value: Any, active: set[int]) -> bytes:
    parts = []
    for item in value:
        try:
            parts.append(_fp(item, active))
        except UnstableValue as e:
            raise e.at(f"{{{_short(item)}}}") from None
    parts.sort()
    return _digest(tag + b"".join(parts))


def _items(tag: bytes, items: Any, active: set[int], ordered: bool = False) -> bytes:
    parts = []
    for k, v in items:
        try:
            parts.append(_fp(k, active) + _fp(v, active))
        except UnstableValue as e:
            raise e.at(f"[{_short(k)}]") from None
    if not ordered:
        parts.sort()
    return _digest(tag + b"".join(parts))


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


_CONTAINER: dict[type, Handler] = {
    tuple: lambda v, a: _seq(b"t", v, a),
    list: lambda v, a: _seq(b"l", v, a),
    dict: lambda v, a: _items(b"d", v.items(), a),
    set: lambda v, a: _unordered(b"S", v, a),
    frozenset: lambda v, a: _unordered(b"z", v, a),
}

_BY_TYPE: dict[type, Callable[[Any], Any]] = {}
_BY_NAME: dict[str, Callable[[Any], Any]] = {}
_RESOLVED: dict[type, Handler] = {}


def register(cls: type | str) -> Callable[[F], F]:
    """Teach ``fingerprint`` a type: ``func(value)`` returns a token that is fingerprinted.

    ``cls`` is the type or its qualified name (``"numpy.ndarray"``: the module where the class
    is defined, then its qualname), so a library need not be imported to register it. The
    token is fingerprinted with the value's exact type name in front, and may hold a
    ``memoryview`` to hash a buffer without copying it.

    >>> class Point:
    ...     def __init__(self, x): self._x = x
    >>> @register(Point)
    ... def _point(p): return p._x
    >>> fingerprint(Point(1)) == fingerprint(Point(1)) != fingerprint(Point(2))
    True
    """

    def deco(func: F) -> F:
        if isinstance(cls, str):
            _BY_NAME[cls] = func
        else:
            _BY_TYPE[cls] = func
        _RESOLVED.clear()
        return func

    return deco


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', obj.__name__)}"


def _resolve(cls: type) -> Handler:
    handler = _RESOLVED.get(cls)
    if handler is None:
        handler = _RESOLVED[cls] = _choose(cls)
    return handler


def _choose(cls: type) -> Handler:
    if callable(getattr(cls, "__cache_key__", None)) and not issubclass(cls, type):
        return _by_cache_key
    for base in cls.__mro__:
        token = _BY_TYPE.get(base) or _BY_NAME.get(_qualified(base))
        if token is not None:
            return functools.partial(_by_token, token)
    for check, handler in _RULES:
        if check(cls):
            return handler
    return _fp_reduce


def _by_cache_key(value: Any, active: set[int]) -> bytes:
    try:
        token = value.__cache_key__()
    except Exception as e:
        raise UnstableValue(f"{type(value).__name__}.__cache_key__() raised {e!r}") from e
    return _named(b"K", _qualified(type(value)), _fp(token, active))


def _by_token(token: Callable[[Any], Any], value: Any, active: set[int]) -> bytes:
    return _named(b"R", _qualified(type(value)), _fp(token(value), active))


# --- classes, functions and refusals ---------------------------------------------------------

_FUNCTION_TYPES = (types.FunctionType, types.LambdaType)
_NAMED_CALLABLES = (
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
)


def _fp_class(cls: type, active: set[int]) -> bytes:
    if _is_user(cls):
        return _Tracer().class_(cls)
    return _named(b"C", _qualified(cls))


def _fp_function(func: Any, active: set[int]) -> bytes:
    if _is_user(func):
        return fingerprint_function(func)
    return _named(b"G", _qualified(func))


def _fp_method(method: types.MethodType, active: set[int]) -> bytes:
    try:
        owner = _fp(method.__self__, active)
    except UnstableValue as e:
        raise e.at(".__self__") from None
    return _digest(b"M" + owner + _fp(method.__func__, active))


def _fp_partial(p: functools.partial, active: set[int]) -> bytes:
    parts = (_fp(p.func, active), _fp(p.args, active), _fp(p.keywords, active))
    return _digest(b"P" + b"".join(parts))


def _refuse(reason: str) -> Handler:
    def handler(value: Any, active: set[int]) -> bytes:
        raise UnstableValue(f"{reason} ({_qualified(type(value))})")

    return handler


def _is_socket(cls: type) -> bool:
    return any(_qualified(b) in ("socket.socket", "_socket.socket") for b in cls.__mro__)


_LOCKS = (type(threading.Lock()), type(threading.RLock()))
_REFUSALS: list[tuple[Callable[[type], bool], str]] = [
    (lambda c: issubclass(c, types.ModuleType), "a module is not a value; pass what you use"),
    (lambda c: issubclass(c, io.IOBase), "an open file has no stable content; pass its path"),
    (_is_socket, "a socket is a connection, not a value"),
    (lambda c: issubclass(c, _LOCKS), "a lock is process state, not a value"),
    (
        lambda c: issubclass(c, types.GeneratorType | types.AsyncGeneratorType),
        "a generator can be consumed only once; pass a list or tuple",
    ),
    (lambda c: issubclass(c, types.CoroutineType), "a coroutine is not a value; await it"),
    (
        lambda c: issubclass(c, types.FrameType | types.TracebackType | types.CodeType),
        "interpreter internals are not values",
    ),
    (lambda c: issubclass(c, weakref.ref), "a weak reference has no stable content"),
    (
        lambda c: hasattr(c, "__next__"),
        "an iterator can be consumed only once; pass a list or tuple",
    ),
]


# --- enums, paths, dataclasses, builtin subclasses, pickle protocol --------------------------


def _fp_enum(member: enum.Enum, active: set[int]) -> bytes:
    name = _fp_str(str(member._name_))
    return _named(b"e", _qualified(type(member)), name, _fp(member._value_, active))


def _fp_path(path: PurePath, active: set[int]) -> bytes:
    return _named(b"p", type(path).__name__, _fp_str(str(path)))


def _fields(value: Any, names: Any, active: set[int]) -> bytes:
    parts = []
    for name in names:
        try:
            parts.append(_lp(name) + _fp(getattr(value, name), active))
        except UnstableValue as e:
            raise e.at(f".{name}") from None
    return b"".join(parts)


def _fp_dataclass(value: Any, active: set[int]) -> bytes:
    names = [f.name for f in dataclasses.fields(value)]
    return _digest(b"D" + _fp_class(type(value), active) + _fields(value, names, active))


def _fp_attrs(value: Any, active: set[int]) -> bytes:
    names = [a.name for a in type(value).__attrs_attrs__]
    return _digest(b"A" + _fp_class(type(value), active) + _fields(value, names, active))


def _builtin_base(cls: type) -> type | None:
    return next((b for b in cls.__mro__[1:] if b in _LEAF or b in _CONTAINER), None)


def _fp_builtin_subclass(value: Any, active: set[int]) -> bytes:
    cls = type(value)
    base_type = _builtin_base(cls)
    if isinstance(value, OrderedDict):  # its order is part of its equality
        base = _items(b"o", value.items(), active, ordered=True)
    elif base_type in _LEAF:
        base = _LEAF[base_type](value)
    else:
        base = _CONTAINER[base_type](value, active)
    extra = b""
    if isinstance(value, defaultdict):
        extra += _fp(value.default_factory, active)
    if getattr(value, "__dict__", None):
        extra += _items(b"d", vars(value).items(), active)
    return _digest(b"U" + _fp_class(cls, active) + base + extra)


def _defined_by(cls: type, name: str) -> type:
    return next(b for b in cls.__mro__ if name in vars(b))


def _global_name(value: Any) -> str | None:
    """``module.qualname`` if the value is importable under it (library functions, ufuncs)."""
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    found = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None)
    return f"{module}.{name}" if found is value else None


def _fp_reduce(value: Any, active: set[int]) -> bytes:
    cls = type(value)
    if name := _global_name(value):
        return _named(b"G", name)
    if cls is object:
        raise UnstableValue("a bare object() has only an identity; use a string or an enum")
    owners = {_defined_by(cls, n) for n in ("__reduce_ex__", "__reduce__", "__getstate__")}
    foreign = [o for o in owners if o is not object and not _is_stdlib(o.__module__)]
    if foreign:
        raise UnstableValue(_no_rule(value, f"{_qualified(foreign[0])} customises pickling"))
    try:
        reducer = copyreg.dispatch_table.get(cls)  # re.Pattern and friends register here
        reduced = reducer(value) if reducer else value.__reduce_ex__(4)
    except Exception as e:
        raise UnstableValue(_no_rule(value, f"it cannot be pickled ({e})")) from None
    if isinstance(reduced, str):
        return _named(b"g", f"{cls.__module__}.{reduced}")
    func, args, *rest = reduced
    rest = [list(r) if hasattr(r, "__next__") else r for r in rest[:3]]  # list/dict items
    try:
        parts = _fp(func, active) + _fp(args, active) + _fp(tuple(rest), active)
    except UnstableValue as e:
        raise e.at(".__reduce__()") from None
    return _digest(b"r" + parts)


def _no_rule(value: Any, why: str) -> str:
    address = "its repr shows a memory address, and " if " at 0x" in _short(value) else ""
    return (
        f"{address}{why}; hotpipe cannot fingerprint a {_qualified(type(value))}. "
        "Fix: define __cache_key__() returning a plain value, or register the type with "
        "hotpipe.cache.register"
    )


_RULES: list[tuple[Callable[[type], bool], Handler]] = [
    (lambda c: issubclass(c, type), _fp_class),
    (lambda c: issubclass(c, _FUNCTION_TYPES), _fp_function),
    (lambda c: issubclass(c, _NAMED_CALLABLES), lambda v, a: _named(b"G", _qualified(v))),
    (lambda c: issubclass(c, types.MethodType), _fp_method),
    (lambda c: issubclass(c, functools.partial), _fp_partial),
    (
        lambda c: issubclass(c, staticmethod | classmethod),
        lambda v, a: _digest(b"W" + _fp(v.__func__, a)),
    ),
    *((check, _refuse(reason)) for check, reason in _REFUSALS),
    (lambda c: issubclass(c, enum.Enum), _fp_enum),
    (lambda c: issubclass(c, PurePath), _fp_path),
    (dataclasses.is_dataclass, _fp_dataclass),
    (lambda c: hasattr(c, "__attrs_attrs__"), _fp_attrs),
    (lambda c: _builtin_base(c) is not None, _fp_builtin_subclass),
]


# --- which modules are the user's ------------------------------------------------------------


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(os.path.realpath(r) + os.sep for r in roots)


_LIBRARY_ROOTS = _library_roots()


@functools.cache
def _is_stdlib(module: str | None) -> bool:
    root = (module or "").partition(".")[0]
    return root in sys.stdlib_module_names or root in ("builtins", "__builtin__")


@functools.cache
def _is_user_module(module: str | None) -> bool:
    """Code the user edits: not the standard library, not installed packages, not hotpipe."""
    if _is_stdlib(module) or (module or "").partition(".")[0] == "hotpipe":
        return False
    file = getattr(sys.modules.get(module or ""), "__file__", None)
    if not file:
        return True  # __main__ in a REPL, exec'd code, modules built at runtime
    path = os.path.realpath(file)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not path.startswith(_LIBRARY_ROOTS)


def _is_user(obj: Any) -> bool:
    return _is_user_module(getattr(obj, "__module__", None))


# --- lazily registered library types (registered by name: nothing is imported here) ---------


@register("numpy.ndarray")
def _numpy_array(a: Any) -> Any:
    import numpy as np

    if a.dtype.hasobject:
        return (a.dtype.descr, a.shape, a.tolist())
    flat = np.ascontiguousarray(a).reshape(-1)  # copies only if not C-contiguous already
    return (a.dtype.descr, a.shape, memoryview(flat.view(np.uint8)))


@register("numpy.generic")
def _numpy_scalar(v: Any) -> Any:
    return (v.dtype.descr, v.tobytes()) if not v.dtype.hasobject else (v.item(),)


@register("numpy.dtype")
def _numpy_dtype(d: Any) -> Any:
    return d.descr


@register("numpy.ma.core.MaskedArray")
def _numpy_masked(a: Any) -> Any:
    return (a.data, a.mask, a.fill_value)


def _pandas_index(index: Any) -> Any:
    return (type(index).__name__, list(index.names), str(index.dtype), index.to_numpy())


def _pandas_values(series: Any) -> Any:
    dtype = series.dtype
    if hasattr(dtype, "categories"):
        return ("category", dtype.ordered, dtype.categories.to_numpy(), series.cat.codes.to_numpy())
    return (str(dtype), series.to_numpy())


@register("pandas.core.series.Series")
def _pandas_series(s: Any) -> Any:
    return (s.name, _pandas_index(s.index), _pandas_values(s))


@register("pandas.core.frame.DataFrame")
def _pandas_frame(df: Any) -> Any:
    columns = [_pandas_values(df.iloc[:, i]) for i in range(df.shape[1])]
    return (_pandas_index(df.columns), _pandas_index(df.index), columns)


@register("pandas.core.indexes.base.Index")
def _pandas_index_value(index: Any) -> Any:
    return _pandas_index(index)


def _arrow_ipc(table: Any) -> memoryview:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


@register("pyarrow.lib.Table")
def _arrow_table(table: Any) -> Any:
    return _arrow_ipc(table.combine_chunks())


@register("pyarrow.lib.RecordBatch")
def _arrow_batch(batch: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.Table.from_batches([batch]))


@register("pyarrow.lib.Array")
def _arrow_array(array: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.table({"_": array}))


@register("pyarrow.lib.ChunkedArray")
def _arrow_chunked(array: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.table({"_": array}).combine_chunks())


@register("pydantic.main.BaseModel")
def _pydantic_model(model: Any) -> Any:
    fields = getattr(type(model), "model_fields", None) or getattr(model, "__fields__", {})
    extra = getattr(model, "__pydantic_extra__", None) or {}
    return (type(model), [(name, getattr(model, name)) for name in fields], extra)


# fingerprint_function lives in its own module, which builds on the value rules above
from hotpipe.cache._functions import _Tracer, fingerprint_function  # noqa: E402
