"""``hotpipe cache stats --json`` and ``hotpipe cache clear`` asking first on a terminal."""

from __future__ import annotations

import io
import json

import pytest

from hotpipe import Cache, Pipeline, node
from hotpipe.cache import SQLiteStore
from hotpipe.cli import main


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "c"

    @node(output="y")
    def inc(x):
        return x + 1

    Pipeline([inc]).map({"x": list(range(50))}, over="x", cache=Cache(str(path)))
    return path


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stats_json(filled, capsys):
    assert main(["cache", "stats", str(filled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["path"] == str(filled) and data["entries"] + data["packs"] > 0
    assert set(data) >= {"entries", "bytes", "packs", "oldest_access", "newest_access"}


@pytest.mark.parametrize(("answer", "code", "left"), [("n\n", 1, True), ("\n", 1, True),
                                                      ("y\n", 0, False)])
def test_clear_asks_on_a_terminal(filled, monkeypatch, capsys, answer, code, left):
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["cache", "clear", str(filled)]) == code
    out = capsys.readouterr().out
    assert "remove" in out and "[y/N]" in out
    stats = SQLiteStore(filled).stats()
    assert (stats.entries + stats.packs > 0) == left
    if left:
        assert "--yes" in out


def test_clear_yes_does_not_ask(filled, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Terminal(""))
    assert main(["cache", "clear", "--yes", str(filled)]) == 0
    assert "[y/N]" not in capsys.readouterr().out
    assert SQLiteStore(filled).stats().entries == 0
