"""The Markdown report of a :class:`~hotpipe.bench.BenchResult`, ready to paste into a PR.

Sections: Environment, Data dimensions, Before, After, Speed-up, Methodology (and Stability
when the run was flagged).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotpipe.bench._result import format_seconds

if TYPE_CHECKING:
    from hotpipe.bench._result import BenchResult

__all__ = ["markdown"]

_HEAD = ("| case | samples x calls | median | IQR | min | max | CPU (median) | items/s | "
         "first call |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _row(result: BenchResult, name: str) -> str:
    c, s, cpu = result.cases[name], result.summary(name), result.cpu_summary(name)
    f = format_seconds
    return (f"| {name} | {s.n} x {c.loops} | {f(s.median)} | {f(s.iqr)} | {f(s.min)} | "
            f"{f(s.max)} | {f(cpu.median)} | {_rate(result.items_per_s(name))} | "
            f"{f(c.first_s)} |")


def _env_lines(env: dict[str, Any], after: list[float] | None) -> list[str]:
    git, m, py = env.get("git", {}), env.get("machine", {}), env.get("python", {})
    dirty = {True: " (with local changes)", False: " (clean)"}.get(git.get("dirty"), "")
    pkgs = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if v)
    return [
        f"- date: {env.get('date')}",
        f"- commit: `{git.get('short')}`{dirty}",
        f"- CPU: {m.get('cpu_model')}, {m.get('cores')} cores "
        f"({m.get('cores_usable')} usable); {m.get('platform')}",
        f"- Python {py.get('version')} ({py.get('implementation')}); {pkgs}",
        f"- load average (1, 5, 15 min): before {m.get('loadavg')}, after {after}",
    ]


def markdown(result: BenchResult) -> str:
    out = [f"# {result.title}", "", *_environment(result), *_dimensions(result),
           *_before_after(result), *_speedups(result)]
    if result.warnings:
        out += ["## Stability", "", *(f"- **unstable**: {w}" for w in result.warnings), ""]
    out += _methodology(result)
    return "\n".join(out) + "\n"


def _environment(result: BenchResult) -> list[str]:
    out = ["## Environment", ""]
    if not result.sources:
        return [*out, *_env_lines(result.env, result.load_after), ""]
    for label, env in result.sources.items():  # compare_to: both runs
        out += [f"**{label}**", "", *_env_lines(env, env.get("loadavg_after")), ""]
    return out


def _dimensions(result: BenchResult) -> list[str]:
    dims = dict(result.dimensions)
    for name, c in result.cases.items():
        dims.setdefault(f"items per call ({name})", c.items)
    return ["## Data dimensions", "", *(f"- {k}: {v}" for k, v in dims.items()), ""]


def _before_after(result: BenchResult) -> list[str]:
    befores = [result.baseline] + [b for b, _ in result.pairs or [] if b != result.baseline]
    afters = [n for n in result.cases if n not in befores]
    out = []
    for title, names in (("Before", befores), ("After", afters)):
        out += [f"## {title}", "", _HEAD, *(_row(result, n) for n in names), ""]
    return out


def _speedups(result: BenchResult) -> list[str]:
    out = ["## Speed-up", "", "| case | vs | time | speed-up | 95 % CI | p | verdict |",
           "| --- | --- | --- | ---: | --- | ---: | --- |"]
    for comp in result.comparisons:
        for what, v in (("wall", comp.verdict), ("CPU", comp.cpu_verdict)):
            out.append(f"| {comp.case} | {comp.baseline} | {what} | {v.ratio:.3f}x | "
                       f"{v.ci_low:.3f}-{v.ci_high:.3f}x | {v.p_value:.2g} | {v.label} |")
    return [*out, ""]


def _check_text(cfg: dict[str, Any]) -> str:
    if cfg.get("check") != "equal":
        return f"({cfg.get('check')})"
    tol = cfg.get("tolerance")
    return "against the others' " + (f"(tolerance {tol:g})" if tol is not None else "(equal)")


def _methodology(result: BenchResult) -> list[str]:
    cfg = result.config
    clocks = "wall `time.perf_counter`, CPU `time.process_time` (this process); GC enabled;"
    if cfg.get("method"):  # samples taken elsewhere (BenchResult.from_cases)
        how = [f"- {cfg['method']}; {cfg['samples']} samples per case; {clocks}"]
    else:
        how = [f"- calibration: calls per sample until a sample takes >= {cfg['min_time']:g} "
               f"s; {cfg['warmup']} warm-up sample(s) per case;",
               f"- {cfg['samples']} samples per case, interleaved: each round times every "
               f"case once in a shuffled order; {clocks}"]
    out = [
        "## Methodology", "",
        f"- each case's first call is timed apart and its output checked {_check_text(cfg)} "
        "before timing;", *how,
        "- figures are per call; speed-up = median(baseline) / median(case) per item, with "
        "a seeded percentile-bootstrap 95 % interval and a two-sided Mann-Whitney U test, on "
        "wall time and on CPU time (less disturbed by other work on a loaded machine, but "
        "blind to worker processes);",
        f"- significant when p < {cfg['alpha']:g} and the factor is at least "
        f"{cfg['min_factor']:g}x; flagged unstable when the 1-min load exceeds the usable "
        f"cores or a case's IQR exceeds {cfg['max_spread']:.0%} of its median.",
    ]
    runs = max(len(c.cold) for c in result.cases.values())
    if runs:
        out.append(f"- {runs} run(s) per case in a fresh Python process: start-up, loading the "
                   "case and its first call recorded apart from the warm samples.")
    return out
