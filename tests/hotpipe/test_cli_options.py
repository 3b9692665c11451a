"""``hotpipe --version``, ``hotpipe run --engine/--workers/--cache``, options before the file,
and failure hints in command-line terms."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import hotpipe
from hotpipe.cli import main
from hotpipe.cli_run import cli_terms
from tests.hotpipe.profile.test_cli_run import cli, flow, write_json  # noqa: F401 - fixture


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"hotpipe {hotpipe.__version__}"
    assert hotpipe.__version__ == importlib.metadata.version("hotpipe")


@pytest.mark.parametrize("order", ["file first", "file after --map-over", "file after --outputs",
                                   "file after --cache"])
def test_the_file_may_come_after_options_that_take_lists(flow, tmp_path, capsys,  # noqa: F811
                                                         order, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = write_json(tmp_path, {"x": [1, 2, 3]})
    target = f"{flow}:pipe"
    argv = {
        "file first": [target, "--map-over", "x", "--inputs", inputs],
        "file after --map-over": ["--inputs", inputs, "--map-over", "x", target],
        "file after --outputs": ["--map-over", "x", "--inputs", inputs, "--outputs", "label",
                                 "z", target],
        "file after --cache": ["--map-over", "x", "--inputs", inputs, "--cache", target],
    }[order]
    code, _, err = cli(*argv, "--no-progress", "--output", tmp_path / "r.json",
                         capsys=capsys)
    assert code == 0, err
    values = json.loads((tmp_path / "r.json").read_text())
    assert values["label"] == ["n=4", "n=6", "n=8"]
    if order == "file after --outputs":
        assert set(values) == {"label", "z"}
    if order == "file after --cache":
        assert (tmp_path / ".hotpipe" / "cache" / "index.sqlite").exists()


def test_missing_file_is_a_usage_error(capsys):
    code, _, err = cli("--map-over", "x", capsys=capsys)
    assert code == 2 and "no pipeline given" in err


@pytest.mark.parametrize("engine", ["local", "threads", "processes"])
def test_engine_workers_and_cache(flow, tmp_path, capsys, engine):  # noqa: F811
    store = tmp_path / "store"
    argv = [f"{flow}:pipe", "--inputs", '{"x": [1, 2, 3, 4]}', "--map-over", "x",
            "--no-progress", "--engine", engine, "--cache", store,
            "--profile-json", tmp_path / "p.json"]
    if engine != "local":
        argv += ["--workers", "2"]
    for run in ("cold", "warm"):
        sys.modules.pop(flow.stem, None)  # as in a new process: the same module name
        code, _, err = cli(*argv, capsys=capsys)
        assert code == 0, err
        prof = json.loads((tmp_path / "p.json").read_text())
        assert prof["engine"] == engine
        assert prof["cache"]["hits"] == (0 if run == "cold" else 12), run
    assert (store / "index.sqlite").exists()


def test_single_run_with_engine_and_cache(flow, tmp_path, capsys):  # noqa: F811
    argv = [f"{flow}:pipe", "--inputs", '{"x": 2}', "--engine", "threads", "--cache",
            tmp_path / "c", "--output", tmp_path / "r.json"]
    assert cli(*argv, capsys=capsys)[0] == 0
    assert json.loads((tmp_path / "r.json").read_text())["label"] == "n=6"


@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "2"], "--workers applies to --engine threads"),
    (["--workers", "0", "--engine", "threads"], "must be a whole number >= 1"),
    (["--engine", "cluster"], "invalid choice: 'cluster'"),
])
def test_bad_engine_flags(flow, capsys, argv, message):  # noqa: F811
    try:
        code, _, err = cli(f"{flow}:pipe", "--inputs", '{"x": 1}', *argv, capsys=capsys)
    except SystemExit as exc:  # argparse's own errors
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and message in err


def test_failure_hints_are_in_cli_terms(flow, capsys):  # noqa: F811
    code, _, err = cli(f"{flow}:pipe", "--inputs", '{"x": [1, 999]}', "--map-over", "x",
                       "--no-progress", capsys=capsys)
    assert code == 1
    assert "--on-error collect keeps the other items" in err
    assert "on_error=" not in err and "chained above" not in err
    assert cli_terms("choose mode='product'") == "choose --mode product"


@pytest.mark.parametrize(("argv", "said", "not_said"), [
    (["--map-over", "x"], '--map-over x but no value for \'x\' was given. Fix: add "x": [...] '
     "to the --inputs JSON.", "map(over="),
    (["--map-over", "x", "--inputs", '{"x": 1}'], "Fix: give a JSON list", "pass a list"),
    (["--map-over", "q", "--inputs", '{"x": [1]}'], "--map-over q: 'q' is not an input",
     "map(over="),
])
def test_input_errors_in_cli_terms(flow, capsys, argv, said, not_said):  # noqa: F811
    code, _, err = cli(f"{flow}:pipe", "--no-progress", *argv, capsys=capsys)
    assert code == 2 and said in err and not_said not in err, err


def test_real_hotpipe_command(flow, tmp_path):  # noqa: F811
    exe = [sys.executable, "-c", "import sys; from hotpipe.cli import main; sys.exit(main())"]
    version = subprocess.run([*exe, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"hotpipe {hotpipe.__version__}"
    proc = subprocess.run(
        [*exe, "run", "--map-over", "x", str(flow), "--inputs", '{"x": [1, 2]}',
         "--engine", "processes", "--workers", "2", "--cache"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flow: map of 2 items on processes" in proc.stdout


_FLAKY_FLOW = '''
import os
import time

from hotpipe import Pipeline, node


@node(output="y")
def flaky(x, marks):
    path = os.path.join(marks, str(x))
    if not os.path.exists(path):
        open(path, "w").close()
        raise ConnectionError(f"transient {x}")
    if x == 99:
        time.sleep(5)
    return x * 2


pipe = Pipeline([flaky])
'''


def test_retries_and_timeout_flags(tmp_path, capsys):
    script = tmp_path / "flaky_flow.py"
    script.write_text(_FLAKY_FLOW)
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = json.dumps({"x": [1, 2, 3], "marks": str(marks)})
    common = [f"{script}:pipe", "--inputs", inputs, "--map-over", "x", "--no-progress"]
    code, _, err = cli(*common, "--output", tmp_path / "r.json", "--retries", "1",
                       capsys=capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["y"] == [2, 4, 6]
    one = json.dumps({"x": 99, "marks": str(marks)})
    (marks / "99").touch()
    code, _, err = cli(f"{script}:pipe", "--inputs", one, "--timeout", "0.2", capsys=capsys)
    assert code == 1 and "0.2 s" in err
    for bad, said in ((["--retries", "-1"], "must be a whole number >= 0"),
                      (["--timeout", "0"], "must be a number of seconds > 0")):
        with pytest.raises(SystemExit):
            cli(*common, *bad, capsys=capsys)
        assert said in capsys.readouterr().err
