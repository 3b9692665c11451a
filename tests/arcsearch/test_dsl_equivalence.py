"""The faster DSL and search give exactly the outputs of the frozen reference (``ref_dsl``,
``ref_search``: the code before the speed work), on grids of ARC-AGI-1 training tasks and
on random grids, and the search finds the same programs with the same candidate counts."""

import numpy as np
import pytest
import ref_dsl
import ref_search
from ref_dsl import lines as ref_lines

import arcsearch
from arcsearch import dsl
from arcsearch.dsl import connectivity, grid, lines
from arcsearch.search import search
from arcsearch.search.ops import TaskContext, build_ops

# primitives rewritten for speed (all ops of these names that build_ops creates are compared)
CHANGED = (
    "crop_object", "extract_object", "keep_object", "remove_object", "remove_small",
    "label_objects", "count_objects_grid", "rays", "connect", "outline_objects",
    "fill_enclosed", "fill_bbox_holes", "symmetry_complete", "continue_pattern",
    "overlay_parts", "stack_parts", "pick_part", "gravity", "downscale_any",
)


@pytest.fixture(scope="module")
def training_grids():
    """(task id, grids, ops) for the first 100 training tasks: the demo inputs, then the
    outputs and trimmed inputs (other shapes and crops) for the cheaper comparisons."""
    out = []
    for task in arcsearch.load_tasks("training", ids_or_n=100):
        pairs = [(dsl.as_grid(p["input"]), dsl.as_grid(p["output"])) for p in task["train"]]
        grids = [x for x, _ in pairs] + [y for _, y in pairs]
        grids += [t for t in (dsl.trim(x) for x, _ in pairs) if t is not None]
        ops = [op for op in build_ops(TaskContext.from_pairs(pairs, [])) if op.name in CHANGED]
        out.append((task["id"], grids, ops, len(pairs)))
    return out


