"""Progress moves per time slice, not per chunk: a chunk of slow items reports as it goes."""

import time

from hotpipe import Local, Pipeline, node


def test_slow_items_report_one_by_one():
    @node(output="y")
    def slow(x):
        time.sleep(0.12)
        return x

    ticks = []
    r = Pipeline([slow]).map({"x": list(range(6))}, over="x", engine=Local(),
                             progress=ticks.append)
    assert r["y"] == list(range(6))
    assert ticks == [1] * 6  # the default chunk of 1,024 items used to report 6 at the end


def test_fast_items_reach_full_chunks_after_a_few_doublings():
    ticks = []
    pipe = Pipeline([node(lambda x: x + 1, output="y")])
    r = pipe.map({"x": list(range(10_000))}, over="x", progress=ticks.append)
    assert sum(ticks) == 10_000 and r["y"][-1] == 10_000
    assert ticks[:4] == [1, 2, 4, 8] and max(ticks) == 1024
    assert len(ticks) < 30


def test_without_progress_the_chunks_are_unchanged():
    seen = []

    @node(output="y", batch=True)
    def sizes(x):
        seen.append(len(x))
        return x

    Pipeline([sizes]).map({"x": list(range(50))}, over="x", engine=Local(chunk_size=20))
    assert sum(seen) == 50 and max(seen) <= 20
