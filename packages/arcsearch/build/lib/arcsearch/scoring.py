"""Official ARC scoring rule and the ARC Prize submission format.

A task counts as solved when, for every test input, one of (at most two) attempts equals
the expected output grid exactly (same shape, same cells).
"""

from __future__ import annotations

import json
from pathlib import Path


def _grid(g):
    return None if g is None else [list(map(int, row)) for row in g]


def grids_equal(a, b) -> bool:
    return a is not None and b is not None and _grid(a) == _grid(b)


def score_task(attempts: list[list], expected: list) -> bool:
    """``attempts[i]`` is the list of (<= 2) attempts for test input i."""
    if len(attempts) != len(expected) or not expected:
        return False
    return all(
        any(grids_equal(a, e) for a in att[:2]) for att, e in zip(attempts, expected, strict=True)
    )


def score_tasks(predictions: dict, tasks: list[dict]) -> dict:
    """Score submission-format predictions against tasks with test outputs."""
    solved = []
    for t in tasks:
        preds = predictions.get(t["id"], [])
        attempts = [[p.get("attempt_1"), p.get("attempt_2")] for p in preds]
        if score_task(attempts, [x["output"] for x in t["test"]]):
            solved.append(t["id"])
    n = len(tasks)
    return {"n_tasks": n, "n_solved": len(solved), "accuracy": len(solved) / n if n else 0.0,
            "solved": solved}


def to_submission(task_id: str, attempts: list[list], n_test: int) -> dict:
    """One task's entry: a list (one per test input) of {"attempt_1", "attempt_2"}."""
    out = []
    for i in range(n_test):
        att = attempts[i] if i < len(attempts) else []
        a1 = _grid(att[0]) if len(att) > 0 and att[0] is not None else [[0]]
        a2 = _grid(att[1]) if len(att) > 1 and att[1] is not None else a1
        out.append({"attempt_1": a1, "attempt_2": a2})
    return {task_id: out}


def write_predictions(predictions: dict, path) -> None:
    Path(path).write_text(json.dumps(predictions, separators=(",", ":")))
