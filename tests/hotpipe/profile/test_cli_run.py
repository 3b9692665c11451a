"""``hotpipe run``: through an argparse harness built with ``add_run_parser``, and once as a
real subprocess."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys

import pytest

from hotpipe.cli_run import add_run_parser, run_command

FLOW = '''
import time
from hotpipe import Pipeline, node

@node(output="y", phase="compute")
def inc(x):
    time.sleep(0.0001)
    return x + 1

@node(output="z", phase="compute")
def scale(y, factor=2):
    if y == 1000:
        raise ValueError("a thousand is too many")
    return y * factor

@node(output="label", phase="format")
def label(z, prefix="n="):
    return f"{prefix}{z}"

pipe = Pipeline([inc, scale, label], name="flow")
not_a_pipeline = 42

if __name__ == "__main__":
    raise SystemExit("the module's main block must not run")
'''

_counter = itertools.count()


@pytest.fixture
def flow(tmp_path, monkeypatch):
    """A pipeline file with a unique module name, and sys.path restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    path = tmp_path / f"flow_{next(_counter)}.py"
    path.write_text(FLOW)
    yield path
    sys.modules.pop(path.stem, None)


def cli(*argv, capsys=None):
    """Parse like `hotpipe run ...` would and return (code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="hotpipe")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    args = parser.parse_args(["run", *map(str, argv)])
    assert args.func is run_command
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def write_json(tmp_path, value, name="inputs.json"):
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path


def test_map_prints_results_and_profile_and_writes_reports(flow, tmp_path, capsys):
    inputs = write_json(tmp_path, {"x": list(range(100)), "factor": 3})
    html, prof, trace, out = (tmp_path / n for n in ("p.html", "p.json", "t.json", "r.json"))
    code, stdout, stderr = cli(
        f"{flow}:pipe", "--inputs", inputs, "--map-over", "x", "--outputs", "z",
        "--profile-html", html, "--profile-json", prof, "--profile-trace", trace,
        "--output", out, capsys=capsys,
    )
    assert code == 0, stderr
    assert stderr == ""
    assert "results (100 items)" in stdout
    assert "flow: map of 100 items" in stdout  # the profile table's title
    assert " inc " in stdout and " scale " in stdout
    assert "│ label " not in stdout  # --outputs z: the node producing label did not run
    assert "..." in stdout  # the 100 values are truncated
    assert json.loads(out.read_text()) == {"z": [(x + 1) * 3 for x in range(100)]}
    assert json.loads(prof.read_text())["schema"] == "hotpipe.profile/1"
    assert "traceEvents" in json.loads(trace.read_text())
    assert 'id="chart-timeline"' in html.read_text()
    for what in ("results", "profile JSON", "profile HTML", "profile trace"):
        assert f"wrote {what} to" in stdout


def test_single_run_with_inline_json(flow, capsys):
    code, stdout, stderr = cli(flow, "--inputs", '{"x": 4, "prefix": "<v>"}', capsys=capsys)
    assert code == 0, stderr
    assert "'<v>10'" in stdout
    assert "flow: run of 1 item" in stdout


def test_product_mode(flow, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, stderr = cli(f"{flow}:pipe", "--inputs", '{"x": [1, 2], "factor": [10, 100]}',
                          "--map-over", "x", "factor", "--mode", "product",
                          "--output", out, capsys=capsys)
    assert code == 0, stderr
    assert json.loads(out.read_text())["z"] == [20, 200, 30, 300]


@pytest.mark.parametrize(
    ("target", "inputs", "extra", "message"),
    [
        ("missing.py:pipe", '{"x": 1}', (), "no such file: "),
        ("{flow}:nope", '{"x": 1}', (), "has no attribute 'nope'; Pipelines defined there: pipe"),
        ("{flow}:not_a_pipeline", '{"x": 1}', (), "is a builtins.int, not a hotpipe.Pipeline"),
        ("{flow}:pipe", "{not json", (), "--inputs is not valid JSON"),
        ("{flow}:pipe", "missing.json", (), "--inputs: no such file: missing.json"),
        ("{flow}:pipe", "{flow_dir}/list.json", (), "must hold a JSON object"),
        ("{flow}:pipe", '{"xx": 1}', (), "InputError: unknown input 'xx'"),
        ("{flow}:pipe", '{"x": 1}', ("--mode", "product"), "--mode only applies with --map-over"),
        ("{flow}:pipe", '{"x": 5}', ("--map-over", "x"), "must be a sequence of items"),
    ],
)
def test_input_problems_exit_2_with_one_line(flow, tmp_path, capsys, target, inputs, extra,
                                             message):
    write_json(tmp_path, [1, 2], "list.json")
    def fill(text):
        return text.replace("{flow}", str(flow)).replace("{flow_dir}", str(tmp_path))

    code, _, stderr = cli(fill(target), "--inputs", fill(inputs), *extra, capsys=capsys)
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("hotpipe run: error: ")
    assert message in stderr


def test_import_error_names_the_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    bad = tmp_path / "broken_flow.py"
    bad.write_text("import hotpipe\n\nx = 1 / 0\n")
    code, _, stderr = cli(f"{bad}:pipe", capsys=capsys)
    assert code == 2
    assert "error while importing" in stderr and "line 3: ZeroDivisionError" in stderr


def test_pipeline_name_may_be_omitted_only_when_unique(flow, tmp_path, capsys, monkeypatch):
    code, stdout, _ = cli(flow, "--inputs", '{"x": 1}', capsys=capsys)
    assert code == 0 and "'n=4'" in stdout
    two = tmp_path / "two_flows.py"
    two.write_text(FLOW + "\nother = pipe.bind(factor=5)\n")
    code, _, stderr = cli(two, "--inputs", '{"x": 1}', capsys=capsys)
    assert code == 2 and "defines 2 Pipelines (other, pipe)" in stderr
    sys.modules.pop("two_flows", None)


def test_node_failure_exits_1(flow, capsys):
    code, _, stderr = cli(f"{flow}:pipe", "--inputs", '{"x": [1, 999, 3]}',
                          "--map-over", "x", capsys=capsys)
    assert code == 1
    assert stderr.count("\n") == 1
    assert "node 'scale' on item 1 raised ValueError: a thousand is too many" in stderr


def test_collected_failures_finish_the_map_then_exit_1(flow, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, stderr = cli(f"{flow}:pipe", "--inputs", '{"x": [1, 999, 3]}',
                          "--map-over", "x", "--on-error", "collect", "--output", out,
                          capsys=capsys)
    assert code == 1
    assert "1 item(s) failed; first: item 1 in node 'scale'" in stderr
    assert json.loads(out.read_text())["label"] == ["n=4", "FAILED", "n=8"]


def test_real_subprocess(flow, tmp_path):
    inputs = write_json(tmp_path, {"x": list(range(20))})
    html = tmp_path / "report.html"
    script = "import sys; from hotpipe.cli_run import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", script, "run", f"{flow}:pipe", "--inputs", str(inputs),
         "--map-over", "x", "--profile-html", str(html)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flow: map of 20 items" in proc.stdout
    assert "20/20" in proc.stdout  # the progress bar's final state
    assert html.exists()
    failed = subprocess.run(
        [sys.executable, "-c", script, "run", f"{flow}:pipe", "--inputs", '{"x": 999}'],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1
    assert "a thousand is too many" in failed.stderr
