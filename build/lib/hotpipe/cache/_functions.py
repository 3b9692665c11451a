"""``fingerprint_function``: a function's identity for the cache, from its code and what it uses.

The source is parsed and dumped without docstrings, decorators, comments or positions, so
reformatting a function keeps its cache; editing its code, a default, a closure value, or a
user-level helper, class or constant it names invalidates it. Library code is named, not traced.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import textwrap
import types
import weakref
from collections.abc import Callable
from typing import Any

from hotpipe.cache.keys import (
    UnstableValue,
    _digest,
    _is_user,
    _is_user_module,
    _lp,
    _named,
    _qualified,
    fingerprint,
)

__all__ = ["fingerprint_function"]

# fingerprint and the checks that say it still holds, per top-level function
_FUNCTIONS: weakref.WeakKeyDictionary[Any, tuple[bytes, tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)
_MISSING = object()
_CODES: dict[int, tuple[types.CodeType, bytes, tuple[str, ...]]] = {}
_CLASS_SKIP = frozenset(
    {
        *("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__", "__annotations__"),
        *("__dataclass_fields__", "__dataclass_params__", "__match_args__", "__slotnames__"),
        *("__abstractmethods__", "_abc_impl", "__parameters__", "__orig_bases__"),
        *("__firstlineno__", "__static_attributes__"),
    }
)


def fingerprint_function(func: Callable[..., Any]) -> bytes:
    """The fingerprint of a node's function: its code, not where it sits in a file.

    Parts: the source parsed with ``ast`` and dumped without docstrings, decorators, comments
    or positions (the code object when there is no source); closure cell values; defaults;
    and, recursively, the user-level functions, classes and constants it names as globals.
    Library and standard-library code is named, not traced: pass ``version=`` to a node when
    a library upgrade should invalidate it.

    The result is remembered per function object together with what it was computed from
    (each global name's object, each closure cell, defaults, class members; data globals by
    their fingerprint). A later call checks those first, which is much cheaper than a new
    walk, so redefining a helper in a notebook or a REPL changes the fingerprint at once.
    """
    try:
        entry = _FUNCTIONS.get(func)
    except TypeError:
        entry = None
    if entry is not None and all(_holds(check) for check in entry[1]):
        return entry[0]
    tracer = _Tracer()
    if isinstance(func, types.FunctionType):
        digest = tracer.function(func)
    elif isinstance(func, type):
        digest = tracer.class_(func)
    else:
        return fingerprint(func)
    with contextlib.suppress(TypeError):  # not weak-referenceable: computed every time
        _FUNCTIONS[func] = (digest, tuple(tracer.checks))
    return digest


def _holds(check: tuple[Any, ...]) -> bool:
    """Whether one thing a fingerprint was computed from is still the same."""
    kind = check[0]
    if kind == "name":  # a global or module attribute still names the same object
        return check[1].get(check[2], _MISSING) is check[3]
    if kind == "data":  # a global constant still has the same value
        value = check[1].get(check[2], _MISSING)
        if value is check[3][0]:
            return True
        try:
            return value is not _MISSING and fingerprint(value) == check[3][1]
        except UnstableValue:
            return False
    if kind == "cell":
        try:
            return check[1].cell_contents is check[2]
        except ValueError:
            return check[2] is _MISSING
    if kind == "func":  # code, defaults (functions are mutable)
        f = check[1]
        return (f.__code__ is check[2] and f.__defaults__ is check[3]
                and f.__kwdefaults__ is check[4])
    if kind == "class":  # the class's members are the same objects
        members = vars(check[1])
        return len(members) == len(check[2]) and all(
            members.get(k, _MISSING) is v for k, v in check[2].items()
        )
    return False


class _Tracer:
    """One walk over a function and what it references; cycles become back-references.

    ``checks`` collects what the walk read (see :func:`_holds`), so the top-level result can
    be reused while all of it is unchanged. Within a walk each function and class is traced
    once.
    """

    def __init__(self) -> None:
        self.in_progress: set[int] = set()
        self.done: dict[int, bytes] = {}
        self.checks: list[tuple[Any, ...]] = []

    def function(self, f: types.FunctionType) -> bytes:
        if id(f) in self.done:
            return self.done[id(f)]
        if id(f) in self.in_progress:
            return _named(b"<", _qualified(f))
        self.in_progress.add(id(f))
        self.checks.append(("func", f, f.__code__, f.__defaults__, f.__kwdefaults__))
        try:
            body, names = _code_identity(f.__code__)
            parts = (body, self._closure(f), self._defaults(f), self._globals(f, names))
        finally:
            self.in_progress.discard(id(f))
        digest = self.done[id(f)] = _named(b"F", _qualified(f), *parts)
        return digest

    def class_(self, cls: type) -> bytes:
        if id(cls) in self.done:
            return self.done[id(cls)]
        if id(cls) in self.in_progress:
            return _named(b"<", _qualified(cls))
        self.in_progress.add(id(cls))
        self.checks.append(("class", cls, dict(vars(cls))))
        try:
            bases = [self.dependency(b, ()) or b"" for b in cls.__bases__]
            members = [self._member(name, value) for name, value in sorted(vars(cls).items())]
        finally:
            self.in_progress.discard(id(cls))
        digest = self.done[id(cls)] = _named(b"C", _qualified(cls), *bases, *members)
        return digest

    def _member(self, name: str, value: Any) -> bytes:
        if name in _CLASS_SKIP:
            return b""
        raw = value.__func__ if isinstance(value, staticmethod | classmethod) else value
        if isinstance(raw, property):
            funcs = (raw.fget, raw.fset, raw.fdel)
            return _lp(name) + b"".join(self.dependency(f, ()) or b"-" for f in funcs)
        if isinstance(raw, types.FunctionType | type):
            return _lp(name) + (self.dependency(raw, ()) or b"")
        if name.startswith("__") or (name.startswith("_") and name.endswith("_")):
            return b""  # dunder data and enum internals: the members are listed on their own
        if not _constant(value):
            return b""  # mutable class state (a cache) is not code
        try:
            return _lp(name) + fingerprint(value)
        except UnstableValue:
            return b""  # a class attribute that is not data (a lock, a logger) is not traced

    def dependency(self, value: Any, names: tuple[str, ...], depth: int = 0) -> bytes | None:
        """The token of something a function references, or None if it is not traced."""
        if isinstance(value, types.FunctionType):
            return self.function(value) if _is_user(value) else _named(b"G", _qualified(value))
        if isinstance(value, type):
            return self.class_(value) if _is_user(value) else _named(b"C", _qualified(value))
        if isinstance(value, types.ModuleType):
            return self._module(value, names, depth)
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType):  # a decorated function, a hotpipe node
            inner = self.dependency(wrapped, names, depth) or b""
            return _digest(b"w" + inner + _named(b"c", _qualified(type(value))))
        if not _constant(value):
            return None  # a global dict, list or object is state (a cache, a registry)
        try:
            return fingerprint(value)
        except UnstableValue:
            return None

    def _module(self, module: types.ModuleType, names: tuple[str, ...], depth: int) -> bytes:
        token = _named(b"m", module.__name__)
        if depth > 2 or not _is_user_module(module.__name__):
            return token
        parts = [token]
        scope = vars(module)
        for name in names:
            if name in scope and not name.startswith("__"):
                dep = self._lookup(scope, name, names, depth + 1)
                parts.append(_lp(name) + (dep or b""))
        return _digest(b"".join(parts))

    def _lookup(self, scope: dict[str, Any], name: str, names: tuple[str, ...],
                depth: int = 0) -> bytes | None:
        """The token of ``scope[name]``, remembering how to check it later."""
        value = scope.get(name, _MISSING)
        if value is _MISSING:
            self.checks.append(("name", scope, name, _MISSING))
            return None
        dep = self.dependency(value, names, depth)
        traced = isinstance(value, types.FunctionType | type | types.ModuleType) or hasattr(
            value, "__wrapped__"
        )
        if dep is not None and not traced:
            self.checks.append(("data", scope, name, (value, dep)))
        else:
            self.checks.append(("name", scope, name, value))
        return dep

    def _closure(self, f: types.FunctionType) -> bytes:
        parts = []
        for name, cell in zip(f.__code__.co_freevars, f.__closure__ or (), strict=True):
            try:
                value = cell.cell_contents
            except ValueError:
                self.checks.append(("cell", cell, _MISSING))
                parts.append(_lp(name) + b"<empty>")
                continue
            self.checks.append(("cell", cell, value))
            if isinstance(value, types.FunctionType | type | types.ModuleType):
                parts.append(_lp(name) + (self.dependency(value, ()) or b""))
                continue
            try:
                parts.append(_lp(name) + fingerprint(value))
            except UnstableValue as e:
                raise e.at(f"closure variable {name!r} of {f.__qualname__}") from None
        return _digest(b"".join(parts))

    def _defaults(self, f: types.FunctionType) -> bytes:
        try:
            return fingerprint((f.__defaults__, f.__kwdefaults__))
        except UnstableValue as e:
            raise e.at(f"a default value of {f.__qualname__}") from None

    def _globals(self, f: types.FunctionType, names: tuple[str, ...]) -> bytes:
        scope = f.__globals__
        parts = []
        for name in names:
            dep = self._lookup(scope, name, names)
            if dep is not None:
                parts.append(_lp(name) + dep)
        return _digest(b"".join(parts))


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, type(Ellipsis))


def _constant(value: Any, depth: int = 0) -> bool:
    """Whether a global is a constant (part of the code) rather than state.

    Numbers, strings, bytes, None, enums, and tuples or frozensets of those are constants and
    are fingerprinted by value. A dict, a list, a set or any other object held in a global
    is state (a memo cache, a registry, a connection) and is left out: hashing it would
    change the keys whenever the program fills its caches. Configuration that should
    invalidate the cache belongs in constants, in node inputs or in ``version=``.
    """
    import enum

    if isinstance(value, (*_IMMUTABLE, enum.Enum)):
        return True
    if isinstance(value, tuple | frozenset) and depth < 4:
        return all(_constant(v, depth + 1) for v in value)
    return False


def _code_identity(code: types.CodeType) -> tuple[bytes, tuple[str, ...]]:
    """(digest of the source or code, the names it and its nested code use), once per code."""
    entry = _CODES.get(id(code))
    if entry is None or entry[0] is not code:
        names = tuple(sorted(_names(code)))
        entry = _CODES[id(code)] = (code, _source_digest(code) or _code_digest(code), names)
    return entry[1], entry[2]


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _source_digest(code: types.CodeType) -> bytes | None:
    try:
        source = textwrap.dedent("".join(inspect.getsourcelines(code)[0]))
        tree = ast.parse(source)
    except Exception:  # no file, a REPL, exec'd code, a fragment of an expression
        return None
    if code.co_name == "<lambda>":
        found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        target: ast.AST | None = found[0] if len(found) == 1 else None
    else:
        first = tree.body[0] if tree.body else None
        is_def = isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef)
        target = first if is_def and first.name == code.co_name else None
    if target is None:
        return None
    if isinstance(target, ast.FunctionDef | ast.AsyncFunctionDef):
        target.decorator_list = []
    _strip_docstrings(target)
    return _digest(b"A" + ast.dump(target, annotate_fields=False).encode())


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]


def _code_digest(code: types.CodeType) -> bytes:
    """The fallback without source: bytecode, constants, names; not file or line numbers."""
    consts = [
        _code_digest(c) if isinstance(c, types.CodeType) else fingerprint(c) for c in code.co_consts
    ]
    header = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    names = "\x00".join((*code.co_names, "|", *code.co_varnames, "|", *code.co_freevars))
    head = b"B" + repr(header).encode() + _lp(names) + _lp(code.co_name)
    return _digest(head + code.co_code + b"".join(consts))
