"""hotpipe wiring (skipped if hotpipe's Pipeline is not importable)."""

import pytest

import arcsearch

hotpipe = pytest.importorskip("hotpipe")


def test_pipeline_maps_over_tasks():
    from arcsearch.pipeline import run_tasks

    tasks = arcsearch.load_tasks("training", ids_or_n=["1cf80156", "1e0a9b12"])
    out = run_tasks(tasks, budget_s=5, max_candidates=3_000)
    assert [s["task_id"] for s in out["scored"]] == ["1cf80156", "1e0a9b12"]
    assert all(s["solved"] for s in out["scored"])
    assert all(g["candidates"] > 0 for g in out["generated"])
