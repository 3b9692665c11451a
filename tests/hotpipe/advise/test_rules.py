"""Each rule fires on a pipeline that has its problem and stays silent on one that does not."""

from __future__ import annotations

import time

import pytest

import hotpipe
from hotpipe import Local, Pipeline, Processes, Threads, node
from hotpipe.advise import RULES, Finding


def rule(result, rid, **kw):
    return [f for f in result.advise(**kw) if f.rule == rid]


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


# ------------------------------------------------------------------ 1 batch


@node(output="y")
def score(x):
    table = sorted(range(3000, 0, -1))  # a per-call setup a batch pays once
    return x + table[0]


def score_batch(x):
    table = sorted(range(3000, 0, -1))
    return [v + table[0] for v in x]


def score_loop(x):
    return [score.func(v) for v in x]


def test_batch_fires_when_a_timed_batch_is_faster():
    xs = list(range(500))
    r = Pipeline([score]).map({"x": xs}, over="x")
    [f] = rule(r, "batch", measure=True, inputs={"x": xs}, batches={"score": score_batch})
    assert f.node == "score" and f.measured and f.evidence["batch_speedup"] > 2
    assert "@score.batch" in f.change and "def score_batch(x)" in f.change
    assert 0 < f.gain_s <= r.profile.wall and f.gain_pct > 30


def test_batch_silent_when_the_batch_does_not_pay_or_is_not_timed():
    xs = list(range(200))
    r = Pipeline([score]).map({"x": xs}, over="x")
    assert rule(r, "batch", measure=True, inputs={"x": xs}, batches={"score": score_loop}) == []
    assert rule(r, "batch", inputs={"x": xs}) == []   # no measurement, no guessed ratio


# ------------------------------------------------------------------ 2 resource


@node(output="y")
def lookup(x, table):
    spin(0.002)
    return table[x % len(table)]


@pytest.mark.parametrize("size", [3_000_000, 10])
def test_resource_fires_on_a_large_input_sent_to_processes(size):
    inputs = {"x": list(range(300)), "table": list(range(size))}
    with Processes(2) as engine:
        r = Pipeline([lookup]).map(inputs, over="x", engine=engine)
    found = rule(r, "resource", inputs=inputs)
    if r.profile.engine != "processes" or len({(e.pid, e.tid) for e in r.profile.stats.events}) < 2:
        pytest.skip("the engine ran the map in-process on this machine")
    if size == 10:
        assert found == []
    else:
        [f] = found
        assert "'table'" in f.title and "hotpipe.resource" in f.change
        assert f.evidence["bytes"] > 1e6 and f.gain_s > 0


def test_resource_waits_between_chunks_read_off_the_timeline():
    from hotpipe.advise.rules import _chunk_waits
    from hotpipe.profile.stats import Event

    events = [Event(0, 1, 1, 0.0, 1.0, 5), Event(1, 1, 1, 1.0, 1.5, 5),  # a 2-step chunk
              Event(0, 1, 1, 1.75, 2.0, 5), Event(1, 1, 1, 2.0, 2.1, 5),  # waited 0.25 s
              Event(0, 2, 1, 0.5, 1.0, 5), Event(1, 2, 1, 1.0, 1.2, 5),
              Event(0, 2, 1, 1.3, 1.4, 5), Event(1, 2, 1, 1.4, 1.5, 5)]  # waited 0.1 s
    chunks, waits = _chunk_waits(events)
    assert chunks == {(1, 1): 2, (2, 1): 2}
    assert sorted(waits) == pytest.approx([0.1, 0.25])


def test_resource_silent_on_local():
    inputs = {"x": list(range(50)), "table": list(range(200_000))}
    r = Pipeline([lookup]).map(inputs, over="x")
    assert rule(r, "resource", inputs=inputs) == []


# ------------------------------------------------------------------ 3 nested


def nested_pipe(cost):
    @node(output="words")
    def split(doc):
        return doc.split()

    @node(output="n")
    def size(word):
        if cost:
            spin(cost)
        return len(word)

    inner = Pipeline([size], name="word").as_node(
        name="per_word", over="word", inputs={"words": "word"}, outputs={"n": "sizes"})
    return Pipeline([split, inner], name="docs")


