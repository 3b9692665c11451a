"""Stamps (``dsl/stamp.py``) on hand-made grids, and the search finding one only with the
``stamp`` capability."""

import numpy as np

from arcsearch import dsl
from arcsearch.dsl.stamp import STAMP_KEYS
from arcsearch.search import FEATURES, search


def grid(rows):
    return dsl.as_grid(rows)


def blank(h, w, cells):
    g = np.zeros((h, w), dtype=np.uint8)
    for (y, x), c in cells.items():
        g[y, x] = c
    return g


def decorate(g):
    """The hand-written rule the demos show: 2 gets 4 on its diagonals, 1 gets 7 on its
    sides, 8 is left alone."""
    out = g.copy()
    h, w = g.shape
    for y, x in zip(*np.nonzero(g), strict=True):
        offs = {2: ((-1, -1), (-1, 1), (1, -1), (1, 1)), 1: ((-1, 0), (1, 0), (0, -1), (0, 1))}
        for dy, dx in offs.get(int(g[y, x]), ()):
            if 0 <= y + dy < h and 0 <= x + dx < w and g[y + dy, x + dx] == 0:
                out[y + dy, x + dx] = {2: 4, 1: 7}[int(g[y, x])]
    return out


DEMOS = [blank(7, 7, {(1, 1): 2, (5, 4): 1, (3, 6): 8}),
         blank(6, 8, {(2, 5): 1, (4, 1): 2}),
         blank(7, 7, {(0, 3): 2, (4, 3): 1, (6, 0): 8})]
PAIRS = [(x, decorate(x)) for x in DEMOS]


def test_learned_stamp_paints_each_colour_its_pattern_on_a_new_grid():
    entries = dsl.learn_stamp(PAIRS, 1)
    assert (2, -1, -1, 4) in entries and (1, 0, 1, 7) in entries
    assert not any(c == 8 for c, *_ in entries)  # 8 paints nothing
    new = blank(8, 9, {(1, 7): 1, (6, 2): 2, (4, 4): 2, (0, 0): 8})
    assert np.array_equal(dsl.apply_stamp(new, entries), decorate(new))


def test_centre_entry_replaces_the_marker_and_unobserved_offsets_paint_nothing():
    pairs = [(blank(3, 4, {(1, 1): 2}), grid([[3, 0, 6, 0], [0, 0, 0, 0], [8, 0, 7, 0]])),
             (blank(3, 4, {(1, 2): 2}), grid([[0, 3, 0, 6], [0, 0, 0, 0], [0, 8, 0, 7]]))]
    entries = dsl.learn_stamp(pairs, 1)
    assert entries == ((2, -1, -1, 3), (2, -1, 1, 6), (2, 0, 0, 0), (2, 1, -1, 8),
                       (2, 1, 1, 7))
    # the marker at the left edge: the stamp is cut by the border
    assert dsl.apply_stamp(blank(3, 3, {(1, 0): 2}), entries).tolist() == [[0, 6, 0],
                                                                            [0, 0, 0],
                                                                            [0, 7, 0]]


def test_offsets_the_demos_disagree_on_are_dropped():
    # seen from the left 5, the cell two to its right is painted in one demo (by the
    # other 5's pattern) and not in the other: no entry for (0, 2)
    pairs = [(grid([[5, 0, 0, 5, 0]]), grid([[5, 1, 1, 5, 1]])),
             (grid([[0, 5, 0, 0, 0]]), grid([[0, 5, 1, 0, 0]]))]
    entries = dsl.learn_stamp(pairs, 2)
    assert (5, 0, 1, 1) in entries
    assert not any((dy, dx) == (0, 2) for _, dy, dx, _ in entries)


def test_no_stamp_for_other_shapes_or_a_plain_colour_map():
    assert dsl.learn_stamp([(grid([[1, 0]]), grid([[1, 0], [0, 0]]))], 1) is None
    assert dsl.learn_stamp([(grid([[1, 0, 2]]), grid([[3, 0, 2]]))], 1) is None


def test_two_stamps_painting_one_cell_differently_do_not_apply():
    entries = ((1, 0, 1, 4), (2, 0, -1, 6))
    assert dsl.apply_stamp(grid([[1, 0, 2]]), entries) is None
    assert dsl.apply_stamp(grid([[1, 0, 0, 2]]), entries).tolist() == [[1, 4, 6, 2]]


