"""The cache inside run and map: keys, hits, resume after kill -9, processes, threads."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest

from hotpipe import FAILED, CacheKeyError, InputError, Pipeline, Processes, Threads, node
from hotpipe.cache import Cache, CacheWarning

CALLS = []


@node(output="y")
def inc(x):
    CALLS.append(("inc", x))
    return x + 1


@node(output="z")
def dbl(y):
    CALLS.append(("dbl", y))
    return y * 2


@node(output="s")
def fmt(z):
    CALLS.append(("fmt", z))
    return str(z)


@pytest.fixture
def chain():
    CALLS.clear()
    return Pipeline([inc, dbl, fmt], name="chain")


@pytest.fixture
def cache(tmp_path):
    c = Cache(tmp_path / "cache")
    yield c
    c.close()


def test_second_map_is_all_hits(chain, cache):
    first = chain.map({"x": range(10)}, over="x", cache=cache)
    assert len(CALLS) == 30
    CALLS.clear()
    again = chain.map({"x": range(10)}, over="x", cache=cache)
    assert again == first and CALLS == []
    prof = again.profile
    assert [(n.hits, n.misses) for n in prof.nodes] == [(0, 0), (0, 0), (10, 0)] or \
        all(n.hits == 10 for n in prof.nodes)
    assert sum(n.saved for n in prof.nodes) > 0
    assert prof.to_dict()["cache"]["hits"] >= 10


def test_requested_output_cached_means_nothing_upstream_is_loaded(chain, cache):
    chain.map({"x": range(5)}, over="x", cache=cache)
    CALLS.clear()
    r = chain.map({"x": range(5)}, over="x", outputs="s", cache=cache)
    assert r["s"] == ["2", "4", "6", "8", "10"] and CALLS == []
    prof = r.profile
    assert prof["fmt"].hits == 5
    assert prof["inc"].hits == 0 and prof["dbl"].hits == 0  # never even loaded


def test_only_new_items_and_changed_nodes_recompute(chain, cache):
    chain.map({"x": [1, 2]}, over="x", cache=cache)
    CALLS.clear()
    chain.map({"x": [1, 2, 3]}, over="x", cache=cache)
    assert sorted(CALLS) == [("dbl", 4), ("fmt", 8), ("inc", 3)]
    CALLS.clear()
    changed = Pipeline([inc, dbl, node(lambda z: f"<{z}>", output="s")])
    assert changed.map({"x": [1, 2]}, over="x", cache=cache)["s"] == ["<4>", "<6>"]
    assert CALLS == []  # inc and dbl were hits; only the new node ran


def test_collisions_are_distinct_keys(cache):
    ident = Pipeline([node(lambda v: v, output="out")])
    values = [1, 1.0, True, "1", (1,), [1], b"1", None]
    first = ident.map({"v": values}, over="v", cache=cache)["out"]
    again = ident.map({"v": values}, over="v", cache=cache)
    assert again["out"] == values
    assert [type(v) for v in again["out"]] == [type(v) for v in values]
    assert again.profile["out"].hits == len(values) and first == values


def test_none_is_cached_and_failures_are_not(cache):
    seen = []

    @node(output="y")
    def maybe(x):
        seen.append(x)
        if x < 0:
            raise ValueError("negative")
        return None

    p = Pipeline([maybe])
    r = p.map({"x": [1, -1]}, over="x", cache=cache, on_error="collect")
    assert r["y"] == [None, FAILED]
    seen.clear()
    r = p.map({"x": [1, -1]}, over="x", cache=cache, on_error="collect")
    assert seen == [-1]  # None was a hit; the failure was retried
    assert r.profile["maybe"].hits == 1


def test_version_and_defaults_change_keys(cache):
    seen = []

    def f(x, k=1):
        seen.append(x)
        return x * k

    Pipeline([node(f, output="y")]).run({"x": 2}, cache=cache)
    Pipeline([node(f, output="y")]).run({"x": 2}, cache=cache)
    assert seen == [2]
    Pipeline([node(f, output="y", version="2")]).run({"x": 2}, cache=cache)
    assert seen == [2, 2]
    Pipeline([node(f, output="y")]).run({"x": 2, "k": 1}, cache=cache)
    assert seen == [2, 2, 2]  # passing k explicitly is a different call shape


def test_unstable_input_is_a_clear_error(cache):
    p = Pipeline([node(lambda lock: 1, output="y", name="uses_lock")])
    with pytest.raises(CacheKeyError) as info:
        p.run({"lock": threading.Lock()}, cache=cache)
    msg = str(info.value)
    assert "uses_lock" in msg and "'lock'" in msg
    assert "cache=False" in msg and "__cache_key__" in msg and "resource" in msg


def test_cache_false_node_needs_no_fingerprint_and_keys_by_value(cache):
    calls = []

    @node(output="conn", cache=False)
    def connect(url):
        return {"url": url}

    @node(output="rows")
    def query(conn, q):
        calls.append(q)
        return [conn["url"], q]

    p = Pipeline([connect, query])
    p.map({"url": "db", "q": ["a", "b"]}, over="q", cache=cache)
    p.map({"url": "db", "q": ["a", "b"]}, over="q", cache=cache)
    assert calls == ["a", "b"]


def test_cache_argument_errors(chain):
    with pytest.raises(InputError, match="cache="):
        chain.run({"x": 1}, cache="yes")


def test_default_cache_location(chain, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    chain.run({"x": 1}, cache=True)
    assert (tmp_path / ".hotpipe" / "cache" / "index.sqlite").exists()


def test_corrupt_blob_is_a_miss_with_warning(tmp_path):
    cache = Cache(tmp_path / "c")
    big = Pipeline([node(lambda n: "x" * n, output="text")])
    big.run({"n": 200_000}, cache=cache)
    blobs = [p for p in (tmp_path / "c").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert blobs
    blobs[0].write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = big.run({"n": 200_000}, cache=cache)
    assert r["text"] == "x" * 200_000
    assert any(issubclass(w.category, CacheWarning) for w in caught)
    assert big.run({"n": 200_000}, cache=cache).profile["text"].hits == 1  # rewritten


@pytest.mark.parametrize("engine", [Threads(4, chunk_size=3), Processes(2, chunk_size=4)],
                         ids=["threads", "processes"])
def test_parallel_engines_share_the_cache(engine, tmp_path):
    cache = Cache(tmp_path / "c")
    p = Pipeline([node(lambda x: x * x, output="sq"), node(lambda sq: sq + 1, output="out")])
    xs = list(range(20))
    r = p.map({"x": xs}, over="x", cache=cache, engine=engine)
    assert r["out"] == [x * x + 1 for x in xs]
    r2 = p.map({"x": xs}, over="x", cache=cache)
    assert r2["out"] == r["out"] and r2.profile["out"].hits == 20


def test_threads_running_cached_maps_at_once(tmp_path):
    cache = Cache(tmp_path / "c")
    p = Pipeline([node(lambda x: x * 3, output="y")])
    errors, results = [], {}

    def work(t):
        try:
            results[t] = p.map({"x": list(range(t, t + 50))}, over="x", cache=cache)["y"]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(0, 80, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(results[t] == [3 * x for x in range(t, t + 50)] for t in results)


WRITER = """
import sys, time
from hotpipe import Pipeline, node, Local
from hotpipe.cache import Cache

