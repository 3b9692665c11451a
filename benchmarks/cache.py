"""What a disk cache costs per node call, cold and warm, in hotpipe and its peers.

The workload is the 3-node chain ``inc: x+1 -> dbl: y*2 -> fmt: str(z)`` mapped over 10,000
items with every node cached, so what is measured is the cache: keys, lookups, pickling and
the store. Each (library, phase, round) runs in **its own Python process** (this script
re-invoked with ``--child``), so "warm" really reopens the cache from disk in a new process:

* **cold**: an empty cache directory; every node call is a miss that computes and stores;
* **warm**: a new process, the same directory; every node call must be a hit.
* **reordered**: one more new process mapping the same items in reverse order: every node
  call is still a hit, but hotpipe's packs (one entry per chunk and node, written by the
  cold run) no longer match, so each value is read from its own entry. No target: the row
  shows what a warm map costs when its items are not the same sequence as before.

Inside a child, a warm-up map over other items in a scratch directory runs first (imports,
code paths, and for warm a miss-then-hit pass), then the timed map on the real directory; its
output is checked and the cache is verified to have missed (cold) or hit (warm) every call
(hotpipe: the profile's hits/misses; peers: the number of stored entries, which a miss would
grow). Reported: microseconds per node call = map wall / (items x 3), median over rounds
(a round = one cold child then one warm child on a fresh directory).

Libraries: hotpipe ``map(cache=Cache(dir))`` on Local; pipefunc with
``cache_type="disk"`` and ``PipeFunc(cache=True)`` (its defaults otherwise: the in-memory
LRU layer in front of the disk, shared through a ``multiprocessing.Manager``), and the same
with ``lru_shared=False`` (the LRU in the process) as a second row; hypernodes
``SeqEngine(cache=DiskCache(dir))`` (nodes cache by default). hypernodes rewrites its whole
``meta.json`` on every put, so its cold run is quadratic in the entries: it runs on fewer
items (the row says how many).

Also measured: ``hotpipe.cache.fingerprint`` on a 100 MB float64 array (GB/s, in this
process), a correctness check of each library's cache on the inputs ``1, 1.0, True, "1"``
(cold process, then warm process; right = the value *and its type* come back), and, when
``--profile-warm`` (default on full runs), a cProfile of hotpipe's warm map in one more child,
whose top costs go into the JSON.

Usage::

    python benchmarks/cache.py            # full run -> benchmarks/results/cache.json
    python benchmarks/cache.py --quick    # smoke run (300 items, 1 round) -> cache-quick.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    from _common import (
        env_footer,
        env_info,
        out_path,
        print_table,
        timing,
        unstable,
        verdict,
        write_json,
    )
except ImportError:  # imported as ``benchmarks.cache``
    from benchmarks._common import (
        env_footer,
        env_info,
        out_path,
        print_table,
        timing,
        unstable,
        verdict,
        write_json,
    )

from hotpipe import bench
from hotpipe.bench import format_seconds as fmt_seconds
from hotpipe.bench import package_version as pkg_version

NODES = 3
LIBS = ("hotpipe", "pipefunc", "pipefunc-unshared-lru", "hypernodes")
DIST = {"pipefunc-unshared-lru": "pipefunc"}  # library row -> distribution to look up
PHASES = ("cold", "warm", "reordered")
PINNED = {"pipefunc": "0.93.2", "hypernodes": "0.4.8"}
WARM_TARGET_US = 3.0
COLD_TARGET_US = 15.0
FINGERPRINT_TARGET_GBS = 1.0
PIPEFUNC_BEFORE_US = 54.5  # the earlier measurement of pipefunc's warm disk cache
TYPE_INPUTS: tuple[Any, ...] = (1, 1.0, True, "1")
CHILD_TIMEOUT = 900


# --- the workload (used in the children) --------------------------------------------------------


def inc(x):
    return x + 1


def dbl(y):
    return y * 2


def fmt(z):
    return str(z)


def echo(x):
    return x


def expected_s(xs: Sequence[int]) -> list[str]:
    return [str((x + 1) * 2) for x in xs]


class Lib:
    """One library's cached chain: build it on a directory, map it, count stored entries."""

    name = ""

    def build(self, path: Path) -> Any: ...

    def map_s(self, built: Any, xs: list[int]) -> Any: ...

    def values(self, result: Any) -> list[str]: ...

    def entries(self, path: Path) -> int: ...

    def close(self, built: Any) -> None:
        return None

    def hits_misses(self, result: Any) -> tuple[int, int] | None:
        return None

    def echo(self, path: Path) -> Callable[[Any, str], list[Any]]: ...


