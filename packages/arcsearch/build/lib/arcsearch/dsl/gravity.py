"""Gravity: non-background cells fall towards one side."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

DIRECTIONS = ("down", "up", "left", "right")


def gravity(g: Grid, direction: str) -> Grid | None:
    """Every non-background cell slides as far as possible in ``direction``.

    Cells keep their relative order along each column (or row): a stable sort of each
    line by "is foreground" (foreground last to fall down / right, first for up / left).
    """
    bg = background(g)
    axis = 0 if direction in ("down", "up") else 1
    fg = g != bg
    key = fg if direction in ("down", "right") else ~fg
    out = np.take_along_axis(g, np.argsort(key, axis=axis, kind="stable"), axis=axis)
    if np.array_equal(out, g):
        return None
    return out
