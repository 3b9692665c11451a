"""Render programs as readable Python over ``arcsearch.dsl`` and compile them once."""

from __future__ import annotations

from collections.abc import Callable

from . import dsl

_COMPILED: dict[str, Callable] = {}


def _lit(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_lit(x)}" for k, x in v.items()) + "}"
    return repr(v)


def render(steps) -> str:
    """Python source of ``def solve(grid)`` applying ``steps`` ((name, params), ...)."""
    lines = ["def solve(grid):", "    g = dsl.as_grid(grid)"]
    for name, params in steps:
        args = "".join(", " + _lit(p) for p in params)
        lines.append(f"    g = dsl.{name}(g{args})")
        lines.append("    if g is None:")
        lines.append("        return None")
    lines.append("    return g")
    return "\n".join(lines) + "\n"


def compile_source(source: str) -> Callable:
    """Compile ``source`` (defining ``solve``) once; cached by the source text."""
    fn = _COMPILED.get(source)
    if fn is None:
        ns: dict = {"dsl": dsl}
        exec(compile(source, "<arcsearch-program>", "exec"), ns)
        fn = ns["solve"]
        _COMPILED[source] = fn
    return fn


def cache_size() -> int:
    return len(_COMPILED)
