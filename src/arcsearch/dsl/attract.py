"""Objects drawn toward anchors: each loose object moves (or extends a trail) in a straight
line until it touches the anchor it is aligned with.

Many ARC tasks share this one rule with different looks: a shape slides until it meets a
block, scattered cells gather around a centre, cells shoot a line to a wall, a marker
takes one step toward another. The anchors are the cells of given colours; every other
non-background cell belongs to a *mover* (8-connected, colours mixed). A mover is
attracted in a direction when, looking along it from the mover's cells, the nearest cell
that is neither background nor the mover's own is an anchor cell; of the attracting
directions the nearest contact wins (ties: the first in :data:`DIRS8` order). Every move is
decided on the input grid, then applied at once.
"""

from __future__ import annotations

import numpy as np

from .connectivity import label_cells
from .grid import Grid, background, colour_counts

ATTRACT_MODES = ("move", "step", "trail")
DIRS4 = ((-1, 0), (1, 0), (0, -1), (0, 1))
DIRS8 = (*DIRS4, (-1, -1), (-1, 1), (1, -1), (1, 1))


def _contact(g: Grid, own: np.ndarray, ys: np.ndarray, xs: np.ndarray, dy: int, dx: int,
             bg: int, anchor: np.ndarray) -> tuple[int, bool]:
    """(steps to the nearest foreign non-background cell along (dy, dx) from any of the
    mover's cells, whether that cell is an anchor); (0, False) when nothing is hit."""
    h, w = g.shape
    best, hit_anchor = 0, False
    for y0, x0 in zip(ys.tolist(), xs.tolist(), strict=True):
        y, x, k = y0 + dy, x0 + dx, 1
        while 0 <= y < h and 0 <= x < w:
            if not own[y, x] and g[y, x] != bg:
                if best == 0 or k < best:
                    best, hit_anchor = k, bool(anchor[y, x])
                elif k == best:
                    hit_anchor = hit_anchor or bool(anchor[y, x])
                break
            if best and k >= best:
                break
            y, x, k = y + dy, x + dx, k + 1
    return best, hit_anchor


def _pull(g: Grid, own, ys, xs, dirs, bg, anchor) -> tuple[int, int, int] | None:
    """(dy, dx, steps to contact) of the nearest attracting direction, or None."""
    pick = None
    for dy, dx in dirs:
        k, hit = _contact(g, own, ys, xs, dy, dx, bg, anchor)
        if hit and (pick is None or k < pick[2]):
            pick = (dy, dx, k)
    return pick


def _major(g: Grid, bg: int) -> tuple[int, ...] | None:
    """The most frequent non-background colour, as an anchor set (None on a tie)."""
    counts = colour_counts(g).copy()
    counts[bg] = 0
    top = int(counts.max())
    if top == 0 or int((counts == top).sum()) > 1:
        return None
    return (int(counts.argmax()),)


def _fits(g: Grid, ys, xs, pick, mode: str) -> bool:
    """Whether the mover stays inside the grid on its way to the contact (a cell whose
    line ends at the border may leave it before another cell touches the anchor)."""
    dy, dx, k = pick
    s = 1 if mode == "step" else k - 1
    y, x = ys + s * dy, xs + s * dx
    h, w = g.shape
    return bool((y >= 0).all() and (y < h).all() and (x >= 0).all() and (x < w).all())


def attract(g: Grid, anchors: tuple[int, ...] | str, mode: str, conn: int) -> Grid | None:
    """Draw every mover toward the anchor cells (colours ``anchors``, or ``"major"``: the
    most frequent non-background colour of the grid) along the 4
    (``conn=4``) or 8 (``conn=8``) straight directions: ``move`` slides it until it
    touches the anchor, ``step`` moves it one cell (when not touching yet), ``trail``
    leaves it and paints the cells it would sweep with its colours. None when no mover
    is attracted or when the grid has no anchor or no mover."""
    if mode not in ATTRACT_MODES:
        raise ValueError(f"attract: unknown mode {mode!r}; choose from {ATTRACT_MODES}")
    if conn not in (4, 8):
        raise ValueError(f"attract: conn must be 4 or 8, got {conn!r}")
    bg = background(g)
    if anchors == "major":
        anchors = _major(g, bg)
        if anchors is None:
            return None
    anchor = np.isin(g, anchors)
    movers = (g != bg) & ~anchor
    if not anchor.any() or not movers.any():
        return None
    roots = label_cells(g, movers.ravel(), 8, True)
    flat = np.flatnonzero(movers.ravel())
    dirs = DIRS4 if conn == 4 else DIRS8
    w = g.shape[1]
    moves = []
    for r in np.unique(roots[flat]).tolist():
        cells = flat[roots[flat] == r]
        ys, xs = cells // w, cells % w
        own = np.zeros(g.shape, dtype=bool)
        own[ys, xs] = True
        pick = _pull(g, own, ys, xs, dirs, bg, anchor)
        if pick is not None and pick[2] > 1 and _fits(g, ys, xs, pick, mode):
            moves.append((ys, xs, pick))
    if not moves:
        return None
    out = g.copy()
    if mode != "trail":
        for ys, xs, _ in moves:
            out[ys, xs] = bg
    for ys, xs, (dy, dx, k) in moves:
        cols = g[ys, xs]
        shifts = range(1, k) if mode == "trail" else (1 if mode == "step" else k - 1,)
        for s in shifts:
            out[ys + s * dy, xs + s * dx] = cols
    return out
