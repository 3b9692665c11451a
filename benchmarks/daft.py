"""hotpipe on Daft against hand-written idiomatic Daft, hotpipe Local and hypernodes.

Timing and floors from ``_daft_floor`` (perf_counter, interleaved rounds after a warm-up,
medians; shared with ``daft_peer.py``). Questions
(issue "The Daft engine on its native runner and on Ray"):

* (a) the 3-node chain ``str((x + 1) * 2)`` over N items: hotpipe ``Daft()`` vs the floor, a
  hand-written fused ``@daft.func.batch`` over ``to_pylist()`` (target <= 1.2x); hotpipe
  returns y, z and s, and with ``outputs="s"`` only what the floor returns;
* (b) an elementwise numpy batch node (``np.sqrt``) over N rows vs a hand-written batch UDF
  on Arrow/numpy (target <= 1.2x);
* (c) a resource with a 0.5 s init used by a row node over 10,000 rows: init count vs workers;
* (d) a nested map (outer x 100 inner, ``v + 1`` then a sum) vs hand-written Daft
  explode -> UDF -> groupby/list_agg (target <= 1.5x);
* (e) the Ray runner (local, in a subprocess: Daft fixes the runner once per process):
  start-up time and (a), against native;
* (f) a cached map (hits looked up in the driver, misses sent to Daft) vs ``Local``, cold and
  warm: the chain over N/10 items and the nested map over outer/10 x 100 (reported);
* (g) a nested map of very uneven lists (one document of N/250 chunks, three short) through a
  model-like batch node that releases the GIL: ``nested="inline"`` vs ``"explode"`` vs what
  ``"auto"`` chose, against a hand-written Daft explode/groupby and ``Local`` (reported).

hypernodes' DaftEngine does not import on Daft 0.7: with ``--peer-python`` (a venv from
``benchmarks/requirements-peers-daft.txt``: hypernodes 0.4.8, daft 0.6.14) it runs (a) and (d)
there, against the same floors on its Daft (``daft_peer.py``); without it, it is reported as
"cannot run here" (never faked).

Usage::

    python benchmarks/daft.py            # N = 1,000,000 -> benchmarks/results/daft.json
    python benchmarks/daft.py --quick    # N = 100,000, fewer rounds -> daft-quick.json
    python benchmarks/daft.py --no-ray --peer-python /tmp/peer-daft/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# this file is named daft.py: keep its folder off the path so `import daft` finds Daft
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

import hotpipe  # noqa: E402
from hotpipe import Local, Pipeline, node  # noqa: E402

sys.path.append(str(_HERE))  # after site-packages: for _daft_floor only
from _daft_floor import chain_floor, nested_floor, race, timed, uneven_floor  # noqa: E402

os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
RESULTS = Path(__file__).parent / "results"


def body(result: Any) -> str:
    """Which body the engine ran: the fused to_daft text or hotpipe's column executor."""
    note = next((n for n in result.profile.notes if n.startswith("daft:")), "")
    return note.split("the body that ran: ", 1)[-1].split(";")[0]


# ----------------------------------------------------------------------------- (a) chain

@node(output="y")
def inc(x: int) -> int:
    return x + 1


@node(output="z")
def double(y: int) -> int:
    return y * 2


@node(output="s")
def text(z: int) -> str:
    return str(z)


CHAIN = Pipeline([inc, double, text])


def bench_chain(n: int, rounds: int, engine: Any) -> dict[str, Any]:
    xs = list(range(n))
    expected = [str((x + 1) * 2) for x in xs[:5]]
    result = CHAIN.map({"x": xs}, over="x", engine=engine)
    out = result["s"]
    assert out[:5] == expected and len(out) == n
    t = race({
        "daft hand-written (floor)": lambda: chain_floor(xs),
        "hotpipe Daft": lambda: CHAIN.map({"x": xs}, over="x", engine=engine),
        # what the floor returns: s only (y and z computed, not returned)
        "hotpipe Daft, outputs='s'": lambda: CHAIN.map({"x": xs}, over="x", engine=engine,
                                                        outputs="s"),
        "hotpipe Local": lambda: CHAIN.map({"x": xs}, over="x", engine=Local()),
    }, rounds)
    floor = t["daft hand-written (floor)"]
    return {"items": n, "seconds": t, "ratio_vs_floor": t["hotpipe Daft"] / floor,
            "ratio_vs_floor_s_only": t["hotpipe Daft, outputs='s'"] / floor,
            "target": "<= 1.2x" if engine.runner == "native" else "reported",
            "body": body(result)}