def _nested_words(n):
    pipe = nested_pipe(0)
    pipe.map({"doc": ["a bb"]}, over="doc")
    docs = ["a bb ccc"] * n
    return pipe.map({"doc": docs}, over="doc")


def test_nested_fires_when_the_experiment_finds_the_nesting_slower(monkeypatch):
    import hotpipe.advise.rules as rules

    r = _nested_words(2_000)
    timed = []
    real = rules._time_both
    def slower(ctx, step, sample):  # the real experiment runs, then the nesting is made slow
        nested_s, flat_s, scale = real(ctx, step, sample)
        timed.append((nested_s, flat_s, scale))
        return flat_s + 1.0, flat_s, scale
    monkeypatch.setattr(rules, "_time_both", slower)
    [f] = rule(r, "nested", measure=True)
    assert len(timed) == 2  # confirmed by a second experiment
    nested_s, flat_s, scale = timed[0]
    assert nested_s > 0 and flat_s > 0 and scale == 1 and f.measured
    assert f.gain_s == pytest.approx(1.0)
    assert f.node == "per_word" and f.evidence["sampled_items"] == 2_000
    assert "per_word_flat(words)" in f.change and "size.func(word) for word in words" in f.change


def test_nested_list_valued_node_matches_the_nested_map():
    import hotpipe.advise.rules as rules

    r = _nested_words(50)
    step = next(s for s in r.profile._plan.steps if s.nested is not None)
    flat = rules._list_valued(step.nested.body.steps[0], "word", step.nested.args, step.params)
    assert [flat(ws, {}) for ws in r["words"]] == r["sizes"]


def test_nested_silent_without_the_experiment_or_when_it_finds_no_gain(monkeypatch):
    import hotpipe.advise.rules as rules

    r = _nested_words(2_000)
    assert rule(r, "nested") == []  # the profile alone never decides it
    monkeypatch.setattr(rules, "_time_both", lambda ctx, step, sample: (1.2, 1.0, 1.0))
    assert rule(r, "nested", measure=True) == []  # under 1.5x: not worth a rewrite


# ------------------------------------------------------------------ 4 cache


@node(output="y")
def heavy(x):
    spin(0.001)
    return x * 2


@node(output="blob")
def blob(x):
    return bytes(1_000_000) + bytes([x % 256])


def test_cache_low_hit_rate_fires(tmp_path):
    cache = hotpipe.Cache(tmp_path / "c")
    pipe = Pipeline([heavy])
    pipe.map({"x": list(range(10))}, over="x", cache=cache)
    r = pipe.map({"x": list(range(40))}, over="x", cache=cache)
    [f] = rule(r, "cache")
    assert f.node == "heavy" and f.evidence == {**f.evidence, "hits": 10, "misses": 30}


def test_cache_silent_on_full_hits_and_first_runs(tmp_path):
    cache = hotpipe.Cache(tmp_path / "c")
    pipe = Pipeline([heavy])
    first = pipe.map({"x": list(range(20))}, over="x", cache=cache)
    again = pipe.map({"x": list(range(20))}, over="x", cache=cache)
    assert rule(first, "cache") == [] and rule(again, "cache") == []


def test_cache_cheaper_to_recompute_fires(tmp_path):
    cache = hotpipe.Cache(tmp_path / "c")
    pipe = Pipeline([blob])
    pipe.map({"x": list(range(100))}, over="x", cache=cache)
    r = pipe.map({"x": list(range(100))}, over="x", cache=cache)
    [f] = rule(r, "cache")
    assert f.node == "blob" and "cache=False" in f.change
    assert f.evidence["load_s"] > 1.2 * f.evidence["saved_s"]


# ------------------------------------------------------------------ 5 parallel


@node(output="y")
def nap(x):
    time.sleep(0.03 if x >= 100 else 0.001)  # the last 10 items are slow
    return x


@node(output="y")
def even_nap(x):
    time.sleep(0.01)
    return x