def slow(x):
    time.sleep(0.002)
    return x * 2

p = Pipeline([node(slow, output="y")])
done = [0]
def progress(n):
    done[0] += n
    print(done[0], flush=True)
r = p.map({"x": list(range(int(sys.argv[2])))}, over="x", cache=Cache(sys.argv[1]),
          engine=Local(chunk_size=20), progress=progress)
print("misses", sum(n.misses for n in r.profile.nodes), flush=True)
"""


def test_kill_9_mid_map_then_resume(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    store = str(tmp_path / "c")
    proc = subprocess.Popen([sys.executable, str(script), store, "2000"],
                            stdout=subprocess.PIPE, text=True)
    finished = 0
    while finished < 200:
        line = proc.stdout.readline()
        assert line, "writer ended early"
        finished = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run([sys.executable, str(script), store, "2000"], capture_output=True,
                         text=True, check=True, timeout=120)
    misses = int(out.stdout.strip().splitlines()[-1].split()[1])
    assert misses <= 2000 - finished  # every finished item was a hit


def test_two_processes_map_into_one_cache(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    store = str(tmp_path / "c")
    procs = [subprocess.Popen([sys.executable, str(script), store, "300"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    again = subprocess.run([sys.executable, str(script), store, "300"], capture_output=True,
                           text=True, check=True, timeout=120)
    assert again.stdout.strip().splitlines()[-1] == "misses 0"
    entries = Cache(store).stats().store.entries
    assert entries == 300


def _write_module(path, body):
    path.write_text(textwrap.dedent(body))


def test_helper_edit_invalidates_comment_edit_does_not(tmp_path):
    mod = tmp_path / "userlib.py"
    runner = tmp_path / "runner.py"
    runner.write_text(textwrap.dedent("""
        import sys
        from hotpipe import Pipeline, node
        from hotpipe.cache import Cache
        import userlib
        p = Pipeline([node(userlib.score, output="y")])
        r = p.run({"x": 3}, cache=Cache(sys.argv[1]))
        print(r["y"], r.profile["score"].hits)
    """))
    store = str(tmp_path / "c")

    def run():
        out = subprocess.run([sys.executable, str(runner), store], capture_output=True,
                             text=True, check=True, cwd=tmp_path, timeout=60)
        return out.stdout.split()

    _write_module(mod, """
        def helper(v):
            return v + 1
        def score(x):
            return helper(x) * 10
    """)
    assert run() == ["40", "0"]
    assert run() == ["40", "1"]
    _write_module(mod, """
        def helper(v):
            # a comment changes nothing
            return v + 1
        def score(x):
            \"\"\"Nor does a docstring.\"\"\"
            return helper(x) * 10
    """)
    assert run() == ["40", "1"]
    _write_module(mod, """
        def helper(v):
            return v + 2
        def score(x):
            return helper(x) * 10
    """)
    assert run() == ["50", "0"]
