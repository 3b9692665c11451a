"""Retries and timeouts (``@node(retries=, retry_on=, backoff=, timeout=)``) on every engine."""

import asyncio
import os
import sys
import time

import pytest

import hotpipe
from hotpipe import DefinitionError, NodeError, NodeTimeout, Pipeline, node


def _flaky_once(x, marks):
    """Fails the first call for each item (a marker file remembers it across processes)."""
    path = os.path.join(marks, f"{x}")
    if not os.path.exists(path):
        open(path, "w").close()
        raise ConnectionError(f"transient failure for {x}")
    return x * 2


def test_an_item_that_succeeds_on_retry_is_a_success(engine, tmp_path):
    flaky = node(_flaky_once, output="y", retries=2)
    xs = list(range(12))
    r = Pipeline([flaky]).map({"x": xs, "marks": str(tmp_path)}, over="x", engine=engine)
    assert r["y"] == [x * 2 for x in xs]
    assert not r.errors
    assert r.profile["_flaky_once"].retries == len(xs)
    assert any("12 call(s) retried" in n for n in r.profile.notes), r.profile.notes


def test_exhausted_retries_fail_with_the_last_error_and_a_note(engine):
    calls = []

    @node(output="y", retries=2, retry_on=(ValueError, KeyError))
    def bad(x):
        calls.append(x)
        raise ValueError(f"bad {x}")

    r = Pipeline([bad]).map({"x": [1, 2]}, over="x", engine=engine, on_error="collect")
    assert [e.index for e in r.errors] == [0, 1]
    err = r.errors[0].exception
    assert isinstance(err, ValueError)
    assert any("failed 3 times (retries=2)" in n for n in getattr(err, "__notes__", []))
    assert r.profile["bad"].retries == 4


def test_an_error_outside_retry_on_is_not_retried():
    calls = []

    @node(output="y", retries=3, retry_on=ConnectionError)
    def typo(x):
        calls.append(x)
        raise TypeError("a bug, not a transient failure")

    with pytest.raises(NodeError) as info:
        Pipeline([typo]).run({"x": 1})
    assert isinstance(info.value.__cause__, TypeError)
    assert calls == [1]


def test_backoff_waits_between_attempts():
    waits = []
    attempts = []

    @node(output="y", retries=3, backoff=lambda attempt: waits.append(attempt) or 0.0)
    def flaky(x):
        attempts.append(time.perf_counter())
        if len(attempts) < 3:
            raise OSError("again")
        return x

    r = Pipeline([flaky]).run({"x": 5})
    assert r["y"] == 5 and waits == [1, 2]
    assert r.profile["flaky"].retries == 2

    times = []

    @node(output="y", retries=2, backoff=0.05)
    def slow_flaky(x):
        times.append(time.perf_counter())
        if len(times) < 3:
            raise OSError("again")
        return x

    Pipeline([slow_flaky]).run({"x": 1})
    gaps = [times[1] - times[0], times[2] - times[1]]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095  # 0.05 s, then doubled


def _sleepy(x):
    if x == 3:
        time.sleep(5)
    return x + 1


def test_a_timed_out_item_fails_alone(engine):
    sleepy = node(_sleepy, output="y", timeout=0.3)
    t0 = time.perf_counter()
    r = Pipeline([sleepy]).map({"x": list(range(8))}, over="x", engine=engine,
                               on_error="collect")
    assert time.perf_counter() - t0 < 4.5
    assert [e.index for e in r.errors] == [3]
    err = r.errors[0].exception
    assert isinstance(err, NodeTimeout) and isinstance(err, TimeoutError)
    assert err.seconds == 0.3 and "'_sleepy'" in str(err) and "0.3 s" in str(err)
    assert r["y"][:3] == [1, 2, 3] and r["y"][4:] == [5, 6, 7, 8]
    assert r.profile["_sleepy"].timeouts == 1


def test_a_timeout_raises_a_node_error_naming_node_item_and_limit():
    sleepy = node(_sleepy, output="y", timeout=0.2)
    with pytest.raises(NodeError) as info:
        Pipeline([sleepy]).map({"x": [0, 3]}, over="x")
    err = info.value
    assert err.node == "_sleepy" and err.index == 1
    assert isinstance(err.__cause__, NodeTimeout) and "timeout of 0.2 s" in str(err)


def test_a_timed_out_call_is_retried():
    calls = []

    @node(output="y", timeout=0.2, retries=1)
    def first_hangs(x):
        calls.append(x)
        if len(calls) == 1:
            time.sleep(3)
        return x

    r = Pipeline([first_hangs]).run({"x": 7})
    assert r["y"] == 7 and len(calls) == 2
    assert r.profile["first_hangs"].timeouts == 1 and r.profile["first_hangs"].retries == 1


