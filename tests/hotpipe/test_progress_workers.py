"""Progress moves while chunks run on worker threads and processes, not only when a chunk
comes back: workers count the items of their chunk as they go (hotpipe._ticks)."""

import time

import pytest

from hotpipe import Local, Pipeline, Processes, Threads, node


def _slow(x):
    time.sleep(0.1)
    return x * 2


def _counts_while_running(engine):
    """The cumulative counts the callback saw, and whether the map was still running then."""
    seen = []
    pipe = Pipeline([node(_slow, output="y")])
    r = pipe.map({"x": list(range(20))}, over="x", engine=engine,
                 progress=lambda k: seen.append(k))
    assert r["y"] == [x * 2 for x in range(20)]
    totals = []
    for k in seen:
        totals.append((totals[-1] if totals else 0) + k)
    return totals


@pytest.mark.parametrize("engine", [
    Threads(2, chunk_size=10),
    Processes(2, chunk_size=10),
], ids=["threads", "processes"])
def test_chunks_on_workers_report_items_as_they_finish(engine):
    totals = _counts_while_running(engine)
    assert totals[-1] == 20
    # two chunks of 10 items (1 s each) on two workers: they used to report 0, then 20
    intermediate = [t for t in totals if 0 < t < 20]
    assert len(intermediate) >= 4, totals


def test_probe_sized_chunks_on_processes_report_as_they_go():
    totals = _counts_while_running(Processes(2))
    assert totals[-1] == 20 and len([t for t in totals if 0 < t < 20]) >= 4, totals


def test_without_progress_a_worker_chunk_runs_whole():
    pipe = Pipeline([node(lambda x: x, output="y")])
    engine = Threads(2, chunk_size=20)
    plain = pipe.map({"x": list(range(40))}, over="x", engine=engine)
    assert plain.profile.to_dict()["chunks"] == 2  # one runner call per chunk
    shown = pipe.map({"x": list(range(40))}, over="x", engine=engine, progress=lambda k: None)
    assert shown.profile.to_dict()["chunks"] > 2  # sliced: 1, 2, 4, ... items


def test_failure_in_a_sliced_chunk_names_the_item():
    from hotpipe import NodeError

    def bad(x):
        if x == 13:
            raise ValueError("thirteen")
        return x

    pipe = Pipeline([node(bad, output="y")])
    with pytest.raises(NodeError) as info:
        pipe.map({"x": list(range(20))}, over="x", engine=Threads(2, chunk_size=10),
                 progress=lambda k: None)
    assert info.value.index == 13
    r = pipe.map({"x": list(range(20))}, over="x", engine=Threads(2, chunk_size=10),
                 progress=lambda k: None, on_error="collect")
    assert [e.index for e in r.errors] == [13] and r["y"][12] == 12


def test_nested_map_progress_counts_outer_items():
    inner = Pipeline([node(_slow, output="y")], name="inner").as_node(over="x", outputs={"y": "ys"})
    outer = Pipeline([inner])
    seen = []
    r = outer.map({"x": [[1, 2]] * 4}, over="x", engine=Local(), progress=seen.append)
    assert r["ys"] == [[2, 4]] * 4
    assert sum(seen) == 4 and len(seen) >= 3  # outer items, each reported when done


@node(output="y")
async def _staggered(x):
    import asyncio

    await asyncio.sleep(0.06 * x)
    return x


@pytest.mark.parametrize("engine", [Local(), Threads(2, chunk_size=10),
                                    Processes(2, chunk_size=10)],
                         ids=["local", "threads", "processes"])
def test_async_items_report_as_they_finish_and_stay_concurrent(engine):
    seen = []
    t0 = time.perf_counter()
    r = Pipeline([_staggered]).map({"x": list(range(10))}, over="x", engine=engine,
                                   progress=seen.append)
    took = time.perf_counter() - t0
    assert r["y"] == list(range(10)) and sum(seen) == 10
    # one item at a time would take 2.7 s; concurrently the slowest item's 0.54 s
    assert took < 1.5, took
    assert len(seen) >= 3, seen  # items finishing 60 ms apart, read every 0.1 s
