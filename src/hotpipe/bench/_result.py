"""``BenchResult``: every sample, the machine's state, the verdicts, and how to report them.

The samples are the data; summaries, verdicts and instability flags are recomputed from them
(the bootstrap is seeded), so a result read back from JSON reports exactly what it did when
it was written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotpipe.bench._run import CaseResult
from hotpipe.bench._stats import Summary, Verdict, summarise, verdict
from hotpipe.errors import BenchError

__all__ = ["SCHEMA", "BenchResult", "Comparison", "format_seconds"]

SCHEMA = "hotpipe.bench/1"


def format_seconds(s: float) -> str:
    """``'812 ns'``, ``'3.05 us'``, ``'41.2 ms'``, ``'1.27 s'`` (3 significant digits).

    >>> format_seconds(0.0000305), format_seconds(1.27)
    ('30.5 us', '1.27 s')
    """
    if s < 1e-6:
        return f"{s * 1e9:.3g} ns"
    if s < 1e-3:
        return f"{s * 1e6:.3g} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


@dataclass(frozen=True)
class Comparison:
    """``case`` against ``baseline``; ``verdict.ratio`` > 1 means ``case`` is faster.

    ``verdict`` is on wall time; ``cpu_verdict`` on this process's CPU time, which other work
    on a loaded machine disturbs less (but which misses the CPU of worker processes)."""

    baseline: str
    case: str
    verdict: Verdict
    cpu_verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        def one(v: Verdict) -> dict[str, Any]:
            return {"speedup": v.ratio, "ci95": [v.ci_low, v.ci_high], "p_value": v.p_value,
                    "significant": v.significant, "label": v.label}

        return {"baseline": self.baseline, "case": self.case, **one(self.verdict),
                "cpu": one(self.cpu_verdict)}


@dataclass
class BenchResult:
    """What :func:`~hotpipe.bench.compare` measured. ``print()`` it, or write
    :meth:`to_json` / :meth:`to_markdown`; :func:`~hotpipe.bench.load` reads the JSON back."""

    cases: dict[str, CaseResult]
    baseline: str
    env: dict[str, Any]
    config: dict[str, Any]
    load_after: list[float] | None = None
    title: str = "benchmark"
    dimensions: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # compare_to: both runs
    pairs: list[tuple[str, str]] | None = None  # (baseline, case); default: all vs baseline

    @classmethod
    def from_cases(cls, cases: dict[str, CaseResult], *, baseline: str | None = None,
                   env: dict[str, Any] | None = None, title: str = "benchmark",
                   dimensions: dict[str, Any] | None = None, method: str = "",
                   min_factor: float = 1.05, alpha: float = 0.05, max_spread: float = 0.10,
                   max_load: float | None = None) -> BenchResult:
        """Judge samples taken elsewhere (other processes, other machines) by the same rules
        as :func:`~hotpipe.bench.compare`; ``method`` says how they were taken. Take ``env``
        (:func:`~hotpipe.bench.environment`) *before* the samples: its load average is the
        "before" one, the load now the "after" one."""
        from hotpipe.bench._env import environment, load_average

        if not cases:
            raise BenchError("from_cases() needs at least one case")
        config = {"samples": max(len(c.wall) for c in cases.values()), "min_time": None,
                  "warmup": max(c.warmup for c in cases.values()), "loops": None,
                  "processes": 0, "seed": None, "min_factor": min_factor, "alpha": alpha,
                  "max_spread": max_spread, "max_load": max_load, "tolerance": None,
                  "check": "equal", "method": method}
        return cls(dict(cases), baseline or next(iter(cases)), env or environment(), config,
                   load_average(), title, dict(dimensions or {}))

    # --- derived figures -------------------------------------------------------------------

    def summary(self, name: str) -> Summary:
        """Median, IQR, min, max of seconds per call of case ``name``."""
        return summarise(self.cases[name].per_call())

    def cpu_summary(self, name: str) -> Summary:
        return summarise(self.cases[name].per_call(cpu=True))

    def items_per_s(self, name: str) -> float:
        c = self.cases[name]
        return c.items / self.summary(name).median

    @property
    def comparisons(self) -> list[Comparison]:
        """Each case against the baseline (or the explicit pairs), on seconds per item."""
        pairs = self.pairs or [(self.baseline, n) for n in self.cases if n != self.baseline]
        return [self._compare(b, c) for b, c in pairs]

    def _compare(self, base: str, case: str) -> Comparison:
        cfg = self.config
        b, c = self.cases[base], self.cases[case]
        kw = {"min_factor": cfg["min_factor"], "alpha": cfg["alpha"]}
        return Comparison(base, case, verdict(b.per_item(), c.per_item(), **kw),
                          verdict(b.per_item(cpu=True), c.per_item(cpu=True), **kw))

    def comparison(self, case: str, baseline: str | None = None) -> Comparison:
        """The comparison of ``case`` against ``baseline`` (default: the result's)."""
        return self._compare(baseline or self.baseline, case)

    @property
    def warnings(self) -> list[str]:
        """Why this run may not be trusted, each with the number that says so."""
        out = []
        envs = self.sources or {"": self.env}
        for label, env in envs.items():
            out += _load_warnings(env, self.load_after if not self.sources else
                                  env.get("loadavg_after"), self.config, label)
        limit = self.config["max_spread"]
        for name in self.cases:
            s = self.summary(name)
            if s.n > 1 and s.spread > limit:
                out.append(f"wide spread: the IQR of {name!r} is {s.spread:.0%} of its median "
                           f"(limit {limit:.0%})")
        if self.sources and len(self.sources) == 2:
            a, b = (e["machine"].get("cpu_model") for e in self.sources.values())
            if a != b:
                out.append(f"different machines: {a!r} vs {b!r}; timings may differ by "
                           "several times between machines")
        return out

    @property
    def unstable(self) -> bool:
        return bool(self.warnings)

    # --- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        cases = {}
        for name, c in self.cases.items():
            s, cpu = self.summary(name), self.cpu_summary(name)
            cases[name] = {**c.to_dict(), "summary": {
                "median_s": s.median, "q1_s": s.q1, "q3_s": s.q3, "min_s": s.min,
                "max_s": s.max, "cpu_median_s": cpu.median,
                "items_per_s": self.items_per_s(name)}}
        return {"schema": SCHEMA, "title": self.title, "baseline": self.baseline,
                "dimensions": self.dimensions, "config": self.config, "env": self.env,
                "load_after": self.load_after, "sources": self.sources,
                "pairs": self.pairs, "cases": cases,
                "comparisons": [c.to_dict() for c in self.comparisons],
                "warnings": self.warnings}

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The result as JSON (every sample); written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        if path is not None:
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(out)
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        if d.get("schema") != SCHEMA:
            raise BenchError(f"not a hotpipe bench result: schema {d.get('schema')!r}, "
                             f"expected {SCHEMA!r}; write one with BenchResult.to_json()")
        pairs = [tuple(p) for p in d["pairs"]] if d.get("pairs") else None
        return cls({n: CaseResult.from_dict(c) for n, c in d["cases"].items()}, d["baseline"],
                   d["env"], d["config"], d.get("load_after"), d.get("title", "benchmark"),
                   d.get("dimensions", {}), d.get("sources", {}), pairs)  # type: ignore[arg-type]

    # --- text ------------------------------------------------------------------------------

    def to_markdown(self) -> str:
        from hotpipe.bench._markdown import markdown

        return markdown(self)

    def __rich__(self) -> Any:
        from hotpipe.bench._table import renderable

        return renderable(self)

    def __str__(self) -> str:
        from hotpipe.bench._table import plain_text

        return plain_text(self)


def _load_warnings(env: dict[str, Any], after: list[float] | None, config: dict[str, Any],
                   label: str) -> list[str]:
    machine = env.get("machine", {})
    cores = machine.get("cores_usable") or machine.get("cores") or 1
    limit = config.get("max_load") or cores
    before = machine.get("loadavg")
    seen = [v[0] for v in (before, after) if v]
    if not seen or max(seen) <= limit:
        return []
    where = f" ({label} run)" if label else ""
    return [f"high load{where}: 1-min load average {max(seen):.2f} on {cores} usable cores "
            f"(before {before[0] if before else '?'}, after {after[0] if after else '?'}; "
            f"limit {limit:g}): other work competed for the CPU"]
