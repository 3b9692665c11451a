"""Operator inventory with parameters inferred from the task's demonstration pairs.

An :class:`Op` is one DSL primitive with literal parameters bound, i.e. a unary
grid -> grid function. ``build_ops`` returns them in a fixed, deterministic order that
is also the tie-break order for ranking programs of equal size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import dsl
from ..dsl.attract import ATTRACT_MODES
from ..dsl.gravity import DIRECTIONS
from ..dsl.grid import Grid, memo_grid
from ..dsl.join import JOIN_AXES
from ..dsl.objects import PROPERTIES
from ..dsl.perobject import INNER_GEOMETRY
from ..dsl.reshape import DEDUPE_AXES, LINE_AXES, SHIFTS
from ..dsl.split import OPS as SPLIT_OPS
from ..dsl.split import PART_PICKS, SPLITS
from ..dsl.symmetry import KINDS as SYM_KINDS


@dataclass(frozen=True)
class Op:
    name: str  # attribute of arcsearch.dsl
    params: tuple  # literal positional parameters after the grid
    fn: object = field(repr=False, compare=False, default=None)

    def __call__(self, g: Grid):
        return self.fn(g, *self.params)


@dataclass
class TaskContext:
    """Facts inferred once per task from demo pairs and test inputs (never test outputs)."""

    pairs: list[tuple[Grid, Grid]]
    test_inputs: list[Grid]
    in_colours: tuple[int, ...] = ()
    out_colours: tuple[int, ...] = ()
    new_colours: tuple[int, ...] = ()
    vanished_colours: tuple[int, ...] = ()
    bg: int = 0
    size_rule: tuple = ("unknown",)
    up: tuple = ()
    down: tuple = ()

    @classmethod
    def from_pairs(cls, pairs, test_inputs) -> TaskContext:
        ins = [x for x, _ in pairs] + list(test_inputs)
        cin = set().union(*(dsl.colours(x) for x in ins))
        cout = set().union(*(dsl.colours(y) for _, y in pairs))
        counts = sum(dsl.colour_counts(x) for x in ins)
        up, down = dsl.scale_factors(pairs)
        return cls(
            pairs=pairs,
            test_inputs=list(test_inputs),
            in_colours=tuple(sorted(cin)),
            out_colours=tuple(sorted(cout)),
            new_colours=tuple(sorted(cout - cin)),
            vanished_colours=tuple(sorted(cin - cout)),
            bg=int(np.argmax(counts)),
            size_rule=dsl.infer_output_shape(pairs),
            up=tuple(sorted(up)),
            down=tuple(sorted(down)),
        )


# Primitives whose results are memoised per (grid, params): costly relative to a
# geometry op, and repeatedly applied to the same grids across candidates.
EXPENSIVE = frozenset({
    "symmetry_complete", "continue_pattern", "continue_diagonal", "fill_enclosed",
    "fill_bbox_holes", "connect", "rays", "outline_objects", "label_objects", "gravity",
    "kron_self", "downscale_any", "overlay_parts", "stack_parts", "pick_part",
    "colour_histogram", "symmetrize_overlay", "remove_small", "keep_object", "remove_object",
    "count_objects_grid", "map_objects", "filter_objects", "part_colours", "attract", "bridge",
    "elbow",
})
_MEMO_FNS: dict = {}

# Output shape known from the input shape: the same, or transposed (else None/unknown).
# The search uses it at the last depth to skip calls whose result cannot have the demo
# outputs' shapes.
SAME_SHAPE = frozenset({
    "flip_h", "flip_v", "rot180", "binarise", "keep_colour", "remove_colour", "swap_fg_bg",
    "gravity", "rays", "connect", "outline_objects", "fill_enclosed", "fill_bbox_holes",
    "symmetry_complete", "continue_pattern", "symmetrize_overlay", "continue_diagonal",
    "label_objects", "keep_object", "remove_object", "remove_small", "map_objects",
    "filter_objects", "attract", "bridge", "elbow",
})
SWAPPED_SHAPE = frozenset({"rot90", "rot270", "transpose", "antitranspose"})


def _op(name: str, *params) -> Op:
    fn = getattr(dsl, name)
    if name in EXPENSIVE:
        if name not in _MEMO_FNS:
            _MEMO_FNS[name] = memo_grid(fn)
        fn = _MEMO_FNS[name]
    return Op(name, tuple(params), fn)


SEL_CROP = ("largest", "smallest", "unique_colour", "unique_shape", "most_colours",
            "most_common_colour", "least_common_colour", "largest_bbox", "densest", "sparsest",
            "top", "bottom", "left", "right")
SEL_KEEP = ("largest", "smallest", "unique_colour", "unique_shape")


def build_ops(ctx: TaskContext, features=("objects",)) -> list[Op]:
    """All operators for a task, cheap and common first (object-level programs, appended
    after the whole-grid ops, when ``"objects"`` is in ``features``)."""
    fg_in = [c for c in ctx.in_colours if c != ctx.bg]
    out_fg = [c for c in ctx.out_colours if c != ctx.bg] or [1]
    paint = list(dict.fromkeys([*ctx.new_colours, *out_fg]))
    ops: list[Op] = []
    # geometry
    ops += [_op(n) for n in ("rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose",
                             "antitranspose")]
    # cropping
    ops += [_op("trim"), _op("remove_border")]
    ops += [_op("half", w) for w in ("top", "bottom", "left", "right")]
    ops += [_op("crop_colour", c) for c in fg_in]
    ops += [_op("crop_inside_colour", c) for c in fg_in]
    # scaling / tiling
    ups = list(dict.fromkeys([*ctx.up, (2, 2), (3, 3)]))
    downs = list(dict.fromkeys([*ctx.down, (2, 2), (3, 3)]))
    ops += [_op("upscale", ky, kx) for ky, kx in ups]
    ops += [_op("tile", ky, kx) for ky, kx in ups]
    ops += [_op("mirror_tile", k) for k in ("h", "hr", "v", "vr", "quad", "quad_br")]
    ops += [_op("kron_self", False), _op("kron_self", True)]
    ops += [_op("downscale", ky, kx) for ky, kx in downs]
    ops += [_op("downscale_any", ky, kx) for ky, kx in downs]
    if ctx.size_rule[0] == "const":
        h, w = ctx.size_rule[1], ctx.size_rule[2]
        ops += [_op("crop_to_shape", h, w, k) for k in ("tl", "tr", "bl", "br")]
    # objects
    ops += [_op("crop_object", s, 4, False) for s in SEL_CROP]
    ops += [_op("crop_object", s, 8, True) for s in SEL_CROP]
    ops += [_op("extract_object", s, 8, False) for s in SEL_KEEP]
    ops += [_op("keep_object", s, 8, True) for s in SEL_KEEP]
    ops += [_op("remove_object", s, 8, True) for s in SEL_KEEP]
    ops += [_op("remove_small", k) for k in (1, 2)]
    ops += [_op("label_objects", p, 4) for p in PROPERTIES]
    ops += [_op("label_objects", p, 8) for p in ("size", "size_rank", "shape_class")]
    ops += [_op("count_objects_grid", 4, False), _op("count_objects_grid", 8, True)]
    # colour
    ops += [_op("keep_colour", c) for c in fg_in]
    ops += [_op("remove_colour", c) for c in fg_in]
    ops += [_op("binarise", c) for c in out_fg]
    ops += [_op("swap_fg_bg"), _op("majority_colour"), _op("minority_colour"),
            _op("colour_histogram")]
    # gravity
    ops += [_op("gravity", d) for d in DIRECTIONS]
    # lines
    ray_cols = fg_in
    for c in ray_cols:
        for d in ("cross", "vertical", "horizontal", "up", "down", "left", "right", "diagonal"):
            ops.append(_op("rays", c, d, False))
        ops.append(_op("rays", c, "cross", True))
    ops += [_op("connect", None, False), _op("connect", None, True)]
    ops += [_op("outline_objects", c) for c in paint]
    # filling
    ops += [_op("fill_enclosed", c) for c in paint]
    ops += [_op("fill_bbox_holes", c) for c in paint]
    # symmetry / pattern
    masks = [None, *ctx.vanished_colours]
    for m in masks:
        ops += [_op("symmetry_complete", k, m) for k in SYM_KINDS]
        ops.append(_op("continue_pattern", m))
    ops += [_op("symmetrize_overlay", k) for k in SYM_KINDS]
    ops.append(_op("continue_diagonal"))
    # split / overlay
    for how in SPLITS:
        ops += [_op("overlay_parts", how, o) for o in SPLIT_OPS]
        ops += [_op("stack_parts", how, False), _op("stack_parts", how, True)]
        ops += [_op("pick_part", how, p) for p in PART_PICKS]
    if "objects" in features:
        ops += object_ops(ctx, fg_in)
    if "reshape" in features:
        ops += reshape_ops()
    if "attract" in features:
        ops += attract_ops(ctx, fg_in)
    if "join" in features:
        ops += join_ops(ctx, fg_in)
    return ops


def _kept_colours(ctx: TaskContext, fg_in: list[int]) -> list[int]:
    """Input colours whose every cell keeps its colour in the demo output (same-shape
    demos): the candidates for anchors, which never move."""
    kept = []
    for c in fg_in:
        present = False
        for x, y in ctx.pairs:
            at = x == c
            if x.shape != y.shape or not (y[at] == c).all():
                break
            present = present or bool(at.any())
        else:
            if present:
                kept.append(c)
    return kept


def attract_ops(ctx: TaskContext, fg_in: list[int]) -> list[Op]:
    """Same-shape tasks: movers drawn toward anchors (``dsl/attract.py``), the anchors
    being one colour the demos never change, all of them together, or each grid's most
    frequent non-background colour."""
    if ctx.size_rule[0] != "same":
        return []
    kept = _kept_colours(ctx, fg_in)
    anchors = [(c,) for c in kept[:4]]
    if 1 < len(kept) < len(fg_in):
        anchors.append(tuple(kept))
    anchors.append("major")
    return [_op("attract", a, mode, conn) for mode in ATTRACT_MODES for conn in (4, 8)
            for a in anchors]


def _single_colours(ctx: TaskContext, fg_in: list[int]) -> list[int]:
    """Input colours that are exactly one cell in every demo and test input: markers."""
    ins = [x for x, _ in ctx.pairs] + list(ctx.test_inputs)
    return [c for c in fg_in if all(int((x == c).sum()) == 1 for x in ins)]


def join_ops(ctx: TaskContext, fg_in: list[int]) -> list[Op]:
    """Same-shape tasks: lines joining marker cells (``dsl/join.py``): bridges between
    aligned equal-coloured cells in their own colour or a colour the demos write, either
    orientation on top; elbows between two single-cell colours (at most 4) in a colour
    the demos write, row first or column first."""
    if ctx.size_rule[0] != "same":
        return []
    added, _ = _written_colours(ctx)
    ops = [_op("bridge", p, over) for p in (None, *added) for over in JOIN_AXES[::-1]]
    singles = _single_colours(ctx, fg_in)[:4]
    ops += [_op("elbow", a, b, p, first) for i, a in enumerate(singles) for b in singles[i + 1 :]
            for p in added for first in JOIN_AXES]
    return ops


def reshape_ops() -> list[Op]:
    """Compressing repeated rows/columns, one colour per separated cell, a rotation
    tiling, scaling by the number of colours, fractal tiling on colour 0, shifting the
    picture by one cell, majority colour per row or column (``dsl/reshape.py``)."""
    ops = [_op("dedupe", axis) for axis in DEDUPE_AXES]
    ops += [_op("part_colours"), _op("rotate_tile"), _op("upscale_by_colours")]
    ops += [_op("kron_zero", False), _op("kron_zero", True)]
    ops += [_op("shift", dy, dx) for dy, dx in SHIFTS]
    ops += [_op("line_majority", axis) for axis in LINE_AXES]
    return ops


def _written_colours(ctx: TaskContext) -> tuple[list[int], list[int]]:
    """Colours the demos write on background cells (added) and on object cells
    (recoloured, the background when erased), for same-shape demos."""
    added: set[int] = set()
    recoloured: set[int] = set()
    for x, y in ctx.pairs:
        if x.shape != y.shape:
            continue
        bg = dsl.background(x)
        changed = x != y
        added.update(np.unique(y[changed & (x == bg)]).tolist())
        recoloured.update(np.unique(y[changed & (x != bg)]).tolist())
    return sorted(added)[:3], sorted(recoloured)[:3]


def object_ops(ctx: TaskContext, fg_in: list[int]) -> list[Op]:
    """Object-level programs: a flip of every object in place, keeping or erasing the
    objects a property selects, and (same-shape tasks) painting selected objects, their
    interiors, holes, boxes or surrounding rings with the colours the demos write."""
    ops = [_op("map_objects", "all", inner, 0, conn, multi)
           for inner in INNER_GEOMETRY for conn, multi in ((8, True), (4, False))]
    ops += [_op("filter_objects", w, keep)
            for w in ("has_hole", "no_hole", "border", "inner", "max_size", "min_size")
            for keep in (True, False)]
    if ctx.size_rule[0] != "same":
        return ops
    added, recoloured = _written_colours(ctx)
    whiches = ["all", "max_size", "min_size", "has_hole", "no_hole", "border", "inner",
               "size:1", *[f"colour:{c}" for c in fg_in[:4]]]
    steps = [(inner, c) for c in added for inner in ("halo", "holes", "bbox")]
    steps += [(inner, c) for c in recoloured for inner in ("recolour", "interior")]
    ops += [_op("map_objects", w, inner, c) for inner, c in steps for w in whiches]
    return ops
