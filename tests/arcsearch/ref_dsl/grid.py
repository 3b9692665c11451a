"""Grid basics: conversion, per-grid memoised analyses (background, colour counts)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import numpy as np

Grid = np.ndarray
MAX_SIDE = 30

# Per-grid memo for expensive analyses. Keyed by (analysis name, shape, bytes, extra args).
# Grids are immutable by convention inside arcsearch, so the content key is safe.
_MEMO: dict[tuple, Any] = {}
_MEMO_LIMIT = 200_000


def clear_memo() -> None:
    """Drop all memoised per-grid analyses (called between tasks)."""
    _MEMO.clear()


def memo_size() -> int:
    return len(_MEMO)


def grid_key(g: Grid) -> tuple:
    return (g.shape, g.tobytes())


def memo_grid(fn: Callable) -> Callable:
    """Memoise ``fn(grid, *args)`` on the grid's content and the extra args."""
    name = fn.__name__

    @wraps(fn)
    def wrapper(g: Grid, *args):
        key = (name, g.shape, g.tobytes(), args)
        try:
            return _MEMO[key]
        except KeyError:
            pass
        res = fn(g, *args)
        if len(_MEMO) > _MEMO_LIMIT:
            _MEMO.clear()
        _MEMO[key] = res
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