def same_grid(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def fresh(g):
    return np.array(g)  # a writable copy: the new memo makes the grids it sees read-only


def test_changed_primitives_match_reference_on_training_grids(training_grids):
    n = 0
    for task_id, grids, ops, n_inputs in training_grids:
        for g in grids[:n_inputs]:
            for op in ops:
                new = getattr(dsl, op.name)(fresh(g), *op.params)
                old = getattr(ref_dsl, op.name)(fresh(g), *op.params)
                assert same_grid(new, old), (task_id, op.name, op.params, g.tolist())
                n += 1
    assert n > 10_000


def obj_fields(o):
    return (o.colour, o.size, o.r0, o.r1, o.c0, o.c1, o.ncolours, o.mask.tobytes(),
            o.mask.shape, o.patch.tobytes(), o.patch.dtype)


def test_components_and_analyses_match_reference(training_grids):
    for _, grids, _, _ in training_grids:
        for g in grids:
            for conn, multi in ((4, False), (8, False), (4, True), (8, True)):
                new = dsl.components(fresh(g), conn, multi)
                old = ref_dsl.components(fresh(g), conn, multi)
                assert [obj_fields(o) for o in new] == [obj_fields(o) for o in old]
                for how in ref_dsl.objects.SELECTORS:
                    a = dsl.select_object(fresh(g), how, conn, multi)
                    b = ref_dsl.select_object(fresh(g), how, conn, multi)
                    assert (a is None and b is None) or obj_fields(a) == obj_fields(b)
            assert dsl.separator_lines(fresh(g)) == ref_dsl.separator_lines(fresh(g))
            assert np.array_equal(dsl.enclosed_mask(g, 0), ref_dsl.enclosed_mask(g, 0))
            for how in ("sep", "h2", "v2", "h3", "v3"):
                a, b = dsl.split_grid(fresh(g), how), ref_dsl.split_grid(fresh(g), how)
                assert (a is None and b is None) or all(map(same_grid, a, b))


def random_grids(n_colours, seed=0, sizes=(1, 2, 3, 5, 8, 13, 30)):
    rng = np.random.default_rng(seed)
    for h in sizes:
        for w in sizes:
            g = rng.integers(0, n_colours, size=(h, w)).astype(np.uint8)
            if h * w > 4:  # mostly background, like ARC grids
                g[rng.random((h, w)) < 0.5] = 0
            yield g


@pytest.mark.parametrize("n_colours", [2, 3, 10])
def test_random_grids_match_reference(n_colours):
    for g in random_grids(n_colours, seed=n_colours):
        for conn, multi in ((4, False), (8, False), (8, True)):
            new = dsl.components(fresh(g), conn, multi)
            old = ref_dsl.components(fresh(g), conn, multi)
            assert [obj_fields(o) for o in new] == [obj_fields(o) for o in old]
        for c in range(n_colours):
            for dirs in lines.RAY_DIRS:
                for stop in (False, True):
                    assert same_grid(dsl.rays(fresh(g), c, dirs, stop),
                                     ref_dsl.rays(fresh(g), c, dirs, stop)), (c, dirs, stop)
            for diag in (False, True):
                assert same_grid(dsl.connect(fresh(g), c, diag),
                                 ref_dsl.connect(fresh(g), c, diag))
            assert same_grid(dsl.outline_objects(fresh(g), c),
                             ref_dsl.outline_objects(fresh(g), c))
            assert np.array_equal(dsl.enclosed_mask(g, c), ref_dsl.enclosed_mask(g, c))
        for diag in (False, True):
            assert same_grid(dsl.connect(fresh(g), None, diag),
                             ref_dsl.connect(fresh(g), None, diag))
        for d in ("down", "up", "left", "right"):
            assert same_grid(dsl.gravity(fresh(g), d), ref_dsl.gravity(fresh(g), d))
        for c in (1, 5):
            assert same_grid(dsl.fill_bbox_holes(fresh(g), c),
                             ref_dsl.fill_bbox_holes(fresh(g), c))
        for ky, kx in ((1, 2), (2, 1), (2, 2), (3, 3), (1, 5)):
            assert same_grid(dsl.downscale_any(fresh(g), ky, kx),
                             ref_dsl.downscale_any(fresh(g), ky, kx))
        for prop in ref_dsl.objects.PROPERTIES:
            assert same_grid(dsl.label_objects(fresh(g), prop, 4),
                             ref_dsl.label_objects(fresh(g), prop, 4))


def test_ray_masks_match_the_step_by_step_rays():
    rng = np.random.default_rng(1)
    for h, w in ((1, 1), (1, 7), (6, 1), (5, 9), (12, 4), (30, 30)):
        src = rng.random((h, w)) < 0.1
        block = rng.random((h, w)) < 0.2
        for dy, dx in lines.RAY_DIRS["star"]:
            expect = ref_lines._ray_mask(src, np.zeros_like(src), dy, dx)
            assert np.array_equal(lines._dir_mask(src, None, dy, dx), expect)
            if not (dy and dx):
                expect = ref_lines._ray_mask(src, block, dy, dx)
                assert np.array_equal(lines._dir_mask(src, block, dy, dx), expect)


def holed(g, rng, frac, colour=0):
    g = g.copy()
    g[rng.random(g.shape) < frac] = colour
    return g


def test_pattern_and_symmetry_completion_match_reference():
    rng = np.random.default_rng(2)
    for _ in range(60):
        py, px = rng.integers(1, 5, size=2)
        tile = rng.integers(1, 10, size=(py, px)).astype(np.uint8)
        h, w = rng.integers(2, 16, size=2)
        full = np.tile(tile, (h // py + 1, w // px + 1))[:h, :w].copy()
        for g, mask in ((holed(full, rng, 0.2), None), (holed(full, rng, 0.3, 7), 7)):
            assert same_grid(dsl.continue_pattern(fresh(g), mask),
                             ref_dsl.continue_pattern(fresh(g), mask))
        half = rng.integers(0, 4, size=(h, w)).astype(np.uint8)
        sym = np.hstack([half, half[:, ::-1]])
        sym = np.vstack([sym, sym[::-1]])
        for g in (holed(sym, rng, 0.15), holed(sym[:, 1:], rng, 0.1), sym):
            for kind in ("lr", "ud", "both", "diag", "all"):
                for mask in (None, 0):
                    assert same_grid(dsl.symmetry_complete(fresh(g), kind, mask),
                                     ref_dsl.symmetry_complete(fresh(g), kind, mask))


def test_memo_interns_grids_by_content_and_freezes_them():
    dsl.clear_memo()
    a = dsl.as_grid([[1, 2], [3, 4]])
    b = a.copy()
    assert grid.grid_id(a) == grid.grid_id(b)  # equal content, one id
    assert grid.grid_id(dsl.as_grid([[1, 2, 3, 4]])) != grid.grid_id(a)  # shape counts
    assert not a.flags.writeable  # a write would leave stale memo entries: it raises
    with pytest.raises(ValueError):
        a[0, 0] = 5
    dsl.clear_memo()
    assert dsl.background(dsl.as_grid([[3, 3], [3, 1]])) == 3


def test_labelling_roots_are_first_cells():
    g = dsl.as_grid([[1, 1, 0, 2], [0, 1, 0, 2], [3, 0, 0, 2]])
    lab = connectivity.label_cells(g, g != 0, 4, False).reshape(g.shape)
    assert lab[0, 0] == lab[0, 1] == lab[1, 1] == 0
    assert lab[0, 3] == lab[1, 3] == lab[2, 3] == 3
    assert lab[2, 0] == 8


# (task id, max_candidates, max_depth): small budgets; max_depth 2 makes depth 2 the last
# depth, where evaluation stops at the first demo grid of the wrong shape
SEARCHES = [("007bbfb7", 3000, 3), ("0520fde7", 4000, 2), ("1cf80156", 2000, 2),
            ("3bd67248", 3000, 2), ("25ff71a9", 6000, 3), ("0a938d79", 3000, 2)]


@pytest.mark.parametrize(("task_id", "max_candidates", "max_depth"), SEARCHES)
def test_search_finds_the_same_programs_as_the_reference(task_id, max_candidates, max_depth):
    task = arcsearch.load_tasks("training", ids_or_n=[task_id])[0]

    def run(fn, mod, **features):
        pairs = [(mod.as_grid(p["input"]), mod.as_grid(p["output"])) for p in task["train"]]
        tests = [mod.as_grid(p["input"]) for p in task["test"]]
        res = fn(pairs, tests, budget_s=1e9, max_candidates=max_candidates,
                 max_depth=max_depth, **features)
        found = [(f.cost, f.order, repr(f.steps), [t.tobytes() for t in f.test_preds])
                 for f in res.found]
        return res.candidates, res.values, res.depth, found

    # with every new capability switched off the search is the frozen reference
    assert run(search, dsl, features=()) == run(ref_search.search, ref_dsl)
