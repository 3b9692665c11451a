"""Learned rules on hand-made grids: per-object colour rules (``dsl/objrule.py``), output
lookups (``dsl/lookup.py``), neighbour-set local rules, and how the search uses them."""

import numpy as np

from arcsearch import dsl
from arcsearch.search import FEATURES, search


def grid(rows):
    return dsl.as_grid(rows)


# two objects per grid: the larger becomes 1, the smaller 2, whatever their colours
BIG_SMALL = [
    ([[5, 5, 0, 0], [5, 5, 0, 5], [0, 0, 0, 0]], [[1, 1, 0, 0], [1, 1, 0, 2], [0, 0, 0, 0]]),
    ([[0, 3, 0, 0], [0, 0, 0, 3], [0, 0, 3, 3]], [[0, 2, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1]]),
]


def pairs_of(rows):
    return [(grid(x), grid(y)) for x, y in rows]


def test_object_rule_by_size_extreme():
    pairs = pairs_of(BIG_SMALL)
    test = grid([[4, 0, 0], [0, 0, 4], [0, 4, 4]])
    rule = dsl.learn_object_rule(pairs, [test])
    assert rule is not None and rule[2] == "is_extreme_size"
    for x, y in pairs:
        assert np.array_equal(dsl.apply_object_rule(x, *rule), y)
    assert dsl.apply_object_rule(test, *rule).tolist() == [[2, 0, 0], [0, 0, 1], [0, 1, 1]]


def test_object_rule_needs_every_test_value_seen():
    # the colour decides, but the test input has a colour the demos never showed
    pairs = pairs_of([([[1, 0, 2]], [[3, 0, 4]]), ([[2, 0, 1]], [[4, 0, 3]])])
    assert dsl.learn_object_rule(pairs, [grid([[1, 0, 2]])])[2] == "colour"
    assert dsl.learn_object_rule(pairs, [grid([[1, 0, 7]])]) is None


def test_object_rule_on_background_regions():
    # enclosed background regions become 4, the open outside stays
    x = grid([[0, 0, 0, 0, 0], [0, 5, 5, 5, 0], [0, 5, 0, 5, 0], [0, 5, 5, 5, 0],
              [0, 0, 0, 0, 0]])
    y = x.copy()
    y[2, 2] = 4
    x2 = grid([[5, 5, 5, 0], [5, 0, 5, 0], [5, 0, 5, 0], [5, 5, 5, 0]])
    y2 = x2.copy()
    y2[1:3, 1] = 4
    rule = dsl.learn_object_rule([(x, y), (x2, y2)], [x2])
    assert rule[0] == "regions" and rule[2] == "touches_border"
    assert np.array_equal(dsl.apply_object_rule(x2, *rule), y2)


def test_object_rule_keeps_unchanged_objects():
    pairs = pairs_of([([[1, 0, 2, 2]], [[1, 0, 0, 0]]), ([[2, 2, 0, 3]], [[0, 0, 0, 3]])])
    rule = dsl.learn_object_rule(pairs, [grid([[3, 0, 2, 2, 0, 1]])])
    assert rule is not None
    assert dsl.apply_object_rule(grid([[3, 0, 2, 2, 0, 1]]), *rule).tolist() == [
        [3, 0, 0, 0, 0, 1]]


def test_lookup_by_number_of_colours_and_symmetry():
    one, two = [[5]], [[7]]
    pairs = pairs_of([([[1, 0], [0, 1]], one), ([[2, 3], [0, 0]], two),
                      ([[4, 0], [4, 0]], one)])
    feature, table = dsl.learn_lookup(pairs, [grid([[6, 6], [0, 8]])])
    assert feature == "n_colours"
    assert dsl.lookup_output(grid([[6, 6], [0, 8]]), feature, table).tolist() == two
    # every demo output different: a table would only list the demos
    assert dsl.learn_lookup(pairs_of([([[1]], one), ([[2]], two)]), [grid([[1]])]) is None
    # symmetric grids one way, the others the other
    sym = pairs_of([([[1, 0, 1]], one), ([[1, 1, 0]], two), ([[2, 2, 2]], one)])
    feature, table = dsl.learn_lookup(sym, [grid([[3, 0, 3]])])
    assert feature == "symmetric"


def test_neighbour_set_rule_ignores_where_the_neighbour_is():
    # a background cell beside a 2 (any side) becomes 4; n4 positions never repeat
    x = grid([[0, 0, 0], [0, 2, 0], [0, 0, 0]])
    y = grid([[0, 4, 0], [4, 2, 4], [0, 4, 0]])
    table = dsl.learn_local_rule([(x, y)], "nbrsets")
    t = grid([[2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert dsl.apply_local_rule(t, table, "nbrsets").tolist()[:2] == [[2, 4, 0, 0],
                                                                      [4, 0, 0, 0]]


def test_search_uses_the_rules_only_with_their_features():
    pairs = pairs_of(BIG_SMALL)
    test = [grid([[4, 0, 0], [0, 0, 4], [0, 4, 4]])]

    def names(features):
        res = search(pairs, test, budget_s=1e9, max_candidates=2_000, max_depth=1,
                     features=features)
        return {s[0] for f in res.found for s in f.steps}

    assert "apply_object_rule" in names(FEATURES)
    assert "apply_object_rule" not in names(tuple(f for f in FEATURES if f != "objrule"))


def test_local_keeps_only_the_best_ranked_rule():
    """Several local-rule kinds fit the demo (a lone 1 becomes 2); only one program is kept
    per value, the first kind whose features on the test grid were all seen on the demo
    (two kept rules would be two predictions and stop the search early)."""
    from arcsearch.search.enumerate import _Searcher

    x = np.zeros((3, 3), dtype=np.uint8)
    x[1, 1] = 1
    y = x.copy()
    y[1, 1] = 2
    t = np.zeros((3, 3), dtype=np.uint8)
    t[0, 0] = 1  # a corner: its 4-neighbourhood (outside the grid) was never seen
    s = _Searcher([(x, y)], [t], 60.0, 1000, 1, 400)
    s._local_rules([x], [t], (), 0)
    assert len(s.res.found) == 1
    (found,) = s.res.found
    assert found.steps[0][1][1] == "rays"
    assert found.test_preds[0][0, 0] == 2
