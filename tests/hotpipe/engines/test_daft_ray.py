"""hotpipe.Daft on Ray. Daft fixes its runner once per process, so each test runs its own
Python process: the engine suite (conformance, nested maps, batch/async/resources) on a local
Ray, README's tour on Ray, and a two-node local cluster (Ray's cluster utilities) joined by
address as docs/engines.md writes it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("daft")
pytest.importorskip("ray")

HERE = Path(__file__).parent
ENV = {**os.environ, "DAFT_PROGRESS_BAR": "0", "RAY_DEDUP_LOGS": "0"}


def _run(args, timeout, **env):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env={**ENV, **env}, check=False, cwd=HERE.parents[2])
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def test_engine_suite_on_a_local_ray():
    out = _run(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                str(HERE / "test_conformance.py"), str(HERE / "test_nested_maps.py"),
                str(HERE / "test_async_batch_resources.py")],
               timeout=600, HOTPIPE_TEST_DAFT_RAY="1")
    assert " passed" in out and "failed" not in out


def test_the_readme_tour_runs_on_ray():
    """README's tour moves one pipeline from Local to Daft to Ray unchanged: its first block
    and its Ray block, verbatim, in a process of their own."""
    out = _run([str(HERE / "_daft_tour.py")], timeout=300)
    assert "TOUR runner ray items 1000" in out, out[-2000:]


def test_an_address_ray_refuses_is_rays_error_and_chooses_no_runner():
    """A runner that did not start was reported as "this process already runs Daft on the
    'native' runner"; it is Ray's error with a note on the address forms, and a later map
    can still start Ray."""
    code = """if True:
        import hotpipe
        from hotpipe import Pipeline, node
        pipe = Pipeline([node(lambda x: x + 1, output="y")])
        try:
            pipe.map({"x": [1, 2]}, over="x", engine=hotpipe.Daft(runner="ray", address="nowhere"))
        except ValueError as err:
            assert "Invalid address format: nowhere" in str(err), err
            assert any("address='nowhere'" in n and "HOST:6379" in n for n in err.__notes__)
        else:
            raise AssertionError("no error for the address 'nowhere'")
        r = pipe.map({"x": [1, 2]}, over="x", engine=hotpipe.Daft(runner="ray"))
        print("RETRIED", r["y"])
    """
    out = _run(["-c", code], timeout=180)
    assert "RETRIED [2, 3]" in out, out[-2000:]


def test_two_node_cluster_runs_work_on_both_nodes(tmp_path):
    out = _run([str(HERE / "_daft_cluster.py"), str(tmp_path / "inits.txt")], timeout=300)
    line = next(x for x in out.splitlines() if x.startswith("NODES"))
    nodes, workers, inits = (int(v) for v in line.split()[1::2])
    assert nodes == 2
    assert inits == workers  # the resource was built once per worker process


def test_a_worker_killed_every_time_fails_the_map_instead_of_hanging(tmp_path):
    out = _run([str(HERE / "_daft_killed.py"), str(tmp_path)], timeout=180)
    line = next(x for x in out.splitlines() if x.startswith("FAILED_AFTER"))
    seconds, cached, named = float(line.split()[1]), int(line.split()[3]), int(line.split()[5])
    queries, hits = int(line.split()[7]), int(line.split()[9])
    assert seconds < 60  # bounded: WORKER_DEATHS deaths and Ray's restarts, not forever
    # every run of 50 items was kept but those the dying workers were running (named in the
    # error: a worker runs several batches at once)
    assert 1 <= named <= 3 and cached >= 400 - 50 * named
    # the cache lives in the driver: a rerun on Ray looks every item up there, no query
    assert queries == 0 and hits == 400
    assert not list(HERE.parents[2].glob("*.died"))  # the marks stay in tmp_path


EXPLODED_ON_RAY = """
import sys
sys.path.insert(0, {here!r})
import hotpipe
from test_daft import SQUARES
inputs = {{"v": [list(range(40)), [], [3, 4]], "k": [0, 1, 2]}}
local = SQUARES.map(inputs, over=["v", "k"])
for nested in ("explode", "inline"):
    r = SQUARES.map(inputs, over=["v", "k"], engine=hotpipe.Daft(runner="ray", nested=nested))
    assert dict(r.items()) == dict(local.items()), nested
    assert any(f"ran {{nested}}" in n for n in r.profile.notes)
    daft_note = next(n for n in r.profile.notes if n.startswith("daft:"))
    assert "the body that ran: the fused text" in daft_note, daft_note  # not the executor
print("EXPLODED_OK")
"""


def test_a_nested_map_on_ray_runs_the_fused_text_with_local_values():
    out = _run(["-c", EXPLODED_ON_RAY.format(here=str(HERE))], timeout=300)
    assert "EXPLODED_OK" in out
