"""Object-level programs (``dsl/perobject.py``) on hand-made grids."""

import numpy as np

from arcsearch import dsl

RING = [[0, 0, 0, 0, 0], [0, 5, 5, 5, 0], [0, 5, 0, 5, 0], [0, 5, 5, 5, 0], [0, 0, 0, 0, 2]]
BLOCK = [[0, 0, 0, 0, 0], [0, 5, 5, 5, 0], [0, 5, 5, 5, 0], [0, 5, 5, 5, 0], [0, 0, 0, 0, 2]]


def grid(rows):
    return dsl.as_grid(rows)


def test_selections_by_property():
    g = grid(RING)
    assert [o.colour for o in dsl.chosen_objects(g, "has_hole")] == [5]
    assert [o.colour for o in dsl.chosen_objects(g, "no_hole")] == [2]
    assert [o.colour for o in dsl.chosen_objects(g, "border")] == [2]
    assert [o.colour for o in dsl.chosen_objects(g, "inner")] == [5]
    assert [o.size for o in dsl.chosen_objects(g, "max_size")] == [8]
    assert [o.colour for o in dsl.chosen_objects(g, "colour:2")] == [2]
    assert [o.size for o in dsl.chosen_objects(g, "size:1")] == [1]
    assert dsl.chosen_objects(g, "largest")[0].size == 8  # a selector of objects.SELECTORS


def test_paint_steps():
    g = grid(RING)
    holes = dsl.map_objects(g, "all", "holes", 4)
    assert holes[2, 2] == 4 and (holes != g).sum() == 1
    halo = dsl.map_objects(g, "colour:2", "halo", 1)
    assert halo.tolist()[3:] == [[0, 5, 5, 5, 1], [0, 0, 0, 1, 2]]
    assert dsl.map_objects(g, "max_size", "recolour", 7)[1, 1] == 7
    b = grid(BLOCK)
    inside = dsl.map_objects(b, "all", "interior", 3)
    assert inside[2, 2] == 3 and (inside != b).sum() == 1
    assert dsl.map_objects(b, "min_size", "bbox", 3) is None  # a 1-cell box has no room


def test_flip_each_object_in_place():
    g = grid([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2, 3]])
    out = dsl.map_objects(g, "all", "flip_h", 0, 8, True)
    assert out.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 3, 2]]
    assert np.array_equal(dsl.map_objects(out, "all", "flip_h", 0, 8, True), g)


def test_filter_objects_keeps_or_erases_all_selected():
    g = grid(BLOCK)
    kept = dsl.filter_objects(g, "max_size", True, 4, False)
    assert kept[4, 4] == 0 and kept[1, 1] == 5
    erased = dsl.filter_objects(g, "border", False, 4, False)
    assert erased[4, 4] == 0 and (erased != g).sum() == 1
    assert dsl.filter_objects(g, "all", True) is None  # keeping everything changes nothing
