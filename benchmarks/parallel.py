"""Do hotpipe's parallel engines, batch nodes and async nodes pay off where they should?

Four workloads, each against its sequential floor on ``hotpipe.Local()``:

a. **CPU-bound**: one node running a pure-Python busy loop calibrated to ~2 ms per item, over
   400 items. ``Processes(2)`` vs ``Local``; target >= 1.8x on 2 cores with the pool warm (the
   pool is reused across maps). The first map on a cold pool is timed once, separately.
b. **Trivial chain**: ``inc: x+1 -> dbl: y*2 -> fmt: str(z)`` over 100,000 items.
   ``Processes(2)`` must be at most 10 % slower than ``Local``: its cost model should keep a
   map this cheap in-process, and the note it gives is reported.
c. **Element-wise numpy**: ``np.sqrt(x) * 2 + 1`` on one float per item, as a singular node
   and as a ``@node(batch=True)`` node doing it on ``np.asarray(list)``, over 100,000 items;
   target >= 20x, and the values must be identical.
d. **I/O-bound**: ``time.sleep(0.01)`` per item over 200 items with ``Threads(16)``, and
   ``asyncio.sleep(0.01)`` in an ``async def`` node with ``max_concurrency=16`` on ``Local``;
   target >= 12x over the sequential ``Local`` map.
e. **Peers** on (a) and (b), when installed: pipefunc's ``pipeline.map(inputs)`` with its
   defaults (``parallel=True``: a new ``ProcessPoolExecutor`` per call) against its own
   sequential map, and hypernodes' parallel engine (``DaskEngine(scheduler="processes")``,
   needs dask) against its ``SeqEngine``.

The cases of one workload and framework are timed together by ``hotpipe.bench.compare``:
each is checked for correct output, calibrated, warmed up, then timed in interleaved rounds
(every case once per round, shuffled); the median is reported, the ratio is median over
median, with ``hotpipe.bench``'s verdict when both sides ran together. The cold first map of
``Processes(2)`` is the first call of the warm-pool case, timed apart. GC stays enabled.

Usage::

    python benchmarks/parallel.py            # full run -> benchmarks/results/parallel.json
    python benchmarks/parallel.py --quick    # smoke run (small sizes) -> parallel-quick.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from _common import (
        calibrate_spin,
        env_footer,
        env_info,
        out_path,
        print_table,
        spin,
        timing,
        unstable,
        verdict,
        write_json,
    )
except ImportError:  # imported as ``benchmarks.parallel``
    from benchmarks._common import (
        calibrate_spin,
        env_footer,
        env_info,
        out_path,
        print_table,
        spin,
        timing,
        unstable,
        verdict,
        write_json,
    )

import hotpipe
from hotpipe import bench
from hotpipe.bench import format_seconds as fmt_seconds
from hotpipe.bench import package_version as pkg_version

CPU_TARGET = 1.8  # (a) Processes(2) >= 1.8x Local
CHAIN_TARGET = 1.10  # (b) Processes(2) <= 1.10x Local's time
BATCH_TARGET = 20.0  # (c) batch >= 20x singular
IO_TARGET = 12.0  # (d) Threads(16) / async >= 12x Local
SLEEP = 0.01


@dataclass(frozen=True)
class Config:
    cpu_items: int
    cpu_seconds: float
    chain_items: int
    numpy_items: int
    io_items: int
    repeats: int
    slow_repeats: int
    warmup: int
    quick: bool
    peers: bool


@dataclass
class Case:
    group: str  # a | b | c | d
    name: str
    framework: str
    settings: str
    work: Callable[[], Any] | None = None
    check: Callable[[Any], None] | None = None
    baseline: str | None = None  # name of the case this one's ratio is taken against
    target: str = ""
    repeats: int = 1
    warmup: int = 1
    cold: bool = False  # the first call of the next case of its batch, timed apart
    version: str | None = None
    status: str = "ok"
    timing: dict[str, Any] | None = None  # _common.timing(): seconds per map
    notes: list[str] = field(default_factory=list)
    verdict: str | None = None  # hotpipe.bench's verdict against the baseline


# --- workloads ---------------------------------------------------------------------------------


def make_cpu(k: int) -> Callable[[int], int]:
    """A ~2 ms pure-Python function (a closure: cloudpickle ships ``k`` to the workers)."""

    def cpu(x):
        return spin(k) ^ x

    return cpu


def inc(x):
    return x + 1


def dbl(y):
    return y * 2


def fmt(z):
    return str(z)


def chain_expected(xs: Sequence[int]) -> list[str]:
    return [str((x + 1) * 2) for x in xs]


def np_single(x):
    import numpy as np

    return np.sqrt(x) * 2 + 1


def np_batch(x):
    import numpy as np

    return np.sqrt(np.asarray(x)) * 2 + 1


def io_sleep(x):
    time.sleep(SLEEP)
    return x


async def io_async(x):
    await asyncio.sleep(SLEEP)
    return x


def _same(got: Sequence[Any], want: Sequence[Any], what: str) -> None:
    got = list(got)
    if got != list(want):
        bad = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
        raise AssertionError(f"{what}: len {len(got)} vs {len(want)}, first mismatch at {bad}")


# --- hotpipe cases -----------------------------------------------------------------------------


def cpu_cases(cfg: Config, k: int, engine: hotpipe.Processes) -> list[Case]:
    xs = list(range(cfg.cpu_items))
    cpu = make_cpu(k)
    pipe = hotpipe.Pipeline([hotpipe.node(cpu, output="y")], name="cpu")

    def local():
        return pipe.map({"x": xs}, over="x")

    def procs():
        return pipe.map({"x": xs}, over="x", engine=engine)

    expected: dict[str, list[int]] = {}

    def check(r):
        if "y" not in expected:
            expected["y"] = [cpu(x) for x in xs]
        _same(r["y"], expected["y"], "cpu y")

    ms = f"~{cfg.cpu_seconds * 1e3:g} ms"
    return [
        Case("a", "Local", "hotpipe", f"{ms} busy loop x {len(xs)} items, Local()", local,
             check, repeats=cfg.repeats),
        Case("a", "Processes(2), cold first map", "hotpipe",
             "first map of a new Processes(2): pool start-up included; 1 sample", procs, check,
             baseline="Local", cold=True),
        Case("a", "Processes(2), warm pool", "hotpipe",
             "later maps on the same engine (loky pool reused)", procs, check, baseline="Local",
             target=f">= {CPU_TARGET:g}x", repeats=cfg.repeats),
    ]


def chain_cases(cfg: Config, engine: hotpipe.Processes) -> list[Case]:
    xs = list(range(cfg.chain_items))
    pipe = hotpipe.Pipeline([hotpipe.node(inc, output="y"), hotpipe.node(dbl, output="z"),
                             hotpipe.node(fmt, output="s")], name="chain")
    want = chain_expected(xs)

    def local():
        return pipe.map({"x": xs}, over="x")

    def procs():
        return pipe.map({"x": xs}, over="x", engine=engine)

    def check(r):
        _same(r["s"], want, "chain s")

    return [
        Case("b", "Local", "hotpipe", f"3-node chain over {len(xs):,} items, Local()", local,
             check, repeats=cfg.repeats),
        Case("b", "Processes(2)", "hotpipe", "same engine as (a), pool already warm", procs,
             check, baseline="Local", target=f"<= {CHAIN_TARGET:g}x Local's time",
             repeats=cfg.repeats),
    ]


def numpy_cases(cfg: Config) -> list[Case]:
    try:
        import numpy as np
    except ImportError:
        return [Case("c", "numpy", "hotpipe", "", status="not installed (numpy)")]
    xs = [i * 0.37 for i in range(cfg.numpy_items)]
    single = hotpipe.Pipeline([hotpipe.node(np_single, output="y")], name="np_single")
    batch = hotpipe.Pipeline([hotpipe.node(np_batch, output="y", batch=True)], name="np_batch")
    want = [np.sqrt(x) * 2 + 1 for x in xs]

    def check(r):
        ys = list(r["y"])
        _same(ys, want, "numpy y")
        kinds = {type(v) for v in ys}
        if kinds != {np.float64}:
            raise AssertionError(f"numpy y: element types {kinds}, want {{numpy.float64}}")
        if np.asarray(ys).tobytes() != np.asarray(want).tobytes():
            raise AssertionError("numpy y: values differ in their bits")

    return [
        Case("c", "singular node", "hotpipe",
             f"@node: np.sqrt(x) * 2 + 1 on one float, {len(xs):,} items, Local()",
             lambda: single.map({"x": xs}, over="x"), check, repeats=cfg.repeats),
        Case("c", "batch node", "hotpipe",
             "@node(batch=True): np.sqrt(np.asarray(x)) * 2 + 1 on a list, batch size tuned "
             "by hotpipe; values checked identical (==, type, bits) to the singular node",
             lambda: batch.map({"x": xs}, over="x"), check, baseline="singular node",
             target=f">= {BATCH_TARGET:g}x", repeats=cfg.repeats),
    ]


def io_cases(cfg: Config, threads: hotpipe.Threads) -> list[Case]:
    xs = list(range(cfg.io_items))
    seq = hotpipe.Pipeline([hotpipe.node(io_sleep, output="y")], name="io")
    aio = hotpipe.Pipeline([hotpipe.node(io_async, output="y", max_concurrency=16)],
                           name="io_async")

    def check(r):
        _same(r["y"], xs, "io y")

    ms = f"{SLEEP * 1e3:g} ms"
    return [
        Case("d", "Local, sequential", "hotpipe", f"time.sleep({SLEEP}) x {len(xs)} items",
             lambda: seq.map({"x": xs}, over="x"), check, repeats=cfg.slow_repeats),
        Case("d", "Threads(16)", "hotpipe", f"time.sleep ({ms}) node, Threads(16)",
             lambda: seq.map({"x": xs}, over="x", engine=threads), check,
             baseline="Local, sequential", target=f">= {IO_TARGET:g}x", repeats=cfg.repeats),
        Case("d", "async, max_concurrency=16", "hotpipe",
             f"async def node awaiting asyncio.sleep({SLEEP}), max_concurrency=16, Local()",
             lambda: aio.map({"x": xs}, over="x"), check, baseline="Local, sequential",
             target=f">= {IO_TARGET:g}x", repeats=cfg.repeats),
    ]


# --- peers ---------------------------------------------------------------------------------------


def pipefunc_cases(cfg: Config, k: int) -> list[Case]:
    version = pkg_version("pipefunc")
    if version is None:
        return [Case(g, "pipefunc", "pipefunc", "pip install pipefunc==0.93.2",
                     status="not installed") for g in ("a", "b")]
    from pipefunc import PipeFunc, Pipeline

    cpu = make_cpu(k)
    xa = list(range(cfg.cpu_items))
    pa = Pipeline([PipeFunc(cpu, "y", mapspec="x[i] -> y[i]")], name="cpu")
    xb = list(range(cfg.chain_items))
    pb = Pipeline([PipeFunc(inc, "y", mapspec="x[i] -> y[i]"),
                   PipeFunc(dbl, "z", mapspec="y[i] -> z[i]"),
                   PipeFunc(fmt, "s", mapspec="z[i] -> s[i]")], name="chain")
    want_a = [cpu(x) for x in xa]
    want_b = chain_expected(xb)
    seq = {"run_folder": None, "parallel": False, "storage": "dict", "show_progress": False}

    def check_a(r):
        _same(list(r["y"].output), want_a, "pipefunc cpu y")

    def check_b(r):
        _same(list(r["s"].output), want_b, "pipefunc chain s")

    dflt = ('pipeline.map(inputs) with its defaults: parallel=True, executor=None (a new '
            'ProcessPoolExecutor per call, one worker per core)')
    slow = cfg.slow_repeats
    return [
        Case("a", "pipefunc sequential", "pipefunc", "map(parallel=False, storage='dict')",
             lambda: pa.map({"x": xa}, **seq), check_a, baseline="Local", repeats=slow,
             version=version),
        Case("a", "pipefunc default (process pool)", "pipefunc", dflt,
             lambda: pa.map({"x": xa}), check_a, baseline="pipefunc sequential", repeats=slow,
             version=version, warmup=0),
        Case("b", "pipefunc sequential", "pipefunc", "map(parallel=False, storage='dict')",
             lambda: pb.map({"x": xb}, **seq), check_b, baseline="Local", repeats=slow,
             version=version, warmup=0),
        Case("b", "pipefunc default (process pool)", "pipefunc", dflt,
             lambda: pb.map({"x": xb}), check_b, baseline="pipefunc sequential", repeats=slow,
             version=version, warmup=0),
    ]


def hypernodes_cases(cfg: Config, k: int) -> list[Case]:
    version = pkg_version("hypernodes")
    if version is None:
        return [Case(g, "hypernodes", "hypernodes", "pip install hypernodes==0.4.8",
                     status="not installed") for g in ("a", "b")]
    import hypernodes as hn

    cpu = make_cpu(k)
    xa = list(range(cfg.cpu_items))
    xb = list(range(cfg.chain_items))
    want_a = [cpu(x) for x in xa]
    want_b = chain_expected(xb)
    nodes_a = [hn.node(output_name="y")(cpu)]
    nodes_b = [hn.node(output_name="y")(inc), hn.node(output_name="z")(dbl),
               hn.node(output_name="s")(fmt)]
    seq_a, seq_b = hn.Pipeline(nodes=nodes_a), hn.Pipeline(nodes=nodes_b)

    def check_a(r):
        _same([row["y"] for row in r], want_a, "hypernodes cpu y")

    def check_b(r):
        _same([row["s"] for row in r], want_b, "hypernodes chain s")

    slow = cfg.slow_repeats
    cases = [
        Case("a", "hypernodes SeqEngine", "hypernodes", "default SeqEngine()",
             lambda: seq_a.map(inputs={"x": xa}, map_over="x"), check_a, baseline="Local",
             repeats=slow, version=version),
        Case("b", "hypernodes SeqEngine", "hypernodes", "default SeqEngine()",
             lambda: seq_b.map(inputs={"x": xb}, map_over="x"), check_b, baseline="Local",
             repeats=slow, version=version, warmup=0),
    ]
    dask_version = pkg_version("dask")
    settings = ('DaskEngine(scheduler="processes", workload_type="cpu"): dask.bag on a '
                f"process pool (dask {dask_version})")
    if dask_version is None:
        cases += [Case(g, "hypernodes DaskEngine", "hypernodes", "needs dask",
                       status="not installed (dask)", version=version) for g in ("a", "b")]
        return cases
    from hypernodes.engines import DaskEngine

    def engine():
        return DaskEngine(scheduler="processes", workload_type="cpu")

    par_a = hn.Pipeline(nodes=nodes_a, engine=engine())
    par_b = hn.Pipeline(nodes=nodes_b, engine=engine())
    cases += [
        Case("a", "hypernodes DaskEngine", "hypernodes", settings,
             lambda: par_a.map(inputs={"x": xa}, map_over="x"), check_a,
             baseline="hypernodes SeqEngine", repeats=slow, version=version),
        Case("b", "hypernodes DaskEngine", "hypernodes", settings,
             lambda: par_b.map(inputs={"x": xb}, map_over="x"), check_b,
             baseline="hypernodes SeqEngine", repeats=slow, version=version, warmup=0),
    ]
    return cases


# --- running -------------------------------------------------------------------------------------


def run_batch(batch: list[Case], min_time: float, log: Callable[[str], None]) -> list[str]:
    """Time the live cases of ``batch`` together (interleaved); a ``cold`` case takes the
    first call of the case after it. Returns the instability flags."""
    timed = [c for c in batch if c.status == "ok" and not c.cold]
    if not timed:
        return []
    by_name = {c.name: c for c in timed}

    def check(name: str, value: Any) -> bool:
        try:
            by_name[name].check(value)  # type: ignore[misc]
        except Exception as exc:
            by_name[name].status = f"FAILED: {type(exc).__name__}: {exc}"
            log(traceback.format_exc())
        return True  # the failed case's numbers are dropped below

    log(f"timing ({timed[0].group}) {', '.join(by_name)}: interleaved")
    try:
        result = bench.compare(
            {c.name: bench.Case(c.work, samples=c.repeats, warmup=c.warmup)  # type: ignore
             for c in timed}, check=check, min_time=min_time, log=log)
    except Exception as exc:
        for c in batch:
            c.status = f"FAILED: {type(exc).__name__}: {exc}"
        log(traceback.format_exc())
        return []
    for i, c in enumerate(batch):
        if c.cold and i + 1 < len(batch) and batch[i + 1].name in result.cases:
            first = result.cases[batch[i + 1].name].first_s
            c.timing = {"repeats": 1, "loops": 1, "warmup": 0, "median_s": first,
                        "min_s": first, "max_s": first, "samples_s": [first]}
            c.status = batch[i + 1].status
        elif c in timed and c.status == "ok":
            c.timing = timing(result, c.name)
            if c.baseline in result.cases:
                c.verdict = result.comparison(c.name, c.baseline).verdict.label
            notes = getattr(getattr(c.work(), "profile", None), "notes", None)  # type: ignore
            if notes:  # one more call, for the notes of a typical map
                c.notes.extend(notes)
    return unstable([result])


GROUPS = {
    "a": "CPU-bound ~2 ms/item",
    "b": "trivial 3-node chain",
    "c": "element-wise numpy",
    "d": "I/O-bound 10 ms/item",
}


def _ratio(case: Case, base: Case | None) -> float | None:
    if case.timing is None or base is None or base.timing is None:
        return None
    # speed-up: > 1 is faster than the baseline
    return base.timing["median_s"] / case.timing["median_s"]


def judge(case: Case, speedup: float | None) -> tuple[bool | None, str]:
    """(met?, gap) against the case's target."""
    if not case.target or speedup is None:
        return None, ""
    if case.group == "b":  # slowdown bound: time / Local's time <= 1.10
        slowdown = 1 / speedup
        return slowdown <= CHAIN_TARGET, f"{slowdown:.2f}x Local's time vs <= {CHAIN_TARGET:g}x"
    need = {"a": CPU_TARGET, "c": BATCH_TARGET, "d": IO_TARGET}[case.group]
    return speedup >= need, f"{speedup:.2f}x vs {need:g}x, short by {need - speedup:.2f}x"


