"""Reports of cached runs: hits, the compute time they saved and the time the cache itself
took are first-class figures (the profile, the table, the JSON, the HTML report in a real
browser, Jupyter, the projection), and the framework's share no longer swallows the cache.

Real runs: a map cold (every lookup misses, results written) then warm (every lookup hits,
read from the chunk packs), on Local and on a process pool.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

import hotpipe
from hotpipe import Pipeline, node
from tests.hotpipe.profile.test_html import Dom, _headless

ITEMS = 120
SPIN = 0.0004  # seconds per item of `work`: the compute the warm run's hits stand for


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@node(output="y", phase="compute")
def work(x):
    spin(SPIN)
    return x + 1


@node(output="z", phase="format")
def label(y):
    return f"<{y}>"


PIPE = Pipeline([work, label], name="cached <demo>")
ENGINES = {"local": lambda: hotpipe.Local(chunk_size=40),
           "processes": lambda: hotpipe.Processes(2, chunk_size=40)}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def runs(request, tmp_path_factory):
    """(engine name, cold profile, warm profile) on a fresh cache."""
    cache = hotpipe.Cache(tmp_path_factory.mktemp("cache") / "c")
    inputs = {"x": list(range(ITEMS))}
    cold = PIPE.map(inputs, over="x", cache=cache, engine=ENGINES[request.param]())
    warm = PIPE.map(inputs, over="x", cache=cache, engine=ENGINES[request.param]())
    assert warm == cold
    return request.param, cold.profile, warm.profile


def test_hits_saved_and_cache_time_are_measured(runs):
    engine, cold, warm = runs
    assert (cold.cache.hits, cold.cache.misses) == (0, 2 * ITEMS)
    assert (warm.cache.hits, warm.cache.misses) == (2 * ITEMS, 0)
    assert warm.cache.hit_rate == 1.0 and cold.cache.hit_rate == 0.0
    # what the hits saved is what computing them took in the cold run, node by node
    for name in ("work", "label"):
        assert warm[name].saved == pytest.approx(cold[name].wall, rel=1e-6)
        assert warm[name].calls == 0 and warm[name].wall == 0
        assert cold[name].cache_wall > 0 and warm[name].cache_wall > 0
    assert warm.cache.saved >= ITEMS * SPIN
    # the cache's time: the nodes' parts plus the work of no single node (keys of inputs)
    assert warm.cache.wall == pytest.approx(warm.cache_wall)
    assert warm.cache.wall > sum(n.cache_wall for n in warm.nodes)
    assert cold.cache.bytes_written > 0 and warm.cache.bytes_read > 0
    if engine == "processes":  # the cache worked in the pool's workers
        assert {e.pid for e in warm.stats.cache_events} - {os.getpid()}


def test_framework_does_not_swallow_the_cache(runs):
    engine, cold, warm = runs
    for p in (cold, warm):
        events = p.to_dict()["cache_events"]
        assert events and all(e["end"] >= e["start"] for e in events)
        assert p.framework_wall <= p.wall
        if engine == "local":  # one worker: nodes + cache + framework make up the call,
            assert p.spent == pytest.approx(p.wall, rel=1e-6, abs=1e-7)  # none counted twice
    if engine == "local":
        assert warm.framework_wall < warm.cache.wall  # the hits are cache time, not overhead


def test_projection_of_a_warm_run_is_cache_time(runs):
    _, cold, warm = runs
    proj = warm.project(items=10 * ITEMS)
    assert "(cache)" in proj.phases and proj.hit_rate == 1.0
    assert proj.phases["(cache)"] > 0
    assert proj.warm == pytest.approx(proj.total)  # nothing was computed: already warm
    assert proj.cold > proj.total + 5 * warm.cache.saved  # every item computed again
    assert "warm cache" in str(proj) and "cold" in str(proj) and "100 % hits" in str(proj)
    first = cold.project(items=10 * ITEMS)
    assert first.hit_rate == 0.0 and first.cold == pytest.approx(first.total)
    assert first.warm < first.total  # the nodes' compute would become hits
    uncached = PIPE.map({"x": [1, 2, 3]}, over="x").profile.project(items=30)
    assert uncached.warm is None and uncached.cold is None
    assert "(cache)" not in uncached.phases and "warm" not in str(uncached)


def test_json_has_the_cache_fields(runs):
    _, _, warm = runs
    data = json.loads(warm.to_json())
    assert data["schema"] == "hotpipe.profile/1"
    c = data["cache"]
    assert {"hits", "misses", "saved", "bytes_read", "bytes_written"} <= set(c)
    assert c["wall"] == pytest.approx(warm.cache.wall) and c["hit_rate"] == 1.0
    assert c["saved"] == pytest.approx(warm.cache.saved)
    assert {n["name"]: n["cache_wall"] > 0 for n in data["nodes"]} == {"work": True,
                                                                       "label": True}
    nodes = {e["node"] for e in data["cache_events"]}
    assert {"work", "label"} <= nodes and None in nodes  # per node, and input keys


def test_table_and_notebook_show_the_cache(runs, monkeypatch):
    _, cold, warm = runs
    monkeypatch.setenv("COLUMNS", "160")
    text = str(warm)
    assert "no node ran: every result came from the cache" in text
    assert "parallelism" not in text.splitlines()[0]
    header = next(line for line in text.splitlines() if "calls" in line)
    assert all(col in header for col in ("hits", "misses", "saved", "cache"))
    row = next(line for line in text.splitlines() if line.lstrip().startswith("(cache)"))
    assert f"{2 * ITEMS:,}" in row
    assert f"cache: {2 * ITEMS:,} hits, 0 misses (100 %)" in text
    assert "parallelism" in str(cold).splitlines()[0]  # the cold run computed
    html = warm._repr_html_()
    assert all(k in html for k in ("Cache hits", "Time saved", "Cache time", "(cache)"))
    assert "no node ran" in html


def test_html_report_of_a_cached_run_in_the_browser(runs, tmp_path):
    engine, _, warm = runs
    path = tmp_path / f"warm-{engine}.html"
    warm.to_html(str(path))
    text = path.read_text(encoding="utf-8")
    for ident in ("card-cache-hits", "card-cache-saved", "card-cache-time", "row-cache",
                  "projection-warm", "projection-cold"):
        assert f'id="{ident}"' in text
    assert "&lt;demo&gt;" in text and "<demo>" not in text
    dom = Dom(_headless(tmp_path, "--dump-dom", path.as_uri()).stdout)
    assert dom.body.get("data-rendered") == "1"
    assert "data-errors" not in dom.body, dom.body["data-errors"]
    assert dom.inside["chart-timeline"]["rect.cev"] == len(warm.stats.cache_events)
    assert dom.inside["chart-nodes"]["rect"] >= len(warm.nodes) + 2  # + cache, framework
    cards = re.findall(r'id="card-cache-hits".*?class="v">([^<]*)<', text)
    assert cards == [f"{2 * ITEMS:,}"]


def test_advisor_reads_the_measured_cache_time(runs):
    _, _, warm = runs
    findings = [f for f in warm.advise() if f.rule == "cache"]
    for f in findings:  # label is cheap to compute: loading may cost more than computing
        assert f.evidence["load_s"] == pytest.approx(warm[f.node].cache_wall)
    assert all(f.node != "work" for f in findings)  # work's hits save far more than they cost


def test_nested_cached_map_counts_inner_cache_time_once(tmp_path):
    """The nested step's own wall excludes its inner steps' cache time: on one worker the
    nodes, the cache and the framework still add up to the call."""
    inner = Pipeline([work], name="inner")
    outer = Pipeline([inner.as_node(name="per", over="x", inputs={"xs": "x"},
                                    outputs={"y": "ys"})], name="outer")
    cache = hotpipe.Cache(tmp_path / "c")
    inputs = {"xs": [list(range(i, i + 5)) for i in range(8)]}
    outer.map(inputs, over="xs", cache=cache)
    warm = outer.map(inputs, over="xs", cache=cache).profile
    assert warm["per/work"].hits == 40 and warm["per/work"].cache_wall > 0
    assert warm.spent == pytest.approx(warm.wall, rel=1e-6, abs=1e-7)
    assert warm["per"].wall < warm.cache.wall
