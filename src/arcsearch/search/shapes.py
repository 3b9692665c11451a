"""Output shape of an operator from its input shape, for pruning before a call.

``shape_rule(name, params)`` returns a function ``(h, w) -> (h', w')`` when an op's output
shape follows from its input's alone, :data:`LE` when the output only ever fits inside the
input (crops), or ``None`` when it depends on the grid's content. A rule may return a shape
no grid has (``(-1, -1)``) where the op itself returns ``None`` (a scale that does not
divide): either way no demo output can match. The rules are checked against the ops on
hand-made grids in ``tests/arcsearch/test_shapes.py``.
"""

from __future__ import annotations

from collections.abc import Callable

LE = "le"  # the output fits inside the input (h' <= h and w' <= w)

_SAME = frozenset({
    "flip_h", "flip_v", "rot180", "binarise", "keep_colour", "remove_colour", "swap_fg_bg",
    "gravity", "rays", "connect", "outline_objects", "fill_enclosed", "fill_bbox_holes",
    "symmetry_complete", "continue_pattern", "symmetrize_overlay", "continue_diagonal",
    "label_objects", "keep_object", "remove_object", "remove_small", "map_objects",
    "filter_objects", "recolor_objects", "replace_colour", "recolor", "move_objects",
    "shift", "line_majority", "attract", "bridge", "elbow",
})
_SWAPPED = frozenset({"rot90", "rot270", "transpose", "antitranspose"})
_CROPS = frozenset({
    "trim", "crop_colour", "crop_inside_colour", "crop_object", "extract_object",
    "pick_part", "overlay_parts", "stack_parts", "crop_object_by", "dedupe", "part_colours",
})
_MIRROR = {"h": (1, 2), "hr": (1, 2), "v": (2, 1), "vr": (2, 1), "quad": (2, 2),
           "quad_br": (2, 2)}


def _same(h, w):
    return h, w


def _swapped(h, w):
    return w, h


def _div(h: int, w: int, ky: int, kx: int) -> tuple[int, int]:
    if h % ky or w % kx or (ky == 1 and kx == 1):
        return -1, -1
    return h // ky, w // kx


def _half(which: str) -> Callable:
    if which in ("top", "bottom"):
        return lambda h, w: (h // 2, w) if h >= 2 else (-1, -1)
    return lambda h, w: (h, w // 2) if w >= 2 else (-1, -1)


def shape_rule(name: str, params: tuple) -> Callable | str | None:
    """The op's output shape as a function of its input shape, ``LE`` or ``None``."""
    if name in _SAME:
        return _same
    if name in _SWAPPED:
        return _swapped
    if name in _CROPS:
        return LE
    if name in ("upscale", "tile"):
        ky, kx = params[0], params[1]
        return lambda h, w: (h * ky, w * kx)
    if name in ("downscale", "downscale_any"):
        ky, kx = params[0], params[1]
        return lambda h, w: _div(h, w, ky, kx)
    if name == "mirror_tile":
        ky, kx = _MIRROR[params[0]]
        return lambda h, w: (h * ky, w * kx)
    if name == "rotate_tile":
        return lambda h, w: (2 * h, 2 * w) if h == w else (-1, -1)
    if name in ("kron_self", "kron_zero"):
        return lambda h, w: (h * h, w * w)
    if name == "remove_border":
        return lambda h, w: (h - 2, w - 2) if h >= 3 and w >= 3 else (-1, -1)
    if name == "half":
        return _half(params[0])
    if name == "crop_to_shape":
        ph, pw = params[0], params[1]
        return lambda h, w: (ph, pw) if ph <= h and pw <= w else (-1, -1)
    if name in ("majority_colour", "minority_colour"):
        return lambda h, w: (1, 1)
    return None
