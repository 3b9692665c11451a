"""Cropping and trimming."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(r0, r1, c0, c1) half-open bounding box of True cells, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def trim(g: Grid) -> Grid | None:
    """Crop to the bounding box of all non-background cells."""
    b = bbox(g != background(g))
    if b is None:
        return None
    return np.ascontiguousarray(g[b[0] : b[1], b[2] : b[3]])


def crop_colour(g: Grid, c: int) -> Grid | None:
    """Crop to the bounding box of cells of colour ``c``."""
    b = bbox(g == c)
    if b is None:
        return None
    return np.ascontiguousarray(g[b[0] : b[1], b[2] : b[3]])


def crop_inside_colour(g: Grid, c: int) -> Grid | None:
    """Crop to the interior of the bounding box of colour ``c`` (e.g. inside a frame)."""
    b = bbox(g == c)
    if b is None or b[1] - b[0] < 3 or b[3] - b[2] < 3:
        return None
    return np.ascontiguousarray(g[b[0] + 1 : b[1] - 1, b[2] + 1 : b[3] - 1])


def remove_border(g: Grid) -> Grid | None:
    """Drop the outermost ring of cells."""
    if g.shape[0] < 3 or g.shape[1] < 3:
        return None
    return np.ascontiguousarray(g[1:-1, 1:-1])


def half(g: Grid, which: str) -> Grid | None:
    """Top/bottom/left/right half (middle line excluded for odd sizes)."""
    h, w = g.shape
    if which in ("top", "bottom"):
        if h < 2:
            return None
        k = h // 2
        part = g[:k] if which == "top" else g[h - k :]
    else:
        if w < 2:
            return None
        k = w // 2
        part = g[:, :k] if which == "left" else g[:, w - k :]
    return np.ascontiguousarray(part)


def crop_to_shape(g: Grid, h: int, w: int, corner: str) -> Grid | None:
    """Take an ``h`` x ``w`` window at a corner ('tl','tr','bl','br')."""
    gh, gw = g.shape
    if h > gh or w > gw:
        return None
    r0 = 0 if corner[0] == "t" else gh - h
    c0 = 0 if corner[1] == "l" else gw - w
    return np.ascontiguousarray(g[r0 : r0 + h, c0 : c0 + w])
