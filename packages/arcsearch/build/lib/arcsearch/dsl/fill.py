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
    """Background cells inside the bounding box of each single-colour object become ``c``.

    The union of the boxes comes from a 2-D difference array (+1/-1 at each box's corners,
    then cumulative sums), not from a loop over the objects.
    """
    from .objects import object_boxes

    bg = background(g)
    r0, r1, c0, c1 = object_boxes(g, 8, False)
    if r0.size == 0:
        return None
    h, w = g.shape
    diff = np.zeros((h + 1) * (w + 1), dtype=np.int32)
    np.add.at(diff, np.concatenate((r0 * (w + 1) + c0, r1 * (w + 1) + c1)), 1)
    np.add.at(diff, np.concatenate((r0 * (w + 1) + c1, r1 * (w + 1) + c0)), -1)
    inside = diff.reshape(h + 1, w + 1).cumsum(axis=0).cumsum(axis=1)[:h, :w] > 0
    m = inside & (g == bg)
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out
