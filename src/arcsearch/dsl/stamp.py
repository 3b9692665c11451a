"""Stamps: every cell of a colour paints a fixed pattern of colours around itself.

Many ARC tasks decorate marker cells: a red cell gets yellow diagonal neighbours, a blue
one orange side neighbours; a cell grows a cross, a ring, a staircase; a marker is
replaced by a small picture. The local rules (``local.py``) see this from the painted
cell ("which neighbours do I have?"), which fails when the neighbourhoods of the test
grid were never seen or when two patterns meet. A stamp sees it from the source: for
each colour ``c`` and each offset ``(dy, dx)`` within a radius, the demos say which colour
a background cell at that offset from a ``c`` cell becomes (and, at offset (0, 0), what
the ``c`` cell itself becomes). Offsets whose demo cells disagree (a cell is painted
from one source but not from another) paint nothing; the rule is kept only when it
reproduces every demo output exactly.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

STAMP_RADII = (1, 2)  # radius 3 only ever fitted demos by coincidence (training scan)
_UNCHANGED = 10  # pseudo-colour: the target cell keeps its colour
_OUTSIDE = 255  # padding: off the grid


def _offsets(radius: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]


def learn_stamp(pairs: list[tuple[Grid, Grid]], radius: int) -> tuple | None:
    """The stamp entries ``((c, dy, dx, colour), ...)`` that the demo pairs agree on, in a
    fixed order, or None when the shapes differ or nothing off-centre is painted. The
    result still has to be checked on the demos (:func:`apply_stamp`): overlapping
    patterns can make an offset ambiguous."""
    offs = _offsets(radius)
    seen = np.zeros((10, len(offs), 11), dtype=np.int64)
    r = radius
    for x, y in pairs:
        if x.shape != y.shape:
            return None
        h, w = x.shape
        bg = background(x)
        src = x.astype(np.int64)
        is_src = x != bg
        px = np.pad(x, r, constant_values=_OUTSIDE)
        py = np.pad(y, r, constant_values=_OUTSIDE)
        for k, (dy, dx) in enumerate(offs):
            tx = px[r + dy : r + dy + h, r + dx : r + dx + w]
            ty = py[r + dy : r + dy + h, r + dx : r + dx + w]
            m = is_src & (tx != _OUTSIDE)
            if dy or dx:
                m &= tx == bg
            code = np.where(ty == tx, _UNCHANGED, ty)[m].astype(np.int64)
            seen[:, k] += np.bincount(src[m] * 11 + code, minlength=110).reshape(10, 11)
    entries = []
    off_centre = False
    for c in range(10):
        for k in np.flatnonzero((seen[c] > 0).sum(axis=1) == 1).tolist():
            colour = int(np.flatnonzero(seen[c, k])[0])
            if colour == _UNCHANGED:
                continue
            dy, dx = offs[k]
            off_centre = off_centre or bool(dy or dx)
            entries.append((c, dy, dx, colour))
    if not off_centre:
        return None  # a plain colour map: the search learns those directly
    return tuple(entries)


def apply_stamp(g: Grid, entries: tuple) -> Grid | None:
    """Paint every entry ``(c, dy, dx, colour)``: the background cell at ``(dy, dx)`` from
    each ``c`` cell (or the ``c`` cell itself at (0, 0)) becomes ``colour``. Decided on the
    input, applied at once; None when two stamps paint one cell differently."""
    h, w = g.shape
    bg = background(g)
    paint = np.full((h, w), -1, dtype=np.int16)
    for c, dy, dx, colour in entries:
        src = g == c
        if c == bg or not src.any():
            continue
        tgt = np.zeros((h, w), dtype=bool)
        ys, ye = max(0, dy), min(h, h + dy)
        xs, xe = max(0, dx), min(w, w + dx)
        if ys >= ye or xs >= xe:
            continue
        tgt[ys:ye, xs:xe] = src[ys - dy : ye - dy, xs - dx : xe - dx]
        if dy or dx:
            tgt &= g == bg
        prev = paint[tgt]
        if ((prev >= 0) & (prev != colour)).any():
            return None
        paint[tgt] = colour
    out = g.copy()
    hit = paint >= 0
    out[hit] = paint[hit]
    return out


def stamp_covers(demo: list[Grid], test: list[Grid]) -> bool:
    """Whether every non-background colour of the test grids is a colour of the demo
    grids: a stamp knows nothing about the cells of an unseen colour, and a prediction
    that leaves them bare is a guess (the colour-normalised search may still fit)."""
    seen: set[int] = set()
    for g in demo:
        seen.update(np.unique(g).tolist())
        seen.discard(background(g))
    for g in test:
        cols = set(np.unique(g).tolist())
        cols.discard(background(g))
        if not cols <= seen:
            return False
    return True