def test_parallel_fires_on_stragglers():
    engine = Threads(2, chunk_size=10)  # the slow items share one chunk
    r = Pipeline([nap]).map({"x": list(range(110))}, over="x", engine=engine)
    [f] = rule(r, "parallel")
    assert f.node == "nap" and f.evidence["idle_tail_s"] > 0.05 and "chunk_size=1" in f.change


def test_parallel_silent_when_one_item_is_the_tail():
    @node(output="y")
    def last_slow(x):
        time.sleep(0.2 if x == 39 else 0.001)
        return x

    r = Pipeline([last_slow]).map({"x": list(range(40))}, over="x", engine=Threads(2))
    assert rule(r, "parallel") == []  # nothing to rebalance: the tail is one item


def test_parallel_silent_on_even_work():
    r = Pipeline([even_nap]).map({"x": list(range(40))}, over="x", engine=Threads(2))
    assert rule(r, "parallel") == []


# ------------------------------------------------------------------ 6 engine


@node(output="y")
def compute(x):
    spin(0.002)
    return x


def test_engine_cpu_bound_on_threads_fires(monkeypatch):
    import os

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))  # an idle machine
    r = Pipeline([compute]).map({"x": list(range(100))}, over="x", engine=Threads(2))
    [f] = rule(r, "engine")
    assert f.node == "compute" and "Processes(2)" in f.change and f.gain_s > 0


def test_engine_silent_when_no_core_is_free(monkeypatch):
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))  # a busy machine
    r = Pipeline([compute]).map({"x": list(range(100))}, over="x", engine=Threads(2))
    assert rule(r, "engine") == []


def test_engine_experiment_decides_whatever_the_load(monkeypatch):
    import os

    import hotpipe.advise.rules as rules

    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))  # a busy machine
    xs = list(range(60))
    r = Pipeline([compute]).map({"x": xs}, over="x", engine=Threads(2))
    seen = []
    real = rules._time_engines
    def faster(ctx, step, n, k):  # the real experiment runs; then processes are made 2x
        t_threads, t_procs, scale = real(ctx, step, n, k)
        seen.append((t_threads, t_procs, scale))
        return t_threads, t_threads / 2, scale
    monkeypatch.setattr(rules, "_time_engines", faster)
    [f] = rule(r, "engine", measure=True, inputs={"x": xs})
    (t_threads, t_procs, scale), = seen
    assert t_threads > 0 and t_procs > 0 and scale >= 1 and f.measured
    assert f.gain_s == pytest.approx(t_threads / 2 * scale)
    assert "Processes(2)" in f.change and "threads_slice_s" in f.evidence
    monkeypatch.setattr(rules, "_time_engines", lambda ctx, step, n, k: (1.0, 1.0, 1.0))
    assert rule(r, "engine", measure=True, inputs={"x": xs}) == []  # measured: no gain


def test_engine_silent_when_threads_wait():
    r = Pipeline([even_nap]).map({"x": list(range(40))}, over="x", engine=Threads(4))
    assert rule(r, "engine") == []


def test_engine_silent_on_local():
    r = Pipeline([compute]).map({"x": list(range(20))}, over="x", engine=Local())
    assert rule(r, "engine") == []


# ------------------------------------------------------------------ 7 duplicates


def test_duplicates_fire_with_the_count():
    xs = [1, 2, 3, 4] * 25
    r = Pipeline([heavy]).map({"x": xs}, over="x")
    [f] = rule(r, "duplicates", inputs={"x": xs})
    assert f.evidence["distinct"] == 4 and f.evidence["duplicates"] == 96
    assert "@functools.cache" in f.change and "def heavy(x)" in f.change


def test_duplicates_silent_on_distinct_inputs_or_without_values():
    xs = list(range(100))
    r = Pipeline([heavy]).map({"x": xs}, over="x")
    assert rule(r, "duplicates", inputs={"x": xs}) == []
    r = Pipeline([heavy]).map({"x": [1] * 50}, over="x")
    assert rule(r, "duplicates") == []  # the inputs were not given: nothing to count


# ------------------------------------------------------------------ 8 scaling


