"""Movers drawn toward anchors (``dsl/attract.py``) on hand-made grids, and the search
finding them only with the ``attract`` capability."""

import numpy as np
import pytest

from arcsearch import dsl
from arcsearch.search import FEATURES, search


def grid(rows):
    return dsl.as_grid(rows)


BLOCK = grid([[0, 0, 0, 0, 0, 0],
              [2, 2, 0, 0, 8, 8],
              [2, 0, 0, 0, 8, 8],
              [0, 0, 0, 0, 0, 0]])


def test_move_slides_a_shape_until_it_touches_the_anchor():
    assert dsl.attract(BLOCK, (8,), "move", 4).tolist() == [[0, 0, 0, 0, 0, 0],
                                                           [0, 0, 2, 2, 8, 8],
                                                           [0, 0, 2, 0, 8, 8],
                                                           [0, 0, 0, 0, 0, 0]]


def test_step_moves_one_cell_and_trail_paints_the_sweep():
    assert dsl.attract(BLOCK, (8,), "step", 4)[1].tolist() == [0, 2, 2, 0, 8, 8]
    assert dsl.attract(BLOCK, (8,), "trail", 4).tolist() == [[0, 0, 0, 0, 0, 0],
                                                            [2, 2, 2, 2, 8, 8],
                                                            [2, 2, 2, 0, 8, 8],
                                                            [0, 0, 0, 0, 0, 0]]


def test_diagonal_needs_conn_8_and_each_mover_takes_its_nearest_anchor_line():
    g = grid([[5, 0, 0, 0, 0],
              [0, 0, 0, 0, 0],
              [0, 0, 3, 0, 5],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 0]])
    assert dsl.attract(g, (3,), "move", 8).tolist() == [[0, 0, 0, 0, 0],
                                                       [0, 5, 0, 0, 0],
                                                       [0, 0, 3, 5, 0],
                                                       [0, 0, 0, 0, 0],
                                                       [0, 0, 0, 0, 0]]
    # 4 directions: only the cell on the anchor's row moves
    assert dsl.attract(g, (3,), "move", 4)[0, 0] == 5


def test_blocked_unaligned_and_anchorless_movers():
    blocked = grid([[5, 1, 0, 3]])  # the first cell seen from 5 is the other mover 1
    assert dsl.attract(blocked, (3,), "move", 4).tolist() == [[0, 5, 1, 3]]
    assert dsl.attract(grid([[5, 0], [0, 0], [0, 3]]), (3,), "move", 4) is None  # unaligned
    assert dsl.attract(BLOCK, (4,), "move", 4) is None  # no anchor
    assert dsl.attract(grid([[0, 8, 8]]), (8,), "move", 4) is None  # no mover


def test_major_anchor_is_the_most_frequent_non_background_colour():
    g = grid([[1, 1, 1, 1, 1, 1],
              [1, 3, 3, 1, 1, 4],
              [1, 3, 3, 1, 1, 1]])
    assert dsl.attract(g, "major", "trail", 4)[1].tolist() == [1, 3, 3, 4, 4, 4]
    assert dsl.attract(grid([[0, 3, 0, 4]]), "major", "move", 4) is None  # tie


def test_mover_that_would_leave_the_grid_stays():
    g = grid([[0, 0, 0, 8],
              [5, 0, 0, 0],
              [5, 0, 0, 0]])
    # the top cell's line along the top row is clear; moving up would push the lower one out
    assert dsl.attract(g, (8,), "move", 8) is None


def test_bad_parameters_say_what_to_choose():
    with pytest.raises(ValueError, match="unknown mode"):
        dsl.attract(BLOCK, (8,), "pull", 4)
    with pytest.raises(ValueError, match="conn must be 4 or 8"):
        dsl.attract(BLOCK, (8,), "move", 6)


def test_search_finds_attract_only_with_the_capability():
    pairs = [
        (grid([[5, 0, 0, 0, 3]]), grid([[0, 0, 0, 5, 3]])),
        (grid([[0, 0, 0], [3, 0, 0], [0, 0, 0], [0, 0, 0], [5, 0, 0]]),
         grid([[0, 0, 0], [3, 0, 0], [5, 0, 0], [0, 0, 0], [0, 0, 0]])),
        (grid([[3, 3, 0, 0, 0, 5], [3, 3, 0, 0, 0, 0]]),
         grid([[3, 3, 5, 0, 0, 0], [3, 3, 0, 0, 0, 0]])),
    ]
    test_in = grid([[0, 0, 0, 0], [3, 0, 0, 5], [0, 0, 0, 0]])
    want = [[0, 0, 0, 0], [3, 5, 0, 0], [0, 0, 0, 0]]
    res = search(pairs, [test_in], max_candidates=20000)
    assert list(res.found[0].steps) == [("attract", ((3,), "move", 4))]
    assert np.array_equal(res.found[0].test_preds[0], want)
    without = search(pairs, [test_in], max_candidates=20000,
                     features=tuple(f for f in FEATURES if f != "attract"))
    assert all(not np.array_equal(f.test_preds[0], want) for f in without.found)
