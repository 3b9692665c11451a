"""Reshaping primitives: compressing repeated rows and columns, summarising the cells of
a separated grid, tiling with rotations, scaling by the number of colours, and cropping a
transformed grid at a region the input marks with one colour."""

from __future__ import annotations

import numpy as np

from .compose import run_steps
from .crop import bbox
from .grid import MAX_SIDE, Grid, background, colour_counts
from .split import _runs, separator_lines

DEDUPE_AXES = ("rows", "cols", "both")
LINE_AXES = ("rows", "cols", "auto")
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


def _dedupe_rows(g: Grid) -> Grid:
    keep = np.ones(g.shape[0], dtype=bool)
    keep[1:] = (g[1:] != g[:-1]).any(axis=1)
    return g[keep]


def dedupe(g: Grid, axis: str) -> Grid | None:
    """Collapse runs of equal adjacent rows (``rows``), columns (``cols``) or both into
    one; None when nothing repeats."""
    if axis not in DEDUPE_AXES:
        raise ValueError(f"dedupe: unknown axis {axis!r}; choose from {DEDUPE_AXES}")
    out = g
    if axis in ("rows", "both"):
        out = _dedupe_rows(out)
    if axis in ("cols", "both"):
        out = _dedupe_rows(out.T).T
    if out.shape == g.shape:
        return None
    return np.ascontiguousarray(out)


def shift(g: Grid, dy: int, dx: int) -> Grid | None:
    """Move the whole picture ``dy`` rows down and ``dx`` columns right; cells moved in
    from outside are background (None when no non-background cell stays inside)."""
    h, w = g.shape
    if abs(dy) >= h or abs(dx) >= w:
        return None
    bg = background(g)
    out = np.full_like(g, bg)
    src = g[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)] = src
    if not (out != bg).any():
        return None
    return out


def line_majority(g: Grid, axis: str) -> Grid | None:
    """Every row (``rows``) or column (``cols``) painted with its most frequent colour (the
    lowest on ties): stripes cleaned of noise. ``auto`` takes the axis whose result keeps
    more cells as they are (rows on ties)."""
    if axis == "auto":
        best = None
        for a in ("rows", "cols"):
            out = line_majority(g, a)
            kept = -1 if out is None else int((out == g).sum())
            if best is None or kept > best[0]:
                best = (kept, out)
        return best[1]
    if axis not in LINE_AXES:
        raise ValueError(f"line_majority: unknown axis {axis!r}; choose from {LINE_AXES}")
    m = g if axis == "rows" else g.T
    cnt = np.zeros((m.shape[0], 10), dtype=np.int64)
    np.add.at(cnt, (np.repeat(np.arange(m.shape[0]), m.shape[1]), m.ravel()), 1)
    out = np.repeat(cnt.argmax(axis=1).astype(np.uint8)[:, None], m.shape[1], axis=1)
    out = out if axis == "rows" else out.T
    if np.array_equal(out, g):
        return None
    return np.ascontiguousarray(out)


def part_colours(g: Grid) -> Grid | None:
    """One cell per cell of a grid divided by separator lines: its most frequent
    non-background colour (the lowest on ties), the background where it has none."""
    rows, cols, c = separator_lines(g)
    if c < 0:
        return None
    h, w = g.shape
    rr, cc = _runs(h, rows), _runs(w, cols)
    if len(rr) * len(cc) < 2:
        return None
    bg = background(g)
    out = np.full((len(rr), len(cc)), bg, dtype=np.uint8)
    for i, (r0, r1) in enumerate(rr):
        for j, (c0, c1) in enumerate(cc):
            cnt = np.bincount(g[r0:r1, c0:c1].ravel(), minlength=10)
            cnt[bg] = 0
            if cnt.any():
                out[i, j] = int(cnt.argmax())
    return out


def rotate_tile(g: Grid) -> Grid | None:
    """2 x 2 tiling of a square grid turning clockwise: the grid top left, then its
    quarter, half and three-quarter turns (top right, bottom right, bottom left)."""
    h, w = g.shape
    if h != w or 2 * h > MAX_SIDE:
        return None
    top = np.hstack([g, np.rot90(g, -1)])
    bottom = np.hstack([np.rot90(g, 1), np.rot90(g, 2)])
    return np.ascontiguousarray(np.vstack([top, bottom]))


def upscale_by_colours(g: Grid) -> Grid | None:
    """Upscale by k x k, k = the number of non-background colours (k >= 2)."""
    k = int((colour_counts(g) > 0).sum()) - 1
    h, w = g.shape
    if k < 2 or h * k > MAX_SIDE or w * k > MAX_SIDE:
        return None
    return np.ascontiguousarray(np.repeat(np.repeat(g, k, axis=0), k, axis=1))


def kron_zero(g: Grid, inverse: bool = False) -> Grid | None:
    """Fractal tiling with colour 0 as the background, whatever the majority: block
    (i, j) is a copy of g where g[i, j] != 0 (== 0 with ``inverse``), 0 elsewhere."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE or not (g == 0).any():
        return None
    mask = (g == 0) if inverse else (g != 0)
    blocks = np.where(mask[:, None, :, None], g[None, :, None, :], 0)
    return np.ascontiguousarray(blocks.reshape(h * h, w * w).astype(np.uint8))


def marked_region(g: Grid, c: int) -> tuple[int, int, int, int] | None:
    """The bounding box (r0, r1, c0, c1) of the cells of colour ``c``."""
    return bbox(g == c)


def crop_marked(g: Grid, steps, c: int) -> Grid | None:
    """Run ``steps`` on ``g``, then crop the result (of ``g``'s shape) to the bounding box
    of ``g``'s cells of colour ``c``: e.g. the hidden part of a pattern, restored."""
    box = marked_region(g, c)
    if box is None:
        return None
    out = run_steps(g, steps)
    if out is None or out.shape != g.shape:
        return None
    return np.ascontiguousarray(out[box[0] : box[1], box[2] : box[3]])
