"""Lines joining marker cells: straight bridges between equal-coloured cells, and elbows
between two single cells.

``connect`` (``lines.py``) already joins aligned equal-coloured cells with their own
colour, but several ARC tasks draw the same lines differently: in another colour (two
8s joined by a line of 3), with the vertical lines on top where lines cross, or on a
demo that has no pair at all (then ``connect`` does not apply, and the whole task is
lost). ``bridge`` covers these. Another family joins two single marker cells that are
not aligned, by a path along a row and then a column (or the other way round): an
``elbow``. Both paint background cells only, so markers and obstacles stay.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, colour_counts
from .lines import _between

JOIN_AXES = ("h", "v")  # bridge: the orientation drawn last (on top); elbow: the first leg
_MAX_CELLS = 40  # a colour with more cells is texture, not markers (as in ``connect``)


def _check_axis(axis: str) -> None:
    if axis not in JOIN_AXES:
        raise ValueError(f"join axis {axis!r} is unknown: use one of {JOIN_AXES}")


def bridge(g: Grid, paint: int | None = None, over: str = "v") -> Grid:
    """Join every two cells of one colour in a row (column) by a horizontal (vertical) line
    over the background cells between them, painted ``paint`` (None: the pair's colour).

    Where lines cross, the ``over`` orientation wins (it is drawn last); within one
    orientation, higher colours are drawn later. A grid with nothing to join comes back
    unchanged, so a demo without a pair still fits the rule.
    """
    _check_axis(over)
    bg = background(g)
    free = g == bg
    counts = colour_counts(g)
    masks = [(c, g == c) for c in range(10)
             if c != bg and 2 <= counts[c] <= _MAX_CELLS]
    out = None
    for axis in ("v", "h") if over == "h" else ("h", "v"):
        for c, m in masks:
            line = (_between(m) if axis == "h" else _between(m.T).T) & free
            if line.any():
                if out is None:
                    out = g.copy()
                out[line] = c if paint is None else paint
    return g if out is None else out


def _single(g: Grid, c: int) -> tuple[int, int] | None:
    ys, xs = np.nonzero(g == c)
    return (int(ys[0]), int(xs[0])) if ys.size == 1 else None


def elbow(g: Grid, a: int, b: int, paint: int, first: str = "h") -> Grid | None:
    """Join the single cell of colour ``a`` to the single cell of colour ``b`` by a path
    that runs from ``a`` along its row (``first="h"``) or column (``"v"``) to ``b``'s
    column (row), then straight to ``b``; its background cells are painted ``paint``.
    None when ``a`` or ``b`` is not exactly one cell."""
    _check_axis(first)
    pa, pb = _single(g, a), _single(g, b)
    if pa is None or pb is None:
        return None
    (ya, xa), (yb, xb) = pa, pb
    path = np.zeros(g.shape, dtype=bool)
    if first == "h":
        path[ya, min(xa, xb) : max(xa, xb) + 1] = True
        path[min(ya, yb) : max(ya, yb) + 1, xb] = True
    else:
        path[min(ya, yb) : max(ya, yb) + 1, xa] = True
        path[yb, min(xa, xb) : max(xa, xb) + 1] = True
    path &= g == background(g)
    out = g.copy()
    out[path] = paint
    return out
