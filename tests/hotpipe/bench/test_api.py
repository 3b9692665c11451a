"""The public surface of hotpipe.bench, loaded lazily."""

import subprocess
import sys

import hotpipe
import hotpipe.bench as bench


def test_bench_is_lazy():
    code = "import sys, hotpipe; print('hotpipe.bench' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    code = "import hotpipe; print(hotpipe.bench.compare.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "hotpipe.bench"


def test_all_is_the_public_surface():
    public = {n for n in dir(bench) if not n.startswith("_")
              and getattr(getattr(bench, n), "__module__", "").startswith("hotpipe.bench")}
    assert public == set(bench.__all__)
    assert issubclass(hotpipe.BenchError, hotpipe.HotpipeError)


def test_cli_fresh_processes_rebuild_cases_from_the_file(tmp_path, capsys):
    from hotpipe.cli import main

    (tmp_path / "sq.py").write_text(
        "xs = list(range(100))\n"
        "def loop():\n    return [x * x for x in xs]\n"
        "cases = {'a': loop, 'b': lambda: [x ** 2 for x in xs]}\n")
    out = tmp_path / "r.json"
    code = main(["bench", str(tmp_path / "sq.py"), "--samples", "2", "--min-time", "0",
                 "--processes", "1", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    loaded = bench.load(out)
    assert all(len(c.cold) == 1 for c in loaded.cases.values())
