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

A colour alone cannot tell the four corners of a square apart, nor a lone cell from a
pair. Keyed stamps (``key``) split each colour's sources by their place: ``"size"``, the
size of the cell's same-colour 4-connected object (capped at 15), or ``"sides"``, which
of its four side neighbours have its colour (16 places: a corner of a square, the end of
a bar, a lone cell). The search tries them only when the colour stamp does not fit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .connectivity import label_cells
from .grid import Grid, background, memo_grid

STAMP_RADII = (1, 2)  # radius 3 only ever fitted demos by coincidence (training scan)
_UNCHANGED = 10  # pseudo-colour: the target cell keeps its colour
_OUTSIDE = 255  # padding: off the grid
STAMP_KEYS = ("colour", "size", "sides")  # the search's order: coarsest first
_PLACES = 16  # places per colour: object sizes 1..15 (15 = larger), or 4-bit side masks
_NKEYS = 10 * _PLACES
_SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))


@memo_grid
def source_keys(g: Grid, key: str = "colour") -> np.ndarray:
    """Each cell's stamp key, ``colour * 16 + place``: place 0 for ``"colour"``, the
    capped size of its same-colour 4-connected object for ``"size"``, the bit mask of its
    same-colour side neighbours for ``"sides"``.

    Memoised per grid (read-only result): the search asks for one value's keys up to five
    times (the coverage check, then learning and applying the stamp at both radii), and
    computing them was most of a keyed stamp's cost."""
    keys = g.astype(np.int64) * _PLACES
    if key == "size":
        h, w = g.shape
        fg = g != background(g)
        roots = label_cells(g, fg, 4, False)
        sizes = np.bincount(roots[fg.ravel()], minlength=h * w)
        keys += np.minimum(sizes[roots], _PLACES - 1).reshape(h, w)
    elif key == "sides":
        h, w = g.shape
        p = np.pad(g, 1, constant_values=_OUTSIDE)
        for bit, (dy, dx) in enumerate(_SIDES):
            keys += (p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] == g) * (1 << bit)
    elif key != "colour":
        raise ValueError(f"stamp key {key!r} is unknown: use one of {STAMP_KEYS}")
    keys.flags.writeable = False
    return keys


def _offsets(radius: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]


def learn_stamp(pairs: list[tuple[Grid, Grid]], radius: int,
                key: str = "colour") -> tuple | None:
    """The stamp entries ``((c, dy, dx, colour), ...)`` that the demo pairs agree on, in a
    fixed order, or None when the shapes differ or nothing off-centre is painted. ``c`` is
    the source colour, or with a ``key`` other than ``"colour"`` the source key of
    :func:`source_keys`. The result still has to be checked on the demos
    (:func:`apply_stamp`): overlapping patterns can make an offset ambiguous."""
    offs = _offsets(radius)
    nk = 10 if key == "colour" else _NKEYS
    d = 2 * radius + 1
    k_all = np.arange(d * d)
    off_centre = k_all != d * d // 2
    seen = np.zeros(nk * d * d * 11, dtype=np.int64)
    for x, y in pairs:
        if x.shape != y.shape:
            return None
        bg = background(x)
        src = x.astype(np.int64) if key == "colour" else source_keys(x, key)
        # every cell's (2r+1)^2 window, row-major: column k is the offset offs[k]
        tx = sliding_window_view(np.pad(x, radius, constant_values=_OUTSIDE), (d, d))
        ty = sliding_window_view(np.pad(y, radius, constant_values=_OUTSIDE), (d, d))
        tx, ty = tx.reshape(-1, d * d), ty.reshape(-1, d * d)
        m = (x != bg).reshape(-1, 1) & (tx != _OUTSIDE) & ((tx == bg) | ~off_centre)
        code = np.where(ty == tx, _UNCHANGED, ty)
        idx = (src.reshape(-1, 1) * (d * d) + k_all) * 11 + code
        seen += np.bincount(idx[m], minlength=seen.size)
    seen = seen.reshape(nk, d * d, 11)
    # the (source, offset) cells whose demo cells agree on one outcome, in (source, offset)
    # order, found at once (a Python loop over 160 keyed sources was most of the cost)
    cs, ks = np.nonzero((seen > 0).sum(axis=2) == 1)
    colours = seen[cs, ks].argmax(axis=1)
    painted = colours != _UNCHANGED
    entries = tuple((c, *offs[k], colour) for c, k, colour in
                    zip(cs[painted].tolist(), ks[painted].tolist(), colours[painted].tolist(),
                        strict=True))
    if not any(dy or dx for _, dy, dx, _ in entries):
        return None  # a plain colour map: the search learns those directly
    return entries


def apply_stamp(g: Grid, entries: tuple, key: str = "colour") -> Grid | None:
    """Paint every entry ``(c, dy, dx, colour)``: the background cell at ``(dy, dx)`` from
    each ``c`` cell (or the ``c`` cell itself at (0, 0)) becomes ``colour`` (``c`` a source
    key of :func:`source_keys` when ``key`` is not ``"colour"``). Decided on the input,
    applied at once; None when two stamps paint one cell differently."""
    h, w = g.shape
    bg = background(g)
    paint = np.full((h, w), -1, dtype=np.int16)
    keys = g if key == "colour" else source_keys(g, key)
    for c, dy, dx, colour in entries:
        src = keys == c
        if (c == bg if key == "colour" else c // _PLACES == bg) or not src.any():
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


def stamp_covers(demo: list[Grid], test: list[Grid], key: str = "colour") -> bool:
    """Whether every non-background colour of the test grids is a colour of the demo
    grids (with a ``key``: every source key of a test cell is one of a demo cell): a stamp
    knows nothing about the cells of an unseen colour or place, and a prediction that
    leaves them bare is a guess (the colour-normalised search may still fit)."""
    seen: set[int] = set()
    for g in demo:
        seen.update(_source_set(g, key))
    return all(_source_set(g, key) <= seen for g in test)


def _source_set(g: Grid, key: str) -> set[int]:
    bg = background(g)
    if key == "colour":
        return set(np.unique(g).tolist()) - {bg}
    return set(np.unique(source_keys(g, key)[g != bg]).tolist())