class HotpipeLib(Lib):
    name = "hotpipe"

    def build(self, path: Path) -> Any:
        import hotpipe
        from hotpipe.cache import Cache

        pipe = hotpipe.Pipeline([hotpipe.node(inc, output="y"), hotpipe.node(dbl, output="z"),
                                 hotpipe.node(fmt, output="s")], name="chain")
        return pipe, Cache(path)

    def map_s(self, built: Any, xs: list[int]) -> Any:
        pipe, cache = built
        return pipe.map({"x": xs}, over="x", cache=cache)

    def values(self, result: Any) -> list[str]:
        return list(result["s"])

    def hits_misses(self, result: Any) -> tuple[int, int]:
        nodes = result.profile.nodes
        return sum(n.hits for n in nodes), sum(n.misses for n in nodes)

    def entries(self, path: Path) -> int:
        from hotpipe.cache import Cache

        cache = Cache(path)
        try:
            return cache.stats().store.entries
        finally:
            cache.close()

    def close(self, built: Any) -> None:
        built[1].close()

    def echo(self, path: Path) -> Callable[[Any, str], list[Any]]:
        import hotpipe
        from hotpipe.cache import Cache

        pipe = hotpipe.Pipeline([hotpipe.node(echo, output="y")])
        cache = Cache(path)

        def call(values: Any, mode: str) -> list[Any]:
            if mode == "map":
                return list(pipe.map({"x": list(values)}, over="x", cache=cache)["y"])
            return [pipe.run({"x": v}, cache=cache)["y"] for v in values]

        return call


class PipefuncLib(Lib):
    name = "pipefunc"
    extra: dict[str, Any] = {}

    def build(self, path: Path) -> Any:
        from pipefunc import PipeFunc, Pipeline

        return Pipeline(
            [PipeFunc(inc, "y", mapspec="x[i] -> y[i]", cache=True),
             PipeFunc(dbl, "z", mapspec="y[i] -> z[i]", cache=True),
             PipeFunc(fmt, "s", mapspec="z[i] -> s[i]", cache=True)],
            cache_type="disk", cache_kwargs={"cache_dir": str(path), **self.extra},
        )

    def map_s(self, built: Any, xs: list[int]) -> Any:
        return built.map({"x": xs}, run_folder=None, parallel=False, storage="dict",
                         show_progress=False)

    def values(self, result: Any) -> list[str]:
        return list(result["s"].output)

    def entries(self, path: Path) -> int:
        return sum(1 for _ in path.glob("*.pkl"))

    def echo(self, path: Path) -> Callable[[Any, str], list[Any]]:
        from pipefunc import PipeFunc, Pipeline

        kwargs = {"cache_dir": str(path), **self.extra}
        single = Pipeline([PipeFunc(echo, "y", cache=True)], cache_type="disk",
                          cache_kwargs=kwargs)
        mapped = Pipeline([PipeFunc(echo, "y", mapspec="x[i] -> y[i]", cache=True)],
                          cache_type="disk", cache_kwargs=dict(kwargs))

        def call(values: Any, mode: str) -> list[Any]:
            if mode == "map":
                r = mapped.map({"x": list(values)}, run_folder=None, parallel=False,
                               storage="dict", show_progress=False)
                return list(r["y"].output)
            return [single.run("y", kwargs={"x": v}) for v in values]

        return call


