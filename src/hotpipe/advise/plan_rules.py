"""Rules over the plan alone: advice that needs no run, for the code hotpipe writes.

The Daft script of ``pipe.to_daft()`` carries a header that says what to change; that text
is these findings, rendered as comments, so the script's header and ``hotpipe.advise`` speak
from one rule set. A plan rule has one method, ``check_plan(plan) -> findings``; its
findings predict no gain in seconds (nothing ran): ``assumption`` says what the change buys.
Register a new one with :func:`register_plan_rule`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hotpipe.advise._finding import Finding

if TYPE_CHECKING:
    from hotpipe.plan import Plan, Step

__all__ = ["PLAN_RULES", "PlanRule", "plan_findings", "register_plan_rule"]


class PlanRule(Protocol):
    id: str

    def check_plan(self, plan: Plan) -> Iterable[Finding]: ...


PLAN_RULES: dict[str, PlanRule] = {}


def register_plan_rule(rule: PlanRule) -> PlanRule:
    """Add ``rule`` to the plan rules (by its ``id``; a later one with the same id replaces
    it)."""
    PLAN_RULES[rule.id] = rule
    return rule


def plan_findings(plan: Plan | Any, over: str | Sequence[str] = (),
                  rules: list[str] | None = None) -> list[Finding]:
    """The findings of every plan rule (or of the ids in ``rules``), in plan order, on a
    plan or on a pipeline mapped ``over`` the inputs named there (every input given)."""
    if not hasattr(plan, "steps"):  # a Pipeline: its plan for a map over ``over``
        names = (over,) if isinstance(over, str) else tuple(over)
        plan = plan._plan(frozenset(plan.inputs), None, frozenset(names))
    chosen = [PLAN_RULES[r] for r in rules] if rules is not None else list(PLAN_RULES.values())
    return [f for rule in chosen for f in rule.check_plan(plan)]


def _row_steps(plan: Plan) -> list[Step]:
    """The per-item steps a Daft UDF runs: mapped and not nested maps themselves."""
    return [s for s in plan.steps if s.mapped and s.nested is None]


class ArrowTypesRule:
    """A per-item step without an Arrow return annotation makes Daft hold its column as
    Python objects (``DataType.python()``): one Python object per row that Daft cannot
    store, sort or send compactly. Annotating ``int``, ``float``, ``str``, ``bool`` or
    ``bytes`` (``list[...]`` of one for a batch node) gives a typed column."""

    id = "arrow-types"

    def check_plan(self, plan: Plan) -> Iterator[Finding]:
        from hotpipe.engines._daft_code import _dtype

        for step in _row_steps(plan):
            if _dtype(step) is not None:
                continue
            func = step.node.func
            ann = inspect.signature(func).return_annotation
            shown = "none" if ann is inspect.Signature.empty else _name(ann)
            want = "list[T]" if step.node.is_batch else "T"
            params = ", ".join(step.params)
            yield Finding(
                self.id, "info", step.name,
                f"{step.name} returns Python objects in Daft (return annotation: {shown})",
                {"annotation": shown},
                f"def {func.__name__}({params}) -> {want}:  # T: the type it returns, "
                "one of int, float, str, bool, bytes",
                None, None,
                "it returns one of those types: Daft then keeps a typed Arrow column, not "
                "one Python object per row",
            )


def _name(ann: Any) -> str:
    return ann if isinstance(ann, str) else getattr(ann, "__name__", None) or repr(ann)


register_plan_rule(ArrowTypesRule())
