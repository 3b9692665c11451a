"""arcsearch: ARC-AGI program search over a hand-written grid DSL.

Phases (plain picklable data in and out): ``load_tasks`` -> ``generate`` -> ``execute`` ->
``validate`` -> ``score``; ``solve_task`` runs generate + validate for one task.
"""

from .api import execute, generate, score, solve_task, validate
from .data import load_tasks
from .scoring import score_task, score_tasks, to_submission

__all__ = ["execute", "generate", "load_tasks", "score", "score_task", "score_tasks",
           "solve_task", "to_submission", "validate"]
