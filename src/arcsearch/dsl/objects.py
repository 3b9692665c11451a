"""Connected components, objects and object selection."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .connectivity import label_cells, shape_arrays
from .grid import Grid, background, memo_grid


class Obj:
    """One connected component. ``mask`` and ``patch`` are built on first use: most
    selections only need the size, colour and bounding box."""

    __slots__ = ("_hole", "_k", "_lab", "_mask", "_patch", "_src", "c0", "c1", "colour",
                 "ncolours", "r0", "r1", "size")

    def __init__(self, colour, size, r0, r1, c0, c1, ncolours, k, lab, src):
        self.colour = colour  # dominant colour (lowest on ties)
        self.size = size  # number of cells
        self.r0, self.r1, self.c0, self.c1 = r0, r1, c0, c1  # half-open bounding box
        self.ncolours = ncolours
        self._k, self._lab, self._src = k, lab, src  # index, label image, (grid, bg)
        self._mask = self._patch = self._hole = None

    @property
    def mask(self) -> np.ndarray:
        """Bool mask in bounding-box coordinates."""
        if self._mask is None:
            self._mask = self._lab[self.r0 : self.r1, self.c0 : self.c1] == self._k
        return self._mask

    @property
    def patch(self) -> np.ndarray:
        """Grid values in the bounding box (non-object cells = background)."""
        if self._patch is None:
            g, bg = self._src
            sub = g[self.r0 : self.r1, self.c0 : self.c1]
            self._patch = np.where(self.mask, sub, bg).astype(np.uint8)
        return self._patch

    def __repr__(self) -> str:
        return (f"Obj(colour={self.colour}, size={self.size}, bbox=({self.r0}, {self.r1}, "
                f"{self.c0}, {self.c1}), ncolours={self.ncolours})")


@memo_grid
def _objects(g: Grid, conn: int, multicolour: bool) -> tuple:
    """Components, the label image (object index per cell, -1 on background) and the
    bounding boxes as arrays (r0, r1, c0, c1)."""
    bg = background(g)
    return objects_of(g, g != bg, conn, multicolour, bg)


def objects_of(g: Grid, fg: np.ndarray, conn: int, multicolour: bool, bg: int) -> tuple:
    """:func:`_objects` of the cells ``fg`` (patches filled with ``bg``)."""
    h, w = g.shape
    cells = np.flatnonzero(fg)
    lab_img = np.full(h * w, -1, dtype=np.int64)
    if cells.size == 0:
        none = np.zeros(0, dtype=np.int64)
        return (), lab_img.reshape(h, w), (none, none, none, none)
    lab = label_cells(g, fg, conn, multicolour)
    ar = shape_arrays(h, w)[0]
    is_root = (lab == ar) & fg.ravel()
    roots = np.flatnonzero(is_root)  # sorted = row-major discovery order
    k = roots.size
    inv = (np.cumsum(is_root) - 1)[lab[cells]]  # object index of each cell
    sizes = np.bincount(inv, minlength=k)
    rr = cells // w
    cc = cells - rr * w
    r0 = roots // w  # a root is its object's first cell in row-major order
    ext = np.zeros((k, 3), dtype=np.int64)  # max of (row + 1, -col, col + 1)
    ext[:, 1] = -w
    np.maximum.at(ext, inv, np.stack((rr + 1, -cc, cc + 1), axis=1))
    r1, c0, c1 = ext[:, 0], -ext[:, 1], ext[:, 2]
    if multicolour:
        cnt = np.bincount(inv * 10 + g.ravel()[cells], minlength=10 * k).reshape(k, 10)
        colours, ncolours = cnt.argmax(axis=1).tolist(), (cnt > 0).sum(axis=1).tolist()
    else:  # one colour per object: its first cell's
        colours, ncolours = g.ravel()[roots].tolist(), [1] * k
    lab_img[cells] = inv
    lab_img = lab_img.reshape(h, w)
    src = (g, bg)
    objs = tuple(
        Obj(*vals, i, lab_img, src)
        for i, vals in enumerate(zip(colours, sizes.tolist(), r0.tolist(), r1.tolist(),
                                     c0.tolist(), c1.tolist(), ncolours, strict=True))
    )
    return objs, lab_img, (r0, r1, c0, c1)


def object_boxes(g: Grid, conn: int, multicolour: bool) -> tuple[np.ndarray, ...]:
    """(r0, r1, c0, c1) arrays of the components' half-open bounding boxes."""
    return _objects(g, conn, multicolour)[2]


