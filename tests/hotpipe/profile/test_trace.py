"""The Chrome trace export against the Trace Event Format (the JSON object form that
Perfetto and chrome://tracing load), checked by a schema written here."""

from __future__ import annotations

import json
import numbers
import time

import pytest

from hotpipe import Pipeline, Threads, node

PHASE_KEYS = {
    # ph: required keys -> type(s)
    "X": {"name": str, "cat": str, "ts": numbers.Real, "dur": numbers.Real, "pid": int,
          "tid": int},
    "B": {"name": str, "ts": numbers.Real, "pid": int, "tid": int},
    "E": {"ts": numbers.Real, "pid": int, "tid": int},
    "i": {"name": str, "ts": numbers.Real, "pid": int, "tid": int},
    "I": {"name": str, "ts": numbers.Real, "pid": int, "tid": int},
    "C": {"name": str, "ts": numbers.Real, "pid": int, "args": dict},
    "M": {"name": str, "pid": int, "args": dict},
}
METADATA = {  # name -> the arg it carries and its type
    "process_name": ("name", str), "thread_name": ("name", str),
    "process_sort_index": ("sort_index", int), "thread_sort_index": ("sort_index", int),
    "process_labels": ("labels", str),
}


def check_trace_schema(doc: object) -> list[dict]:
    """Raise AssertionError unless ``doc`` is a valid Trace Event Format object."""
    assert isinstance(doc, dict), "the object form is a JSON object"
    assert isinstance(doc.get("traceEvents"), list) and doc["traceEvents"]
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    for ev in doc["traceEvents"]:
        assert isinstance(ev, dict), ev
        ph = ev.get("ph")
        assert ph in PHASE_KEYS, f"unknown phase type {ph!r} in {ev}"
        for key, kind in PHASE_KEYS[ph].items():
            assert key in ev, f"{ph!r} event without {key!r}: {ev}"
            value = ev[key]
            assert isinstance(value, kind) and not isinstance(value, bool), (key, ev)
        for key in ("ts", "dur"):
            if key in ev:
                assert ev[key] >= 0, f"negative {key}: {ev}"
        if "tid" in ev:
            assert isinstance(ev["tid"], int), ev
        if "args" in ev:
            assert isinstance(ev["args"], dict), ev
        if ph == "M":
            assert ev["name"] in METADATA, ev
            arg, kind = METADATA[ev["name"]]
            assert isinstance(ev["args"].get(arg), kind), ev
            if ev["name"].startswith("thread"):
                assert isinstance(ev.get("tid"), int), ev
        if ph == "C":
            assert all(isinstance(v, numbers.Real) for v in ev["args"].values()), ev
        if ph in ("i", "I"):
            assert ev.get("s", "t") in ("g", "p", "t"), ev
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or Infinity
    return doc["traceEvents"]


def _load(profile, tmp_path):
    path = tmp_path / "trace.json"
    assert profile.to_chrome_trace(str(path)) == str(path)
    return json.loads(path.read_text(encoding="utf-8"))


def test_trace_of_a_map_follows_the_format(profile, tmp_path):
    doc = _load(profile, tmp_path)
    events = check_trace_schema(doc)
    timeline = profile.to_dict()["events"]
    assert profile.stats.chunks > 1
    phase_of = {n.name: n.phase for n in profile.nodes}
    nodes = [e for e in events if e["ph"] == "X" and e["name"] in phase_of]
    assert len(nodes) == len(timeline)
    for e in nodes:
        assert e["cat"] == phase_of[e["name"]]
        assert isinstance(e["args"]["items"], int) and e["args"]["items"] >= 1
    assert sum(e["args"]["items"] for e in nodes if e["name"] == "load") == profile.items
    wall_us = profile.wall * 1e6
    assert max(e["ts"] + e["dur"] for e in nodes) <= wall_us + 1
    for name in phase_of:
        got = sum(e["dur"] for e in nodes if e["name"] == name) / 1e6
        want = sum(e["end"] - e["start"] for e in timeline if e["node"] == name)
        assert got == pytest.approx(want, abs=1e-5)


def test_every_track_is_named(profile, tmp_path):
    events = check_trace_schema(_load(profile, tmp_path))
    named_threads = {(e["pid"], e["tid"]) for e in events
                     if e["ph"] == "M" and e["name"] == "thread_name"}
    named_processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    for e in events:
        if e["ph"] == "X":
            assert (e["pid"], e["tid"]) in named_threads, e
        if e["ph"] != "M":
            assert e["pid"] in named_processes, e
    call = [e for e in events if e["ph"] == "X" and e["cat"] == "hotpipe"]
    assert len(call) == 1 and call[0]["dur"] == pytest.approx(profile.wall * 1e6, abs=1)


def test_items_done_counter_rises_to_the_items(profile, tmp_path):
    events = check_trace_schema(_load(profile, tmp_path))
    counter = [e for e in events if e["ph"] == "C"]
    values = [e["args"]["items"] for e in counter]
    assert values == sorted(values) and values[-1] == profile.items
    assert [e["ts"] for e in counter] == sorted(e["ts"] for e in counter)


def test_trace_of_a_run(tmp_path):
    @node(output="y", phase="compute")
    def inc(x):
        return x + 1

    @node(output="z")
    def dbl(y):
        return 2 * y

    pipe = Pipeline([inc, dbl], name="tiny")
    for x in range(4):  # later short runs skip the CPU clock: cpu is None then
        doc = _load(pipe.run({"x": x}).profile, tmp_path)
        events = check_trace_schema(doc)
        assert [e["name"] for e in events if e["ph"] == "X" and e["cat"] != "hotpipe"] == [
            "inc", "dbl"]
        assert doc["otherData"]["schema"] == "hotpipe.profile/1"
        assert doc["otherData"]["mode"] == "run"


def test_trace_of_several_workers(tmp_path):
    @node(output="y", phase="wait")
    def slow(x):
        time.sleep(0.0005)
        return x

    result = Pipeline([slow], name="pool").map({"x": list(range(120))}, over="x",
                                               engine=Threads(workers=3, chunk_size=10))
    events = check_trace_schema(_load(result.profile, tmp_path))
    lanes = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X" and e["name"] == "slow"}
    assert len(lanes) > 1
    assert all(0 < tid <= 3 for _, tid in lanes)  # small numbers, not 64-bit idents
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert all(names[lane].startswith(f"worker {lane[1]} (thread ") for lane in lanes)
    chunks = [e for e in events if e["ph"] == "X" and e["name"] == "slow"]
    assert sum(e["args"]["items"] for e in chunks) == 120


def test_schema_check_rejects_bad_events():
    good = {"ph": "X", "name": "a", "cat": "c", "ts": 0, "dur": 1, "pid": 1, "tid": 1}
    check_trace_schema({"traceEvents": [good]})
    for bad in ({**good, "dur": -1}, {**good, "tid": "1"}, {**good, "ph": "Q"},
                {k: v for k, v in good.items() if k != "ts"},
                {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {}}):
        with pytest.raises(AssertionError):
            check_trace_schema({"traceEvents": [bad]})
