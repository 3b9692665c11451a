"""Filling enclosed regions."""

from __future__ import annotations

import numpy as np

from .connectivity import label_cells
from .grid import Grid, background


def enclosed_mask(g: Grid, bg: int) -> np.ndarray:
    """Cells of colour ``bg`` not 4-connected to the grid border through ``bg`` cells.

    Labels the ``bg`` regions once; a region is open when one of its cells is on the border.
    """
    free = g == bg
    h, w = g.shape
    lab = label_cells(g, free, 4, True).reshape(h, w)
    border = np.concatenate((lab[0][free[0]], lab[-1][free[-1]], lab[:, 0][free[:, 0]],
                             lab[:, -1][free[:, -1]]))
    is_open = np.zeros(h * w, dtype=bool)
    is_open[border] = True
    return free & ~is_open[lab]


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
