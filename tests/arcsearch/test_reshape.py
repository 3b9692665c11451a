"""Reshaping primitives (``dsl/reshape.py``) and the marked-region crop on hand-made grids."""

import numpy as np

from arcsearch import dsl
from arcsearch.search import FEATURES, search


def grid(rows):
    return dsl.as_grid(rows)


def test_dedupe_rows_cols_both():
    g = grid([[1, 1, 2], [1, 1, 2], [3, 3, 4]])
    assert dsl.dedupe(g, "rows").tolist() == [[1, 1, 2], [3, 3, 4]]
    assert dsl.dedupe(g, "cols").tolist() == [[1, 2], [1, 2], [3, 4]]
    assert dsl.dedupe(g, "both").tolist() == [[1, 2], [3, 4]]
    assert dsl.dedupe(grid([[1, 2], [2, 1]]), "both") is None  # nothing repeats


def test_part_colours_one_cell_per_separated_cell():
    g = grid([[0, 3, 5, 0, 0],
              [3, 3, 5, 0, 0],
              [5, 5, 5, 5, 5],
              [0, 0, 5, 2, 0]])
    assert dsl.part_colours(g).tolist() == [[3, 0], [0, 2]]
    assert dsl.part_colours(grid([[1, 2], [3, 4]])) is None  # no separator lines


def test_rotate_tile_and_upscale_by_colours():
    g = grid([[1, 2], [0, 3]])
    out = dsl.rotate_tile(g)
    assert out.shape == (4, 4)
    assert np.array_equal(out[:2, 2:], np.rot90(g, -1))
    assert np.array_equal(out[2:, 2:], np.rot90(g, 2))
    assert dsl.rotate_tile(grid([[1, 2, 3]])) is None  # not square
    up = dsl.upscale_by_colours(g)  # three colours besides the background: 3 x 3
    assert up.shape == (6, 6) and (up[:3, :3] == 1).all()
    assert dsl.upscale_by_colours(grid([[1, 0]])) is None  # one colour: k = 1


def test_kron_zero_uses_colour_zero_even_when_it_is_rare():
    g = grid([[7, 7], [0, 7]])  # 7 is the majority colour
    out = dsl.kron_zero(g)
    assert out.shape == (4, 4)
    assert np.array_equal(out[:2, :2], g) and (out[2:, :2] == 0).all()
    inv = dsl.kron_zero(g, True)
    assert np.array_equal(inv[2:, :2], g) and (inv[:2, :2] == 0).all()


def test_crop_marked_runs_steps_then_crops_the_marked_box():
    g = grid([[1, 2, 2, 1], [3, 4, 9, 9], [3, 4, 9, 9]])
    out = dsl.crop_marked(g, (("flip_h", ()),), 9)
    assert out.tolist() == [[4, 3], [4, 3]]
    assert dsl.crop_marked(g, (("flip_h", ()),), 6) is None  # no cell of colour 6


def test_search_restores_a_hidden_region():
    # left-right symmetric pictures with a patch of 9 over part of them: the output is
    # what the patch hides
    def task(rows, box):
        full = grid(rows)
        x = full.copy()
        r0, r1, c0, c1 = box
        x[r0:r1, c0:c1] = 9
        return x, np.ascontiguousarray(full[r0:r1, c0:c1])

    pairs = [task([[1, 2, 2, 1], [3, 4, 4, 3], [5, 1, 1, 5]], (0, 2, 0, 1)),
             task([[6, 7, 7, 6], [2, 2, 2, 2], [8, 3, 3, 8]], (1, 3, 3, 4)),
             task([[4, 1, 1, 4], [4, 6, 6, 4], [2, 2, 2, 2]], (0, 1, 2, 4))]
    test_x, test_y = task([[5, 3, 3, 5], [1, 2, 2, 1], [7, 7, 7, 7]], (1, 3, 0, 2))
    res = search(pairs, [test_x], budget_s=1e9, max_candidates=20_000, max_depth=2,
                 features=FEATURES)
    best = res.found[0]
    assert best.steps[0][0] == "crop_marked"
    assert np.array_equal(best.test_preds[0], test_y)
    off = search(pairs, [test_x], budget_s=1e9, max_candidates=20_000, max_depth=2,
                 features=tuple(f for f in FEATURES if f != "cropmark"))
    assert all(f.steps[0][0] != "crop_marked" for f in off.found)


def test_shift_moves_the_picture_with_background_behind():
    g = grid([[1, 0, 0], [0, 2, 0], [0, 0, 0]])
    assert dsl.shift(g, 1, 0).tolist() == [[0, 0, 0], [1, 0, 0], [0, 2, 0]]
    assert dsl.shift(g, -1, 1).tolist() == [[0, 0, 2], [0, 0, 0], [0, 0, 0]]
    assert dsl.shift(grid([[0, 0], [0, 3]]), 1, 0) is None  # everything moved out


def test_line_majority_cleans_stripes_along_the_right_axis():
    rows = grid([[1, 1, 5, 1], [2, 2, 2, 2], [3, 5, 3, 3]])
    assert dsl.line_majority(rows, "rows").tolist() == [[1] * 4, [2] * 4, [3] * 4]
    cols = np.ascontiguousarray(rows.T)
    assert dsl.line_majority(cols, "auto").tolist() == dsl.line_majority(cols, "cols").tolist()
    assert dsl.line_majority(cols, "auto").T.tolist() == [[1] * 4, [2] * 4, [3] * 4]
    assert dsl.line_majority(grid([[1, 1], [2, 2]]), "rows") is None  # nothing to clean
