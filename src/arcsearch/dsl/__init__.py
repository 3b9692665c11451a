"""Grid DSL for ARC: small pure functions over uint8 numpy grids.

Every primitive takes a grid first and literal parameters after it, and returns a new
grid or ``None`` when it does not apply. Generated programs call these by name.
"""

from .attract import attract
from .colour import (
    binarise,
    colour_histogram,
    fill_all,
    keep_colour,
    majority_colour,
    minority_colour,
    recolor,
    remove_colour,
    replace_colour,
    swap_fg_bg,
)
from .compose import augment, restore, run_steps, stack_layers, under
from .crop import crop_colour, crop_inside_colour, crop_to_shape, half, remove_border, trim
from .fill import enclosed_mask, fill_bbox_holes, fill_enclosed
from .geometry import antitranspose, flip_h, flip_v, rot90, rot180, rot270, transpose
from .gravity import gravity
from .grid import as_grid, background, clear_memo, colour_counts, colours, valid
from .join import bridge, elbow
from .lines import connect, outline_objects, rays
from .local import apply_local_rule, learn_local_rule
from .local import features as local_features
from .lookup import learn_lookup, lookup_output
from .objects import (
    components,
    count_objects_grid,
    crop_object,
    extract_object,
    keep_object,
    label_objects,
    remove_object,
    remove_small,
    select_object,
)
from .objrule import apply_object_rule, learn_object_rule
from .pattern import continue_diagonal, continue_pattern
from .perobject import chosen_objects, filter_objects, map_objects
from .reshape import (
    crop_marked,
    dedupe,
    kron_zero,
    line_majority,
    marked_region,
    part_colours,
    rotate_tile,
    shift,
    upscale_by_colours,
)
from .scale import downscale, downscale_any, kron_self, mirror_tile, tile, upscale
from .sizes import infer_output_shape, predict_shape, scale_factors
from .split import overlay_parts, pick_part, separator_lines, split_grid, stack_parts
from .stamp import apply_stamp, learn_stamp, source_keys, stamp_covers
from .symmetry import symmetrize_overlay, symmetry_complete

__all__ = [
    "antitranspose",
    "apply_local_rule",
    "apply_object_rule",
    "apply_stamp",
    "as_grid",
    "attract",
    "augment",
    "background",
    "binarise",
    "bridge",
    "chosen_objects",
    "clear_memo",
    "colour_counts",
    "colour_histogram",
    "colours",
    "components",
    "connect",
    "continue_diagonal",
    "continue_pattern",
    "count_objects_grid",
    "crop_colour",
    "crop_inside_colour",
    "crop_marked",
    "crop_object",
    "crop_to_shape",
    "dedupe",
    "downscale",
    "downscale_any",
    "elbow",
    "enclosed_mask",
    "extract_object",
    "fill_all",
    "fill_bbox_holes",
    "fill_enclosed",
    "filter_objects",
    "flip_h",
    "flip_v",
    "gravity",
    "half",
    "infer_output_shape",
    "keep_colour",
    "keep_object",
    "kron_self",
    "kron_zero",
    "label_objects",
    "learn_local_rule",
    "learn_lookup",
    "learn_object_rule",
    "learn_stamp",
    "line_majority",
    "local_features",
    "lookup_output",
    "majority_colour",
    "map_objects",
    "marked_region",
    "minority_colour",
    "mirror_tile",
    "outline_objects",
    "overlay_parts",
    "part_colours",
    "pick_part",
    "predict_shape",
    "rays",
    "recolor",
    "remove_border",
    "remove_colour",
    "remove_object",
    "remove_small",
    "replace_colour",
    "restore",
    "rot90",
    "rot180",
    "rot270",
    "rotate_tile",
    "run_steps",
    "scale_factors",
    "select_object",
    "separator_lines",
    "shift",
    "source_keys",
    "split_grid",
    "stack_layers",
    "stack_parts",
    "stamp_covers",
    "swap_fg_bg",
    "symmetrize_overlay",
    "symmetry_complete",
    "tile",
    "transpose",
    "trim",
    "under",
    "upscale",
    "upscale_by_colours",
    "valid",
]
