"""One-off costs (a resource's construction, a pool's start-up) are kept apart from item time:
chunk sizes, node statistics and projections ignore them, and a projection adds them once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hotpipe import Pipeline, Processes, Threads, node, resource
from hotpipe._oneoff import POOL_START, RESOURCE

LOAD = 0.4  # seconds a model takes to build
N = 3_000


class Model:
    """A slow-loading model: each construction appends a line to ``log``."""

    def __init__(self, log: str) -> None:
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(LOAD)

    def __call__(self, x: int) -> int:
        return x * 2


@node(output="y")
def predict(x, model):
    return model(x)


@node(output="z")
def post(y):
    return y + 1


PIPE = Pipeline([predict, post], name="model")


def _builds(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _map(tmp_path: Path, engine):
    log = tmp_path / "builds.log"
    result = PIPE.map({"x": list(range(N)), "model": resource(Model, str(log))}, over="x",
                      engine=engine)
    assert result["z"] == [2 * x + 1 for x in range(N)]
    return result.profile, log


@node(output="y")
def predict_slowly(x, model):
    time.sleep(0.0001)  # ~0.1-0.2 ms per item: a 5 ms chunk holds a few dozen
    return model(x)


def test_threads_size_chunks_from_item_time_not_from_the_build(tmp_path):
    log = tmp_path / "builds.log"
    pipe = Pipeline([predict_slowly, post], name="slow-model")
    with Threads(4) as eng:
        result = pipe.map({"x": list(range(N)), "model": resource(Model, str(log))},
                          over="x", engine=eng)
    assert result["z"] == [2 * x + 1 for x in range(N)]
    assert _builds(log) == 1
    # the probe's time budget leaves the build out: it measures items, and chunks hold
    # tens of them (counting the build, it stopped after one item: 1,501 chunks of ~2)
    assert result.profile.stats.chunks < 400
    assert result.profile["predict_slowly"].wall < N * 0.01


def test_threads_keep_the_build_out_of_the_items_and_the_chunks(tmp_path):
    with Threads(4) as eng:
        profile, log = _map(tmp_path, eng)
    assert _builds(log) == 1
    builds = [e for e in profile.one_offs if e.kind == RESOURCE]
    assert len(builds) == 1 and builds[0].name == "Model" and builds[0].seconds >= LOAD
    # the node's own time is its items', not the load's
    assert profile["predict"].wall < LOAD / 4
    assert profile["predict"].p50 is not None and profile["predict"].p50 < 0.01
    # chunks sized from item time: a few dozen, not batches of ~2
    assert profile.stats.chunks <= 100
    assert profile.one_off_wall >= LOAD


def test_processes_build_the_resource_once_per_worker_not_in_the_caller(tmp_path):
    with Processes(2) as eng:
        profile, log = _map(tmp_path, eng)
    assert _builds(log) == 2  # one per worker; the probe built nothing here
    assert any("no in-process probe" in note for note in profile.notes)
    assert sum(e.kind == RESOURCE for e in profile.one_offs) == 2
    assert profile["predict"].wall < LOAD / 4
    starts = [e for e in profile.one_offs if e.kind == POOL_START]
    assert len(starts) <= 2 and all(e.seconds > 0 for e in starts)


def test_a_projection_adds_the_one_offs_once(tmp_path):
    with Threads(2) as eng:
        profile, _ = _map(tmp_path, eng)
    big = profile.project(items=300_000)
    assert big.phases["(one-off)"] == pytest.approx(profile.one_off_wall, rel=0.05)
    assert big.once >= LOAD
    # scaled as if every item paid the load this would be ~100 x LOAD
    assert big.total < LOAD + 10.0
    assert big.per_item < LOAD / N


def test_the_table_and_the_json_show_the_one_offs_on_their_own_line(tmp_path):
    with Threads(2) as eng:
        profile, _ = _map(tmp_path, eng)
    text = str(profile)
    assert "(one-off)" in text and "resource Model" in text
    data = profile.to_dict()
    assert data["one_off_wall"] == pytest.approx(profile.one_off_wall)
    assert [e["kind"] for e in data["one_offs"]].count(RESOURCE) == 1
    assert profile.spent >= profile.node_wall + profile.one_off_wall


def test_a_single_run_counts_the_build_as_a_one_off(tmp_path):
    log = tmp_path / "builds.log"
    result = PIPE.run({"x": 3, "model": resource(Model, str(log))})
    assert result["z"] == 7
    profile = result.profile
    assert [e.kind for e in profile.one_offs] == [RESOURCE]
    assert profile.node_wall < LOAD / 4
    assert profile.framework_wall < LOAD / 4
    assert profile.project(items=1_000).total < LOAD + 1.0


def test_a_resource_bound_as_a_constant_is_built_before_the_clocks(tmp_path):
    log = tmp_path / "builds.log"
    pipe = Pipeline([predict, post], name="bound").bind(model=resource(Model, str(log)))
    result = pipe.run({"x": 1})
    assert result["z"] == 3
    assert result.profile["predict"].wall < LOAD / 4
    assert [e.kind for e in result.profile.one_offs] == [RESOURCE]


WARMED: list[int] = []


@node(output="y")
def compiles(x):
    if not WARMED:  # an import or a JIT compilation on the first call in a process
        time.sleep(0.2)
        WARMED.append(1)
    time.sleep(0.0005)
    return x


def test_a_nodes_first_call_beyond_its_items_is_a_one_off():
    from hotpipe._oneoff import FIRST_CALL

    profile = Pipeline([compiles], name="first").map({"x": list(range(100))},
                                                     over="x").profile
    node_profile = profile["compiles"]
    assert node_profile.first_call >= 0.19
    assert [e.kind for e in profile.one_offs] == [FIRST_CALL]
    assert node_profile.wall < 0.19 + 100 * 0.0005  # the excess is out of the node's wall
    assert node_profile.max is not None and node_profile.max < 0.19
    assert node_profile.timed >= 8  # the first item still counts, with a typical time
    # a later map in the same process has no first call
    again = Pipeline([compiles], name="first").map({"x": [1, 2, 3]}, over="x").profile
    assert again.one_offs == [] and again["compiles"].first_call == 0


def test_the_html_report_has_a_one_off_row(tmp_path):
    with Threads(2) as eng:
        profile, _ = _map(tmp_path, eng)
    html = (tmp_path / "r.html")
    profile.to_html(str(html))
    text = html.read_text()
    assert 'id="row-one-off"' in text and "resource Model" in text


def test_a_build_outside_any_map_is_not_taken_by_a_later_one(tmp_path):
    log = str(tmp_path / "builds.log")
    resource(Model, log).get()  # built by the user, in no map: belongs to no profile
    result = PIPE.map({"x": [1, 2], "model": resource(Model, log)}, over="x")
    assert [e.kind for e in result.profile.one_offs] == [RESOURCE]
    assert result.profile.one_off_wall < 2 * LOAD


def test_the_notebook_table_has_a_one_off_row(tmp_path):
    with Threads(2) as eng:
        profile, _ = _map(tmp_path, eng)
    assert 'class="hp-one-off"' in profile._repr_html_()
