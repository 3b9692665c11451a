"""What hotpipe's always-on profile costs, on nodes that do real work.

A 3-node chain ``f1 -> f2 -> f3`` whose nodes each run a pure-Python busy loop calibrated to
~1, ~10, ~50 and ~75 us per call (``x + (spin(k) & 0)``: the value passes through, the loop is
the cost). For each node cost, the cases are:

* ``hand-written loop`` (**the floor**): ``for x in xs: a = f1(x); b = f2(a); c = f3(b)``,
  appending ``a``, ``b`` and ``c`` to three lists;
* ``hotpipe map``: ``pipe.map({"x": xs}, over="x")`` on Local, profile as shipped; its excess
  over the floor is what the brief calls the cost of always-on profiling (it also holds the
  framework's own bookkeeping): target <= 3 % of wall at ~50 us per node;
* ``hotpipe map, per-item timing off``: the same map with the per-item timing threshold
  patched to infinity (``hotpipe.execute.TIME_EVERY_ITEM_ABOVE``, an internal name), so
  every node runs in the C loop after its 64 sampled items: the difference to the row above
  is the per-item timing's own cost;
* ``hotpipe map, profile="functions"``: the function sampler on top;
* ``pipefunc map`` with ``profile=False`` and with ``profile=True`` (when installed),
  sequential in memory (``parallel=False, storage="dict"``).

Cases are timed together by ``hotpipe.bench.compare``, one map per sample, interleaved: each
round times every case once, in a shuffled order, so drift in the machine's load hits all of
them alike. Reported per case, against the floor: the ratio of the
medians (wall, and the process's CPU time from ``process_time``), the median of the per-round
ratios ("paired": each pair ran back to back, so a burst of other work on the machine hits
both) and the ratio of the best samples ("min"). The target is judged on the paired wall
figure. Every case is checked for correct output and warmed up before the rounds; the
significance of each ratio (Mann-Whitney U, minimum factor 1.01) and the run's instability
flags come from ``hotpipe.bench``.

Usage::

    python benchmarks/profile_overhead.py          # full -> results/profile_overhead.json
    python benchmarks/profile_overhead.py --quick  # smoke run -> profile_overhead-quick.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from _common import (
        env_footer,
        env_info,
        out_path,
        print_table,
        spin,
        unstable,
        verdict,
        write_json,
    )
except ImportError:  # imported as ``benchmarks.profile_overhead``
    from benchmarks._common import (
        env_footer,
        env_info,
        out_path,
        print_table,
        spin,
        unstable,
        verdict,
        write_json,
    )

import hotpipe
from hotpipe import bench
from hotpipe.bench import format_seconds as fmt_seconds
from hotpipe.bench import package_version as pkg_version

TARGET_PCT = 3.0  # hotpipe map vs the hand-written loop at ~50 us per node
TARGET_NODE_US = 50
# 75 us: clearly above hotpipe's per-item timing threshold (50 us of sampled mean), so that
# level pays for timing every item; a ~50 us node may land on either side of it
LEVELS_US = (1.0, 10.0, 50.0, 75.0)
NODES = 3


def make_nodes(k: int) -> tuple[Callable[[int], int], ...]:
    """Three nodes wired by their parameter names: x -> a -> b -> c, each ``spin(k)``."""

    def f1(x):
        return x + (spin(k) & 0)

    def f2(a):
        return a + (spin(k) & 0)

    def f3(b):
        return b + (spin(k) & 0)

    return f1, f2, f3


def calibrate(us: float) -> tuple[int, float]:
    """``k`` such that a call of a node takes ~``us`` microseconds; and that time.

    A first guess from the loop's slope, then two secant corrections measured at the guess
    itself (median of 7 timings each), so a burst of other work during one timing cannot
    leave the level far from its target.
    """

    def per_call(k: int) -> float:
        f = make_nodes(k)[0]
        t0 = time.perf_counter()
        f(0)
        one = time.perf_counter() - t0
        n = max(20, min(20_000, int(0.005 / max(one, 1e-7))))  # ~5 ms per timing
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            for i in range(n):
                f(i)
            samples.append((time.perf_counter() - t0) / n)
        return statistics.median(samples)

    target = us * 1e-6
    fixed = per_call(0)
    k = 2_000
    t = per_call(k)
    for _ in range(3):
        slope = max((t - fixed) / k, 1e-12)
        k = max(1, round((target - fixed) / slope))
        t = per_call(k)
    return k, t


@dataclass
class Case:
    name: str
    framework: str
    work: Callable[[], Any]
    check: Callable[[Any], None]
    setup: Callable[[], None] | None = None
    teardown: Callable[[], None] | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    status: str = "ok"
    items: int = 0
    notes: list[str] = field(default_factory=list)

    def per_call(self, samples: list[float]) -> list[float]:
        """Seconds per node call of each sample."""
        return [s / (self.items * NODES) for s in samples]

    def call(self) -> Any:
        """One map, with the case's setup and teardown around it (inside the timing: they
        only set a module attribute)."""
        if self.setup:
            self.setup()
        try:
            return self.work()
        finally:
            if self.teardown:
                self.teardown()


def cases_for(k: int, n: int, n_peer: int, peers: bool) -> list[Case]:
    f1, f2, f3 = make_nodes(k)
    xs = list(range(n))
    xs_peer = xs[:n_peer]

    def floor():
        a_, b_, c_ = [], [], []
        for x in xs:
            a = f1(x)
            b = f2(a)
            c = f3(b)
            a_.append(a)
            b_.append(b)
            c_.append(c)
        return {"a": a_, "b": b_, "c": c_}

    def check(r):
        for key in ("a", "b", "c"):
            if list(r[key]) != xs:
                raise AssertionError(f"output {key!r} differs from the input")

    def check_peer(r):
        for key in ("a", "b", "c"):
            if list(r[key].output) != xs_peer:
                raise AssertionError(f"pipefunc output {key!r} differs from the input")

    pipe = hotpipe.Pipeline([hotpipe.node(f1, output="a"), hotpipe.node(f2, output="b"),
                             hotpipe.node(f3, output="c")], name="profiled")
    import hotpipe.execute as hx

    saved = hx.TIME_EVERY_ITEM_ABOVE

    def timing_off():
        hx.TIME_EVERY_ITEM_ABOVE = float("inf")

    def timing_on():
        hx.TIME_EVERY_ITEM_ABOVE = saved

    cases = [
        Case("hand-written loop", "python", floor, check),
        Case("hotpipe map", "hotpipe", lambda: pipe.map({"x": xs}, over="x"), check),
        Case("hotpipe map, per-item timing off", "hotpipe",
             lambda: pipe.map({"x": xs}, over="x"), check, setup=timing_off,
             teardown=timing_on),
        Case('hotpipe map, profile="functions"', "hotpipe",
             lambda: pipe.map({"x": xs}, over="x", profile="functions"), check),
    ]
    version = pkg_version("pipefunc")
    if not peers:
        cases.append(Case("pipefunc", "pipefunc", floor, check, status="skipped (--no-peers)"))
    elif version is None:
        cases.append(Case("pipefunc", "pipefunc", floor, check, status="not installed"))
    else:
        from pipefunc import PipeFunc, Pipeline

        def pf(profile: bool) -> Any:
            return Pipeline([PipeFunc(f1, "a", mapspec="x[i] -> a[i]"),
                             PipeFunc(f2, "b", mapspec="a[i] -> b[i]"),
                             PipeFunc(f3, "c", mapspec="b[i] -> c[i]")], profile=profile)

        def pf_map(p: Any) -> Callable[[], Any]:
            return lambda: p.map({"x": xs_peer}, run_folder=None, parallel=False,
                                 storage="dict", show_progress=False)

        cases.append(Case("pipefunc map, profile=False", "pipefunc", pf_map(pf(False)),
                          check_peer, items=n_peer))
        try:
            profiled = pf(True)
        except ImportError:  # pipefunc's profiler needs psutil (pipefunc[profiling])
            cases.append(Case("pipefunc map, profile=True", "pipefunc", floor, check,
                              status="not installed (psutil, for pipefunc[profiling])"))
        else:
            cases.append(Case("pipefunc map, profile=True", "pipefunc", pf_map(profiled),
                              check_peer, items=n_peer))
    for c in cases:
        c.items = c.items or n
    return cases


def run_level(us: float, n: int, n_peer: int, rounds: int, peers: bool,
              log: Callable[[str], None]) -> dict[str, Any]:
    k, measured = calibrate(us)
    log(f"~{us:g} us nodes: k={k}, one call measured {measured * 1e6:.2f} us; {n:,} items "
        f"({n_peer:,} for pipefunc), {rounds} rounds")
    cases = cases_for(k, n, min(n, n_peer), peers)
    live = [c for c in cases if c.status == "ok"]
    by_name = {c.name: c for c in live}
    timed: dict[str, list[int]] | None = None

    def check(name: str, result: Any) -> bool:
        nonlocal timed
        case = by_name[name]
        try:
            case.check(result)
        except Exception as exc:
            case.status = f"FAILED: {type(exc).__name__}: {exc}"
            log(traceback.format_exc())
        if name == "hotpipe map":  # was each node timed item by item, or sampled?
            timed = {n.name: [n.timed, n.items] for n in result.profile.nodes}
        return True  # a failed case is dropped below; the others are still timed

    result = bench.compare({c.name: bench.Case(c.call, items=c.items * NODES) for c in live},
                           check=check, samples=rounds, loops=1, warmup=1, min_factor=1.01,
                           title=f"~{us:g} us nodes")
    for c in live:
        if c.status == "ok":
            res = result.cases[c.name]
            c.wall, c.cpu = res.wall, res.cpu
    verdicts = {comp.case: comp.verdict.label for comp in result.comparisons}
    return {"node_us": us, "k": k, "node_call_us_measured": measured * 1e6, "items": n,
            "items_pipefunc": min(n, n_peer), "rounds": rounds,
            "hotpipe_timed_items": timed, "cases": cases, "verdicts": verdicts,
            "unstable": [w.replace("UNSTABLE:", f"UNSTABLE (~{us:g} us nodes):", 1)
                         for w in unstable([result])]}


def summarise(level: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[Case] = level["cases"]
    by = {c.name: c for c in cases}
    floor = by["hand-written loop"]
    rows = []
    for c in cases:
        row: dict[str, Any] = {"node_us": level["node_us"], "name": c.name,
                               "framework": c.framework, "status": c.status,
                               "version": pkg_version(c.framework) if c.framework != "python"
                               else sys.version.split()[0]}
        if c.status == "ok" and c.wall:
            wall, cpu = c.per_call(c.wall), c.per_call(c.cpu)
            fwall, fcpu = floor.per_call(floor.wall), floor.per_call(floor.cpu)
            med = statistics.median(wall)
            row.update(
                items=c.items, wall_median_s=statistics.median(c.wall),
                wall_samples_s=c.wall, cpu_samples_s=c.cpu,
                us_per_node_call=med * 1e6,
                us_per_node_call_cpu=statistics.median(cpu) * 1e6,
                pct_vs_floor_wall=(med / statistics.median(fwall) - 1) * 100,
                pct_vs_floor_cpu=(statistics.median(cpu) / statistics.median(fcpu) - 1) * 100,
                # paired per round (same round, adjacent in time): robust to slow drift
                pct_vs_floor_paired=statistics.median(
                    (a / b - 1) * 100 for a, b in zip(wall, fwall, strict=True)),
                # best sample over best sample: the least disturbed run of each
                pct_vs_floor_min=(min(wall) / min(fwall) - 1) * 100,
                # hotpipe.bench: is the difference to the floor real? (minimum factor 1.01)
                vs_floor_verdict=level["verdicts"].get(c.name),
            )
            base = {"hotpipe map, per-item timing off": "hotpipe map",
                    'hotpipe map, profile="functions"': "hotpipe map",
                    "pipefunc map, profile=True": "pipefunc map, profile=False"}.get(c.name)
            if base in by and by[base].wall:
                bwall = by[base].per_call(by[base].wall)
                row["compared_to"] = base
                row["pct_vs_compared_wall"] = (med / statistics.median(bwall) - 1) * 100
                row["pct_vs_compared_paired"] = statistics.median(
                    (a / x - 1) * 100 for a, x in zip(wall, bwall, strict=True))
            if c.name == "hotpipe map" and level["node_us"] == TARGET_NODE_US:
                pct = row["pct_vs_floor_paired"]  # wall, paired by round: see the docstring
                row.update(target=f"<= {TARGET_PCT:g} % wall", meets_target=pct <= TARGET_PCT,
                           gap=f"{pct - TARGET_PCT:+.1f} pts" if pct > TARGET_PCT else None)
        rows.append(row)
    return rows


def print_report(report: dict[str, Any], out: Path) -> None:
    rows = []
    for r in report["results"]:
        if "wall_median_s" not in r:
            rows.append([f"~{r['node_us']:g} us", r["name"], r["version"] or "-", *[""] * 8,
                         r["status"]])
            continue
        comp = r.get("pct_vs_compared_wall")
        rows.append([
            f"~{r['node_us']:g} us", r["name"], r["version"] or "-", f"{r['items']:,}",
            fmt_seconds(r["wall_median_s"]), f"{r['us_per_node_call']:.2f}",
            f"{r['pct_vs_floor_wall']:+.1f} %", f"{r['pct_vs_floor_cpu']:+.1f} %",
            f"{r['pct_vs_floor_paired']:+.1f} %", f"{r['pct_vs_floor_min']:+.1f} %",
            f"{comp:+.1f} % vs {r['compared_to']}" if comp is not None else "",
            verdict(r["meets_target"], r.get("gap") or "") + f" ({r['target']})"
            if "target" in r else "",
        ])
    print_table(
        "hotpipe profiling cost: 3-node chain of busy-loop nodes, interleaved rounds",
        ["node", "case", "version", "items", "median wall", "us/node call", "vs floor (wall)",
         "vs floor (cpu)", "vs floor (paired)", "vs floor (min)", "vs", "target"],
        rows, right=("items", "median wall", "us/node call", "vs floor (wall)", "vs floor (cpu)",
                     "vs floor (paired)", "vs floor (min)"),
    )
    for lvl in report["levels"]:
        timed = lvl["hotpipe_timed_items"] or {}
        print(f"  ~{lvl['node_us']:g} us nodes: k={lvl['k']}, measured "
              f"{lvl['node_call_us_measured']:.2f} us per call, {lvl['items']:,} items "
              f"({lvl['items_pipefunc']:,} for pipefunc), {lvl['rounds']} rounds; hotpipe "
              f"timed item by item: {', '.join(f'{k} {t}/{n}' for k, (t, n) in timed.items())}")
    for lvl in report["levels"]:
        for name, label in lvl["verdicts"].items():
            print(f"  ~{lvl['node_us']:g} us nodes, {name} vs the floor: {label}")
    for w in dict.fromkeys(w for lvl in report["levels"] for w in lvl["unstable"]):
        print(w)
    print(env_footer(report))
    print(f"JSON written to {out}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: small maps, 2 rounds")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 31)")
    p.add_argument("--no-peers", action="store_true", help="skip pipefunc")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rounds = a.rounds or (2 if a.quick else 31)
    # items per map so that the floor takes ~0.1 s (~0.01 s quick) at each node cost: many
    # short rounds let the minimum and the paired median see through other jobs' bursts
    budget = 0.01 if a.quick else 0.1
    n_peer = 100 if a.quick else 300  # pipefunc profile=True costs ~0.3-1 ms per node call
    levels = [run_level(us, max(64, int(budget / (NODES * us * 1e-6))), n_peer, rounds,
                        not a.no_peers, log) for us in LEVELS_US]
    results = [row for lvl in levels for row in summarise(lvl)]
    out = a.out or out_path("profile_overhead", a.quick)
    report = {
        "benchmark": "profile_overhead",
        "workload": "3-node chain, each node x + (spin(k) & 0) calibrated to ~1/10/50 us",
        **env_info(packages=("hotpipe", "pipefunc")),
        "config": {"rounds": rounds, "quick": a.quick, "items_pipefunc": n_peer,
                   "statistic": "median over interleaved rounds; pct = case / floor - 1",
                   "method": "hotpipe.bench.compare: output check, one map per sample, "
                             "rounds interleaved in a shuffled order",
                   "timers": "time.perf_counter (wall), time.process_time (cpu)"},
        "targets": {"profiling_cost_pct_at_50us": TARGET_PCT},
        "levels": [{k: v for k, v in lvl.items() if k != "cases"} for lvl in levels],
        "results": results,
    }
    path = write_json(out, report)
    print_report(report, path)
    return 1 if any(r["status"].startswith("FAILED") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