@memo_grid
def components(g: Grid, conn: int = 4, multicolour: bool = False) -> tuple[Obj, ...]:
    """Connected components of non-background cells, in row-major discovery order.

    ``conn`` is 4 or 8; with ``multicolour`` any non-background neighbours join,
    otherwise only equal colours.
    """
    return _objects(g, conn, multicolour)[0]


SELECTORS = (
    "largest", "smallest", "most_common_colour", "least_common_colour", "unique_colour",
    "unique_shape", "most_colours", "top", "bottom", "left", "right", "largest_bbox",
    "densest", "sparsest",
)


def _unique(keys: list) -> int | None:
    counts = Counter(keys)  # keys.count per key was quadratic on grids with many objects
    idx = [i for i, k in enumerate(keys) if counts[k] == 1]
    return idx[0] if len(idx) == 1 else None


def _argext(vals: list, largest: bool) -> int | None:
    """Index of the strict extreme value (None on ties)."""
    best = max(vals) if largest else min(vals)
    idx = [i for i, v in enumerate(vals) if v == best]
    return idx[0] if len(idx) == 1 else None


def _pick(objs: tuple[Obj, ...], how: str, cols: list[int], sizes: list[int]) -> int | None:
    if how == "largest":
        return _argext(sizes, True)
    if how == "smallest":
        return _argext(sizes, False)
    if how == "largest_bbox":
        return _argext([(o.r1 - o.r0) * (o.c1 - o.c0) for o in objs], True)
    if how in ("most_common_colour", "least_common_colour"):
        uniq = sorted(set(cols))
        k = _argext([cols.count(c) for c in uniq], how == "most_common_colour")
        if k is None:
            return None
        cand = [n for n, c in enumerate(cols) if c == uniq[k]]
        j = _argext([sizes[n] for n in cand], True) if len(cand) > 1 else 0
        return None if j is None else cand[j]
    if how == "unique_colour":
        return _unique(cols)
    if how == "unique_shape":
        return _unique([o.mask.tobytes() + bytes(o.mask.shape) for o in objs])
    if how == "most_colours":
        return _argext([o.ncolours for o in objs], True)
    if how == "top":
        return _argext([o.r0 for o in objs], False)
    if how == "bottom":
        return _argext([o.r1 for o in objs], True)
    if how == "left":
        return _argext([o.c0 for o in objs], False)
    if how == "right":
        return _argext([o.c1 for o in objs], True)
    if how in ("densest", "sparsest"):
        dens = [o.size / ((o.r1 - o.r0) * (o.c1 - o.c0)) for o in objs]
        return _argext(dens, how == "densest")
    raise ValueError(how)


@memo_grid
def _selections(g: Grid, conn: int, multicolour: bool) -> dict:
    """Per grid and connectivity: the selectors answered so far (filled on demand), plus
    the components and the lists the selectors share."""
    objs = components(g, conn, multicolour)
    return {"": (objs, [o.colour for o in objs], [o.size for o in objs])}


def select_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Obj | None:
    """Pick one object by a selection rule; None if the rule is ambiguous."""
    sel = _selections(g, conn, multicolour)
    try:
        return sel[how]
    except KeyError:
        pass
    objs, cols, sizes = sel[""]
    if not objs:
        o = None
    elif len(objs) == 1:
        o = objs[0]
    else:
        i = _pick(objs, how, cols, sizes)
        o = None if i is None else objs[i]
    sel[how] = o
    return o


def crop_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """Crop the grid to the bounding box of the selected object (other cells kept)."""
    o = select_object(g, how, conn, multicolour)
    if o is None:
        return None
    return np.ascontiguousarray(g[o.r0 : o.r1, o.c0 : o.c1])


