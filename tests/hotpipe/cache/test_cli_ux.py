"""``hotpipe cache stats --json`` and ``hotpipe cache clear`` asking first on a terminal."""

from __future__ import annotations

import io
import json
import time

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
    assert data["oldest_write"] <= data["newest_write"] <= time.time()  # for max_age=


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


def _two_nodes(path, n=30):
    @node(output="y")
    def inc(x):
        return x + 1

    @node(output="z")
    def label(y):
        return "v" * 500 + str(y)  # larger entries than inc's: listed first

    pipe = Pipeline([inc, label], name="chain")
    pipe.map({"x": list(range(n))}, over="x", cache=Cache(str(path)))
    return pipe


def test_stats_json_breaks_down_per_node(tmp_path, capsys):
    path = tmp_path / "c"
    _two_nodes(path)
    Cache(str(path)).put_many({b"k" * 24: 1})  # by hand: no node name
    assert main(["cache", "stats", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    nodes = data["nodes"]
    assert [(g["node"], g["pipeline"], g["entries"], g["packs"]) for g in nodes] == [
        ("label", "chain", 30, 1), ("inc", "chain", 30, 1), (None, None, 1, 0)]
    assert all(len(g["prefix"]) == 16 and int(g["prefix"], 16) >= 0 for g in nodes)
    assert sum(g["entries"] for g in nodes) == data["entries"]
    assert sum(g["packs"] for g in nodes) == data["packs"]
    assert sum(g["bytes"] for g in nodes) == data["bytes"]
    for g in nodes:
        assert data["oldest_access"] <= g["oldest_access"] <= g["newest_access"] \
            <= data["newest_access"]


def test_stats_table_shows_the_same_breakdown(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    path = tmp_path / "c"
    _two_nodes(path)
    Cache(str(path)).put_many({b"k" * 24: 1})
    assert main(["cache", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "per node" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["node"])
    assert all(col in header for col in ("node", "pipeline", "packs", "size", "accessed"))
    rows = [line.split() for line in lines if line.strip().startswith(("inc", "label", "(no"))]
    assert [r[0] for r in rows] == ["label", "inc", "(no"]
    assert rows[0][1:5] == ["chain", rows[0][2], "30", "1"] and len(rows[0][2]) == 8
    assert "6b6b6b6b" in out  # the hand-written entry's prefix (b"kkkk...")


def test_stats_names_nodes_of_a_cache_written_before_labels(tmp_path, capsys):
    """An index written before the labels table existed: stats still works (no names), and
    the next write by this version adds the names."""
    import sqlite3

    path = tmp_path / "c"
    pipe = _two_nodes(path, n=5)
    conn = sqlite3.connect(path / "index.sqlite")
    conn.execute("DROP TABLE labels")
    conn.commit()
    conn.close()
    assert main(["cache", "stats", str(path), "--json"]) == 0
    assert {g["node"] for g in json.loads(capsys.readouterr().out)["nodes"]} == {None}
    pipe.map({"x": list(range(6))}, over="x", cache=Cache(str(path)))  # one new item: a write
    assert main(["cache", "stats", str(path), "--json"]) == 0
    assert {g["node"] for g in json.loads(capsys.readouterr().out)["nodes"]} == {"inc", "label"}


def test_a_warm_rerun_leaves_the_labels_untouched(tmp_path):
    """Labels are written with the entries, never on their own: a warm run writes nothing
    at all (the index file and its WAL are not modified)."""
    path = tmp_path / "c"
    pipe = _two_nodes(path)
    before = {p.name: p.stat().st_mtime_ns for p in path.iterdir() if p.is_file()}
    again = pipe.map({"x": list(range(30))}, over="x", cache=Cache(str(path)))
    assert again.profile["label"].hits == 30
    after = {p.name: p.stat().st_mtime_ns for p in path.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != "index.sqlite-shm"} == \
        {k: v for k, v in before.items() if k != "index.sqlite-shm"}