def build_report(cases: list[Case], cfg: Config, k: int, env: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for c in cases:
        base = next((b for b in cases if b.group == c.group and b.name == c.baseline), None)
        speedup = _ratio(c, base)
        met, gap = judge(c, speedup)
        rows.append({
            "group": c.group,
            "workload": GROUPS[c.group],
            "name": c.name,
            "framework": c.framework,
            "version": c.version or (pkg_version("hotpipe") if c.framework == "hotpipe" else None),
            "status": c.status,
            "settings": c.settings,
            "timing": c.timing,
            "baseline": c.baseline,
            "speedup_vs_baseline": speedup,
            # min over min: less sensitive to other jobs on a shared machine than the median
            "speedup_min_vs_min": (base.timing["min_s"] / c.timing["min_s"]
                                   if speedup is not None and base and base.timing and c.timing
                                   else None),
            "time_ratio_vs_baseline": 1 / speedup if speedup else None,
            # hotpipe.bench's verdict (significance, minimum factor), when timed together
            "verdict_vs_baseline": c.verdict,
            "target": c.target or None,
            "meets_target": met,
            "gap": gap or None if met is False else None,
            "notes": c.notes,
        })
    return {
        "benchmark": "parallel",
        **env,
        "config": {
            "cpu_items": cfg.cpu_items,
            "cpu_seconds_per_item": cfg.cpu_seconds,
            "cpu_spin_iterations": k,
            "chain_items": cfg.chain_items,
            "numpy_items": cfg.numpy_items,
            "io_items": cfg.io_items,
            "io_sleep_s": SLEEP,
            "repeats": cfg.repeats,
            "slow_repeats": cfg.slow_repeats,
            "warmup": cfg.warmup,
            "quick": cfg.quick,
            "statistic": "median of repeats; speed-up = baseline median / case median",
            "method": "hotpipe.bench.compare per workload and framework: output check, "
                      "calibration, warm-up, interleaved shuffled rounds",
            "timer": "time.perf_counter",
        },
        "targets": {
            "cpu_processes_speedup": CPU_TARGET,
            "chain_processes_max_time_ratio": CHAIN_TARGET,
            "numpy_batch_speedup": BATCH_TARGET,
            "io_speedup": IO_TARGET,
        },
        "results": rows,
    }


def print_report(report: dict[str, Any], out: Path) -> None:
    rows = []
    for r in report["results"]:
        t = r["timing"]
        s = r["speedup_vs_baseline"]
        rows.append([
            f"({r['group']}) {r['workload']}", r["name"], r["version"] or "-",
            str(t["repeats"]) if t else "-",
            fmt_seconds(t["median_s"]) if t else "-", fmt_seconds(t["min_s"]) if t else "-",
            f"{s:.2f}x" if s else "",
            f"{r['speedup_min_vs_min']:.2f}x" if r["speedup_min_vs_min"] else "",
            r["baseline"] or "", r["target"] or "",
            verdict(r["meets_target"], r["gap"] or "") if r["target"] else r["status"]
            if r["status"] != "ok" else "",
        ])
    print_table(
        "hotpipe parallel: speed-up = baseline time / case time",
        ["workload", "case", "version", "repeats", "median", "min", "speed-up",
         "speed-up (min/min)", "vs", "target", "met"],
        rows, right=("repeats", "median", "min", "speed-up", "speed-up (min/min)"),
    )
    for r in report["results"]:
        if r["verdict_vs_baseline"]:
            print(f"  ({r['group']}) {r['name']} vs {r['baseline']}: {r['verdict_vs_baseline']}")
    for w in report["unstable"]:
        print(w)
    print(env_footer(report))
    for r in report["results"]:
        for note in r["notes"]:
            print(f"  ({r['group']}) {r['name']}: {note}")
    print(f"JSON written to {out}")


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run with small sizes")
    p.add_argument("--repeats", type=int, default=None, help="timed samples (default 7)")
    p.add_argument("--no-peers", action="store_true", help="skip pipefunc and hypernodes")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    if a.quick:
        cfg = Config(40, 0.002, 3_000, 3_000, 32, a.repeats or 2, 1, 1, True, not a.no_peers)
    else:
        cfg = Config(400, 0.002, 100_000, 100_000, 200, a.repeats or 7, 3, 1, False,
                     not a.no_peers)
    return cfg, a.out or out_path("parallel", cfg.quick)


def main(argv: Sequence[str] | None = None) -> int:
    cfg, out = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    k = calibrate_spin(cfg.cpu_seconds)
    log(f"busy loop: {k} iterations ~ {cfg.cpu_seconds * 1e3:g} ms")
    procs = hotpipe.Processes(2)
    threads = hotpipe.Threads(16)
    # order matters: the cold first map must be the first use of the process pool, and
    # pipefunc's default pool forks only while this process has a single thread (it falls back
    # to forkserver otherwise), so the peers run before hotpipe starts threads
    cases: list[Case] = []
    if cfg.peers:
        cases += pipefunc_cases(cfg, k) + hypernodes_cases(cfg, k)
    else:
        cases += [Case(g, p, p, "", status="skipped (--no-peers)")
                  for g in ("a", "b") for p in ("pipefunc", "hypernodes")]
    hot = cpu_cases(cfg, k, procs) + chain_cases(cfg, procs) + numpy_cases(cfg)
    hot += io_cases(cfg, threads)
    batches: dict[tuple[str, str], list[Case]] = {}  # timed together: one workload, framework
    for c in cases + hot:
        batches.setdefault((c.group, c.framework), []).append(c)
    warnings: list[str] = []
    try:
        for batch in batches.values():
            for c in batch:
                if c.framework == "pipefunc" and c.status == "ok":
                    c.notes.append(
                        f"threads in this process when called: {threading.active_count()}")
            warnings += run_batch(batch, 0.005 if cfg.quick else 0.05, log)
    finally:
        procs.close()
        threads.close()
    ordered = sorted(hot + cases, key=lambda c: c.group)
    report = build_report(ordered, cfg, k, env_info(
        packages=("hotpipe", "numpy", "loky", "pipefunc", "hypernodes", "dask")))
    report["config"]["cpu_count"] = os.cpu_count()
    report["unstable"] = list(dict.fromkeys(warnings))
    path = write_json(out, report)
    print_report(report, path)
    bad = [c for c in ordered if c.status.startswith("FAILED")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