# ----------------------------------------------------------------------------- (b) numpy

@node(output="r", batch=True)
def root(x):
    return np.sqrt(np.asarray(x, dtype=np.float64))


def numpy_floor(xs: list[float]) -> Any:
    import daft
    from daft import DataType, Series

    @daft.func.batch(return_dtype=DataType.float64())
    def sqrt(x: Series) -> Series:
        return Series.from_numpy(np.sqrt(x.to_arrow().to_numpy(zero_copy_only=False)))

    df = daft.from_pydict({"x": xs})
    return df.select(sqrt(df["x"])).to_pydict()["x"]


def bench_numpy(n: int, rounds: int, engine: Any) -> dict[str, Any]:
    xs = [float(i) for i in range(n)]
    pipe = Pipeline([root])
    first = pipe.map({"x": xs[:20]}, over="x", engine=engine)
    assert first["r"][16] == 4.0
    t = race({
        "daft hand-written (floor)": lambda: numpy_floor(xs),
        "hotpipe Daft": lambda: pipe.map({"x": xs}, over="x", engine=engine),
        "hotpipe Local": lambda: pipe.map({"x": xs}, over="x", engine=Local()),
    }, rounds)
    return {"items": n, "seconds": t,
            "ratio_vs_floor": t["hotpipe Daft"] / t["daft hand-written (floor)"],
            "target": "<= 1.2x", "body": body(first)}


# ----------------------------------------------------------------------------- (c) resource

INITS: list[int] = []


class SlowModel:
    def __init__(self) -> None:
        time.sleep(0.5)
        INITS.append(os.getpid())

    def __call__(self, x: int) -> int:
        return x * 3


@node(output="p")
def predict(x, model):
    return model(x)


def bench_resource(engine: Any) -> dict[str, Any]:
    INITS.clear()
    model = hotpipe.resource(SlowModel)
    pipe = Pipeline([predict])
    got: list[Any] = []
    t = timed(lambda: got.append(pipe.map({"x": list(range(10_000)), "model": model},
                                          over="x", engine=engine)))
    return {"rows": 10_000, "seconds": t, "inits": len(INITS),
            "workers (native: this process)": 1, "ok": len(INITS) == 1,
            "body": body(got[0])}


# ----------------------------------------------------------------------------- (d) nested

@node(output="w")
def plus(v: int) -> int:
    return v + 1


@node(output="total")
def add_up(ws: list) -> int:
    return sum(ws)


PER = Pipeline([plus], name="inner").as_node(name="per", over="v", inputs={"vs": "v"},
                                              outputs={"w": "ws"})
NESTED = Pipeline([PER, add_up], name="outer")


def bench_nested(outer: int, rounds: int, engine: Any) -> dict[str, Any]:
    data = [list(range(100)) for _ in range(outer)]
    want = sum(range(1, 101))
    assert nested_floor(data[:3]) == [want] * 3
    first = NESTED.map({"vs": data[:3]}, over="vs", engine=engine)
    assert first["total"] == [want] * 3
    t = race({
        "daft hand-written explode/groupby (floor)": lambda: nested_floor(data),
        "hotpipe Daft": lambda: NESTED.map({"vs": data}, over="vs", engine=engine),
        "hotpipe Local": lambda: NESTED.map({"vs": data}, over="vs", engine=Local()),
    }, rounds)
    full = NESTED.map({"vs": data}, over="vs", engine=engine)  # what the timed runs chose
    strategy = next(n for n in full.profile.notes if n.startswith("daft nested:"))
    return {"outer": outer, "inner": 100, "seconds": t,
            "ratio_vs_floor": t["hotpipe Daft"] / t["daft hand-written explode/groupby (floor)"],
            "strategy": strategy, "target": "<= 1.5x", "body": body(full)}


