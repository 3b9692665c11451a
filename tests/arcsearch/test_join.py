"""Lines joining marker cells (``dsl/join.py``) on hand-made grids, and the search finding
them only with the ``join`` capability."""

import numpy as np
import pytest

from arcsearch import dsl
from arcsearch.search import FEATURES, search
from arcsearch.search.ops import TaskContext, build_ops


def grid(rows):
    return dsl.as_grid(rows)


CROSS = grid([[0, 2, 0, 0],
              [3, 0, 0, 3],
              [0, 2, 0, 0]])


def test_bridge_joins_pairs_in_their_colour_or_a_given_one():
    assert dsl.bridge(CROSS, None, "v").tolist() == [[0, 2, 0, 0],
                                                     [3, 2, 3, 3],
                                                     [0, 2, 0, 0]]
    assert dsl.bridge(CROSS, 7, "v").tolist() == [[0, 2, 0, 0],
                                                  [3, 7, 7, 3],
                                                  [0, 2, 0, 0]]


def test_bridge_over_picks_the_orientation_on_top_where_lines_cross():
    assert dsl.bridge(CROSS, None, "h")[1].tolist() == [3, 3, 3, 3]
    assert dsl.bridge(CROSS, None, "v")[1].tolist() == [3, 2, 3, 3]


def test_bridge_paints_only_background_and_leaves_a_grid_without_pairs_unchanged():
    g = grid([[4, 0, 5, 0, 4],
              [0, 0, 0, 0, 6]])
    assert dsl.bridge(g, None, "v").tolist() == [[4, 4, 5, 4, 4], [0, 0, 0, 0, 6]]
    lone = grid([[1, 0], [0, 2]])
    assert dsl.bridge(lone, 3, "v").tolist() == lone.tolist()


def test_elbow_runs_along_the_first_axis_then_the_other():
    g = grid([[2, 0, 0],
              [0, 0, 0],
              [0, 0, 3]])
    assert dsl.elbow(g, 2, 3, 8, "h").tolist() == [[2, 8, 8],
                                                   [0, 0, 8],
                                                   [0, 0, 3]]
    assert dsl.elbow(g, 2, 3, 8, "v").tolist() == [[2, 0, 0],
                                                   [8, 0, 0],
                                                   [8, 8, 3]]
    # the same path from the other end, the other axis first
    assert dsl.elbow(g, 3, 2, 8, "v").tolist() == dsl.elbow(g, 2, 3, 8, "h").tolist()


def test_elbow_needs_one_cell_of_each_colour_and_keeps_obstacles():
    assert dsl.elbow(grid([[2, 0, 2], [0, 0, 3]]), 2, 3, 8, "h") is None
    assert dsl.elbow(grid([[2, 0], [0, 0]]), 2, 3, 8, "h") is None
    assert dsl.elbow(grid([[2, 5, 0, 3]]), 2, 3, 8, "h").tolist() == [[2, 5, 8, 3]]


def test_bad_axis_says_what_to_choose():
    with pytest.raises(ValueError, match="use one of"):
        dsl.bridge(CROSS, None, "d")
    with pytest.raises(ValueError, match="use one of"):
        dsl.elbow(CROSS, 2, 3, 8, "x")


def test_join_ops_only_for_same_shape_tasks_with_markers():
    pairs = [(grid([[2, 0], [0, 3]]), grid([[2, 8], [0, 3]]))]
    names = [(op.name, op.params) for op in build_ops(TaskContext.from_pairs(pairs, []),
                                                      FEATURES)]
    assert ("elbow", (2, 3, 8, "h")) in names
    assert ("bridge", (8, "v")) in names
    assert ("bridge", (None, "h")) in names
    other = [(grid([[2, 0], [0, 3]]), grid([[2]]))]
    ops = build_ops(TaskContext.from_pairs(other, []), FEATURES)
    assert not [op for op in ops if op.name in ("bridge", "elbow")]


def _bridged(shape, cells):
    g = np.zeros(shape, dtype=np.uint8)
    for (y, x), c in cells.items():
        g[y, x] = c
    g = dsl.as_grid(g)
    return g, dsl.bridge(g, None, "v")


def test_search_finds_bridges_only_with_the_capability():
    # crossing lines (the vertical one on top) and a demo with nothing to join: ``connect``
    # does not apply to it, and a local rule guesses the test's crossings wrong
    pairs = [_bridged((5, 5), {(0, 2): 2, (4, 2): 2, (2, 0): 3, (2, 4): 3}),
             _bridged((4, 6), {(1, 0): 5, (1, 5): 5, (0, 3): 6, (3, 3): 6}),
             _bridged((4, 4), {(1, 1): 4, (2, 3): 7})]
    test_in, want = _bridged((6, 5), {(0, 1): 1, (5, 1): 1, (3, 0): 4, (3, 4): 4, (1, 3): 2,
                                      (4, 3): 2})
    res = search(pairs, [test_in], max_candidates=20000)
    assert list(res.found[0].steps) == [("bridge", (None, "v"))]
    assert np.array_equal(res.found[0].test_preds[0], want)
    without = search(pairs, [test_in], max_candidates=20000,
                     features=tuple(f for f in FEATURES if f != "join"))
    assert all(not np.array_equal(f.test_preds[0], want) for f in without.found)


def _elbow_pair(shape, a, b):
    g = np.zeros(shape, dtype=np.uint8)
    g[a], g[b] = 2, 3
    g = dsl.as_grid(g)
    return g, dsl.elbow(g, 2, 3, 8, "h")


def test_search_ranks_an_elbow_first_only_with_the_capability():
    pairs = [_elbow_pair((5, 6), (0, 1), (4, 4)), _elbow_pair((6, 5), (5, 4), (1, 0)),
             _elbow_pair((4, 7), (3, 0), (0, 6)), _elbow_pair((5, 5), (1, 3), (4, 1))]
    test_in, want = _elbow_pair((7, 6), (6, 5), (0, 0))
    res = search(pairs, [test_in], max_candidates=20000)
    assert list(res.found[0].steps) == [("elbow", (2, 3, 8, "h"))]
    assert np.array_equal(res.found[0].test_preds[0], want)
    without = search(pairs, [test_in], max_candidates=20000,
                     features=tuple(f for f in FEATURES if f != "join"))
    assert not np.array_equal(without.found[0].test_preds[0], want)