class PipefuncUnsharedLib(PipefuncLib):
    """pipefunc's disk cache with its in-memory LRU layer kept in the process
    (``lru_shared=False``) instead of behind a ``multiprocessing.Manager``."""

    name = "pipefunc-unshared-lru"
    extra = {"lru_shared": False}


class HypernodesLib(Lib):
    name = "hypernodes"

    def build(self, path: Path) -> Any:
        import hypernodes as hn

        nodes = [hn.node(output_name="y")(inc), hn.node(output_name="z")(dbl),
                 hn.node(output_name="s")(fmt)]
        return hn.Pipeline(nodes=nodes, engine=hn.SeqEngine(cache=hn.DiskCache(str(path))))

    def map_s(self, built: Any, xs: list[int]) -> Any:
        return built.map(inputs={"x": xs}, map_over="x")

    def values(self, result: Any) -> list[str]:
        return [row["s"] for row in result]

    def entries(self, path: Path) -> int:
        return sum(1 for _ in (path / "blobs").glob("*.pkl"))

    def echo(self, path: Path) -> Callable[[Any, str], list[Any]]:
        import hypernodes as hn

        pipe = hn.Pipeline(nodes=[hn.node(output_name="y")(echo)],
                           engine=hn.SeqEngine(cache=hn.DiskCache(str(path))))

        def call(values: Any, mode: str) -> list[Any]:
            if mode == "map":
                return [row["y"] for row in pipe.map(inputs={"x": list(values)}, map_over="x")]
            return [pipe.run(inputs={"x": v})["y"] for v in values]

        return call


LIB_CLASSES: dict[str, type[Lib]] = {
    "hotpipe": HotpipeLib, "pipefunc": PipefuncLib, "pipefunc-unshared-lru": PipefuncUnsharedLib,
    "hypernodes": HypernodesLib,
}


# --- child process: one library, one phase -------------------------------------------------------


def child_timed(lib: Lib, phase: str, path: Path, n: int, profile: bool,
                prefilled: int = 0) -> dict[str, Any]:
    """Warm up on a scratch directory, then time one map on ``path`` and verify it."""
    scratch = Path(tempfile.mkdtemp(prefix=f"hp-cache-{lib.name}-warmup-"))
    try:
        spare = list(range(-1, -1 - min(n, 1000), -1))  # other items than the timed ones
        built = lib.build(scratch)
        lib.map_s(built, spare)  # misses
        if phase != "cold":
            lib.map_s(built, spare[::-1] if phase == "reordered" else spare)  # hits
        lib.close(built)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    xs = list(range(n))
    if phase == "reordered":
        xs.reverse()
    t0 = time.perf_counter()
    built = lib.build(path)
    t1 = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(lib.map_s, built, xs)
        t2 = time.perf_counter()
    else:
        result = lib.map_s(built, xs)
        t2 = time.perf_counter()
    lib.close(built)
    t3 = time.perf_counter()

    if lib.values(result) != expected_s(xs):
        raise AssertionError(f"{lib.name} {phase}: wrong values")
    entries = lib.entries(path)
    out: dict[str, Any] = {
        "open_s": t1 - t0, "map_s": t2 - t1, "close_s": t3 - t2, "entries": entries,
        "hits_misses": lib.hits_misses(result),
    }
    want = n * NODES
    hm = out["hits_misses"]
    if hm is not None and hm != ((0, want) if phase == "cold" else (want, 0)):
        raise AssertionError(f"{lib.name} {phase}: hits, misses = {hm}, want all "
                             f"{'misses' if phase == 'cold' else 'hits'} of {want}")
    if entries != want + prefilled:
        raise AssertionError(f"{lib.name} {phase}: {entries} entries stored, want "
                             f"{want + prefilled}")
    if profile:
        stats = pstats.Stats(prof)
        out["profile_top"] = _top(stats, 25)
    return out


def _top(stats: Any, k: int) -> list[dict[str, Any]]:
    rows = []
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _) in stats.stats.items():
        where = f"{Path(file).name}:{line}({func})" if line else func
        rows.append({"function": where, "ncalls": ncalls, "tottime_s": tottime,
                     "cumtime_s": cumtime})
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:k]