def test_timeout_off_the_main_thread_says_the_call_goes_on_in_the_background():
    import threading

    sleepy = node(_sleepy, output="y", timeout=0.2)
    box = []
    thread = threading.Thread(target=lambda: box.append(Pipeline([sleepy]).map(
        {"x": [3, 4]}, over="x", on_error="collect")))
    thread.start()
    thread.join(10)
    (r,) = box
    assert r["y"][1] == 5 and "background" in str(r.errors[0].exception)


def test_an_async_node_is_cancelled_at_its_timeout():
    cancelled = []

    @node(output="y", timeout=0.2)
    async def fetch(x):
        try:
            await asyncio.sleep(5 if x == 1 else 0)
        except asyncio.CancelledError:
            cancelled.append(x)
            raise
        return x

    r = Pipeline([fetch]).map({"x": [0, 1, 2]}, over="x", on_error="collect")
    assert r["y"][0] == 0 and r["y"][2] == 2 and cancelled == [1]
    assert isinstance(r.errors[0].exception, NodeTimeout)


def test_an_async_nodes_own_timeout_error_stays_itself():
    @node(output="y", timeout=5)
    async def own(x):
        raise TimeoutError("the server said so")

    r = Pipeline([own]).map({"x": [0]}, over="x", on_error="collect")
    exc = r.errors[0].exception
    assert type(exc) is TimeoutError and "the server said so" in str(exc)


def _native_hang(x):
    if x == 30:
        sum(range(10**9))  # C code holding the GIL: SIGALRM cannot interrupt it
    time.sleep(0.02)
    return x


@pytest.mark.skipif(sys.platform != "linux", reason="worker watchdog tested on Linux")
def test_a_worker_stuck_in_native_code_is_killed_and_replaced():
    stuck = node(_native_hang, output="y", timeout=0.5)
    with hotpipe.Processes(2, chunk_size=2) as procs:
        t0 = time.perf_counter()
        r = Pipeline([stuck]).map({"x": list(range(40))}, over="x", engine=procs,
                                  on_error="collect")
        took = time.perf_counter() - t0
        again = Pipeline([stuck]).map({"x": list(range(4))}, over="x", engine=procs)
    assert [e.index for e in r.errors] == [30]
    err = r.errors[0]
    assert err.node == "_native_hang" and isinstance(err.exception, NodeTimeout)
    assert "killed and replaced" in str(err.exception)
    assert r["y"][31:] == list(range(31, 40)) and took < 20
    assert again["y"] == [0, 1, 2, 3]  # the pool works after the kill


def test_cached_map_with_retries(tmp_path):
    flaky = node(_flaky_once, output="y", retries=1)
    cache = hotpipe.Cache(tmp_path / "cache")
    marks = tmp_path / "marks"
    marks.mkdir()
    pipe = Pipeline([flaky])
    cold = pipe.map({"x": [1, 2, 3], "marks": str(marks)}, over="x", cache=cache)
    warm = pipe.map({"x": [1, 2, 3], "marks": str(marks)}, over="x", cache=cache)
    assert cold["y"] == warm["y"] == [2, 4, 6]
    assert cold.profile["_flaky_once"].retries == 3
    assert warm.profile["_flaky_once"].retries == 0 and warm.profile["_flaky_once"].hits == 3


@pytest.mark.parametrize(("options", "fragment"), [
    ({"retries": -1}, "retries=-1 must be an int >= 0"),
    ({"retries": 1.5}, "retries=1.5"),
    ({"retries": True}, "retries=True"),
    ({"retry_on": "ValueError"}, "retry_on='ValueError' must be an exception class"),
    ({"retry_on": (ValueError, 3)}, "retry_on="),
    ({"retry_on": ()}, "retry_on=()"),
    ({"backoff": -1}, "backoff=-1 must be seconds >= 0"),
    ({"backoff": "1s"}, "backoff='1s'"),
    ({"timeout": 0}, "timeout=0 must be seconds > 0"),
    ({"timeout": "5"}, "timeout='5'"),
    ({"timeout": False}, "timeout=False"),
])
def test_bad_retry_and_timeout_options_are_definition_errors(options, fragment):
    with pytest.raises(DefinitionError) as info:
        node(lambda x: x, output="y", **options)
    assert fragment in str(info.value)


def test_nodes_without_the_options_are_not_wrapped():
    plain = node(lambda x: x + 1, output="y")
    plan_pipe = Pipeline([plain])
    r = plan_pipe.map({"x": [1, 2]}, over="x")
    assert r["y"] == [2, 3]
    (plan,) = plan_pipe._plans.values()
    assert not plan.guarded and plan.steps[0].func is plain.func
    guarded = Pipeline([node(lambda x: x + 1, output="y", timeout=1)])
    guarded.map({"x": [1]}, over="x")
    (plan,) = guarded._plans.values()
    assert plan.guarded and plan.steps[0].func is not guarded.nodes[0].func
