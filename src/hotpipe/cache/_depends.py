"""Declared dependencies: ``@node(depends_on=[module, "path/to/dir"])``.

A function's fingerprint sees the code it names; it cannot see code reached by a computed
name (``getattr(module, name)``, ``importlib.import_module``, generated source, a registry
filled at import time) or data files it reads. A node declares those, and the source of
every declared module (every ``.py`` file of a package, recursively) and the bytes of every
declared file (every file of a directory, recursively; ``__pycache__`` and hidden entries
skipped) are folded into its function's fingerprint. Python files are compared by their
syntax tree without docstrings, like function sources, so comments and formatting do not
invalidate; other files by their bytes. Paths inside a declared directory are relative, so
the same tree gives the same key on any machine.

Each cached call re-checks the files' sizes and modification times (one ``stat`` per file);
a changed file is read and parsed again.
"""

from __future__ import annotations

import ast
import os
import types
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import xxhash

__all__ = ["declare", "declared", "digest", "generation", "resolve", "stamp"]

_digest = xxhash.xxh3_128_digest
_DECLARED: weakref.WeakKeyDictionary[Any, tuple[Dependency, ...]] = weakref.WeakKeyDictionary()
_FILES: dict[str, tuple[tuple[int, int], bytes]] = {}  # path -> ((mtime_ns, size), digest)
_GENERATION = [0]  # bumped by every declaration: remembered fingerprints are then re-walked


class Dependency(tuple):  # type: ignore[type-arg]
    """``(label, root)``: a module's name or a path as declared, and the file or directory."""

    @property
    def label(self) -> str:
        return str(self[0])

    @property
    def root(self) -> Path:
        return Path(self[1])


def resolve(items: Iterable[Any], func: Callable[..., Any]) -> tuple[Dependency, ...]:
    """Check and resolve what a node declares; raises ``ValueError`` with the fix.

    A module stands for its file, or its package directory; a string or path is a file or a
    directory, relative to the directory of the file that defines ``func`` (so it works
    from any working directory) unless absolute.
    """
    if isinstance(items, str | os.PathLike | types.ModuleType):
        items = [items]
    deps = []
    for item in items:
        if isinstance(item, types.ModuleType):
            paths = list(getattr(item, "__path__", None) or [])
            file = getattr(item, "__file__", None)
            if not paths and not file:
                raise ValueError(f"module {item.__name__!r} has no source file to fingerprint "
                                 "(a built-in or namespace module); declare its files instead")
            deps.extend(Dependency((item.__name__, p)) for p in (paths or [file]))
            continue
        if not isinstance(item, str | os.PathLike):
            raise ValueError(f"{item!r} is neither a module nor a path; pass a module object "
                             "or a file or directory path")
        path = Path(item)
        if not path.is_absolute():
            code = getattr(func, "__code__", None)
            base = Path(code.co_filename).parent if code is not None else Path.cwd()
            path = base / path
        if not path.exists():
            raise ValueError(f"{str(item)!r} does not exist (looked for {path}); pass an "
                             "existing file or directory, relative to the node's source file")
        deps.append(Dependency((os.fspath(item), os.path.abspath(path))))
    return tuple(deps)


def declare(func: Callable[..., Any], deps: tuple[Dependency, ...]) -> None:
    """Attach ``deps`` to ``func``'s fingerprint (added to what is already declared)."""
    known = _DECLARED.get(func, ())
    _DECLARED[func] = known + tuple(d for d in deps if d not in known)
    _GENERATION[0] += 1


def generation() -> int:
    """How many declarations were made: a fingerprint remembered before one is re-walked."""
    return _GENERATION[0]


def declared(func: Any) -> tuple[Dependency, ...]:
    try:
        return _DECLARED.get(func, ())
    except TypeError:
        return ()


def _files(root: Path) -> list[tuple[str, str]]:
    """``(relative name, path)`` of every file under ``root`` (itself if a file), sorted."""
    if root.is_file():
        return [(root.name, str(root))]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in files:
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(folder, name)
            found.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    return sorted(found)


def stamp(deps: tuple[Dependency, ...]) -> tuple[Any, ...]:
    """Sizes and modification times of every declared file: what a re-check compares."""
    out = []
    for dep in deps:
        for name, path in _files(dep.root):
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _file_digest(path: str) -> bytes:
    try:
        st = os.stat(path)
    except OSError:
        return _digest(b"missing")
    key = (st.st_mtime_ns, st.st_size)
    cached = _FILES.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".py"):
        try:
            tree = ast.parse(data)
            _strip_docstrings(tree)
            data = b"A" + ast.dump(tree, annotate_fields=False).encode()
        except (SyntaxError, ValueError):
            pass  # hashed by its bytes
    digest = _FILES[path] = (key, _digest(data))
    return digest[1]


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]


def digest(deps: tuple[Dependency, ...]) -> bytes:
    """The fingerprint of the declared modules and files (relative names and contents)."""
    parts = []
    for dep in deps:
        files = _files(dep.root)
        inner = b"".join(name.encode() + b"\0" + _file_digest(path) for name, path in files)
        parts.append(dep.label.encode() + b"\0" + _digest(inner))
    return _digest(b"depends_on\0" + b"".join(sorted(parts)))
