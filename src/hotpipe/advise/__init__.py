"""The advisor: what to change in a pipeline, read off its profile, with the expected gain.

``result.advise()`` runs every registered rule over (plan, profile) and returns
:class:`Finding` objects, largest expected gain first. docs/advisor.md lists the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hotpipe.advise._context import Context
from hotpipe.advise._finding import Finding
from hotpipe.advise.plan_rules import PLAN_RULES, PlanRule, plan_findings, register_plan_rule
from hotpipe.advise.rules import RULES, Rule, register

if TYPE_CHECKING:
    from hotpipe.profile import Profile

MIN_GAIN_S = 0.01
MIN_GAIN_PCT = 2.0
"""A finding whose predicted gain is under 10 ms or 2 % of the run is dropped: one-time
costs (the first map of a plan prepares its runners) and noise are not worth a change."""

__all__ = ["MIN_GAIN_PCT", "MIN_GAIN_S", "PLAN_RULES", "RULES", "Finding", "Findings",
           "PlanRule", "Rule", "advise", "plan_findings", "print_findings", "register",
           "register_plan_rule"]


class Findings(list[Finding]):
    """A list of findings that prints as a report (plain text or ``rich``)."""

    def __str__(self) -> str:
        if not self:
            return "no findings: nothing to change that this run's numbers support"
        return "\n\n".join(str(f) for f in self)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if not self:
            yield "no findings: nothing to change that this run's numbers support"
        for f in self:
            yield f
            yield ""


def advise(profile: Profile, values: Mapping[str, Any] | None = None, measure: bool = False,
           batches: Mapping[str, Callable[..., Any]] | None = None,
           rules: list[str] | None = None) -> Findings:
    """Findings for ``profile``; ``values`` (outputs and inputs by name) let the rules that
    count or time the real data run; ``measure`` allows quick experiments (the batch rule);
    ``rules`` picks rule ids (default: all registered)."""
    ctx = Context(profile._plan, profile, values or {}, measure, batches or {})
    chosen = [RULES[r] for r in rules] if rules is not None else list(RULES.values())
    found = [f for rule in chosen for f in rule.check(ctx) if _worth(f)]
    found.sort(key=lambda f: (f.gain_s is None, -(f.gain_s or 0.0)))
    return Findings(found)


def _worth(f: Finding) -> bool:
    return f.gain_s is None or (f.gain_s >= MIN_GAIN_S and (f.gain_pct or 0) >= MIN_GAIN_PCT)


def print_findings(profile: Profile | None, console: Any = None) -> Findings:
    """Print the findings of ``profile`` under a heading (a hook for applications' own
    reports, e.g. arcsearch's CLI); returns them. Does nothing for ``None``."""
    if profile is None:
        return Findings()
    found = advise(profile)
    if console is None:
        from rich.console import Console

        console = Console()
    console.print("[bold]advice[/bold] (hotpipe advise, docs/advisor.md)")
    console.print(found)
    return found
