"""``hotpipe.bench``: before/after benchmarks that hold on a noisy machine.

::

    result = hotpipe.bench.compare({"before": old_fn, "after": new_fn})
    print(result)                       # a table; result.to_markdown() for a PR
    result.to_json("after.json")        # every sample, the machine's state
    hotpipe.bench.compare_to("before.json", "after.json")   # across commits

Each case is a zero-argument callable, a ``(pipeline, inputs, engine)`` triple (mapped over
the inputs given as lists) or a :class:`Case`. The outputs are checked before anything is
timed; samples are calibrated, warmed up and interleaved in a shuffled order; ratios come
with a significance test and a minimum factor; a run on a loaded machine or with a wide
spread is flagged unstable with the number that says why. See docs/bench.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from hotpipe.bench import _cases, _env, _run
from hotpipe.bench._cases import Case
from hotpipe.bench._env import environment, package_version
from hotpipe.bench._result import BenchResult, Comparison, format_seconds
from hotpipe.bench._run import CaseResult
from hotpipe.bench._stats import Summary, Verdict, mann_whitney_u, verdict
from hotpipe.errors import BenchError

__all__ = [
    "BenchResult",
    "Case",
    "CaseResult",
    "Comparison",
    "Summary",
    "Verdict",
    "compare",
    "compare_to",
    "environment",
    "format_seconds",
    "load",
    "mann_whitney_u",
    "package_version",
    "verdict",
]


def compare(
    cases: Mapping[str, Any],
    *,
    baseline: str | None = None,
    samples: int = 15,
    min_time: float = 0.05,
    warmup: int = 1,
    loops: int | None = None,
    processes: int = 0,
    check: bool | Callable[[str, Any], Any] = True,
    tolerance: float | None = None,
    min_factor: float = 1.05,
    alpha: float = 0.05,
    max_spread: float = 0.10,
    max_load: float | None = None,
    seed: int | None = None,
    title: str = "benchmark",
    dimensions: Mapping[str, Any] | None = None,
    packages: tuple[str, ...] = (),
    cwd: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> BenchResult:
    """Time ``cases`` (name -> case) against each other; the first is the baseline.

    ``samples`` per case (interleaved rounds), each of ``loops`` calls (calibrated so a
    sample takes >= ``min_time`` s when not given), after ``warmup`` untimed samples;
    ``processes`` extra runs of each case in a fresh interpreter. ``check``: outputs must be
    equal (``True``, within ``tolerance`` for numbers), a callable ``check(name, value)``
    that raises or returns False for a wrong one, or ``False``. A ratio is significant when
    the Mann-Whitney p < ``alpha`` and it is at least ``min_factor``. The run is unstable
    when the 1-min load exceeds ``max_load`` (default: the usable cores) or a case's IQR
    exceeds ``max_spread`` of its median. The git commit recorded is the one of ``cwd``
    (default: the current directory); ``packages`` are versions to record. Raises
    :class:`~hotpipe.BenchError` when the outputs differ or a case is malformed.
    """
    if not cases:
        raise BenchError("compare() needs at least one case, e.g. {'before': f, 'after': g}")
    built = {str(name): _cases.as_case(str(name), spec) for name, spec in cases.items()}
    base = baseline if baseline is not None else next(iter(built))
    if base not in built:
        raise BenchError(f"baseline {base!r} is not a case; the cases are {sorted(built)}")
    if min(samples, 1 + warmup, 1 + processes) < 1 or min_time < 0:
        raise BenchError(f"samples must be >= 1 and warmup, processes, min_time >= 0; got "
                         f"samples={samples}, warmup={warmup}, processes={processes}, "
                         f"min_time={min_time}")
    env = environment(packages, cwd=cwd)
    settings = _run.Settings(samples, min_time, warmup, loops, processes, seed)
    payloads = {n: _run.pickled(c) for n, c in built.items()} if processes else {}
    results = _run.time_cases(
        built, settings, lambda values: _cases.check_outputs(values, check, tolerance),
        log or (lambda _m: None), fresh=payloads.get if processes else None)
    config = {"samples": samples, "min_time": min_time, "warmup": warmup, "loops": loops,
              "processes": processes, "seed": seed, "min_factor": min_factor, "alpha": alpha,
              "max_spread": max_spread, "max_load": max_load, "tolerance": tolerance,
              "check": "equal" if check is True else
              ("none" if not check else f"custom ({getattr(check, '__name__', 'callable')})")}
    return BenchResult(results, base, env, config, _env.load_average(), title,
                       dict(dimensions or {}))


def load(path: str | os.PathLike[str]) -> BenchResult:
    """Read a result written by :meth:`BenchResult.to_json`."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BenchError(f"cannot read bench result {os.fspath(path)!r}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{os.fspath(path)!r} is not JSON ({exc}); pass a file written by "
                         "BenchResult.to_json()") from None
    return BenchResult.from_dict(data)


def _label(result: BenchResult, fallback: str) -> str:
    git = result.env.get("git", {})
    short = git.get("short")
    return f"{short}{'+' if git.get('dirty') else ''}" if short else fallback


def compare_to(old: str | os.PathLike[str] | BenchResult,
               new: str | os.PathLike[str] | BenchResult, *,
               min_factor: float | None = None, alpha: float | None = None,
               title: str | None = None) -> BenchResult:
    """Before/after across two runs (two commits): each case present in both is compared
    with the same rules as :func:`compare` (the new run's ``min_factor`` and ``alpha``
    unless given). Cases are named ``"<case> @ <commit>"`` (``old``/``new`` when the
    commits are the same or unknown). Flags a change of machine."""
    a = old if isinstance(old, BenchResult) else load(old)
    b = new if isinstance(new, BenchResult) else load(new)
    la, lb = _label(a, "old"), _label(b, "new")
    if la == lb:
        la, lb = "old", "new"
    common = [n for n in a.cases if n in b.cases]
    if not common:
        raise BenchError(f"the two results share no case: {sorted(a.cases)} vs "
                         f"{sorted(b.cases)}; name the cases the same in both runs")
    cases: dict[str, CaseResult] = {}
    pairs = []
    for name in common:
        cases[f"{name} @ {la}"] = a.cases[name]
        cases[f"{name} @ {lb}"] = b.cases[name]
        pairs.append((f"{name} @ {la}", f"{name} @ {lb}"))
    config = {**b.config, "min_factor": min_factor or b.config["min_factor"],
              "alpha": alpha or b.config["alpha"]}
    sources = {la: {**a.env, "loadavg_after": a.load_after},
               lb: {**b.env, "loadavg_after": b.load_after}}
    return BenchResult(cases, pairs[0][0], b.env, config, b.load_after,
                       title or f"{b.title}: {la} -> {lb}", {**a.dimensions, **b.dimensions},
                       sources, pairs)