@node(output="model", phase="setup")
def load(name):
    spin(0.03)
    return name


@node(output="y", phase="work")
def infer(x, model):
    spin(0.001)
    return x


def test_scaling_fires_when_a_per_item_phase_will_dominate():
    r = Pipeline([load, infer]).map({"x": list(range(10)), "name": "m"}, over="x")
    [f] = rule(r, "scaling")
    assert f.node == "infer" and f.evidence["projected_share"] > 50
    assert f.evidence["projected_share"] - f.evidence["share_now"] >= 10
    assert f.gain_s is None and f.severity == "info"


def test_scaling_silent_when_the_picture_does_not_change():
    r = Pipeline([load, infer]).map({"x": list(range(300)), "name": "m"}, over="x")
    assert rule(r, "scaling") == []


# ------------------------------------------------------------------ the whole


def test_registry_and_rendering():
    assert set(RULES) >= {"batch", "resource", "nested", "cache", "parallel", "engine",
                          "duplicates", "scaling"}
    xs = [1, 2] * 50
    r = Pipeline([heavy]).map({"x": xs}, over="x")
    found = r.advise(inputs={"x": xs})
    assert all(isinstance(f, Finding) for f in found)
    text = str(found)
    assert "[high] duplicates" in text and "expected: ~" in text
    assert r.profile.to_dict(found)["findings"][0]["rule"] == "duplicates"


def test_healthy_chain_has_no_findings(chain):
    xs = list(range(500))
    r = chain.map({"x": xs}, over="x")
    assert list(r.advise(inputs={"x": xs})) == []
    assert str(r.advise()) .startswith("no findings")


# ------------------------------------------------------------------ nested maps in a run
# (issue 18: the retrieval pipeline's natural form, a run over two nested maps)


class Model:
    def __init__(self, name):
        self.name = name


@node(output="model")
def load_model(name):
    return Model(name)


@node(output="emb")
def embed(text, model):
    table = sorted(range(20_000, 0, -1))  # a per-call setup a batch pays once
    return len(text) + table[0]


def embed_batch(text, model):
    table = sorted(range(20_000, 0, -1))
    return [len(t) + table[0] for t in text]


def _nested_run(n=64):
    inner = Pipeline([embed], name="texts").as_node(
        name="embed_all", over="text", inputs={"texts": "text"}, outputs={"emb": "embs"})
    texts = [f"text {i}" for i in range(n)]
    pipe = Pipeline([load_model, inner])
    return pipe.run({"texts": texts, "name": "m"}), texts


def test_batch_fires_on_an_inner_node_of_a_nested_map_in_a_run():
    r, texts = _nested_run()
    [f] = rule(r, "batch", measure=True, inputs={"texts": texts, "name": "m"},
               batches={"embed": embed_batch})
    assert f.node == "embed_all/embed" and f.evidence["batch_speedup"] > 2
    assert f.change.startswith("@embed.batch")


def test_flatten_fires_on_a_nested_map_in_a_run(monkeypatch):
    import os

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))  # an idle machine
    r, texts = _nested_run(400)          # ~80 ms of inner work: a gain over the 10 ms floor
    [f] = rule(r, "flatten", inputs={"texts": texts, "name": "m"})
    assert f.node == "embed_all" and f.evidence["items"] == 400 and f.gain_s > 0
    # the model, made once per call from a setting, becomes a resource in the change
    assert "model = hotpipe.resource(load_model, name=name)" in f.change
    assert "embed_all.nested.pipeline.map({'text': texts, 'model': model}" in f.change


def test_flatten_silent_when_no_core_is_free_or_in_a_map(monkeypatch):
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))  # a busy machine
    r, _ = _nested_run(400)
    assert rule(r, "flatten") == []
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    inner = Pipeline([embed], name="texts").as_node(
        name="embed_all", over="text", inputs={"texts": "text"}, outputs={"emb": "embs"})
    mapped = Pipeline([inner]).map({"texts": [["a"] * 8] * 8, "model": Model("m")},
                                   over="texts")
    assert rule(mapped, "flatten") == []   # a map's engine spreads the outer items already
