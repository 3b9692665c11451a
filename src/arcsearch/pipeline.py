"""arcsearch as hotpipe pipelines: load, then per task generate -> execute -> validate -> score.

``load`` reads a split once (phase "load"). ``solve`` is the per-task pipeline, mapped over
the tasks: its nodes carry the phases the profile breaks the time into ("generate",
"execute", "validate", "score"), so a run reports where the time went the way the seeds'
diaries did by hand. Every node takes and returns plain data, so the map runs on
``hotpipe.Processes`` and is cached per task: an unchanged rerun loads the results.
"""

from __future__ import annotations

from hotpipe import Pipeline, node

from . import api, dsl, search
from .scoring import to_submission
from .search import FEATURES

# the search looks DSL primitives up by name (getattr), which a fingerprint cannot follow:
# declared, so that an edit anywhere in the DSL or the search recomputes the cached results
CODE = [dsl, search]


@node(output="tasks", phase="load")
def load(split: str = "training", dataset: str = "arc1", ids_or_n: int | str | None = None,
         held_out: bool = False) -> list[dict]:
    ids = ids_or_n.split(",") if isinstance(ids_or_n, str) else ids_or_n
    return api.load_tasks(split, dataset, ids, held_out)


@node(output="generated", phase="generate", depends_on=CODE)
def generate(task: dict, budget_s: float = api.DEFAULT_BUDGET_S,
             max_candidates: int = api.DEFAULT_MAX_CANDIDATES,
             features: tuple = FEATURES) -> dict:
    return api.generate(task, budget_s=budget_s, max_candidates=max_candidates,
                        features=features)


@node(output="executed", phase="execute", depends_on=CODE)
def execute(task: dict, generated: dict) -> dict:
    return api.execute_all(task, generated)


@node(output="validated", phase="validate", depends_on=CODE)
def validate(task: dict, generated: dict, executed: dict) -> dict:
    return api.select(task, generated, executed)


@node(output="submission", phase="validate")
def submission(task: dict, validated: dict) -> dict:
    return to_submission(task["id"], validated["attempts"], len(task["test"]))


@node(output="scored", phase="score", depends_on=CODE)
def score(task: dict, validated: dict) -> dict:
    return api.score(task, validated)


loader = Pipeline([load], name="arcsearch-load")
solve = Pipeline([generate, execute, validate, submission, score], name="arcsearch")


def build_pipeline() -> Pipeline:
    """The per-task pipeline (inputs: ``task``, ``budget_s``, ``max_candidates``,
    ``features``)."""
    return solve


def run_tasks(tasks: list[dict], budget_s: float = api.DEFAULT_BUDGET_S,
              max_candidates: int = api.DEFAULT_MAX_CANDIDATES, features: tuple = FEATURES,
              **map_options) -> dict:
    """Map :data:`solve` over ``tasks``; returns the hotpipe Result (lists per output)."""
    return solve.map({"task": tasks, "budget_s": budget_s, "max_candidates": max_candidates,
                      "features": tuple(features)}, over="task", **map_options)
