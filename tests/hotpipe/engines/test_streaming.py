"""Iterators of unknown length, read ahead in bounded buffers, on every engine."""

import threading
import time

import pytest

from hotpipe import FAILED, InputError, NodeError, Pipeline, node


@pytest.fixture(scope="module")
def pipe():
    return Pipeline([node(lambda x: x + 1, output="y"), node(lambda y, k: y * k, output="z")])


def test_map_over_a_generator(engine, pipe):
    r = pipe.map({"x": (i for i in range(50)), "k": 3}, over="x", engine=engine)
    assert r["z"] == [(i + 1) * 3 for i in range(50)]
    assert r.profile.items == 50


def test_imap_yields_items_in_order(engine, pipe):
    stream = pipe.imap({"x": iter(range(30)), "k": 2}, over="x", engine=engine)
    got = [item["z"] for item in stream]
    assert got == [(i + 1) * 2 for i in range(30)]
    assert stream.profile.items == 30


def test_zip_stream_with_list_and_unequal_lengths(pipe):
    p = Pipeline([node(lambda a, b: a + b, output="c")])
    assert p.map({"a": iter([1, 2]), "b": [10, 20]}, over=["a", "b"])["c"] == [11, 22]
    with pytest.raises(InputError, match="same length"):
        p.map({"a": iter([1, 2, 3]), "b": [10, 20]}, over=["a", "b"])


def test_memory_is_bounded_by_the_buffer():
    produced = [0]
    consumed = [0]
    lead = []

    def source():
        for i in range(2000):
            produced[0] += 1
            lead.append(produced[0] - consumed[0])
            yield i

    @node(output="y")
    def work(x):
        consumed[0] += 1
        return x

    from hotpipe import Local

    stream = Pipeline([work]).imap({"x": source()}, over="x", engine=Local(chunk_size=10),
                                   buffer=2)
    for _ in stream:
        time.sleep(0.0001)
    # at most: the chunk being computed + 2 buffered + the one being filled
    assert max(lead) <= 10 * 4 + 1


def test_loading_overlaps_compute():
    reader_threads = set()

    def source():
        for i in range(40):
            reader_threads.add(threading.get_ident())
            time.sleep(0.002)  # loading
            yield i

    def compute(x):
        time.sleep(0.002)
        return x

    t = time.perf_counter()
    from hotpipe import Local

    r = Pipeline([node(compute, output="y")]).map({"x": source()}, over="x",
                                                   engine=Local(chunk_size=4))
    elapsed = time.perf_counter() - t
    assert r["y"] == list(range(40))
    assert threading.get_ident() not in reader_threads  # read on another thread
    assert elapsed < 40 * 0.004  # serial loading + compute would take 0.16 s


def test_errors_in_stream(pipe):
    def bad(x):
        if x == 3:
            raise ValueError("three")
        return x

    p = Pipeline([node(bad, output="y")])
    r = p.map({"x": iter(range(6))}, over="x", on_error="collect")
    assert r["y"] == [0, 1, 2, FAILED, 4, 5] and r.errors[0].index == 3
    with pytest.raises(NodeError) as info:
        p.map({"x": iter(range(6))}, over="x")
    assert info.value.index == 3


def test_source_iterator_error_propagates(pipe):
    def broken():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        pipe.map({"x": broken(), "k": 1}, over="x")


def test_stream_iterated_once(pipe):
    stream = pipe.imap({"x": iter([1]), "k": 1}, over="x")
    list(stream)
    with pytest.raises(InputError, match="only once"):
        list(stream)
