"""A profile's timeline in the Trace Event Format, for Perfetto (ui.perfetto.dev) and
chrome://tracing.

The JSON object form is written: ``{"traceEvents": [...], "displayTimeUnit": "ms",
"otherData": {...}}``. Per timeline event of the profile (one node over one chunk on one
worker) there is one complete event (``"ph": "X"``, ``ts``/``dur`` in microseconds from the
start of the call, ``name`` = node, ``cat`` = phase, ``args`` = items); the cache's work is
one complete event per operation (``cat`` = ``"cache"``, ``name`` = ``"cache: NODE"``, or
``"cache"`` for work of several nodes or none). Metadata events name
the processes and threads; one extra track holds the whole call, so hotpipe's own time shows
as the gaps under it; a counter (``"ph": "C"``) follows the items finished.

Thread ids are renumbered 1, 2, ... per process: Python's thread idents are 64-bit values
that some viewers truncate; the real ident is kept in the thread's name.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from hotpipe._files import write_atomic

if TYPE_CHECKING:
    from hotpipe.profile.view import Profile

__all__ = ["trace_events", "write_trace"]

CALL_TID = 0
US = 1e6


def write_trace(profile: Profile, path: str | os.PathLike[str]) -> str:
    """Write the trace JSON to ``path`` (atomically: a temp file renamed); return the path."""
    text = json.dumps(trace_events(profile), separators=(",", ":"))
    return write_atomic(path, text)


def trace_events(profile: Profile) -> dict[str, Any]:
    """The trace as a JSON-ready dict (object form of the Trace Event Format)."""
    data = profile.to_dict()
    phase_of = {n["name"]: n["phase"] for n in data["nodes"]}
    events = data["events"]
    lanes = _lanes([*events, *data["cache_events"]])
    main_pid = events[0]["pid"] if events else os.getpid()
    label = data["pipeline"] or "pipeline"
    out: list[dict[str, Any]] = [*_metadata(lanes, main_pid, label)]
    out.append({
        "ph": "X", "name": f"{label}: {data['mode']} of {data['items']:,} items",
        "cat": "hotpipe", "ts": 0.0, "dur": _us(data["wall"]), "pid": main_pid, "tid": CALL_TID,
        "args": {k: v for k, v in (("items", data["items"]), ("chunks", data["chunks"]),
                                   ("framework_wall_s", data["framework_wall"]),
                                   ("cache_wall_s", data["cache"]["wall"]),
                                   ("cpu_s", data["cpu"])) if v is not None},
    })
    for e in sorted(events, key=lambda e: e["start"]):
        out.append({
            "ph": "X", "name": e["node"], "cat": phase_of.get(e["node"], "(no phase)"),
            "ts": _us(e["start"]), "dur": _us(e["end"] - e["start"]),
            "pid": e["pid"], "tid": lanes[(e["pid"], e["tid"])], "args": {"items": e["items"]},
        })
    for e in data["cache_events"]:  # the cache's work: keys, lookups, reads, writes
        out.append({
            "ph": "X", "name": f"cache: {e['node']}" if e["node"] else "cache",
            "cat": "cache", "ts": _us(e["start"]), "dur": _us(e["end"] - e["start"]),
            "pid": e["pid"], "tid": lanes[(e["pid"], e["tid"])], "args": {},
        })
    out.extend(_items_done(data, main_pid))
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {k: data[k] for k in ("schema", "pipeline", "mode", "engine", "items",
                                            "wall", "cpu", "parallelism", "framework_wall")},
    }


def _us(seconds: float) -> float:
    return round(max(0.0, seconds) * US, 3)


def _lanes(events: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """Small thread numbers per process, in order of first appearance."""
    lanes: dict[tuple[int, int], int] = {}
    per_pid: dict[int, int] = {}
    for e in events:
        key = (e["pid"], e["tid"])
        if key not in lanes:
            per_pid[e["pid"]] = per_pid.get(e["pid"], 0) + 1
            lanes[key] = per_pid[e["pid"]]
    return lanes


def _metadata(lanes: dict[tuple[int, int], int], main_pid: int,
              label: str) -> list[dict[str, Any]]:
    pids = list(dict.fromkeys([main_pid, *(pid for pid, _ in lanes)]))
    out: list[dict[str, Any]] = []
    for i, pid in enumerate(pids):
        name = f"hotpipe {label}" if pid == main_pid else f"hotpipe worker (pid {pid})"
        out.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                    "args": {"name": name}})
        out.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                    "args": {"sort_index": i}})
    out.append({"ph": "M", "name": "thread_name", "pid": main_pid, "tid": CALL_TID,
                "args": {"name": "call"}})
    for (pid, ident), lane in lanes.items():
        out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": lane,
                    "args": {"name": f"worker {lane} (thread {ident})"}})
        out.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": lane,
                    "args": {"sort_index": lane}})
    return out


def _items_done(data: dict[str, Any], pid: int) -> list[dict[str, Any]]:
    """Counter of items finished: items of the last mapped node, summed as its chunks end."""
    mapped = [n["name"] for n in data["nodes"] if n["per_item"]]
    if not mapped:
        return []
    last = mapped[-1]
    ends = sorted((e["end"], e["items"]) for e in data["events"] if e["node"] == last)
    done = 0
    out = [{"ph": "C", "name": "items done", "ts": 0.0, "pid": pid, "args": {"items": 0}}]
    for end, items in ends:
        done += items
        out.append({"ph": "C", "name": "items done", "ts": _us(end), "pid": pid,
                    "args": {"items": done}})
    return out
