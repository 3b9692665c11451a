"""hotpipe wiring of the arcsearch phases (generate -> validate -> score per task).

``build_pipeline()`` returns a :class:`hotpipe.Pipeline` whose inputs are ``task``,
``budget_s`` and ``max_candidates``; map it over tasks with
``pipe.map({"task": tasks, "budget_s": 4.5, "max_candidates": 80_000}, over="task")``.
"""

from __future__ import annotations

from hotpipe import Pipeline, node

from . import api


@node(output="generated", phase="generate")
def generate_node(task: dict, budget_s: float = api.DEFAULT_BUDGET_S,
                  max_candidates: int = api.DEFAULT_MAX_CANDIDATES) -> dict:
    return api.generate(task, budget_s=budget_s, max_candidates=max_candidates)


@node(output="validated", phase="validate")
def validate_node(task: dict, generated: dict) -> dict:
    return api.validate(task, generated)


@node(output="scored", phase="score")
def score_node(task: dict, validated: dict) -> dict:
    return api.score(task, validated)


def build_pipeline() -> Pipeline:
    return Pipeline([generate_node, validate_node, score_node], name="arcsearch")


def run_tasks(tasks: list[dict], budget_s: float = api.DEFAULT_BUDGET_S,
              max_candidates: int = api.DEFAULT_MAX_CANDIDATES) -> dict:
    """Map the pipeline over tasks (in-process hotpipe engine); returns lists per output."""
    pipe = build_pipeline()
    res = pipe.map({"task": tasks, "budget_s": budget_s, "max_candidates": max_candidates},
                   over="task")
    return {k: list(res[k]) for k in ("generated", "validated", "scored")}
