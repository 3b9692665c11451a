"""Run the phases over a split with a process pool and write predictions + a report."""

from __future__ import annotations

import json
import os
import time
from multiprocessing import Pool
from pathlib import Path

from .api import score, solve_task
from .data import load_tasks


def _work(args):
    task, budget_s, max_candidates = args
    r = solve_task(task, budget_s=budget_s, max_candidates=max_candidates)
    r["solved"] = score(task, r)["solved"] if all("output" in t for t in task["test"]) else None
    return r


def summarise(results: list[dict], wall_s: float, workers: int) -> dict:
    """Report fields: accuracy, timing, throughput (candidates per second per core)."""
    n = len(results)
    solved = [r["task_id"] for r in results if r.get("solved")]
    cand = sum(r["candidates"] for r in results)
    search_s = sum(r["search_s"] for r in results)
    times = sorted(r["elapsed_s"] for r in results)
    return {
        "n_tasks": n,
        "n_solved": len(solved),
        "accuracy": len(solved) / n if n else 0.0,
        "solved": solved,
        "wall_s": wall_s,
        "workers": workers,
        "mean_task_s": sum(times) / n if n else 0.0,
        "max_task_s": times[-1] if times else 0.0,
        "candidates": cand,
        "cand_per_s_per_core": cand / search_s if search_s else 0.0,
        "timed_out": sum(bool(r["timed_out"]) for r in results),
        "per_task": {r["task_id"]: {"solved": r.get("solved"), "s": round(r["elapsed_s"], 3),
                                    "candidates": r["candidates"]} for r in results},
    }


def run_split(split="training", dataset="arc1", ids_or_n=None, workers=2, budget_s=4.5,
              max_candidates=80_000, out_dir=None, progress=True) -> dict:
    tasks = load_tasks(split, dataset, ids_or_n)
    jobs = [(t, budget_s, max_candidates) for t in tasks]
    t0 = time.perf_counter()
    results = []
    if progress:
        from rich.progress import Progress

        prog = Progress()
        prog.start()
        bar = prog.add_task(f"{dataset}/{split}", total=len(jobs))
    try:
        if workers > 1:
            with Pool(workers) as pool:
                for r in pool.imap(_work, jobs, chunksize=1):
                    results.append(r)
                    if progress:
                        prog.update(bar, advance=1, description=_desc(results))
        else:
            for j in jobs:
                results.append(_work(j))
                if progress:
                    prog.update(bar, advance=1, description=_desc(results))
    finally:
        if progress:
            prog.stop()
    report = summarise(results, time.perf_counter() - t0, workers)
    report.update(split=split, dataset=dataset, budget_s=budget_s, max_candidates=max_candidates)
    if out_dir:
        out = Path(out_dir)
        os.makedirs(out, exist_ok=True)
        preds = {}
        for r in results:
            preds.update(r["submission"])
        (out / "predictions.json").write_text(json.dumps(preds, separators=(",", ":")))
        (out / "programs.json").write_text(
            json.dumps({r["task_id"]: r["sources"] for r in results}, indent=1))
        (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def _desc(results):
    s = sum(bool(r.get("solved")) for r in results)
    return f"solved {s}/{len(results)}"
