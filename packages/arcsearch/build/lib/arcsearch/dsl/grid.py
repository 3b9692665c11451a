"""Grid basics: conversion, per-grid memoised analyses (background, colour counts)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import numpy as np

Grid = np.ndarray
MAX_SIDE = 30

# Per-grid memo for expensive analyses. A grid is interned once: its content
# (shape, bytes) gets a small integer id, remembered by object identity, so a memo lookup
# hashes two ints instead of the grid's bytes. Interned grids are made read-only: the memo
# relies on grids being immutable (the DSL's convention), and a write now raises instead
# of silently leaving a stale entry. The table holds a reference to each interned grid, so
# its ``id`` cannot be reused while the entry lives.
_BY_OBJ: dict[int, tuple[Grid, int]] = {}
_BY_CONTENT: dict[tuple, int] = {}
_MEMOS: dict[str, dict] = {}  # per memoised function (a global: state, not code)
_MEMO_LIMIT = 200_000
_GENERATION = [0]  # bumped by clear_memo: a result computed across a clear is not stored


def clear_memo() -> None:
    """Drop all memoised per-grid analyses and interned grids (called between tasks)."""
    _GENERATION[0] += 1
    _BY_OBJ.clear()
    _BY_CONTENT.clear()
    for m in _MEMOS.values():
        m.clear()


def memo_size() -> int:
    return sum(len(m) for m in _MEMOS.values())


def grid_key(g: Grid) -> tuple:
    return (g.shape, g.tobytes())


def grid_id(g: Grid) -> int:
    """Small integer naming the grid's content (equal grids share it until ``clear_memo``)."""
    e = _BY_OBJ.get(id(g))
    if e is not None and e[0] is g:
        return e[1]
    if len(_BY_OBJ) > _MEMO_LIMIT:
        clear_memo()
    key = (g.shape, g.tobytes())
    gid = _BY_CONTENT.get(key)
    if gid is None:
        gid = _BY_CONTENT[key] = len(_BY_CONTENT)
    g.flags.writeable = False
    _BY_OBJ[id(g)] = (g, gid)
    return gid


def memo_grid(fn: Callable) -> Callable:
    """Memoise ``fn(grid, *args)`` on the grid's content and the extra args.

    The memo lives in the global ``_MEMOS``, not in the wrapper's closure: hotpipe
    fingerprints closure values, and a filling cache must not change a task's cache key.
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    _MEMOS.setdefault(name, {})

    @wraps(fn)
    def wrapper(g: Grid, *args):
        memo = _MEMOS[name]
        e = _BY_OBJ.get(id(g))
        gid = e[1] if e is not None and e[0] is g else grid_id(g)
        key = (gid, args) if args else gid
        try:
            return memo[key]
        except KeyError:
            pass
        gen = _GENERATION[0]
        res = fn(g, *args)
        if len(memo) > _MEMO_LIMIT:
            clear_memo()
        elif gen == _GENERATION[0]:
            memo[key] = res
        return res

    return wrapper


def as_grid(x) -> Grid:
    """Convert a nested list / array to a contiguous uint8 grid."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.uint8))


@memo_grid
def colour_counts(g: Grid) -> np.ndarray:
    """Count of each colour 0..9 in the grid."""
    return np.bincount(g.ravel(), minlength=10)


@memo_grid
def background(g: Grid) -> int:
    """Background colour: 0 if present in the grid's majority sense, else most frequent."""
    counts = colour_counts(g)
    if counts[0] > 0 and counts[0] * 2 >= counts.max():
        return 0
    return int(counts.argmax())


@memo_grid
def colours(g: Grid) -> tuple[int, ...]:
    """Sorted tuple of colours present."""
    return tuple(int(c) for c in np.flatnonzero(colour_counts(g)))


def valid(g) -> bool:
    """True if ``g`` is a usable ARC grid (2-D, non-empty, at most 30x30)."""
    return (
        isinstance(g, np.ndarray)
        and g.ndim == 2
        and 0 < g.shape[0] <= MAX_SIDE
        and 0 < g.shape[1] <= MAX_SIDE
    )
