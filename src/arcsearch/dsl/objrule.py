"""Per-object colour rules learned from the demos: every object's output colour as a
function of one of its properties.

``learn_object_rule(pairs)`` looks, for each connectivity of :data:`CONNECTIVITIES` and
each property of :data:`OBJECT_FEATURES` (simplest first), for a table
``property value -> colour`` that sends every demo input object to the colour its cells
have in the demo output (the background when it is erased; :data:`KEEP` when it keeps its
own colours), with every cell outside the objects unchanged. The objects are connected
components of the non-background cells, or (:data:`REGIONS`) the regions of background
cells the other cells separate: enclosed areas, the space between walls. A rule is
returned only when every test input object has a property value the demos saw, so it can
predict every test object. ``apply_object_rule`` paints a grid's objects by the table.

Properties are measured per grid: sizes, ranks and counts relate an object to the other
objects of its own grid. Values are ints or short strings, so a rule renders as a literal.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, memo_grid
from .objects import Obj, _has_hole, components, objects_of

KEEP = -1  # the object keeps its own colours
REGIONS = "regions"  # as the connectivity: the 4-connected regions of background cells
CONNECTIVITIES = ((4, False), (8, False), (8, True), (REGIONS, False))
OBJECT_FEATURES = (
    "colour", "touches_border", "has_hole", "is_extreme_size", "size", "size_rank",
    "size_rank_desc", "is_rectangle", "shape_count", "colour_count", "is_extreme_height",
    "is_extreme_width", "height", "width", "shape_d4", "shape",
)
MAX_OBJECTS = 60


def _shape_key(m: np.ndarray) -> str:
    return f"{m.shape[0]}x{m.shape[1]}:{np.packbits(m).tobytes().hex()}"


def _d4_key(m: np.ndarray) -> str:
    views = []
    for k in range(4):
        r = np.rot90(m, k)
        views += [_shape_key(r), _shape_key(r[:, ::-1])]
    return min(views)


def _dense_rank(vals: list[int], descending: bool = False) -> list[int]:
    order = sorted(set(vals), reverse=descending)
    rank = {v: i + 1 for i, v in enumerate(order)}
    return [rank[v] for v in vals]


def _extreme(vals: list[int]) -> list[int]:
    """1 for the largest value(s), 2 for the smallest, 0 otherwise (1 if all equal)."""
    hi, lo = max(vals), min(vals)
    return [1 if v == hi else 2 if v == lo else 0 for v in vals]


@memo_grid
def background_regions(g: Grid) -> tuple[Obj, ...]:
    """The 4-connected regions of ``g``'s background cells, as objects."""
    return objects_of(g, g == background(g), 4, False, background(g))[0]


def parts(g: Grid, conn: int | str, multicolour: bool) -> tuple[Obj, ...]:
    """The objects a rule paints: components (``conn`` 4 or 8) or background regions."""
    if conn == REGIONS:
        return background_regions(g)
    return components(g, conn, multicolour)


def object_features(g: Grid, objs: tuple[Obj, ...], feature: str) -> list:
    """The value of ``feature`` for every object of ``g`` (see the module docstring)."""
    if feature == "colour":
        return [o.colour for o in objs]
    if feature in ("size", "size_rank", "size_rank_desc", "is_extreme_size"):
        sizes = [o.size for o in objs]
        if feature == "size":
            return sizes
        if feature == "is_extreme_size":
            return _extreme(sizes)
        return _dense_rank(sizes, feature == "size_rank_desc")
    if feature in ("height", "is_extreme_height"):
        hs = [o.r1 - o.r0 for o in objs]
        return hs if feature == "height" else _extreme(hs)
    if feature in ("width", "is_extreme_width"):
        ws = [o.c1 - o.c0 for o in objs]
        return ws if feature == "width" else _extreme(ws)
    if feature == "has_hole":
        return [int(_has_hole(o)) for o in objs]
    if feature == "touches_border":
        h, w = g.shape
        return [int(o.r0 == 0 or o.c0 == 0 or o.r1 == h or o.c1 == w) for o in objs]
    if feature == "is_rectangle":
        return [int(o.size == (o.r1 - o.r0) * (o.c1 - o.c0)) for o in objs]
    if feature == "shape_count":
        keys = [_shape_key(o.mask) for o in objs]
        return [min(keys.count(k), 3) for k in keys]
    if feature == "colour_count":
        cols = [o.colour for o in objs]
        return [min(cols.count(c), 3) for c in cols]
    if feature == "shape":
        return [_shape_key(o.mask) for o in objs]
    if feature == "shape_d4":
        return [_d4_key(o.mask) for o in objs]
    raise ValueError(f"unknown object feature {feature!r}; choose from {OBJECT_FEATURES}")


