"""Object-level programs: split a grid into objects, run a short program on each selected
object, paint the results back.

``map_objects(g, which, inner, c)`` selects objects with ``which`` (every object, one picked
by a selector of :data:`objects.SELECTORS`, or a filter on a per-object property: colour,
size, holes, touching the border, largest/smallest size with ties) and applies one inner
step to each of them in place: a flip inside its bounding box, a recolour, its interior,
its holes, its bounding box or the ring of cells around it painted with ``c``. Flips and
painting are done for all chosen objects at once on the whole grid (their cells as one mask), so
``holes`` are the cells the chosen objects enclose together.
``filter_objects(g, which, keep)`` keeps or erases every selected object.
"""

from __future__ import annotations

import numpy as np

from .fill import enclosed_mask
from .grid import Grid, background, memo_grid
from .objects import SELECTORS, Obj, _has_hole, components, object_boxes, select_object

# per-object properties usable as filters (several objects may pass)
FILTERS = ("all", "max_size", "min_size", "has_hole", "no_hole", "border", "inner")
INNER_GEOMETRY = ("flip_h", "flip_v", "rot180")
INNER_PAINT = ("recolour", "interior", "holes", "bbox", "halo")


def _touches_border(o: Obj, h: int, w: int) -> bool:
    return o.r0 == 0 or o.c0 == 0 or o.r1 == h or o.c1 == w


def chosen_objects(g: Grid, which: str, conn: int = 8, multicolour: bool = False) -> list[Obj]:
    """The objects a selection names: a filter of :data:`FILTERS`, a selector of
    ``objects.SELECTORS`` (one object, none on ties), ``"colour:c"`` or ``"size:n"``."""
    objs = components(g, conn, multicolour)
    if which == "all":
        return list(objs)
    if which in SELECTORS:
        o = select_object(g, which, conn, multicolour)
        return [] if o is None else [o]
    if which in ("max_size", "min_size"):
        if not objs:
            return []
        best = (max if which == "max_size" else min)(o.size for o in objs)
        return [o for o in objs if o.size == best]
    if which in ("has_hole", "no_hole"):
        return [o for o in objs if _has_hole(o) == (which == "has_hole")]
    if which in ("border", "inner"):
        h, w = g.shape
        return [o for o in objs if _touches_border(o, h, w) == (which == "border")]
    kind, _, arg = which.partition(":")
    if kind == "colour":
        return [o for o in objs if o.colour == int(arg)]
    if kind == "size":
        return [o for o in objs if o.size == int(arg)]
    raise ValueError(f"unknown object selection {which!r}")


@memo_grid
def _selected(g: Grid, which: str, conn: int, multicolour: bool) -> tuple:
    """The chosen objects and, over the whole grid, their cells and labels (-1 elsewhere)."""
    objs = chosen_objects(g, which, conn, multicolour)
    if not objs:
        return (), None, None
    lab = objs[0]._lab
    keep = np.zeros(len(components(g, conn, multicolour)) + 1, dtype=bool)
    keep[[o._k + 1 for o in objs]] = True
    cells = keep[lab + 1]
    return tuple(objs), cells, np.where(cells, lab, -1)


def _dilate8(m: np.ndarray) -> np.ndarray:
    d = m.copy()
    d[1:] |= m[:-1]
    d[:-1] |= m[1:]
    e = d.copy()
    e[:, 1:] |= d[:, :-1]
    e[:, :-1] |= d[:, 1:]
    return e


def _interior(lab: np.ndarray) -> np.ndarray:
    """Cells whose four neighbours belong to the same object (grid edges count as outside)."""
    p = np.pad(lab, 1, constant_values=-1)
    return ((lab >= 0) & (p[:-2, 1:-1] == lab) & (p[2:, 1:-1] == lab)
            & (p[1:-1, :-2] == lab) & (p[1:-1, 2:] == lab))


def _flip_all(out: Grid, g: Grid, cells: np.ndarray, lab: np.ndarray, boxes: tuple,
              inner: str, bg: int) -> None:
    """Flip every chosen object inside its bounding box, all at once: their cells are
    erased, then each cell is painted at its mirrored place."""
    rr, cc = np.nonzero(cells)
    k = lab[rr, cc]
    r0, r1, c0, c1 = boxes
    tr = r0[k] + r1[k] - 1 - rr if inner in ("flip_v", "rot180") else rr
    tc = c0[k] + c1[k] - 1 - cc if inner in ("flip_h", "rot180") else cc
    out[cells] = bg
    out[tr, tc] = g[rr, cc]


def _paint_mask(g: Grid, objs: tuple, cells: np.ndarray, lab: np.ndarray, inner: str,
                bg: int) -> np.ndarray:
    """The cells that ``inner`` paints, for all chosen objects at once."""
    if inner == "recolour":
        return cells
    if inner == "interior":
        return _interior(lab)
    free = g == bg
    if inner == "halo":
        return _dilate8(cells) & free
    if inner == "holes":
        return enclosed_mask(cells.astype(np.uint8), 0) & free
    if inner == "bbox":
        box = np.zeros(g.shape, dtype=bool)
        for o in objs:
            box[o.r0 : o.r1, o.c0 : o.c1] = True
        return box & free
    raise ValueError(f"unknown per-object step {inner!r}")


def map_objects(g: Grid, which: str, inner: str, c: int = 0, conn: int = 8,
                multicolour: bool = False) -> Grid | None:
    """Apply the step ``inner`` to every object ``which`` selects: a flip in its bounding
    box, or painting with colour ``c`` the object (``recolour``), its interior (cells whose
    four neighbours are in it), its holes, the background of its bounding box, or the
    background cells around it (``halo``, 8-neighbours). None when nothing is selected or
    nothing changes."""
    objs, cells, lab = _selected(g, which, conn, multicolour)
    if not objs:
        return None
    bg = background(g)
    out = g.copy()
    if inner in INNER_GEOMETRY:
        _flip_all(out, g, cells, lab, object_boxes(g, conn, multicolour), inner, bg)
    else:
        m = _paint_mask(g, objs, cells, lab, inner, bg)
        if not m.any():
            return None
        out[m] = c
    return out


def filter_objects(g: Grid, which: str, keep: bool, conn: int = 8,
                   multicolour: bool = True) -> Grid | None:
    """Keep (or erase) every object ``which`` selects; None when that changes nothing."""
    objs = components(g, conn, multicolour)
    sel, cells, _ = _selected(g, which, conn, multicolour)
    if not objs or (len(sel) == len(objs) and keep) or (not sel and not keep):
        return None
    bg = np.uint8(background(g))
    return np.where(cells, g, bg) if keep else np.where(cells, bg, g)
