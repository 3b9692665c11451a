"""Search, codegen, phase API and task-level tests on ARC-AGI-1 training tasks."""

import numpy as np
import pytest

import arcsearch
from arcsearch import codegen, dsl
from arcsearch.api import execute, generate, score, solve_task, validate

# (task id, steps) pairs: hand-written programs that solve the training task.
KNOWN = [
    ("00d62c1b", [("fill_enclosed", (4,))]),
    ("1cf80156", [("trim", ())]),
    ("1e0a9b12", [("gravity", ("down",))]),
    ("0dfd9992", [("continue_pattern", (None,))]),
    ("1b2d62fb", [("overlay_parts", ("sep", "or")), ("recolor", ({0: 8, 1: 0},))]),
    ("0d3d703e", [("recolor", ({1: 5, 2: 6, 3: 4, 4: 3, 5: 1, 6: 2, 8: 9, 9: 8},))]),
    ("1f85a75f", [("crop_object", ("largest", 4, False))]),
    ("6150a2bd", [("rot180", ())]),
]


@pytest.fixture(scope="module")
def tasks():
    return {t["id"]: t for t in arcsearch.load_tasks("training", ids_or_n=[k for k, _ in KNOWN])}


@pytest.mark.parametrize(("task_id", "steps"), KNOWN)
def test_known_programs_solve_tasks(tasks, task_id, steps):
    task = tasks[task_id]
    prog = {"steps": steps, "source": codegen.render(steps)}
    demo_out = execute(prog, [p["input"] for p in task["train"]])
    assert demo_out == [p["output"] for p in task["train"]]
    val = validate(task, {"programs": [prog]})
    assert score(task, val)["solved"]


def test_generated_source_reproduces_program():
    steps = (("rot90", ()), ("crop_object", ("largest", 4, False)), ("recolor", ({1: 2},)))
    src = codegen.render(steps)
    assert src.startswith("def solve(grid):") and "dsl.rot90(g)" in src
    g = dsl.as_grid([[1, 1, 0], [1, 0, 3], [0, 0, 0]])
    direct = g
    for name, params in steps:
        direct = getattr(dsl, name)(direct, *params)
    fn = codegen.compile_source(src)
    assert np.array_equal(fn(g.tolist()), direct)
    assert codegen.compile_source(src) is fn  # cached by source


def test_generate_programs_fit_demos(tasks):
    task = tasks["1cf80156"]
    gen = generate(task, budget_s=10, max_candidates=20_000)
    assert gen["programs"], "expected at least one program"
    for prog in gen["programs"]:
        assert execute(prog, [p["input"] for p in task["train"]]) == [
            p["output"] for p in task["train"]
        ]


def test_search_determinism(tasks):
    task = tasks["0dfd9992"]
    a = generate(task, budget_s=60, max_candidates=6_000)
    b = generate(task, budget_s=60, max_candidates=6_000)
    assert [p["source"] for p in a["programs"]] == [p["source"] for p in b["programs"]]
    assert a["candidates"] == b["candidates"]
    unsolved = arcsearch.load_tasks("training", ids_or_n=["007bbfb7", "017c7c7b"])
    for t in unsolved:
        x = generate(t, budget_s=60, max_candidates=3_000)
        y = generate(t, budget_s=60, max_candidates=3_000)
        assert [p["source"] for p in x["programs"]] == [p["source"] for p in y["programs"]]
        # the plain search, then two augmented ones with a quarter of the budget each
        assert x["candidates"] == y["candidates"] <= 3_000 * 3 // 2 + 3 * 256


def test_selection_ignores_test_outputs(tasks):
    task = dict(tasks["1cf80156"])
    blind = dict(task, test=[{"input": p["input"]} for p in task["test"]])
    assert generate(task, 10, 5_000)["programs"] == generate(blind, 10, 5_000)["programs"]


def test_solve_task_fields(tasks):
    r = solve_task(tasks["1e0a9b12"], budget_s=5, max_candidates=5_000)
    for k in ("attempts", "sources", "submission", "candidates", "elapsed_s", "timed_out"):
        assert k in r
    assert list(r["submission"]) == ["1e0a9b12"]
    assert set(r["submission"]["1e0a9b12"][0]) == {"attempt_1", "attempt_2"}
    assert score(tasks["1e0a9b12"], r)["solved"]


def test_smoke_20_tasks_report():
    from arcsearch.runner import run_split

    rep = run_split("training", "arc1", 20, workers=1, budget_s=2.0, max_candidates=4_000,
                    progress=False, cache=None)
    assert rep["n_tasks"] == 20
    assert rep["accuracy"] > 0
    for k in ("wall_s", "mean_task_s", "cand_per_s_per_core", "candidates", "solved",
              "per_task", "timed_out", "phases", "cache"):
        assert k in rep
    assert rep["cand_per_s_per_core"] > 0


def test_docs_list_every_without_name():
    """docs/arcsearch.md's capability table and CLI usage name exactly the code's features."""
    import re
    from pathlib import Path

    from arcsearch.search.enumerate import FEATURES

    doc = (Path(__file__).parents[2] / "docs" / "arcsearch.md").read_text()
    section = doc.split("| `--without` name |", 1)[1].split("\n\n", 1)[0]
    table = re.findall(r"^\s*\| `(\w+)` \|", section, flags=re.M)
    assert table == list(FEATURES)
    usage = re.search(r"\[--without ([\w,\s]+)\]", doc).group(1)
    assert [n.strip() for n in usage.split(",")] == list(FEATURES)