def extract_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """The selected object's own cells on a background patch."""
    o = select_object(g, how, conn, multicolour)
    return None if o is None else o.patch


def keep_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """Keep only the selected object in place."""
    o = select_object(g, how, conn, multicolour)
    if o is None:
        return None
    return np.where(o._lab == o._k, g, np.uint8(background(g)))


def remove_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """Erase the selected object."""
    o = select_object(g, how, conn, multicolour)
    if o is None:
        return None
    return np.where(o._lab == o._k, np.uint8(background(g)), g)


def remove_small(g: Grid, max_size: int, conn: int = 8) -> Grid | None:
    """Erase (multicolour) objects with at most ``max_size`` cells (denoising)."""
    objs = components(g, conn, True)
    small = [o for o in objs if o.size <= max_size]
    if not small:
        return None
    out = g.copy()
    bg = background(g)
    for o in small:
        out[o.r0 : o.r1, o.c0 : o.c1][o.mask] = bg
    return out


PROPERTIES = ("size", "size_rank", "size_rank_desc", "ncells_bbox", "is_largest",
              "is_smallest", "touches_border", "has_hole", "shape_class")


def _has_hole(o: Obj) -> bool:
    """Whether the object encloses a background cell (computed once per object)."""
    if o._hole is None:
        o._hole = _compute_hole(o)
    return o._hole


def _compute_hole(o: Obj) -> bool:
    m = ~o.mask
    h, w = m.shape
    if h < 3 or w < 3 or not m[1:-1, 1:-1].any():  # a hole needs a free interior cell
        return False
    from .fill import enclosed_mask

    return bool(enclosed_mask(m.astype(np.uint8), 1).any())


def _label_values(objs: tuple[Obj, ...], prop: str, boxes: tuple, h: int, w: int):
    """The property value of every object (a list or an int array)."""
    r0, r1, c0, c1 = boxes
    if prop == "size":
        return [o.size for o in objs]
    if prop == "ncells_bbox":
        return (r1 - r0) * (c1 - c0)
    if prop in ("size_rank", "size_rank_desc"):
        sizes = [o.size for o in objs]
        ranked = sorted(set(sizes), reverse=prop == "size_rank_desc")
        rank = {v: i + 1 for i, v in enumerate(ranked)}
        return [rank[v] for v in sizes]
    if prop in ("is_largest", "is_smallest"):
        sizes = [o.size for o in objs]
        best = max(sizes) if prop == "is_largest" else min(sizes)
        return [1 if v == best else 2 for v in sizes]
    if prop == "touches_border":
        return np.where((r0 == 0) | (c0 == 0) | (r1 == h) | (c1 == w), 1, 2)
    if prop == "has_hole":
        return [1 if _has_hole(o) else 2 for o in objs]
    if prop == "shape_class":
        classes: dict[bytes, int] = {}
        return [classes.setdefault(o.mask.tobytes() + bytes(o.mask.shape), len(classes) + 1)
                for o in objs]
    raise ValueError(prop)


def label_objects(g: Grid, prop: str, conn: int = 4) -> Grid | None:
    """Recolour each single-colour object with a colour encoding a property value.

    The property value v is written as colour min(v, 9) (booleans as 1/2). A learned
    colour map applied afterwards turns these labels into the task's colours. Painting is
    one lookup through the label image (objects are disjoint).
    """
    objs, lab, boxes = _objects(g, conn, False)
    if not objs:
        return None
    vals = np.minimum(_label_values(objs, prop, boxes, *g.shape), 9)
    lut = np.empty(len(objs) + 1, dtype=np.uint8)
    lut[0] = background(g)
    lut[1:] = vals
    return lut[lab + 1]


def count_objects_grid(g: Grid, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """1 x n grid of the majority colour, n = number of objects."""
    objs = components(g, conn, multicolour)
    if not objs or len(objs) > 30:
        return None
    cols = [o.colour for o in objs]
    c = max(set(cols), key=lambda x: (cols.count(x), -x))
    return np.full((1, len(objs)), c, dtype=np.uint8)