# ----------------------------------------------------------------------------- (g) uneven

PER_ITEM = 0.0002  # (g): a model's time per item, the GIL released (a sleep stands in)


@node(output="e", batch=True)
def embed(chunk: list) -> list:
    time.sleep(PER_ITEM * len(chunk))
    return [x * 2 for x in chunk]


EMBED = Pipeline([Pipeline([embed], name="inner").as_node(
    name="per_doc", over="chunk", inputs={"docs": "chunk"}, outputs={"e": "es"})])


def bench_uneven(long: int, rounds: int) -> dict[str, Any]:
    """(g) a nested map of very uneven lists (one document of ``long`` chunks, three of a
    few) through a model-like batch node (0.2 ms per item, GIL released): the nested map
    inline (one worker gets the long document) vs exploded into one flat query (its chunks
    spread over every core) vs what ``nested="auto"`` chose, vs the hand-written Daft
    explode/groupby and ``Local``."""
    docs = [list(range(long)), list(range(20)), list(range(5)), []]
    want = [[x * 2 for x in doc] for doc in docs]
    assert uneven_floor(docs, 0.0) == want
    engines = {"hotpipe Daft inline": hotpipe.Daft(nested="inline"),
               "hotpipe Daft explode": hotpipe.Daft(nested="explode"),
               "hotpipe Daft auto": hotpipe.Daft()}
    auto = EMBED.map({"docs": docs}, over="docs", engine=engines["hotpipe Daft auto"])
    assert auto["es"] == want
    chose = next(n for n in auto.profile.notes if n.startswith("daft nested:"))
    contenders = {"daft hand-written explode/groupby (floor)":
                  lambda: uneven_floor(docs, PER_ITEM)}
    contenders.update({label: (lambda e=e: EMBED.map({"docs": docs}, over="docs", engine=e))
                       for label, e in engines.items()})
    contenders["hotpipe Local"] = lambda: EMBED.map({"docs": docs}, over="docs")
    t = race(contenders, rounds)
    floor = t["daft hand-written explode/groupby (floor)"]
    return {"docs": [len(d) for d in docs], "per_item_seconds": PER_ITEM, "seconds": t,
            "ratio_vs_floor": {k: v / floor for k, v in t.items()},
            "auto chose": chose, "cores": os.cpu_count()}


# ----------------------------------------------------------------------------- (f) cache

