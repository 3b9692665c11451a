"""``print(profile)`` fits the terminal's real width ($COLUMNS, else the tty's size), not a
fixed 120 columns; when nothing tells the width (output piped or captured) it stays 120."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest


@pytest.mark.parametrize("columns", [60, 80, 100, 200])
def test_str_fits_columns(profile, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    lines = str(profile).splitlines()
    assert max(len(line) for line in lines) <= columns
    assert any(line.lstrip().startswith("score") for line in lines)  # every node still listed
    header = next(line for line in lines if "calls" in line)
    if columns <= 60:  # narrow: the least needed columns go first
        assert "p95" not in header and "calls" in header
    if columns >= 120:
        assert "p95" in header and "phase" in header


def test_without_a_terminal_the_width_is_120(profile, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert max(len(line) for line in str(profile).splitlines()) <= 120


def test_real_terminal_size_is_used():
    """Under a pseudo-terminal 70 columns wide, with no $COLUMNS, the table is 70 wide."""
    code = (
        "import fcntl, struct, sys, termios\n"
        "fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 70, 0, 0))\n"
        "from tests.hotpipe.profile.conftest import build_pipeline\n"
        "pipe = build_pipeline()\n"
        "r = pipe.map({'i': list(range(50)), 'tag': ['t'] * 50, 'weight': 1.0},\n"
        "             over=['i', 'tag'])\n"
        "sys.stderr.write(str(r.profile))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdout=follower,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=env,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                  os.path.dirname(os.path.abspath(__file__))))))
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert 60 < max(len(line) for line in lines) <= 70
