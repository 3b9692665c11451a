"""Gravity: non-background cells fall towards one side."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

DIRECTIONS = ("down", "up", "left", "right")


def gravity(g: Grid, direction: str) -> Grid | None:
    """Every non-background cell slides as far as possible in ``direction``.

    Cells keep their relative order along each column (or row).
    """
    bg = background(g)
    if direction in ("left", "right"):
        t = gravity(np.ascontiguousarray(g.T), "up" if direction == "left" else "down")
        return None if t is None else np.ascontiguousarray(t.T)
    h, w = g.shape
    out = np.full_like(g, bg)
    for j in range(w):
        col = g[:, j]
        vals = col[col != bg]
        if vals.size == 0:
            continue
        if direction == "down":
            out[h - vals.size :, j] = vals
        else:
            out[: vals.size, j] = vals
    if np.array_equal(out, g):
        return None
    return out
