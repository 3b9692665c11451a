"""The always-on profile: attribution, CPU vs wall, phases, percentiles, projection."""

import json
import time

import pytest

from hotpipe import Local, Pipeline, node


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


SELF = {}


def measured(name, work, seconds):
    """Do ``work(seconds)`` and record how long it really took, as the truth to compare with
    (on a loaded machine a 5 ms spin can take 8 ms; the profile must report what happened)."""
    t = time.perf_counter()
    work(seconds)
    SELF[name] = SELF.get(name, 0.0) + time.perf_counter() - t


@pytest.fixture
def timed_pipeline():
    SELF.clear()

    @node(output="a", phase="load")
    def five(x):
        measured("five", spin, 0.005)
        return x

    @node(output="b", phase="compute")
    def ten(a):
        measured("ten", spin, 0.010)
        return a

    @node(output="c", phase="compute")
    def twenty(b):
        measured("twenty", spin, 0.020)
        return b

    @node(output="d", phase="wait")
    def nap(c):
        measured("nap", time.sleep, 0.010)
        return c

    return Pipeline([five, ten, twenty, nap], name="timed")


def _attribution_problems(pipe):
    SELF.clear()
    prof = pipe.map({"x": range(6)}, over="x").profile
    problems = []
    for name in ("five", "ten", "twenty", "nap"):
        n = prof[name]
        if abs(n.wall - SELF[name]) / SELF[name] >= 0.05:
            problems.append((name, n.wall, SELF[name]))
    if prof.framework_wall >= 0.05 * prof.wall:
        problems.append(("framework", prof.framework_wall, prof.wall))
    return prof, problems


def test_attribution_within_five_percent(timed_pipeline):
    # the machine is shared: a preemption inside hotpipe's few microseconds per item can
    # land on a run; the claim must hold on one of three runs
    for _ in range(3):
        prof, problems = _attribution_problems(timed_pipeline)
        if not problems:
            break
    assert problems == []
    for name in ("five", "ten", "twenty", "nap"):
        n = prof[name]
        assert n.items == 6
        # slow nodes are timed item by item: exact percentiles, not a sample
        assert n.timed == 6
        assert n.p50 <= n.p95 <= n.max
        assert sum(s.seconds for s in n.slowest) <= n.wall
    for name in ("five", "ten", "twenty"):
        # spinning burns CPU (the machine may be shared, hence the margin)
        assert prof[name].cpu > 0.3 * prof[name].wall
    nap = prof["nap"]
    assert nap.cpu < 0.2 * nap.wall
    assert prof.wall == pytest.approx(prof.node_wall + prof.framework_wall)


def test_run_attribution(timed_pipeline):
    prof = timed_pipeline.run({"x": 1}).profile
    assert abs(prof["twenty"].wall - SELF["twenty"]) / SELF["twenty"] < 0.05
    assert prof["nap"].cpu < 0.002
    assert 0.1 < prof.parallelism < 1.05


def test_phases_sum_to_hundred_percent(timed_pipeline):
    prof = timed_pipeline.map({"x": range(3)}, over="x").profile
    phases = {p.name: p for p in prof.phases}
    assert list(phases) == ["load", "compute", "wait"]
    assert phases["compute"].nodes == ("ten", "twenty")
    assert sum(p.percent for p in prof.phases) == pytest.approx(100.0)
    compute = 100 * (SELF["ten"] + SELF["twenty"]) / sum(SELF.values())
    assert phases["compute"].percent == pytest.approx(compute, abs=3)
    text = str(prof)
    assert "phase compute" in text and "parallelism" in text


def test_nested_pipeline_name_is_the_phase():
    inner = Pipeline([node(lambda v: v + 1, output="w")], name="inner")
    outer = Pipeline([inner.as_node(name="prepare"), node(lambda w: w * 2, output="out")])
    prof = outer.run({"v": 1}).profile
    assert [(n.name, n.phase) for n in prof.nodes] == [("prepare.w", "prepare"),
                                                       ("out", "(no phase)")]
    explicit = Pipeline([inner.as_node(name="prepare", phase="loading")])
    assert explicit.run({"v": 1}).profile.nodes[0].phase == "loading"


def test_fast_nodes_are_sampled_not_timed_one_by_one():
    p = Pipeline([node(lambda x: x + 1, output="y")])
    prof = p.map({"x": range(5000)}, over="x").profile
    n = prof["y"]
    assert n.items == 5000 and n.timed == 64
    assert n.p50 is not None and n.p50 <= n.p95 <= n.max
    assert "* percentiles" in str(prof)