def child_types(lib: Lib, phase: str, path: Path) -> dict[str, Any]:
    """Echo ``1, 1.0, True, "1"`` through a cached node, by run and by map."""
    out = {}
    for mode in ("run", "map"):
        sub = path / mode
        sub.mkdir(parents=True, exist_ok=True)
        got = lib.echo(sub)(TYPE_INPUTS, mode)
        out[mode] = [
            {"input": repr(v), "got": repr(g), "got_type": type(g).__name__,
             "right": type(g) is type(v) and g == v}
            for v, g in zip(TYPE_INPUTS, got, strict=True)
        ]
    return out


def child_main(a: argparse.Namespace) -> int:
    lib = LIB_CLASSES[a.lib]()
    try:
        if a.child in PHASES:
            data = child_timed(lib, a.child, Path(a.dir), a.n, a.cprofile, a.prefilled)
        else:
            data = child_types(lib, a.child.removeprefix("types-"), Path(a.dir))
        data["status"] = "ok"
    except Exception as exc:
        data = {"status": f"FAILED: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}
    print("RESULT " + json.dumps(data), flush=True)
    return 0


# --- cold writes as the cache grows (issue 11) ------------------------------------------------

GROWTH_SIZES = (10_000, 1_000_000)
GROWTH_QUICK = (1_000, 10_000)


def prefill(path: Path, entries: int) -> float:
    """Fill a cache with ``entries`` entries of the benchmark's own three nodes (a pipeline
    that ran over other items before: the new keys land among them in the index), with
    small pickled results, in batches of 20,000; returns the seconds it took."""
    import os
    import pickle
    import sqlite3

    from hotpipe.cache import SQLiteStore

    t0 = time.perf_counter()
    lib = HotpipeLib()
    built = lib.build(path)
    lib.map_s(built, [-1, -2])  # the nodes' key prefixes, as the timed map will use them
    lib.close(built)
    with sqlite3.connect(path / "index.sqlite") as conn:
        prefixes = [row[0] for row in conn.execute(
            "SELECT DISTINCT substr(key, 1, 8) FROM entries WHERE pack = 0")]
    payload = pickle.dumps((12345, 1.5e-6), protocol=5)
    entries -= 2 * len(prefixes)
    with SQLiteStore(path) as store:
        for start in range(0, entries, 20_000):
            batch = range(start, min(entries, start + 20_000))
            store.put_many({prefixes[i % len(prefixes)] + os.urandom(16): payload
                            for i in batch})
    return time.perf_counter() - t0


def cold_growth(sizes: Sequence[int], n: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """hotpipe's cold map of ``n`` items into a cache already holding each size of entries:
    the cost of a new write must not grow with the cache (target <= 15 us per node call)."""
    rows = []
    for size in sizes:
        path = Path(tempfile.mkdtemp(prefix="hp-cache-growth-"))
        try:
            log(f"hotpipe: cold map of {n:,} items into a cache of {size:,} entries")
            fill_s = prefill(path / "c", size)
            data = spawn("hotpipe", "cold", path / "c", n, prefilled=size)
        finally:
            shutil.rmtree(path, ignore_errors=True)
        row: dict[str, Any] = {"entries": size, "items": n, "prefill_s": fill_s,
                               "status": data["status"], "target_us": COLD_TARGET_US}
        if data["status"] == "ok":
            us = data["map_s"] / (n * NODES) * 1e6
            closing = (data["map_s"] + data["close_s"]) / (n * NODES) * 1e6
            row.update(us_per_node_call=us, us_with_close=closing,
                       meets_target=closing <= COLD_TARGET_US)
        rows.append(row)
    return rows


def print_growth(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = [[f"{r['entries']:,}", f"{r['items']:,}",
              f"{r['us_per_node_call']:.2f}" if "us_per_node_call" in r else "-",
              f"{r['us_with_close']:.2f}" if "us_with_close" in r else "-",
              f"<= {r['target_us']:g} us",
              verdict(r["meets_target"]) if "meets_target" in r else r["status"]]
             for r in rows]
    print_table("hotpipe cold writes as the cache grows (one run each, new process)",
                ["entries before", "items", "us/node call", "with close", "target", "met"],
                table, right=("entries before", "items", "us/node call", "with close"))


# --- parent ---------------------------------------------------------------------------------


def spawn(lib: str, phase: str, path: Path, n: int, cprofile: bool = False,
          prefilled: int = 0) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--lib", lib,
           "--dir", str(path), "--n", str(n), "--prefilled", str(prefilled)]
    cmd += ["--cprofile"] if cprofile else []
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[len("RESULT "):])
            data["process_s"] = wall
            return data
    return {"status": f"FAILED: child exited {proc.returncode}: {proc.stderr[-2000:]}"}


def timed_rounds(lib: str, n: int, rounds: int, log: Callable[[str], None]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {phase: [] for phase in PHASES}
    for r in range(rounds):
        path = Path(tempfile.mkdtemp(prefix=f"hp-cache-{lib}-"))
        try:
            log(f"{lib}: round {r + 1}/{rounds}, {n:,} items: cold, warm, reordered, each in "
                "a new process")
            for phase in PHASES:
                got = spawn(lib, phase, path, n)
                if got["status"] != "ok":
                    return {"status": got["status"], "detail": got.get("traceback")}
                runs[phase].append(got)
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        maps = [x["map_s"] for x in runs]
        return {
            "us_per_node_call": statistics.median(maps) / (n * NODES) * 1e6,
            "us_per_node_call_min": min(maps) / (n * NODES) * 1e6,
            "map_s": maps,
            "open_s": [x["open_s"] for x in runs],
            "close_s": [x["close_s"] for x in runs],
            "process_s": [x["process_s"] for x in runs],
            "hits_misses": runs[0]["hits_misses"],
            "entries": runs[0]["entries"],
        }

    return {"status": "ok", "items": n, "rounds": rounds,
            **{phase: summary(runs[phase]) for phase in PHASES}}


def types_check(lib: str) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix=f"hp-types-{lib}-"))
    try:
        cold = spawn(lib, "types-cold", path, 0)
        warm = spawn(lib, "types-warm", path, 0) if cold["status"] == "ok" else cold
    finally:
        shutil.rmtree(path, ignore_errors=True)
    if warm["status"] != "ok":
        return {"status": warm["status"], "detail": warm.get("traceback")}
    return {"status": "ok",
            "cold": {m: cold[m] for m in ("run", "map")},
            "warm": {m: warm[m] for m in ("run", "map")}}


