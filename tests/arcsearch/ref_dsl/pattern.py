"""Pattern continuation: fill unknown cells from a periodic (tiled) pattern."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background


def _period_fill(g: Grid, unknown: np.ndarray, py: int, px: int) -> Grid | None:
    h, w = g.shape
    tile = np.full((py, px), 255, dtype=np.int16)
    for i in range(py):
        for j in range(px):
            vals = g[i::py, j::px][~unknown[i::py, j::px]]
            if vals.size == 0:
                return None
            if (vals != vals[0]).any():
                return None
            tile[i, j] = vals[0]
    reps = np.tile(tile, (h // py + 1, w // px + 1))[:h, :w]
    return reps.astype(np.uint8)


def continue_pattern(g: Grid, mask_colour: int | None = None) -> Grid | None:
    """Find the smallest 2-D period consistent with all known cells and fill the rest.

    Unknown cells are those of ``mask_colour`` (default: background).
    """
    h, w = g.shape
    m = background(g) if mask_colour is None else mask_colour
    unknown = g == m
    if not unknown.any() or unknown.all():
        return None
    cands = sorted(
        ((py, px) for py in range(1, h + 1) for px in range(1, w + 1)
         if (py, px) != (h, w)),
        key=lambda p: (p[0] * p[1], p),
    )
    for py, px in cands:
        if py * px * 2 > (~unknown).sum() + py * px:
            break
        res = _period_fill(g, unknown, py, px)
        if res is not None:
            return res
    return None


def continue_diagonal(g: Grid) -> Grid | None:
    """Fill background cells from a pattern constant along anti-diagonals (i + j) mod p."""
    h, w = g.shape
    bg = background(g)
    ii, jj = np.indices((h, w))
    known = g != bg
    if known.all() or not known.any():
        return None
    for p in range(2, 10):
        key = (ii + jj) % p
        table = {}
        ok = True
        for k, v in zip(key[known].tolist(), g[known].tolist(), strict=True):
            if table.setdefault(k, v) != v:
                ok = False
                break
        if ok and len(table) == p:
            lut = np.array([table[k] for k in range(p)], dtype=np.uint8)
            return lut[key]
    return None
