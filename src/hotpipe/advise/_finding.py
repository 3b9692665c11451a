"""A finding: what to change, the numbers that say so, and what it should gain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hotpipe.profile.format import fmt_s

__all__ = ["SEVERITIES", "Finding", "severity_of"]

SEVERITIES = ("high", "medium", "low", "info")


def severity_of(percent: float | None) -> str:
    """``high`` from 25 % of the run, ``medium`` from 5 %, ``low`` below, ``info`` unknown."""
    if percent is None:
        return "info"
    return "high" if percent >= 25 else "medium" if percent >= 5 else "low"


@dataclass(frozen=True)
class Finding:
    """One piece of advice read off a profile.

    ``evidence`` holds the measured numbers the rule used (seconds, counts, shares), ``change``
    a code snippet in the pipeline's own names, ``gain_s``/``gain_pct`` the expected saving in
    seconds and percent of this run (None when this run cannot predict it: ``assumption``
    says what would), ``assumption`` what the prediction rests on.
    """

    rule: str
    severity: str
    node: str | None
    title: str
    evidence: dict[str, Any]
    change: str
    gain_s: float | None
    gain_pct: float | None
    assumption: str
    measured: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def gain_text(self) -> str:
        if self.gain_s is None:
            return "gain not predicted"
        pct = f" ({self.gain_pct:.0f} % of this run)" if self.gain_pct is not None else ""
        return f"~{fmt_s(self.gain_s)} faster{pct}"

    def __str__(self) -> str:
        ev = ", ".join(f"{k}={_short(v)}" for k, v in self.evidence.items())
        change = "\n".join("      " + line for line in self.change.splitlines())
        return (f"[{self.severity}] {self.rule}: {self.title}\n    evidence: {ev}\n"
                f"    change:\n{change}\n    expected: {self.gain_text}; assumes "
                f"{self.assumption}")

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.syntax import Syntax
        from rich.text import Text

        colour = {"high": "red", "medium": "yellow", "low": "cyan"}.get(self.severity, "dim")
        yield Text.assemble((f"[{self.severity}] ", f"bold {colour}"), (self.rule, "bold"),
                            f": {self.title}")
        ev = ", ".join(f"{k}={_short(v)}" for k, v in self.evidence.items())
        yield Text(f"  evidence: {ev}", style="dim")
        yield Syntax(self.change, "python", theme="ansi_dark", background_color="default")
        yield Text(f"  expected: {self.gain_text}; assumes {self.assumption}")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
