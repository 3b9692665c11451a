"""What hotpipe's benchmarks share beyond ``hotpipe.bench``: paths, calibrated CPU work,
tables, and the environment block every JSON report starts with.

Timing, the output check, calibration, warm-up, interleaving, statistics and the machine's
state come from ``hotpipe.bench`` (see docs/bench.md). Conventions every benchmark follows:

* each case's output is checked before any timed sample, then it is warmed up;
* the cases of one question are timed together, interleaved in a shuffled order, so a burst
  of other work on the shared machine hits them alike;
* the reported figure is the **median** of the samples (quartiles, min, max and every sample
  are kept in the JSON), ratios come with ``hotpipe.bench``'s verdict (significance test and
  minimum factor), and unstable runs (high load, wide spread) are flagged;
* the garbage collector stays **enabled**: we measure what users get.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from hotpipe.bench import BenchResult, environment

__all__ = [
    "REPO_ROOT",
    "RESULTS",
    "calibrate_spin",
    "env_footer",
    "env_info",
    "out_path",
    "print_table",
    "spin",
    "timing",
    "unstable",
    "verdict",
    "write_json",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results"

def env_info(packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """``hotpipe.bench.environment`` of this checkout; result files do not make it dirty
    (a run of several benchmarks rewrites them as it goes: they are outputs, not code)."""
    return environment(packages, cwd=REPO_ROOT, exclude=("benchmarks/results",))


def timing(result: BenchResult, name: str) -> dict[str, Any]:
    """The JSON block of one case: seconds per call (median, quartiles, min, max, CPU), every
    sample, calls per sample, warm-up, first call, and fresh-process runs if any."""
    c, s, cpu = result.cases[name], result.summary(name), result.cpu_summary(name)
    return {
        "repeats": s.n, "loops": c.loops, "warmup": c.warmup, "median_s": s.median,
        "q1_s": s.q1, "q3_s": s.q3, "min_s": s.min, "max_s": s.max,
        "cpu_median_s": cpu.median, "first_s": c.first_s,
        "samples_s": c.per_call(), "cpu_samples_s": c.per_call(cpu=True),
        "rounds": c.rounds, **({"cold": c.cold} if c.cold else {}),
    }


def unstable(results: list[BenchResult]) -> list[str]:
    """Every instability flag of these runs, each once (``"UNSTABLE: high load: ..."``)."""
    return [f"UNSTABLE: {w}" for w in dict.fromkeys(w for r in results for w in r.warnings)]


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (``<path>.tmp`` then rename)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def out_path(name: str, quick: bool) -> Path:
    """``benchmarks/results/<name>.json``, or ``<name>-quick.json`` (git-ignored) for --quick."""
    return RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")


# --- calibrated CPU work ---------------------------------------------------------------------


def spin(k: int) -> int:
    """Pure-Python busy loop of ``k`` iterations (holds the GIL; no sleep, no allocation)."""
    acc = 0
    for i in range(k):
        acc ^= i
    return acc


def calibrate_spin(seconds: float, *, rounds: int = 5) -> int:
    """Iterations of :func:`spin` that take ``seconds`` on this machine (median of rounds).

    Calibrated on a large ``k`` so the clock's resolution does not matter, then scaled.
    """
    k = 20_000
    while True:
        t0 = time.perf_counter()
        spin(k)
        if time.perf_counter() - t0 > 0.02:
            break
        k *= 2
    per_iter = statistics.median(_time_spin(k) for _ in range(rounds)) / k
    return max(1, round(seconds / per_iter))


def _time_spin(k: int) -> float:
    t0 = time.perf_counter()
    spin(k)
    return time.perf_counter() - t0


# --- reporting ---------------------------------------------------------------------------------


def verdict(met: bool | None, gap: str = "") -> str:
    """``yes`` / ``NO (gap)`` / ``-`` for a target check."""
    if met is None:
        return "-"
    return "yes" if met else ("NO" + (f" ({gap})" if gap else ""))


def print_table(title: str, columns: list[str], rows: list[list[Any]],
                right: tuple[str, ...] = ()) -> None:
    """Print ``rows`` as a rich table; columns named in ``right`` are right-justified."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in right else "left")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def env_footer(report: dict[str, Any]) -> str:
    """One line: date, commit, python, cores and load average of a report's ``env_info``."""
    git = report.get("git", {})
    dirty = " (+ local changes)" if git.get("dirty") else ""
    return (
        f"date {report['date']}  commit {git.get('short')}{dirty}  "
        f"python {report['python']['version']}  cores {report['machine']['cores']}  "
        f"loadavg {report['machine']['loadavg']}  gc enabled"
    )
