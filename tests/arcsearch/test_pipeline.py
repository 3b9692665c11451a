"""arcsearch on hotpipe: phases in the profile, processes, the per-task cache, the CLI."""

import json
import subprocess
import sys

import arcsearch
from arcsearch.pipeline import run_tasks
from arcsearch.runner import run_split
from hotpipe import Cache, Processes

IDS = ["1cf80156", "1e0a9b12"]


def test_pipeline_maps_over_tasks_with_phases():
    tasks = arcsearch.load_tasks("training", ids_or_n=IDS)
    out = run_tasks(tasks, budget_s=5, max_candidates=3_000)
    assert [s["task_id"] for s in out["scored"]] == IDS
    assert all(s["solved"] for s in out["scored"])
    assert all(g["candidates"] > 0 for g in out["generated"])
    phases = [p.name for p in out.profile.phases]
    assert phases == ["generate", "execute", "validate", "score"]


def test_processes_and_cache_give_the_same_answers(tmp_path):
    tasks = arcsearch.load_tasks("training", ids_or_n=IDS)
    cache = Cache(tmp_path / "c")
    with Processes(2, chunk_size=1) as engine:
        first = run_tasks(tasks, budget_s=5, max_candidates=3_000, engine=engine, cache=cache)
    again = run_tasks(tasks, budget_s=5, max_candidates=3_000, cache=cache)
    assert again["submission"] == first["submission"]
    assert sum(n.misses for n in again.profile.nodes) == 0


def test_run_split_report_and_files(tmp_path):
    rep = run_split("training", "arc1", ",".join(IDS), workers=1, budget_s=5,
                    max_candidates=3_000, out_dir=tmp_path / "out", progress=False,
                    cache=str(tmp_path / "c"))
    assert rep["n_solved"] == 2 and rep["accuracy"] == 1.0
    assert [r["phase"] for r in rep["phases"]] == [
        "load", "generate", "execute", "validate", "score", "(cache)", "(framework)"]
    assert abs(sum(r["percent"] for r in rep["phases"]) - 100) < 1e-6
    preds = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert set(preds) == set(IDS)
    assert set(preds[IDS[0]][0]) == {"attempt_1", "attempt_2"}
    assert json.loads((tmp_path / "out" / "profile.json").read_text())["schema"]
    again = run_split("training", "arc1", ",".join(IDS), workers=1, budget_s=5,
                      max_candidates=3_000, progress=False, cache=str(tmp_path / "c"))
    assert again["cache"]["misses"] == 0 and again["n_solved"] == 2


def test_cli(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "arcsearch", "--split", "training", "--tasks", IDS[0],
         "--workers", "1", "--budget-s", "5", "--max-candidates", "3000", "--no-progress",
         "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, check=True, timeout=300,
    )
    assert "solved 1/1" in out.stdout and "generate" in out.stdout
    assert (tmp_path / "o" / "report.json").exists()


def test_deterministic_run_is_the_same_on_1_and_2_workers():
    """A fixed candidate budget (the safety timeout far away) gives the same solved set,
    programs and candidate counts whatever the number of worker processes."""
    ids = "1cf80156,1e0a9b12,007bbfb7,0d3d703e,25ff71a9"

    def run(workers):
        rep = run_split("training", "arc1", ids, workers=workers, budget_s=1e6,
                        max_candidates=4_000, progress=False, cache=None)
        assert rep["timed_out"] == 0
        return rep["solved"], {k: v["candidates"] for k, v in rep["per_task"].items()}

    assert run(1) == run(2)
