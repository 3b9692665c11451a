"""``hotpipe cache ...`` run in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hotpipe.cache import SQLiteStore
from hotpipe.cli import parse_size


def hotpipe(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotpipe.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / ".hotpipe" / "cache"
    with SQLiteStore(path) as store:
        store.put_many({i.to_bytes(16, "big"): b"x" * 1000 for i in range(20)})
        store.put_many({b"b" * 16: b"y" * 100_000})
    return path


def test_stats_defaults_to_the_current_directory(filled, tmp_path):
    out = hotpipe("cache", "stats", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for text in ("entries", "21", "total size", "120.0 KB", "inline entries", "file entries"):
        assert text in out.stdout


def test_prune_then_clear(filled):
    out = hotpipe("cache", "prune", "--max-size", "50KB", str(filled))
    assert out.returncode == 0, out.stderr
    assert "removed" in out.stdout
    assert SQLiteStore(filled).stats().bytes <= 50_000
    out = hotpipe("cache", "clear", str(filled))
    assert out.returncode == 0 and "cleared" in out.stdout
    assert SQLiteStore(filled).stats().entries == 0


def test_bad_size_is_a_usage_error(filled):
    out = hotpipe("cache", "prune", "--max-size", "1XB", str(filled))
    assert out.returncode == 2
    assert "invalid size '1XB'" in out.stderr and "1.5GiB" in out.stderr


def test_missing_cache(tmp_path):
    out = hotpipe("cache", "stats", str(tmp_path / "nope"))
    assert out.returncode == 1 and "no cache at" in out.stderr
    assert not (tmp_path / "nope").exists()  # looking does not create it
    assert hotpipe("cache", "clear", str(tmp_path / "nope")).returncode == 0


def test_installed_script_has_run_and_cache():
    out = hotpipe("--help")
    assert out.returncode == 0 and "cache" in out.stdout and "run" in out.stdout


@pytest.mark.parametrize(
    ("text", "size"),
    [("500MB", 500 * 10**6), ("1GB", 10**9), ("1.5GiB", 3 * 2**29), ("10", 10), ("2 kib", 2048)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_cache_from_a_newer_hotpipe_is_refused_without_a_traceback(tmp_path):
    import sqlite3

    (tmp_path / "c").mkdir()
    with sqlite3.connect(tmp_path / "c" / "index.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    out = hotpipe("cache", "stats", str(tmp_path / "c"))
    assert out.returncode == 1
    assert "newer hotpipe" in out.stderr and "Traceback" not in out.stderr
