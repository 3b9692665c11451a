"""Filling enclosed regions."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background


def enclosed_mask(g: Grid, bg: int) -> np.ndarray:
    """Cells of colour ``bg`` not 4-connected to the grid border through ``bg`` cells."""
    free = g == bg
    reach = np.zeros_like(free)
    reach[0, :] = free[0, :]
    reach[-1, :] = free[-1, :]
    reach[:, 0] |= free[:, 0]
    reach[:, -1] |= free[:, -1]
    while True:
        grown = reach.copy()
        grown[1:, :] |= reach[:-1, :]
        grown[:-1, :] |= reach[1:, :]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= free
        if np.array_equal(grown, reach):
            break
        reach = grown
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