def test_slowest_items_name_index_and_inputs():
    @node(output="y")
    def uneven(x):
        time.sleep(0.02 if x in (3, 7) else 0.0001)
        return x

    prof = Pipeline([uneven]).map({"x": range(10)}, over="x").profile
    slow = prof["uneven"].slowest
    assert {s.index for s in slow[:2]} == {3, 7}
    assert slow[0].inputs in ("x=3", "x=7")
    assert slow[0].seconds >= 0.02


def test_broadcast_nodes_project_once_mapped_nodes_scale():
    @node(output="table")
    def load(path):
        measured("load", time.sleep, 0.02)
        return path

    @node(output="y")
    def use(table, k):
        measured("use", time.sleep, 0.002)
        return k

    SELF.clear()
    prof = Pipeline([load, use]).map({"path": "p", "k": range(10)}, over="k").profile
    proj = prof.project(items=100)
    assert proj.once == pytest.approx(SELF["load"], rel=0.05)
    per_item = SELF["use"] / 10
    assert proj.per_item == pytest.approx(per_item, rel=0.1)
    assert proj.total == pytest.approx(SELF["load"] + 100 * per_item, rel=0.1)
    assert set(proj.phases) == {"(no phase)", "(framework)"}
    assert "projected to 100 items" in str(proj)


def test_to_json_schema(timed_pipeline):
    prof = timed_pipeline.map({"x": range(3)}, over="x", engine=Local(chunk_size=2)).profile
    data = json.loads(prof.to_json())
    assert data["schema"] == "hotpipe.profile/1"
    assert data["items"] == 3 and data["chunks"] == 2
    assert {n["name"] for n in data["nodes"]} == {"five", "ten", "twenty", "nap"}
    for key in ("calls", "items", "wall", "cpu", "mean", "p50", "p95", "max", "phase",
                "slowest", "hits", "misses", "timed"):
        assert key in data["nodes"][0]
    assert len(data["events"]) == 2 * 4
    assert all(0 <= e["start"] <= e["end"] <= data["wall"] + 1e-6 for e in data["events"])
    assert [p["name"] for p in data["phases"]] == ["load", "compute", "wait"]


def test_html_repr_for_notebooks(timed_pipeline):
    html = timed_pipeline.run({"x": 1}).profile._repr_html_()
    assert "<table" in html or "<pre" in html
    assert "twenty" in html


def _light(n):
    return sum(i * i for i in range(n))


def _heavy(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def test_function_sampling_finds_the_hot_function():
    @node(output="y")
    def work(x):
        return _light(5_000) + _heavy(60_000)

    r = Pipeline([work]).map({"x": range(15)}, over="x", profile="functions")
    here = __name__
    funcs = r.profile.functions({"heavy": f"{here}._heavy", "tests": here})["work"]
    assert funcs[0].function == f"{here}._heavy"
    assert funcs[0].category == "heavy"
    assert funcs[0].self_seconds <= r.profile["work"].wall
    shares = r.profile.categories({"heavy": f"{here}._heavy", "tests": here})["work"]
    assert shares["heavy"] > 50 and sum(shares.values()) == pytest.approx(100)
    assert "functions inside the nodes" in str(r.profile)


def test_function_sampling_in_run_and_errors():
    # ~0.1 s: many 5 ms GIL switch intervals, so the sampler gets its turns on a busy machine
    p = Pipeline([node(lambda x: _heavy(2_000_000), output="y")])
    prof = p.run({"x": 1}, profile="functions").profile
    assert prof.functions()["y"][0].function.endswith("_heavy")
    with pytest.raises(ValueError, match="profile='functions'"):
        p.run({"x": 1}).profile.functions()
    from hotpipe import InputError

    with pytest.raises(InputError, match="choose None"):
        p.run({"x": 1}, profile="lines")


def test_categorize_prefers_longest_prefix():
    from hotpipe.profile.sampler import categorize

    cats = {"pkg": "mypkg", "dsl": "mypkg.dsl", "np": ("numpy", "scipy")}
    assert categorize("mypkg.dsl.rotate", cats) == "dsl"
    assert categorize("mypkg.io.load", cats) == "pkg"
    assert categorize("mypkgx.f", cats) == "other"
    assert categorize("scipy.ndimage.label", cats) == "np"


def test_cheap_node_sample_is_one_block_after_the_single_items():
    from hotpipe.profile.stats import SAMPLE_SINGLE

    p = Pipeline([node(lambda x: x + 1, output="y")])
    n = p.map({"x": range(3000)}, over="x").profile["y"]
    # only the items timed alone can be among the slowest
    assert n.timed == 64 and all(s.index < SAMPLE_SINGLE for s in n.slowest)


def test_slow_node_sample_stays_one_by_one():
    @node(output="y")
    def slowish(x):
        time.sleep(0.0002)
        return x

    n = Pipeline([slowish]).map({"x": range(80)}, over="x").profile["slowish"]
    assert n.timed == 80 and any(s.index >= 8 for s in n.slowest)
