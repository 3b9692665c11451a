"""Pattern continuation: fill unknown cells from a periodic (tiled) pattern."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background


def _period_fill(g: Grid, unknown: np.ndarray, py: int, px: int) -> Grid | None:
    """Tile the grid with period (py, px) if every residue class of cells has known cells,
    all of one colour; else None. Vectorised over the classes: pad to whole periods, view as
    (rows of tiles, py, cols of tiles, px) and compare each class's min and max known value."""
    h, w = g.shape
    hh, ww = -(-h // py) * py, -(-w // px) * px
    hi = np.full((hh, ww), -1, dtype=np.int16)  # unknown / padding: -1 for max, 99 for min
    hi[:h, :w] = np.where(unknown, -1, g.astype(np.int16))
    lo = np.where(hi < 0, 99, hi)
    hi_t = hi.reshape(hh // py, py, ww // px, px).max(axis=(0, 2))
    if hi_t.min() < 0:  # a class without any known cell
        return None
    if not np.array_equal(hi_t, lo.reshape(hh // py, py, ww // px, px).min(axis=(0, 2))):
        return None
    reps = np.tile(hi_t, (h // py + 1, w // px + 1))[:h, :w]
    return reps.astype(np.uint8)


def _shift_clash(v: np.ndarray, known: np.ndarray, k: int) -> bool:
    """True if two known cells k apart along axis 0 differ (then k is no period)."""
    if k >= v.shape[0]:
        return False
    return bool((known[k:] & known[:-k] & (v[k:] != v[:-k])).any())


_PERIODS: dict[tuple[int, int], list[tuple[int, int]]] = {}


def _periods(h: int, w: int) -> list[tuple[int, int]]:
    """Candidate periods (py, px) != (h, w) by area, then (py, px); cached per shape."""
    cands = _PERIODS.get((h, w))
    if cands is None:
        cands = _PERIODS[(h, w)] = sorted(
            ((py, px) for py in range(1, h + 1) for px in range(1, w + 1)
             if (py, px) != (h, w)),
            key=lambda p: (p[0] * p[1], p),
        )
    return cands


def continue_pattern(g: Grid, mask_colour: int | None = None) -> Grid | None:
    """Find the smallest 2-D period consistent with all known cells and fill the rest.

    Unknown cells are those of ``mask_colour`` (default: background). Periods are tried in
    order of area; a period whose row (or column) shift puts two different known colours
    on top of each other is skipped without the full per-class check.
    """
    h, w = g.shape
    m = background(g) if mask_colour is None else mask_colour
    unknown = g == m
    if not unknown.any() or unknown.all():
        return None
    known = ~unknown
    n_known = int(known.sum())
    clash_y: dict[int, bool] = {}
    clash_x: dict[int, bool] = {}
    for py, px in _periods(h, w):
        if py * px * 2 > n_known + py * px:
            break
        if py not in clash_y:
            clash_y[py] = _shift_clash(g, known, py)
        if clash_y[py]:
            continue
        if px not in clash_x:
            clash_x[px] = _shift_clash(g.T, known.T, px)
        if clash_x[px]:
            continue
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