def _targets(x: Grid, y: Grid, objs: tuple[Obj, ...], keep: bool) -> list[int] | None:
    """Each object's output colour (``KEEP`` with ``keep`` when unchanged), or None when an
    object's cells do not end up one colour."""
    out = []
    for o in objs:
        cells = y[o.r0 : o.r1, o.c0 : o.c1][o.mask]
        if keep and np.array_equal(cells, x[o.r0 : o.r1, o.c0 : o.c1][o.mask]):
            out.append(KEEP)
            continue
        c = int(cells[0])
        if (cells != c).any():
            return None
        out.append(c)
    return out


def learn_object_rule(pairs: list[tuple[Grid, Grid]], test_inputs: list[Grid]
                      ) -> tuple | None:
    """``(conn, multicolour, feature, table)`` for :func:`apply_object_rule`, or None (see
    the module docstring); the first connectivity and feature that fit win."""
    if any(x.shape != y.shape for x, y in pairs):
        return None
    for conn, multi in CONNECTIVITIES:
        demo_objs = []
        for x, y in pairs:
            objs = parts(x, conn, multi)
            if not objs or len(objs) > MAX_OBJECTS:
                break
            lab = objs[0]._lab
            if not np.array_equal(x[lab < 0], y[lab < 0]):
                break  # the rule paints objects only
            demo_objs.append(objs)
        else:
            test_objs = [parts(t, conn, multi) for t in test_inputs]
            if any(not o or len(o) > MAX_OBJECTS for o in test_objs):
                continue
            rule = _fit(pairs, demo_objs, test_inputs, test_objs)
            if rule is not None:
                return (conn, multi, *rule)
    return None


def _fit(pairs, demo_objs, test_inputs, test_objs) -> tuple | None:
    for keep in (False, True):
        targets = [_targets(x, y, objs, keep) for (x, y), objs in zip(pairs, demo_objs,
                                                                       strict=True)]
        if any(t is None for t in targets):
            continue
        for feature in OBJECT_FEATURES:
            table: dict = {}
            ok = True
            for (x, _), objs, tgt in zip(pairs, demo_objs, targets, strict=True):
                for v, c in zip(object_features(x, objs, feature), tgt, strict=True):
                    if table.setdefault(v, c) != c:
                        ok = False
                        break
                if not ok:
                    break
            if not ok or (len(set(table.values())) < 2 and KEEP in table.values()):
                continue
            if all(v in table for t, objs in zip(test_inputs, test_objs, strict=True)
                   for v in object_features(t, objs, feature)):
                return feature, table
    return None


def apply_object_rule(g: Grid, conn: int | str, multicolour: bool, feature: str,
                      table: dict) -> Grid | None:
    """Paint every object of ``g`` with the colour ``table`` gives its ``feature`` value
    (``KEEP``: unchanged); None when an object's value is not in the table."""
    objs = parts(g, conn, multicolour)
    if not objs:
        return None
    lut = np.full(len(objs) + 1, -1, dtype=np.int16)
    for i, v in enumerate(object_features(g, objs, feature)):
        c = table.get(v)
        if c is None:
            return None
        lut[i + 1] = c
    lab = objs[0]._lab
    paint = lut[lab + 1]
    out = g.copy()
    m = paint >= 0
    out[m] = paint[m]
    return out


__all__ = ["KEEP", "OBJECT_FEATURES", "apply_object_rule", "learn_object_rule",
           "object_features"]
