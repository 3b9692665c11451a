"""Unit tests of DSL primitives on small hand-made grids."""

import numpy as np

from arcsearch import dsl


def G(rows):
    return dsl.as_grid(rows)


def eq(a, b):
    return a is not None and np.array_equal(a, G(b))


A = G([[1, 2], [3, 4]])


def test_geometry():
    assert eq(dsl.rot90(A), [[3, 1], [4, 2]])
    assert eq(dsl.rot180(A), [[4, 3], [2, 1]])
    assert eq(dsl.rot270(A), [[2, 4], [1, 3]])
    assert eq(dsl.flip_h(A), [[2, 1], [4, 3]])
    assert eq(dsl.flip_v(A), [[3, 4], [1, 2]])
    assert eq(dsl.transpose(A), [[1, 3], [2, 4]])
    assert eq(dsl.antitranspose(A), [[4, 2], [3, 1]])


def test_background_and_counts():
    g = G([[0, 0, 5], [0, 1, 0]])
    assert dsl.background(g) == 0
    assert dsl.colour_counts(g)[0] == 4
    assert dsl.colours(g) == (0, 1, 5)
    assert dsl.background(G([[3, 3], [3, 1]])) == 3


def test_trim_and_crop():
    g = G([[0, 0, 0, 0], [0, 2, 3, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
    assert eq(dsl.trim(g), [[2, 3], [0, 2]])
    assert eq(dsl.crop_colour(g, 3), [[3]])
    assert dsl.crop_colour(g, 7) is None
    assert eq(dsl.remove_border(g), [[2, 3], [0, 2]])
    assert eq(dsl.half(G([[1, 2, 3, 4]]), "left"), [[1, 2]])
    assert eq(dsl.crop_to_shape(g, 1, 2, "br"), [[0, 0]])
    frame = G([[4, 4, 4], [4, 7, 4], [4, 4, 4]])
    assert eq(dsl.crop_inside_colour(frame, 4), [[7]])


def test_scale_and_tile():
    g = G([[1, 0]])
    assert eq(dsl.upscale(g, 2, 2), [[1, 1, 0, 0], [1, 1, 0, 0]])
    assert eq(dsl.downscale(dsl.upscale(A, 3, 3), 3, 3), A.tolist())
    assert eq(dsl.tile(g, 2, 1), [[1, 0], [1, 0]])
    assert eq(dsl.mirror_tile(g, "h"), [[1, 0, 0, 1]])
    assert eq(dsl.mirror_tile(g, "v"), [[1, 0], [1, 0]])
    assert dsl.mirror_tile(g, "quad").shape == (2, 4)
    k = dsl.kron_self(G([[1, 0], [0, 1]]))
    assert eq(k, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    assert eq(dsl.downscale_any(G([[0, 2], [0, 0]]), 2, 2), [[2]])
    assert dsl.upscale(G(np.zeros((20, 20))), 2, 2) is None  # would exceed 30x30


def test_colour_ops():
    g = G([[0, 1], [2, 1]])
    assert eq(dsl.recolor(g, {1: 5}), [[0, 5], [2, 5]])
    assert eq(dsl.keep_colour(g, 1), [[0, 1], [0, 1]])
    assert eq(dsl.remove_colour(g, 1), [[0, 0], [2, 0]])
    assert eq(dsl.binarise(g, 7), [[0, 7], [7, 7]])
    assert eq(dsl.majority_colour(g), [[1]])
    assert eq(dsl.minority_colour(g), [[2]])
    assert eq(dsl.replace_colour(g, 2, 3), [[0, 1], [3, 1]])
    assert eq(dsl.swap_fg_bg(G([[0, 1], [1, 1]])), [[1, 0], [0, 0]])


OBJ = G([
    [1, 1, 0, 0, 0],
    [1, 1, 0, 2, 0],
    [0, 0, 0, 0, 0],
    [0, 3, 3, 3, 0],
    [0, 0, 0, 0, 0],
])


def test_components_connectivity():
    assert len(dsl.components(OBJ, 4, False)) == 3
    diag = G([[1, 0], [0, 1]])
    assert len(dsl.components(diag, 4, False)) == 2
    assert len(dsl.components(diag, 8, False)) == 1
    multi = G([[1, 2], [0, 0]])
    assert len(dsl.components(multi, 4, False)) == 2
    assert len(dsl.components(multi, 4, True)) == 1


def test_object_selection():
    assert eq(dsl.crop_object(OBJ, "largest"), [[1, 1], [1, 1]])
    assert eq(dsl.crop_object(OBJ, "smallest"), [[2]])
    assert eq(dsl.crop_object(OBJ, "bottom"), [[3, 3, 3]])
    assert eq(dsl.extract_object(OBJ, "unique_shape", 8), [[2]]) is False  # all shapes unique
    kept = dsl.keep_object(OBJ, "smallest")
    assert kept.sum() == 2 and kept[1, 3] == 2
    removed = dsl.remove_object(OBJ, "largest")
    assert removed[:2, :2].sum() == 0 and removed[3, 1] == 3
    assert dsl.remove_small(OBJ, 1)[1, 3] == 0
    tie = G([[1, 0, 2]])
    assert dsl.crop_object(tie, "largest") is None  # ambiguous


def test_label_and_count_objects():
    lab = dsl.label_objects(OBJ, "size", 4)
    assert lab[0, 0] == 4 and lab[1, 3] == 1 and lab[3, 1] == 3
    assert eq(dsl.count_objects_grid(OBJ, 4, False), [[1, 1, 1]])


def test_gravity():
    g = G([[1, 0], [0, 0], [0, 2]])
    assert eq(dsl.gravity(g, "down"), [[0, 0], [0, 0], [1, 2]])
    assert eq(dsl.gravity(g, "up"), [[1, 2], [0, 0], [0, 0]])
    assert eq(dsl.gravity(G([[0, 1, 0]]), "left"), [[1, 0, 0]])


def test_rays_and_connect():
    g = G([[0, 0, 0], [0, 4, 0], [0, 0, 0]])
    assert eq(dsl.rays(g, 4, "cross"), [[0, 4, 0], [4, 4, 4], [0, 4, 0]])
    assert eq(dsl.rays(g, 4, "down"), [[0, 0, 0], [0, 4, 0], [0, 4, 0]])
    assert eq(dsl.rays(g, 4, "diagonal"), [[4, 0, 4], [0, 4, 0], [4, 0, 4]])
    blocked = G([[4, 0, 2, 0]])
    assert eq(dsl.rays(blocked, 4, "right", True), [[4, 4, 2, 0]])
    assert eq(dsl.rays(blocked, 4, "right", False), [[4, 4, 2, 4]])
    assert eq(dsl.connect(G([[3, 0, 0, 3]])), [[3, 3, 3, 3]])
    assert eq(dsl.connect(G([[5, 0], [0, 0], [5, 0]])), [[5, 0], [5, 0], [5, 0]])


def test_fill_enclosed():
    g = G([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]])
    assert eq(dsl.fill_enclosed(g, 4), [[1, 1, 1, 0], [1, 4, 1, 0], [1, 1, 1, 0]])
    assert dsl.fill_enclosed(G([[0, 1], [0, 0]]), 4) is None


def test_symmetry_completion():
    full = G([[1, 2, 2, 1], [3, 4, 4, 3]])
    holed = full.copy()
    holed[1, 3] = 0
    assert eq(dsl.symmetry_complete(holed, "lr"), full.tolist())
    masked = full.copy()
    masked[0, 0] = 9
    assert eq(dsl.symmetry_complete(masked, "lr", 9), full.tolist())
    assert eq(dsl.symmetrize_overlay(G([[1, 0]]), "lr"), [[1, 1]])


def test_pattern_continuation():
    full = G([[1, 2, 1, 2], [3, 4, 3, 4], [1, 2, 1, 2]])
    holed = full.copy()
    holed[2, 3] = 0
    holed[0, 0] = 0
    assert eq(dsl.continue_pattern(holed), full.tolist())
    diag = G([[1, 2, 1, 2], [2, 1, 2, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert eq(dsl.continue_diagonal(diag), [[1, 2, 1, 2], [2, 1, 2, 1]] * 2)


def test_split_and_overlay():
    g = G([[1, 0, 5, 1, 1], [0, 0, 5, 0, 1]])
    parts = dsl.split_grid(g, "sep")
    assert len(parts) == 2 and parts[0].shape == (2, 2)
    assert dsl.separator_lines(g)[2] == 5
    assert eq(dsl.overlay_parts(g, "sep", "and"), [[1, 0], [0, 0]])
    assert eq(dsl.overlay_parts(g, "sep", "or"), [[1, 1], [0, 1]])
    assert eq(dsl.overlay_parts(g, "sep", "xor"), [[0, 1], [0, 1]])
    assert eq(dsl.overlay_parts(g, "sep", "nor"), [[0, 0], [1, 0]])
    assert eq(dsl.stack_parts(g, "sep"), [[1, 1], [0, 1]])
    assert eq(dsl.pick_part(g, "sep", "most_fg"), [[1, 1], [0, 1]])
    assert len(dsl.split_grid(G([[1, 2, 3, 4]]), "h2")) == 2


def test_output_size_inference():
    a, b = G(np.zeros((2, 3))), G(np.zeros((4, 6)))
    assert dsl.infer_output_shape([(a, b), (b, G(np.zeros((8, 12))))])[0] == "scale"
    assert dsl.predict_shape(("scale", 2, 2), (3, 3)) == (6, 6)
    assert dsl.infer_output_shape([(a, a)]) == ("same",)
    assert dsl.infer_output_shape([(a, G([[1]])), (b, G([[2]]))]) == ("const", 1, 1)
    assert dsl.scale_factors([(a, b)]) == ({(2, 2)}, set())


def test_local_rule_learning():
    x = G([[0, 1, 0], [0, 0, 0]])
    y = G([[0, 1, 0], [0, 2, 0]])  # cell below a 1 becomes 2
    table = dsl.learn_local_rule([(x, y)], "n4")
    assert table is not None
    assert eq(dsl.apply_local_rule(x, table, "n4"), y.tolist())
    bad = G([[0, 1, 0], [0, 2, 3]])
    assert dsl.learn_local_rule([(x, y), (x, bad)], "n4") is None


def test_memo_is_content_keyed():
    g = G([[0, 1], [0, 1]])
    dsl.clear_memo()
    assert dsl.background(g) == 0  # 0 present and not far less frequent
    h = G([[2, 2], [2, 1]])
    assert dsl.background(h) == 2
