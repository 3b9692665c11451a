"""Smoke test of benchmarks/advice.py: ``--quick`` runs every rule's case in a subprocess,
exits 0 and writes a JSON report in the benchmarks' shape; the healthy pipelines have no
findings. The ratios themselves depend on the machine's load and are not asserted here
(docs/performance.md publishes a full run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_KEYS = {"benchmark", "date", "git", "python", "machine", "config", "targets", "results"}
RULES = {"batch", "resource", "nested", "cache", "parallel", "engine", "duplicates", "scaling"}


def test_advice_quick(tmp_path):
    out = tmp_path / "advice.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "advice.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "JSON written to" in proc.stdout
    report = json.loads(out.read_text())
    assert set(report) >= ENV_KEYS and report["benchmark"] == "advice"
    assert report["config"]["quick"] is True and report["git"]["commit"]
    assert "loadavg" in report["machine"]
    rows = {r["rule"]: r for r in report["results"]}
    assert set(rows) == RULES
    for row in rows.values():
        assert {"predicted_s", "measured_s", "ratio", "within_2x", "fired"} <= set(row)
        assert row["before_s"] > 0 and row["after_s"] > 0
    assert report["healthy"] and all(h["findings"] == [] for h in report["healthy"])
