"""The machine's state beside the numbers: cores, load, CPU model, versions, git commit.

A timing means little without it: the same figure moves 30 % between runs on a shared
machine and up to 4x between machines, so every report records where and when it ran.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "environment", "git_state", "load_average", "package_version"]


def package_version(dist: str) -> str | None:
    """Installed version of distribution ``dist`` (from its metadata), or None if absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_model() -> str:
    """The CPU's marketing name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(cwd: str | os.PathLike[str] | None = None,
              exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Commit of the checkout at ``cwd`` and whether tracked files have local changes.

    Paths in ``exclude`` (e.g. the folder results are written to) do not count as changes.
    Outside a git checkout every field is None.
    """
    where = Path(cwd) if cwd is not None else Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where)
    spec = [".", *(f":(exclude){p}" for p in exclude)]
    status = _git(["status", "--porcelain", "--untracked-files=no", "--", *spec], where)
    return {
        "commit": commit,
        "short": commit[:7] if commit else None,
        "dirty": bool(status) if status is not None and commit else None,
    }


def environment(packages: Iterable[str] = (), *, cwd: str | os.PathLike[str] | None = None,
                exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Date, git state, Python, machine (cores, load, CPU model) and package versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    names = dict.fromkeys(["hotpipe", *packages])
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_state(cwd, exclude),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "machine": {
            "cores": os.cpu_count(),
            "cores_usable": usable,
            "cpu_model": cpu_model(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "loadavg": load_average(),
        },
        "packages": {name: package_version(name) for name in names},
        "gc": "enabled (measured as users run)",
    }