def _cached_runs(pipe: Any, inputs: dict[str, Any], over: str, engine: Any, root: Path,
                 rounds: int) -> dict[str, Any]:
    """Median cold (a new cache per round) and warm rerun seconds of one engine."""
    expected = pipe.map(inputs, over=over)
    cold, warm, got = [], [], []
    for r in range(rounds):
        cache = hotpipe.Cache(root / str(r))

        def run(c: Any = cache) -> None:
            got.append(pipe.map(inputs, over=over, engine=engine, cache=c))

        cold.append(timed(run))
        warm.append(timed(run))
    assert all(g[o] == expected[o] for g in got for o in expected)
    row: dict[str, Any] = {"cold": sorted(cold)[len(cold) // 2],
                           "warm": sorted(warm)[len(warm) // 2]}
    row["notes"] = [x for x in got[-1].profile.notes if x.startswith("daft cache:")]
    return row


def bench_cached(n: int, outer: int, rounds: int, engine: Any) -> dict[str, Any]:
    """A cached map on Daft (hits looked up in the driver, misses as Daft queries) against
    Local on a cache of its own: cold (a new SQLite cache each round) and warm rerun, the
    chain over ``n`` items and the nested map over ``outer`` x 100 distinct inner items;
    then Local rerun on Daft's cache (they hit each other's entries and packs)."""
    import shutil
    import tempfile

    xs = list(range(n))
    data = [list(range(j * 100, j * 100 + 100)) for j in range(outer)]
    cases = {"chain": (CHAIN, {"x": xs}, "x"), "nested": (NESTED, {"vs": data}, "vs")}
    out: dict[str, Any] = {"items": n, "outer": outer, "inner": 100}
    root = Path(tempfile.mkdtemp(prefix="hotpipe-bench-daft-cache-"))
    try:
        for case, (pipe, inputs, over) in cases.items():
            row = {label: _cached_runs(pipe, inputs, over, eng, root / case / label, rounds)
                   for label, eng in (("hotpipe Daft", engine), ("hotpipe Local", Local()))}
            cross: list[Any] = []

            def rerun(p: Any = pipe, i: Any = inputs, o: str = over, got: list = cross,
                      c: Path = root / case / "hotpipe Daft" / "0") -> None:
                got.append(p.map(i, over=o, cache=hotpipe.Cache(c)))

            row["Local rerun on Daft's cache"] = {"seconds": timed(rerun),
                                                  "hits": cross[0].profile.cache.hits}
            out[case] = row
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------- (e) ray

def bench_ray(n: int, rounds: int) -> dict[str, Any]:
    code = f"""
import importlib.util, json, time
spec = importlib.util.spec_from_file_location("_bench", {str(Path(__file__))!r})
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
t0 = time.perf_counter()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
start = time.perf_counter() - t0
r = bench.bench_chain({n}, {rounds}, bench.hotpipe.Daft(runner="ray"))
r["ray_start_seconds"] = start
print("JSON" + json.dumps(r))
"""
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=900, check=False, cwd=Path(__file__).parents[1])
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 900 s"}
    line = next((x for x in done.stdout.splitlines() if x.startswith("JSON")), None)
    if line is None:
        return {"error": done.stderr[-1500:]}
    return json.loads(line[4:])


def bench_hypernodes(peer_python: str | None, n: int, outer: int, rounds: int) -> Any:
    """hypernodes' DaftEngine: (a) and (d) in the peer's own venv (benchmarks/daft_peer.py,
    Daft 0.6: it does not import on Daft 0.7), against the same floors on that Daft."""
    if peer_python is None:
        try:
            from hypernodes.engines import DaftEngine  # noqa: F401
        except Exception as exc:  # ImportError, or its own import failing on this daft
            return (f"cannot run here: {type(exc).__name__}: {exc}; measure it in its own "
                    "venv with --peer-python (benchmarks/requirements-peers-daft.txt)")
        peer_python = sys.executable
    args = [peer_python, str(_HERE / "daft_peer.py"), "--n", str(n), "--outer", str(outer),
            "--rounds", str(rounds)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600,
                              check=False, cwd=_HERE.parent)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 3600 s"}
    line = next((x for x in done.stdout.splitlines() if x.startswith("JSON")), None)
    return json.loads(line[4:]) if line else {"error": done.stderr[-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--peer-python", help="the python of a venv with hypernodes and its "
                        "Daft (benchmarks/requirements-peers-daft.txt)")
    args = parser.parse_args()
    n, rounds, outer = (100_000, 3, 1_000) if args.quick else (1_000_000, 5, 10_000)
    import daft

    engine = hotpipe.Daft()
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_before": os.getloadavg(), "daft": daft.__version__},
        "a_chain": bench_chain(n, rounds, engine),
        "b_numpy_batch": bench_numpy(n, rounds, engine),
        "c_resource": bench_resource(engine),
        "d_nested": bench_nested(outer, rounds, engine),
        "f_cached": bench_cached(n // 10, outer // 10, 3, engine),
        "g_uneven": bench_uneven(n // 250, rounds),
        "hypernodes": bench_hypernodes(args.peer_python, n, outer, rounds),
    }
    if not args.no_ray:
        report["e_ray"] = bench_ray(n, rounds)
    report["machine"]["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("daft-quick.json" if args.quick else "daft.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
