"""Plain-Python phase API: load -> generate -> execute -> validate -> score.

Every function takes and returns plain picklable data (dicts, lists, ints, strings,
nested-list grids), so a pipeline can map them over tasks in worker processes and cache
results per task.
"""

from __future__ import annotations

import time

import numpy as np

from . import dsl
from .codegen import compile_source, render
from .data import load_tasks
from .scoring import score_task, to_submission
from .search import FEATURES, search

# The candidate budget is what a run is measured by (the same result on every machine);
# the wall-clock budget is a generous safety net only (a task that hits it is flagged).
DEFAULT_BUDGET_S = 60.0
DEFAULT_MAX_CANDIDATES = 80_000
MAX_PROGRAMS = 8

__all__ = [
    "execute",
    "execute_all",
    "generate",
    "load_tasks",
    "score",
    "select",
    "solve_task",
    "validate",
]


def _pairs(task: dict):
    return [(dsl.as_grid(p["input"]), dsl.as_grid(p["output"])) for p in task["train"]]


def _test_inputs(task: dict):
    return [dsl.as_grid(p["input"]) for p in task["test"]]


def _tolist(g):
    return None if g is None else np.asarray(g).tolist()


def generate(task: dict, budget_s: float = DEFAULT_BUDGET_S,
             max_candidates: int = DEFAULT_MAX_CANDIDATES, max_depth: int = 3,
             features=FEATURES) -> dict:
    """Search programs consistent with the demo pairs (test outputs are never read).

    Returns {"task_id", "programs": [{"steps", "source", "cost", "order"}...] ranked best
    first, "candidates", "values", "elapsed_s", "timed_out", "exhausted_budget", "depth"}.
    """
    res = search(_pairs(task), _test_inputs(task), budget_s=budget_s,
                 max_candidates=max_candidates, max_depth=max_depth, features=features)
    programs = []
    seen_preds = set()
    for f in res.found:
        key = tuple(g.tobytes() + bytes(g.shape) for g in f.test_preds)
        if key in seen_preds:
            continue
        seen_preds.add(key)
        steps = [[name, list(params)] for name, params in f.steps]
        programs.append({"steps": steps, "source": render(f.steps), "cost": f.cost,
                         "order": f.order})
        if len(programs) >= MAX_PROGRAMS:
            break
    return {"task_id": task["id"], "programs": programs, "candidates": res.candidates,
            "values": res.values, "elapsed_s": res.elapsed_s, "timed_out": res.timed_out,
            "exhausted_budget": res.exhausted_budget, "depth": res.depth}


def execute(program: dict, grids: list) -> list:
    """Run a program's compiled source on each grid; returns nested lists (None on failure)."""
    fn = compile_source(program["source"])
    out = []
    for g in grids:
        try:
            out.append(_tolist(fn(g)))
        except Exception:  # a program failing on a new input is a failed prediction
            out.append(None)
    return out


def execute_all(task: dict, generated: dict) -> dict:
    """Run every generated program (its compiled source) on the demo and the test inputs.

    Returns {"task_id", "demo": [[grid|None per demo input] per program],
    "test": [[grid|None per test input] per program]}.
    """
    demo_in = [p["input"] for p in task["train"]]
    test_in = [p["input"] for p in task["test"]]
    programs = generated["programs"]
    return {
        "task_id": task["id"],
        "demo": [execute(prog, demo_in) for prog in programs],
        "test": [execute(prog, test_in) for prog in programs],
    }


def select(task: dict, generated: dict, executed: dict, attempts: int = 2) -> dict:
    """Keep the programs whose outputs reproduce every demo output; pick ``attempts``
    distinct predictions per test input, best ranked first (test outputs are never read).

    Returns {"task_id", "attempts": [[grid, ...] per test input], "sources": [str...],
    "n_valid": int}.
    """
    demo_out = [p["output"] for p in task["train"]]
    n_test = len(task["test"])
    chosen, sources, keys = [], [], set()
    n_valid = 0
    for prog, demo, preds in zip(generated["programs"], executed["demo"], executed["test"],
                                 strict=True):
        if demo != demo_out:
            continue
        n_valid += 1
        if any(p is None for p in preds):
            continue
        key = repr(preds)
        if key in keys:
            continue
        keys.add(key)
        if len(chosen) < attempts:
            chosen.append(preds)
            sources.append(prog["source"])
    per_test = [[c[i] for c in chosen] for i in range(n_test)]
    return {"task_id": task["id"], "attempts": per_test, "sources": sources, "n_valid": n_valid}


def validate(task: dict, generated: dict, attempts: int = 2) -> dict:
    """:func:`execute_all` then :func:`select`: re-run the programs through their generated
    source and keep the ones that reproduce every demo pair."""
    return select(task, generated, execute_all(task, generated), attempts)


def score(task: dict, validated: dict) -> dict:
    """Official rule on one task (uses the test outputs, scoring only)."""
    expected = [p.get("output") for p in task["test"]]
    ok = all(e is not None for e in expected) and score_task(validated["attempts"], expected)
    return {"task_id": task["id"], "solved": bool(ok)}


def solve_task(task: dict, budget_s: float = DEFAULT_BUDGET_S,
               max_candidates: int = DEFAULT_MAX_CANDIDATES, features=FEATURES) -> dict:
    """generate + validate for one task (no scoring).

    Returns {"task_id", "attempts", "sources", "submission", "candidates", "elapsed_s",
    "timed_out", "n_programs", "n_valid", "cand_per_s"}.
    """
    t0 = time.perf_counter()
    gen = generate(task, budget_s=budget_s, max_candidates=max_candidates, features=features)
    val = validate(task, gen)
    elapsed = time.perf_counter() - t0
    return {
        "task_id": task["id"],
        "attempts": val["attempts"],
        "sources": val["sources"],
        "submission": to_submission(task["id"], val["attempts"], len(task["test"])),
        "candidates": gen["candidates"],
        "search_s": gen["elapsed_s"],
        "elapsed_s": elapsed,
        "timed_out": gen["timed_out"],
        "exhausted_budget": gen["exhausted_budget"],
        "depth": gen["depth"],
        "n_programs": len(gen["programs"]),
        "n_valid": val["n_valid"],
        "cand_per_s": gen["candidates"] / gen["elapsed_s"] if gen["elapsed_s"] > 0 else 0.0,
    }
