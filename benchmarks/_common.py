"""Shared helpers for hotpipe's benchmarks: timing, environment capture, JSON output.

Conventions every benchmark here follows:

* wall-clock time with ``time.perf_counter``;
* a correctness check and at least one untimed warm-up call before any timed sample;
* the reported figure is the **median** of several timed samples (min and all samples are kept
  in the JSON too);
* the garbage collector stays **enabled**: we measure what users get. Allocation-heavy code pays
  for its gen-0/1/2 collections inside the timed region, which is part of its real cost.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "REPO_ROOT",
    "RESULTS",
    "Timing",
    "calibrate_spin",
    "env_footer",
    "env_info",
    "fmt_seconds",
    "git_info",
    "measure",
    "out_path",
    "pkg_version",
    "print_table",
    "spin",
    "verdict",
    "write_json",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results"


@dataclass
class Timing:
    """Timed samples of one workload, in seconds per sample."""

    samples: list[float] = field(default_factory=list)
    warmup: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def repeats(self) -> int:
        return len(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repeats": self.repeats,
            "warmup": self.warmup,
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "samples_s": list(self.samples),
        }


def measure(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed.

    Each sample is one ``fn()`` call timed with ``time.perf_counter``; put the loop you want to
    time *inside* ``fn``. The return value of ``fn`` is kept alive only until the next call, so
    freeing a big result is (realistically) part of the next sample. GC stays enabled.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(repeats):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return Timing(samples=samples, warmup=warmup)


def pkg_version(dist: str) -> str | None:
    """Installed version of distribution ``dist`` (from its metadata), or None if absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info(cwd: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit of the checkout the benchmark ran from, and whether the tree had local changes.

    Result files (``benchmarks/results/``) do not count as changes: a run of several
    benchmarks rewrites them as it goes, and they are outputs, not the code measured.
    """
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                  ":(exclude)benchmarks/results", cwd=cwd)
    return {
        "commit": commit,
        "short": commit[:7] if commit else None,
        "dirty": bool(status) if status is not None else None,
    }


def env_info(packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Date, git commit, Python and machine facts to store beside benchmark numbers."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "machine": {
            "cores": os.cpu_count(),
            "cores_usable": affinity,
            "platform": platform.platform(),
            "processor": platform.machine(),
            # 1/5/15-min load when the report was written: other work on the box skews timings
            "loadavg": load,
        },
        "packages": {name: pkg_version(name) for name in packages},
        "gc": "enabled (measured as users run)",
    }


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (``<path>.tmp`` then rename)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def fmt_seconds(s: float) -> str:
    """Human-readable duration: ns / us / ms / s with 3 significant digits."""
    if s < 1e-6:
        return f"{s * 1e9:.3g} ns"
    if s < 1e-3:
        return f"{s * 1e6:.3g} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


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
