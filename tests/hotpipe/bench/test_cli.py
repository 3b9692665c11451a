"""``hotpipe bench FILE.py`` and ``hotpipe bench --compare OLD NEW``."""

import json
import subprocess
import sys

from hotpipe.cli import main

FILE = '''
from hotpipe import Pipeline, node

@node(output="y")
def inc(x):
    return x + 1

pipe = Pipeline([inc])
xs = list(range(100))
title = "inc: loop vs map"
dimensions = {"items": len(xs)}
cases = {
    "loop": lambda: {"y": [x + 1 for x in xs]},
    "map": (pipe, {"x": xs}, None),
}
'''
FAST = ["--samples", "3", "--min-time", "0", "--warmup", "0"]


def test_bench_file_writes_json_and_markdown(tmp_path, capsys):
    (tmp_path / "flow.py").write_text(FILE)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(["bench", str(tmp_path / "flow.py"), *FAST, "--json", str(out),
                 "--markdown", str(md)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "inc: loop vs map" in printed and "JSON written to" in printed
    data = json.loads(out.read_text())
    assert list(data["cases"]) == ["loop", "map"] and data["dimensions"] == {"items": 100}
    assert data["cases"]["map"]["items"] == 100
    assert md.read_text().startswith("# inc: loop vs map")
    # the same run twice gives a before/after across runs
    assert main(["bench", "--compare", str(out), str(out)]) == 0
    assert "loop @ old" in capsys.readouterr().out


def test_bench_refuses_different_outputs(tmp_path, capsys):
    (tmp_path / "bad.py").write_text("cases = {'a': lambda: 1, 'b': lambda: 2}\n")
    assert main(["bench", str(tmp_path / "bad.py"), *FAST]) == 1
    assert "'b' differs from 'a' at value: 1 != 2" in capsys.readouterr().err
    assert main(["bench", str(tmp_path / "bad.py"), *FAST, "--no-check"]) == 0


def test_bench_usage_errors(tmp_path, capsys):
    (tmp_path / "none.py").write_text("x = 1\n")
    assert main(["bench", str(tmp_path / "none.py")]) == 2
    assert "must define `cases`" in capsys.readouterr().err
    (tmp_path / "flow.py").write_text(FILE)
    assert main(["bench", str(tmp_path / "flow.py"), "--cases", "nope"]) == 2
    assert "['nope'] not in" in capsys.readouterr().err
    assert main(["bench"]) == 2
    assert main(["bench", "--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "hotpipe.cli", "bench", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--compare" in out.stdout and "FILE.py" in out.stdout