def fingerprint_throughput(mb: int, repeats: int) -> dict[str, Any]:
    import numpy as np

    from hotpipe.cache import fingerprint

    arr = np.random.default_rng(0).random(mb * 1_000_000 // 8)
    first = fingerprint(arr)
    other = arr.copy()
    other[len(other) // 2] += 1.0
    if fingerprint(arr) != first or fingerprint(other) == first:
        raise AssertionError("fingerprint is not stable, or misses a one-element change")
    result = bench.compare({"fingerprint": lambda: fingerprint(arr)}, samples=repeats,
                           warmup=1, min_time=0.05, title="fingerprint")
    t = timing(result, "fingerprint")
    return {"status": "ok", "bytes": arr.nbytes, "dtype": str(arr.dtype),
            "timing": t, "gb_per_s": arr.nbytes / t["median_s"] / 1e9,
            "gb_per_s_best": arr.nbytes / t["min_s"] / 1e9, "unstable": unstable([result])}


def build_rows(timed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for lib, res in timed.items():
        for phase in PHASES:
            target = {"cold": COLD_TARGET_US, "warm": WARM_TARGET_US}.get(phase)
            row: dict[str, Any] = {"library": lib, "phase": phase,
                                   "version": pkg_version(DIST.get(lib, lib)),
                                   "status": res["status"]}
            if res["status"] == "ok":
                s = res[phase]
                us = s["us_per_node_call"]
                row.update(items=res["items"], rounds=res["rounds"], us_per_node_call=us,
                           us_per_node_call_min=s["us_per_node_call_min"], samples=s)
                if lib == "hotpipe" and target is not None:
                    row.update(target_us=target, meets_target=us <= target,
                               gap_us=max(0.0, us - target))
            rows.append(row)
    hot = {r["phase"]: r for r in rows if r["library"] == "hotpipe" and r["status"] == "ok"}
    for r in rows:
        base = hot.get(r["phase"], {}).get("us_per_node_call")
        us = r.get("us_per_node_call")
        r["x_hotpipe"] = us / base if (us and base) else None
        if us and base and r["library"] != "hotpipe":
            # hotpipe.bench's verdict on the rounds, per node call: is the peer really slower?
            per_call = [[t / (x["items"] * NODES) for t in x["samples"]["map_s"]]
                        for x in (hot[r["phase"]], r)]
            v = bench.verdict(*per_call)
            r["vs_hotpipe_verdict"] = v.label.replace("faster", "faster than hotpipe").replace(
                "slower", "slower than hotpipe")
    return rows


def print_report(report: dict[str, Any], out: Path) -> None:
    rows = []
    for r in report["results"]:
        us = r.get("us_per_node_call")
        target = f"<= {r['target_us']:g} us" if "target_us" in r else ""
        met = verdict(r["meets_target"], f"+{r['gap_us']:.2f} us") if target else ""
        s = r.get("samples") or {}
        rows.append([
            r["library"], r["version"] or "-", r["phase"], f"{r.get('items', 0):,}",
            str(r.get("rounds", "-")), f"{us:.2f}" if us else "-",
            f"{r['us_per_node_call_min']:.2f}" if us else "-",
            fmt_seconds(statistics.median(s["close_s"])) if s else "-",
            f"{r['x_hotpipe']:.1f}x" if r["x_hotpipe"] else "", target,
            met or (r["status"] if r["status"] != "ok" else ""),
        ])
    print_table(
        "hotpipe cache: 3-node chain, every node cached, one process per phase",
        ["library", "version", "phase", "items", "rounds", "us/node call", "min", "close",
         "x hotpipe", "target", "met"],
        rows, right=("items", "rounds", "us/node call", "min", "close", "x hotpipe"),
    )
    print_growth(report["cold_growth"])
    fp = report["fingerprint"]
    if fp["status"] == "ok":
        print(f"fingerprint of a {fp['bytes'] / 1e6:.0f} MB {fp['dtype']} array: median "
              f"{fmt_seconds(fp['timing']['median_s'])} = {fp['gb_per_s']:.2f} GB/s "
              f"(target >= {FINGERPRINT_TARGET_GBS:g} GB/s: "
              f"{verdict(fp['gb_per_s'] >= FINGERPRINT_TARGET_GBS)})")
    else:
        print(f"fingerprint: {fp['status']}")
    trows = []
    for lib, res in report["types"].items():
        if res["status"] != "ok":
            trows.append([lib, "", "", res["status"], "", "", ""])
            continue
        for phase in ("cold", "warm"):
            for mode in ("run", "map"):
                cells = [("right" if c["right"] else f"WRONG: {c['got']}")
                         for c in res[phase][mode]]
                trows.append([lib, phase, mode, *cells])
    print_table("cache keys: does 1, 1.0, True, '1' come back with its own type?",
                ["library", "phase", "call", *[repr(v) for v in TYPE_INPUTS]], trows)
    for r in report["results"]:
        if r.get("vs_hotpipe_verdict"):
            print(f"  {r['library']} {r['phase']}: {r['vs_hotpipe_verdict']}")
    for w in fp.get("unstable", []):
        print(w)
    prof = report.get("warm_profile")
    if prof and prof.get("status") == "ok":
        print("hotpipe warm map under cProfile: top functions by own time")
        for row in prof["profile_top"][:15]:
            print(f"  {row['tottime_s'] * 1e3:8.1f} ms own {row['cumtime_s'] * 1e3:8.1f} ms cum "
                  f"{row['ncalls']:>8} calls  {row['function']}")
    print(env_footer(report))
    print(f"JSON written to {out}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 300 items, 1 round")
    p.add_argument("--n", type=int, default=None, help="items per map (default 10000)")
    p.add_argument("--rounds", type=int, default=None, help="cold+warm rounds (default 5)")
    p.add_argument("--libs", nargs="+", default=list(LIBS), choices=LIBS)
    p.add_argument("--no-profile-warm", action="store_true", help="skip the cProfile child")
    p.add_argument("--out", type=Path, default=None)
    # internal: run one phase in this process
    p.add_argument("--child", default=None,
                   choices=[*PHASES, "types-cold", "types-warm"], help=argparse.SUPPRESS)
    p.add_argument("--lib", default=None, help=argparse.SUPPRESS)
    p.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--cprofile", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--prefilled", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--growth", type=int, nargs="*", default=None, metavar="ENTRIES",
                   help="cold cost with this many entries already cached (default 10000 "
                        "1000000; --quick: 1000 10000; none: skip)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        return child_main(a)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    n = a.n or (300 if a.quick else 10_000)
    rounds = a.rounds or (1 if a.quick else 5)
    n_hypernodes = min(n, 100 if a.quick else 1_000)
    out = a.out or out_path("cache", a.quick)

    timed: dict[str, dict[str, Any]] = {}
    types: dict[str, dict[str, Any]] = {}
    for lib in a.libs:
        if lib != "hotpipe" and pkg_version(DIST.get(lib, lib)) is None:
            timed[lib] = types[lib] = {"status": "not installed"}
            continue
        timed[lib] = timed_rounds(lib, n_hypernodes if lib == "hypernodes" else n, rounds, log)
        log(f"{lib}: types check")
        types[lib] = types_check(lib)
    warm_profile = None
    if not a.quick and not a.no_profile_warm and "hotpipe" in a.libs:
        log("hotpipe: warm map under cProfile")
        path = Path(tempfile.mkdtemp(prefix="hp-cache-prof-"))
        try:
            cold = spawn("hotpipe", "cold", path, n)
            warm_profile = spawn("hotpipe", "warm", path, n, cprofile=True)
            warm_profile["cold_status"] = cold["status"]
        finally:
            shutil.rmtree(path, ignore_errors=True)
    sizes = a.growth if a.growth is not None else GROWTH_QUICK if a.quick else GROWTH_SIZES
    growth = cold_growth(sizes, n, log) if "hotpipe" in a.libs else []
    try:
        fp = fingerprint_throughput(10 if a.quick else 100, 3 if a.quick else 7)
    except Exception as exc:
        fp = {"status": f"FAILED: {type(exc).__name__}: {exc}"}

    report = {
        "benchmark": "cache",
        "workload": "3-node chain inc: x+1 -> dbl: y*2 -> fmt: str(z), every node cached",
        **env_info(packages=("hotpipe", "pipefunc", "hypernodes", "numpy", "xxhash")),
        "config": {"items": n, "items_hypernodes": n_hypernodes, "rounds": rounds,
                   "quick": a.quick,
                   "statistic": "median over rounds of map wall / (items * 3); one process "
                                "per library and phase"},
        "targets": {"warm_us_per_node_call": WARM_TARGET_US,
                    "cold_us_per_node_call": COLD_TARGET_US,
                    "fingerprint_gb_per_s": FINGERPRINT_TARGET_GBS,
                    "pipefunc_warm_us_before": PIPEFUNC_BEFORE_US},
        "results": build_rows(timed),
        "fingerprint": fp,
        "types": types,
        "warm_profile": warm_profile,
        "cold_growth": growth,
    }
    path = write_json(out, report)
    print_report(report, path)
    bad = [r for r in report["results"] if r["status"].startswith("FAILED")]
    bad += [t for t in types.values() if t["status"].startswith("FAILED")]
    if fp["status"] != "ok":
        bad.append(fp)
    for b in bad:
        log(f"failure: {b['status']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
