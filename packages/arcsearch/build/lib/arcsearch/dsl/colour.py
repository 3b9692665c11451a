"""Colour mapping and filtering."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, colour_counts


def recolor(g: Grid, mapping: dict[int, int]) -> Grid:
    """Apply a colour map; colours not in ``mapping`` are kept."""
    lut = np.arange(256, dtype=np.uint8)
    for a, b in mapping.items():
        lut[a] = b
    return lut[g]


def replace_colour(g: Grid, a: int, b: int) -> Grid | None:
    if not (g == a).any():
        return None
    out = g.copy()
    out[g == a] = b
    return out


def keep_colour(g: Grid, c: int) -> Grid | None:
    """Keep only cells of colour ``c``; everything else becomes background."""
    bg = background(g)
    if c == bg or not (g == c).any():
        return None
    out = np.full_like(g, bg)
    out[g == c] = c
    return out


def remove_colour(g: Grid, c: int) -> Grid | None:
    """Cells of colour ``c`` become background."""
    bg = background(g)
    if c == bg or not (g == c).any():
        return None
    out = g.copy()
    out[g == c] = bg
    return out


def binarise(g: Grid, c: int) -> Grid:
    """Every non-background cell becomes colour ``c``."""
    bg = background(g)
    out = np.full_like(g, bg)
    out[g != bg] = c
    return out


def swap_fg_bg(g: Grid) -> Grid | None:
    """Exchange the background with the single foreground colour (2-colour grids)."""
    cols = np.flatnonzero(colour_counts(g))
    if len(cols) != 2:
        return None
    a, b = int(cols[0]), int(cols[1])
    return recolor(g, {a: b, b: a})


def majority_colour(g: Grid) -> Grid | None:
    """1x1 grid of the most frequent non-background colour."""
    cnt = colour_counts(g).copy()
    cnt[background(g)] = 0
    if not cnt.any():
        return None
    return np.array([[cnt.argmax()]], dtype=np.uint8)


def minority_colour(g: Grid) -> Grid | None:
    """1x1 grid of the least frequent (present) non-background colour."""
    cnt = colour_counts(g).astype(np.int64)
    cnt[background(g)] = 0
    cnt[cnt == 0] = 10**6
    if cnt.min() == 10**6:
        return None
    return np.array([[cnt.argmin()]], dtype=np.uint8)


def fill_all(g: Grid, c: int) -> Grid:
    """Grid of the same shape filled with ``c``."""
    return np.full_like(g, c)


def colour_histogram(g: Grid) -> Grid | None:
    """Bars of non-background colours sorted by frequency (one column per colour)."""
    cnt = colour_counts(g).copy()
    bg = background(g)
    cnt[bg] = 0
    order = [int(c) for c in np.argsort(-cnt, kind="stable") if cnt[c] > 0]
    if not order:
        return None
    h = int(cnt.max())
    if h > 30:
        return None
    out = np.full((h, len(order)), bg, dtype=np.uint8)
    for j, c in enumerate(order):
        out[h - cnt[c] :, j] = c
    return out
