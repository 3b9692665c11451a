"""Connected components, objects and object selection."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .grid import Grid, background, memo_grid


class Obj(NamedTuple):
    colour: int  # dominant colour
    size: int  # number of cells
    r0: int
    r1: int
    c0: int
    c1: int
    mask: np.ndarray  # bool mask in bbox coordinates
    patch: np.ndarray  # grid values in bbox (non-object cells = background)
    ncolours: int


_N4 = ((1, 0), (-1, 0), (0, 1), (0, -1))
_N8 = (*_N4, (1, 1), (1, -1), (-1, 1), (-1, -1))


@memo_grid
def components(g: Grid, conn: int = 4, multicolour: bool = False) -> tuple[Obj, ...]:
    """Connected components of non-background cells, in row-major discovery order.

    ``conn`` is 4 or 8; with ``multicolour`` any non-background neighbours join,
    otherwise only equal colours.
    """
    bg = background(g)
    h, w = g.shape
    rows = g.tolist()
    seen = [[False] * w for _ in range(h)]
    nbrs = _N4 if conn == 4 else _N8
    out = []
    for i in range(h):
        for j in range(w):
            if seen[i][j] or rows[i][j] == bg:
                continue
            col = rows[i][j]
            stack = [(i, j)]
            seen[i][j] = True
            cells = []
            while stack:
                y, x = stack.pop()
                cells.append((y, x))
                for dy, dx in nbrs:
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and not seen[ny][nx]:
                        v = rows[ny][nx]
                        if v != bg and (multicolour or v == col):
                            seen[ny][nx] = True
                            stack.append((ny, nx))
            ys = [c[0] for c in cells]
            xs = [c[1] for c in cells]
            r0, r1, c0, c1 = min(ys), max(ys) + 1, min(xs), max(xs) + 1
            mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
            mask[np.array(ys) - r0, np.array(xs) - c0] = True
            patch = np.where(mask, g[r0:r1, c0:c1], bg).astype(np.uint8)
            vals = patch[mask]
            cnt = np.bincount(vals, minlength=10)
            out.append(
                Obj(int(cnt.argmax()), len(cells), r0, r1, c0, c1, mask, patch,
                    int((cnt > 0).sum()))
            )
    return tuple(out)


SELECTORS = (
    "largest", "smallest", "most_common_colour", "least_common_colour", "unique_colour",
    "unique_shape", "most_colours", "top", "bottom", "left", "right", "largest_bbox",
    "densest", "sparsest",
)


def _unique(keys: list) -> int | None:
    idx = [i for i, k in enumerate(keys) if keys.count(k) == 1]
    return idx[0] if len(idx) == 1 else None


def _argext(vals: list, largest: bool) -> int | None:
    """Index of the strict extreme value (None on ties)."""
    best = max(vals) if largest else min(vals)
    idx = [i for i, v in enumerate(vals) if v == best]
    return idx[0] if len(idx) == 1 else None


@memo_grid
def select_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Obj | None:
    """Pick one object by a selection rule; None if the rule is ambiguous."""
    objs = components(g, conn, multicolour)
    if not objs:
        return None
    if len(objs) == 1:
        return objs[0]
    if how == "largest":
        i = _argext([o.size for o in objs], True)
    elif how == "smallest":
        i = _argext([o.size for o in objs], False)
    elif how == "largest_bbox":
        i = _argext([(o.r1 - o.r0) * (o.c1 - o.c0) for o in objs], True)
    elif how in ("most_common_colour", "least_common_colour"):
        cols = [o.colour for o in objs]
        uniq = sorted(set(cols))
        k = _argext([cols.count(c) for c in uniq], how == "most_common_colour")
        if k is None:
            return None
        cand = [n for n, o in enumerate(objs) if o.colour == uniq[k]]
        j = _argext([objs[n].size for n in cand], True) if len(cand) > 1 else 0
        i = None if j is None else cand[j]
    elif how == "unique_colour":
        i = _unique([o.colour for o in objs])
    elif how == "unique_shape":
        i = _unique([o.mask.tobytes() + bytes(o.mask.shape) for o in objs])
    elif how == "most_colours":
        i = _argext([o.ncolours for o in objs], True)
    elif how == "top":
        i = _argext([o.r0 for o in objs], False)
    elif how == "bottom":
        i = _argext([o.r1 for o in objs], True)
    elif how == "left":
        i = _argext([o.c0 for o in objs], False)
    elif how == "right":
        i = _argext([o.c1 for o in objs], True)
    elif how == "densest":
        i = _argext([o.size / o.mask.size for o in objs], True)
    elif how == "sparsest":
        i = _argext([o.size / o.mask.size for o in objs], False)
    else:
        raise ValueError(how)
    return None if i is None else objs[i]


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
    out = np.full_like(g, background(g))
    out[o.r0 : o.r1, o.c0 : o.c1][o.mask] = o.patch[o.mask]
    return out


def remove_object(g: Grid, how: str, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """Erase the selected object."""
    o = select_object(g, how, conn, multicolour)
    if o is None:
        return None
    out = g.copy()
    out[o.r0 : o.r1, o.c0 : o.c1][o.mask] = background(g)
    return out


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
    m = ~o.mask
    h, w = m.shape
    if h < 3 or w < 3:
        return False
    from .fill import enclosed_mask

    return bool(enclosed_mask(m.astype(np.uint8), 1).any())


def label_objects(g: Grid, prop: str, conn: int = 4) -> Grid | None:
    """Recolour each single-colour object with a colour encoding a property value.

    The property value v is written as colour min(v, 9) (booleans as 1/2). A learned
    colour map applied afterwards turns these labels into the task's colours.
    """
    objs = components(g, conn, False)
    if not objs:
        return None
    sizes = [o.size for o in objs]
    h, w = g.shape
    out = np.full_like(g, background(g))
    if prop == "shape_class":
        keys: list = []
    for o in objs:
        if prop == "size":
            v = o.size
        elif prop == "size_rank":
            v = sorted(set(sizes)).index(o.size) + 1
        elif prop == "size_rank_desc":
            v = sorted(set(sizes), reverse=True).index(o.size) + 1
        elif prop == "ncells_bbox":
            v = o.mask.size
        elif prop == "is_largest":
            v = 1 if o.size == max(sizes) else 2
        elif prop == "is_smallest":
            v = 1 if o.size == min(sizes) else 2
        elif prop == "touches_border":
            v = 1 if (o.r0 == 0 or o.c0 == 0 or o.r1 == h or o.c1 == w) else 2
        elif prop == "has_hole":
            v = 1 if _has_hole(o) else 2
        elif prop == "shape_class":
            k = o.mask.tobytes() + bytes(o.mask.shape)
            if k not in keys:
                keys.append(k)
            v = keys.index(k) + 1
        else:
            raise ValueError(prop)
        out[o.r0 : o.r1, o.c0 : o.c1][o.mask] = min(v, 9)
    return out


def count_objects_grid(g: Grid, conn: int = 4, multicolour: bool = False) -> Grid | None:
    """1 x n grid of the majority colour, n = number of objects."""
    objs = components(g, conn, multicolour)
    if not objs or len(objs) > 30:
        return None
    cols = [o.colour for o in objs]
    c = max(set(cols), key=lambda x: (cols.count(x), -x))
    return np.full((1, len(objs)), c, dtype=np.uint8)
