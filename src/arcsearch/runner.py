"""Run a split through the hotpipe pipelines and write predictions, programs and a report."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from hotpipe import FAILED, Cache, Local, Processes

from .pipeline import loader, solve
from .search import FEATURES


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


def phases(load_profile, map_profile) -> list[dict]:
    """Seconds and share per phase: load, then the map's phases, the cache's time (when one
    was used), then hotpipe's own time.

    Node seconds are summed over the workers (CPU-like), so the shares say where the work
    went; the wall time of the run is in the report apart.
    """
    rows = [{"phase": "load", "seconds": load_profile.node_wall}]
    rows += [{"phase": p.name, "seconds": p.wall} for p in map_profile.phases]
    if map_profile.cache.used or load_profile.cache.used:  # the cache's time is not hotpipe's
        rows.append({"phase": "(cache)", "seconds": map_profile.cache_wall
                     + load_profile.cache_wall})
    rows.append({"phase": "(framework)", "seconds": map_profile.framework_wall
                 + load_profile.framework_wall})
    total = sum(r["seconds"] for r in rows) or 1e-12
    for r in rows:
        r["percent"] = 100.0 * r["seconds"] / total
    return rows


def _per_task(result, i: int, task: dict) -> dict:
    gen, val, sub, sc = (result[k][i] for k in ("generated", "validated", "submission",
                                                  "scored"))
    if gen is FAILED or val is FAILED:
        return {"task_id": task["id"], "solved": False, "candidates": 0, "search_s": 0.0,
                "elapsed_s": 0.0, "timed_out": False, "sources": [],
                "submission": {task["id"]: []}, "failed": True}
    has_answers = all("output" in t for t in task["test"])
    return {
        "task_id": task["id"],
        "solved": sc["solved"] if has_answers and sc is not FAILED else None,
        "candidates": gen["candidates"],
        "search_s": gen["elapsed_s"],
        "elapsed_s": gen["elapsed_s"],
        "timed_out": gen["timed_out"],
        "sources": val["sources"],
        "submission": sub,
    }


def run_split(split="training", dataset="arc1", ids_or_n=None, workers=2, budget_s=60.0,
              max_candidates=80_000, out_dir=None, progress=True, cache=".hotpipe/cache",
              profile_html=None, features=FEATURES, profile=None, held_out=False) -> dict:
    """Load a split, solve every task (cached per task), write the outputs, return the
    report. ``cache=None`` disables the cache; ``features`` names the search capabilities
    switched on; ``profile="functions"`` adds hotpipe's per-function profile;
    ``held_out``: keep the ARC-AGI-1 evaluation tasks of the ARC-AGI-2 training split
    (:func:`arcsearch.data.load_tasks`)."""
    t0 = time.perf_counter()
    loaded = loader.run({"split": split, "dataset": dataset, "ids_or_n": ids_or_n,
                         "held_out": held_out})
    tasks = loaded["tasks"]
    # tasks take seconds each: one task per chunk, no in-process probe
    engine = Processes(workers, chunk_size=1) if workers > 1 else Local(chunk_size=1)
    result = solve.map(
        {"task": tasks, "budget_s": budget_s, "max_candidates": max_candidates,
         "features": tuple(features)},
        over="task", engine=engine, progress=progress, on_error="collect",
        cache=Cache(cache) if cache else None, **({"profile": profile} if profile else {}),
    )
    wall = time.perf_counter() - t0
    results = [_per_task(result, i, t) for i, t in enumerate(tasks)]
    report = summarise(results, wall, workers)
    prof = result.profile
    report.update(
        split=split, dataset=dataset, budget_s=budget_s, max_candidates=max_candidates,
        features=list(features),
        phases=phases(loaded.profile, prof),
        cache={"hits": sum(n.hits for n in prof.nodes), "misses": sum(n.misses for n in
                                                                       prof.nodes)},
        failed=[{"index": e.index, "node": e.node, "error": repr(e.exception)}
                for e in result.errors],
    )
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
        prof.to_json(str(out / "profile.json"))
    if profile_html:
        prof.to_html(profile_html)
    report["profile"] = prof
    return report
