"""Filling enclosed regions."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background


def enclosed_mask(g: Grid, bg: int) -> np.ndarray:
    """Cells of colour ``bg`` not 4-connected to the grid border through ``bg`` cells."""
    h, w = g.shape
    free = g == bg
    reach = np.zeros_like(free)
    stack = [(i, j) for i in range(h) for j in (0, w - 1) if free[i, j]]
    stack += [(i, j) for j in range(w) for i in (0, h - 1) if free[i, j]]
    for i, j in stack:
        reach[i, j] = True
    while stack:
        y, x = stack.pop()
        for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            if 0 <= ny < h and 0 <= nx < w and free[ny, nx] and not reach[ny, nx]:
                reach[ny, nx] = True
                stack.append((ny, nx))
    return free & ~reach


def fill_enclosed(g: Grid, c: int) -> Grid | None:
    """Background cells enclosed by non-background cells become ``c``."""
    m = enclosed_mask(g, background(g))
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out


def fill_bbox_holes(g: Grid, c: int) -> Grid | None:
    """Background cells inside the bounding box of each single-colour object become ``c``."""
    from .objects import components

    bg = background(g)
    out = g.copy()
    changed = False
    for o in components(g, 8, False):
        sub = out[o.r0 : o.r1, o.c0 : o.c1]
        m = g[o.r0 : o.r1, o.c0 : o.c1] == bg
        if m.any():
            sub[m] = c
            changed = True
    return out if changed else None
