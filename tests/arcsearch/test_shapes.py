"""Output-shape rules (``search/shapes.py``) and the shape pruning built on them."""

import numpy as np
import pytest

import arcsearch
from arcsearch import dsl
from arcsearch.search import FEATURES, search
from arcsearch.search.ops import TaskContext, build_ops
from arcsearch.search.shapes import LE, shape_rule


def _check_rules(ops, grids):
    n = 0
    for op in ops:
        rule = shape_rule(op.name, op.params)
        if rule is None:
            continue
        for g in grids:
            out = op(g)
            if out is None:
                continue
            h, w = g.shape
            if rule is LE:
                assert out.shape[0] <= h and out.shape[1] <= w, (op, g.shape, out.shape)
            else:
                assert out.shape == rule(h, w), (op, g.shape, out.shape)
            n += 1
    return n


def test_rules_match_the_ops_on_training_grids():
    n = 0
    for task in arcsearch.load_tasks("training", ids_or_n=40):
        pairs = [(dsl.as_grid(p["input"]), dsl.as_grid(p["output"])) for p in task["train"]]
        ops = build_ops(TaskContext.from_pairs(pairs, []), FEATURES)
        n += _check_rules(ops, [x for x, _ in pairs] + [y for _, y in pairs])
        dsl.clear_memo()
    assert n > 5_000


def test_rules_on_hand_made_grids():
    g = dsl.as_grid([[1, 0, 0, 2], [0, 3, 0, 0], [0, 0, 0, 4]])  # 3 x 4
    assert shape_rule("rot90", ())(3, 4) == (4, 3) == dsl.rot90(g).shape
    assert shape_rule("upscale", (2, 3))(3, 4) == (6, 12) == dsl.upscale(g, 2, 3).shape
    assert shape_rule("downscale", (2, 2))(3, 4) == (-1, -1) and dsl.downscale(g, 2, 2) is None
    assert shape_rule("half", ("left",))(3, 4) == (3, 2) == dsl.half(g, "left").shape
    assert shape_rule("mirror_tile", ("quad",))(3, 4) == (6, 8)
    assert shape_rule("trim", ()) is LE
    assert shape_rule("colour_histogram", ()) is None


def _found(task_id, features):
    task = arcsearch.load_tasks("training", ids_or_n=[task_id])[0]
    pairs = [(dsl.as_grid(p["input"]), dsl.as_grid(p["output"])) for p in task["train"]]
    tests = [dsl.as_grid(p["input"]) for p in task["test"]]
    res = search(pairs, tests, budget_s=1e9, max_candidates=10**7, max_depth=2,
                 features=features)
    return res, sorted(repr(f.steps) for f in res.found)


@pytest.mark.parametrize("task_id", ["1cf80156", "6150a2bd"])
def test_pruning_keeps_every_program_and_costs_fewer_candidates(task_id):
    plain, progs = _found(task_id, ())
    pruned, progs_pruned = _found(task_id, ("shape",))
    assert progs_pruned == progs
    assert pruned.candidates <= plain.candidates


def test_pruned_calls_would_not_match():
    # crop-only task: 3 x 3 out of 5 x 5; at the last depth a same-shape op cannot match
    x = np.zeros((5, 5), dtype=np.uint8)
    x[1:4, 1:4] = 2
    y = np.full((3, 3), 2, dtype=np.uint8)
    res = search([(x, y)], [x.copy()], budget_s=1e9, max_candidates=10**6, max_depth=1,
                 features=("shape",))
    assert res.found and res.found[0].steps[0][0] in ("trim", "remove_border")
    names = {op.name for op in build_ops(TaskContext.from_pairs([(x, y)], [x]))}
    assert res.candidates < len(names) * 3  # most ops were pruned, not run