def test_covers_only_when_every_test_colour_was_seen_on_the_demos():
    assert dsl.stamp_covers(DEMOS, [blank(4, 4, {(1, 1): 8, (2, 2): 1})])
    assert not dsl.stamp_covers(DEMOS, [blank(4, 4, {(1, 1): 3})])


def test_search_finds_the_stamp_only_with_the_capability():
    test_in = blank(8, 9, {(1, 7): 1, (6, 2): 2, (4, 4): 2, (0, 0): 8})
    res = search(PAIRS, [test_in], max_candidates=20000)
    assert res.found[0].steps[-1][0] == "apply_stamp"
    assert np.array_equal(res.found[0].test_preds[0], decorate(test_in))
    without = search(PAIRS, [test_in], max_candidates=20000,
                     features=tuple(f for f in FEATURES if f != "stamp"))
    assert all(f.steps[-1][0] != "apply_stamp" for f in without.found)
    # the local rules cannot reproduce it: the test grid's neighbourhoods are new
    assert all(not np.array_equal(f.test_preds[0], decorate(test_in)) for f in without.found)


# -- keyed stamps (capability "stampkey") ---------------------------------------------------

def corners(g):
    """The hand-written rule: each 2 x 2 square of 5 gets 1, 2, 3, 4 diagonally off its
    top-left, top-right, bottom-left, bottom-right corners (a colour stamp cannot: every
    cell of the square has colour 5)."""
    out = g.copy()
    h, w = g.shape
    for y in range(h - 1):
        for x in range(w - 1):
            if (g[y:y + 2, x:x + 2] == 5).all():
                for (cy, cx), c in (((y - 1, x - 1), 1), ((y - 1, x + 2), 2),
                                    ((y + 2, x - 1), 3), ((y + 2, x + 2), 4)):
                    if 0 <= cy < h and 0 <= cx < w and g[cy, cx] == 0:
                        out[cy, cx] = c
    return out


def square(g, y, x):
    g[y:y + 2, x:x + 2] = 5
    return g


SQUARES = [square(square(np.zeros((9, 9), np.uint8), 1, 1), 5, 5),
           square(np.zeros((6, 7), np.uint8), 2, 3),
           square(square(np.zeros((10, 8), np.uint8), 1, 4), 6, 1)]
SQUARE_PAIRS = [(x, corners(x)) for x in SQUARES]


def test_source_keys_tell_an_objects_size_and_a_cells_place():
    g = grid([[5, 5, 0, 2],
              [5, 5, 0, 0],
              [0, 0, 0, 2]])
    sides = dsl.source_keys(g, "sides")
    # bits: up 1, down 2, left 4, right 8; the four corners of the square differ
    assert [int(sides[0, 0]), int(sides[0, 1]), int(sides[1, 0]), int(sides[1, 1])] == [
        5 * 16 + 2 + 8, 5 * 16 + 2 + 4, 5 * 16 + 1 + 8, 5 * 16 + 1 + 4]
    assert int(sides[0, 3]) == 2 * 16  # a lone cell
    size = dsl.source_keys(g, "size")
    assert int(size[1, 1]) == 5 * 16 + 4 and int(size[2, 3]) == 2 * 16 + 1
    assert (dsl.source_keys(g) == g.astype(np.int64) * 16).all()


def test_a_sides_stamp_paints_each_corner_of_a_square_its_colour():
    for radius in (1, 2):  # the colour stamp sees four colours at one offset: none fits
        entries = dsl.learn_stamp(SQUARE_PAIRS, radius)
        assert entries is None or any(
            not np.array_equal(dsl.apply_stamp(x, entries), y) for x, y in SQUARE_PAIRS)
    entries = dsl.learn_stamp(SQUARE_PAIRS, 1, "sides")
    new = square(square(square(np.zeros((12, 12), np.uint8), 0, 9), 4, 2), 9, 7)
    assert np.array_equal(dsl.apply_stamp(new, entries, "sides"), corners(new))
    assert dsl.stamp_covers(SQUARES, [new], "sides")
    bar = np.zeros((5, 5), np.uint8)
    bar[2, 1:4] = 5  # the middle of a bar: a place no demo showed
    assert dsl.stamp_covers(SQUARES, [bar]) and not dsl.stamp_covers(SQUARES, [bar], "sides")


