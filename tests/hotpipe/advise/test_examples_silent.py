"""No finding on the shipped examples: the advisor stays silent where nothing would pay."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_quickstart_has_no_findings(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    quickstart = importlib.import_module("quickstart")
    try:
        texts = [importlib.import_module(m).__doc__ or "" for m in quickstart.MODULES]
        r = quickstart.stats.map({"text": texts}, over="text")
        assert list(r.advise(inputs={"text": texts})) == []
        assert list(r.advise(inputs={"text": texts}, measure=True)) == []
    finally:
        sys.modules.pop("quickstart", None)