def ring_pairs(g):
    """The hand-written rule: objects of two cells get a ring of 3, lone cells nothing."""
    out = g.copy()
    h, w = g.shape
    for y, x in zip(*np.nonzero(g), strict=True):
        if any(0 <= y + dy < h and 0 <= x + dx < w and g[y + dy, x + dx]
               for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    if 0 <= y + dy < h and 0 <= x + dx < w and g[y + dy, x + dx] == 0:
                        out[y + dy, x + dx] = 3
    return out


PAIR_DEMOS = [blank(8, 8, {(1, 1): 2, (1, 2): 2, (5, 5): 2, (6, 1): 2}),
              blank(7, 9, {(2, 6): 2, (3, 6): 2, (5, 1): 2, (0, 3): 2}),
              blank(9, 8, {(6, 2): 2, (6, 3): 2, (2, 5): 2, (3, 5): 2, (0, 0): 2})]


def test_a_size_stamp_rings_the_pairs_and_leaves_lone_cells():
    pairs = [(x, ring_pairs(x)) for x in PAIR_DEMOS]
    entries = dsl.learn_stamp(pairs, 1, "size")
    assert all(np.array_equal(dsl.apply_stamp(x, entries, "size"), y) for x, y in pairs)
    new = blank(9, 9, {(0, 7): 2, (0, 8): 2, (4, 4): 2, (7, 1): 2, (8, 1): 2})
    assert np.array_equal(dsl.apply_stamp(new, entries, "size"), ring_pairs(new))


def test_unknown_key_is_an_error_that_names_the_keys():
    try:
        dsl.source_keys(grid([[1]]), "shape")
    except ValueError as e:
        assert "colour" in str(e) and "sides" in str(e)
    else:
        raise AssertionError("an unknown key must raise")


def test_search_finds_a_keyed_stamp_only_with_the_capability():
    new = square(square(square(np.zeros((12, 12), np.uint8), 0, 9), 4, 2), 9, 7)
    res = search(SQUARE_PAIRS, [new], max_candidates=20000)
    assert res.found[0].steps[-1][0] == "apply_stamp"
    assert res.found[0].steps[-1][1][1] == "sides"
    assert np.array_equal(res.found[0].test_preds[0], corners(new))
    without = search(SQUARE_PAIRS, [new], max_candidates=20000,
                     features=tuple(f for f in FEATURES if f != "stampkey"))
    assert all(not np.array_equal(f.test_preds[0], corners(new)) for f in without.found)


def _learn_stamp_by_offset(pairs, radius, key):
    """The per-offset loop ``learn_stamp`` was before it counted all offsets at once."""
    from arcsearch.dsl.stamp import _NKEYS, _OUTSIDE, _UNCHANGED, _offsets
    offs = _offsets(radius)
    nk = 10 if key == "colour" else _NKEYS
    seen = np.zeros((nk, len(offs), 11), dtype=np.int64)
    r = radius
    for x, y in pairs:
        h, w = x.shape
        bg = dsl.background(x)
        src = x.astype(np.int64) if key == "colour" else dsl.source_keys(x, key)
        px = np.pad(x, r, constant_values=_OUTSIDE)
        py = np.pad(y, r, constant_values=_OUTSIDE)
        for k, (dy, dx) in enumerate(offs):
            tx = px[r + dy : r + dy + h, r + dx : r + dx + w]
            ty = py[r + dy : r + dy + h, r + dx : r + dx + w]
            m = (x != bg) & (tx != _OUTSIDE)
            if dy or dx:
                m &= tx == bg
            code = np.where(ty == tx, _UNCHANGED, ty)[m].astype(np.int64)
            seen[:, k] += np.bincount(src[m] * 11 + code, minlength=nk * 11).reshape(nk, 11)
    entries = []
    for c in range(nk):
        for k in np.flatnonzero((seen[c] > 0).sum(axis=1) == 1).tolist():
            colour = int(np.flatnonzero(seen[c, k])[0])
            if colour != _UNCHANGED:
                entries.append((c, *offs[k], colour))
    return tuple(entries) if any(dy or dx for _, dy, dx, _ in entries) else None


def test_learn_stamp_counts_all_offsets_like_the_per_offset_loop():
    rng = np.random.default_rng(7)
    fitted = 0
    for _ in range(150):
        h, w = rng.integers(1, 8, 2)
        pairs = []
        for _ in range(2):
            x = dsl.as_grid(rng.choice([0, 0, 0, 1, 2, 3], (h, w)))
            y = x.copy()
            y[rng.random((h, w)) < 0.3] = rng.integers(0, 10)
            pairs.append((x, y))
        for key in STAMP_KEYS:
            for radius in (1, 2):
                want = _learn_stamp_by_offset(pairs, radius, key)
                assert dsl.learn_stamp(pairs, radius, key) == want
                fitted += want is not None
    assert fitted > 100
