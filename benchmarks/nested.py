"""What a nested map costs: hotpipe's nested pipeline against the hand-written nested loop.

Workload: 1,000 outer items of 100 inner items each (100,000 inner calls); the inner pipeline
is one trivial node (``x + 1``) or a chain of three (``x + 1 -> y * 2 -> z - 3``), mapped with
``as_node(over=...)`` inside an outer pipeline that is itself mapped over the outer items.

Competitors, in one process, interleaved round by round (A B C, A B C, ...) after a warm-up,
medians reported:

* **floor**: the hand-written nested loop calling the same functions
  (``[[f(x) for x in xs] for xs in data]``, the chain composed in the inner comprehension);
* **hotpipe nested**: ``outer.map({"xs": data}, over="xs")`` on ``Local``;
* **hotpipe flat**: one flat ``map`` of the inner pipeline over the 100,000 inner items
  (what a user would write by flattening by hand).

A second part runs a CPU-bound inner node (~1 ms of pure-Python work per inner item) on
``Local`` and ``Processes(2)`` and reports the speed-up (two cores here).

Targets (issue "One plan, first-class nested maps"): nested <= 1.5x the floor; Processes(2)
>= 1.7x Local on the CPU-bound inner node.

Usage::

    python benchmarks/nested.py            # full run -> benchmarks/results/nested.json
    python benchmarks/nested.py --quick    # smoke run (small sizes) -> nested-quick.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

try:
    from _common import (
        calibrate_spin,
        env_footer,
        env_info,
        fmt_seconds,
        out_path,
        print_table,
        spin,
        verdict,
        write_json,
    )
except ImportError:  # imported as ``benchmarks.nested``
    from benchmarks._common import (
        calibrate_spin,
        env_footer,
        env_info,
        fmt_seconds,
        out_path,
        print_table,
        spin,
        verdict,
        write_json,
    )

from hotpipe import Local, Pipeline, Processes, node

NESTED_TARGET = 1.5
PROCESSES_TARGET = 1.7


def inc(x):
    return x + 1


def dbl(y):
    return y * 2


def sub(z):
    return z - 3


def pipelines(three: bool) -> tuple[Pipeline, Pipeline, str]:
    nodes = [node(inc, output="y")]
    if three:
        nodes += [node(dbl, output="z"), node(sub, output="w")]
    last = "w" if three else "y"
    inner = Pipeline(nodes, name="inner")
    per = inner.as_node(name="per", over="x", inputs={"xs": "x"}, outputs={last: "out"})
    return Pipeline([per], name="outer"), inner, last


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    for fn in cases.values():  # warm-up (and a compile of every plan)
        fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return samples


def part_overhead(outer_n: int, inner_n: int, rounds: int) -> list[dict[str, Any]]:
    data = [list(range(j, j + inner_n)) for j in range(outer_n)]
    flat = [x for xs in data for x in xs]
    rows = []
    for three in (False, True):
        outer, inner, last = pipelines(three)
        if three:
            def floor():
                return [[sub(dbl(inc(x))) for x in xs] for xs in data]
        else:
            def floor():
                return [[inc(x) for x in xs] for xs in data]
        expected = floor()
        got = outer.map({"xs": data}, over="xs")["out"]
        assert got == expected, "hotpipe's nested map disagrees with the loop"
        assert inner.map({"x": flat}, over="x")[last] == [v for vs in expected for v in vs]
        cases = {
            "floor": floor,
            "hotpipe nested": lambda o=outer: o.map({"xs": data}, over="xs", engine=Local()),
            "hotpipe flat": lambda i=inner: i.map({"x": flat}, over="x", engine=Local()),
        }
        samples = interleaved(cases, rounds)
        base = statistics.median(samples["floor"])
        nodes = 3 if three else 1
        for name, s in samples.items():
            med = statistics.median(s)
            rows.append({
                "workload": f"{nodes} inner node(s)", "name": name, "status": "ok",
                "median_s": med, "min_s": min(s), "samples_s": s, "ratio": med / base,
                "us_per_inner_call": med / (outer_n * inner_n * nodes) * 1e6,
            })
    return rows


def part_processes(outer_n: int, inner_n: int, seconds: float, rounds: int) -> dict[str, Any]:
    k = calibrate_spin(seconds)

    def work(x, k=k):
        spin(k)
        return x

    inner = Pipeline([node(work, output="y")], name="inner")
    outer = Pipeline([inner.as_node(name="per", over="x", inputs={"xs": "x"},
                                    outputs={"y": "ys"})], name="outer")
    data = [list(range(inner_n)) for _ in range(outer_n)]
    with Processes(2) as procs:
        cases = {
            "local": lambda: outer.map({"xs": data}, over="xs", engine=Local()),
            "processes(2)": lambda: outer.map({"xs": data}, over="xs", engine=procs),
        }
        samples = interleaved(cases, rounds)
        notes = outer.map({"xs": data}, over="xs", engine=procs).profile.notes
    local, pool = (statistics.median(samples[n]) for n in ("local", "processes(2)"))
    return {"inner_seconds": seconds, "outer": outer_n, "inner": inner_n,
            "local_s": local, "processes_s": pool, "speedup": local / pool,
            "samples_s": samples, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--out", help="JSON report path")
    args = parser.parse_args()
    q = args.quick
    outer_n, inner_n, rounds = (50, 20, 2) if q else (1000, 100, 15)
    report = env_info()
    report["benchmark"] = "nested"
    report["config"] = {"quick": q, "outer": outer_n, "inner": inner_n, "rounds": rounds}
    report["targets"] = {"nested_vs_floor_max": NESTED_TARGET,
                         "processes_vs_local_min": PROCESSES_TARGET}
    rows = part_overhead(outer_n, inner_n, rounds)
    proc = part_processes(4 if q else 40, 5 if q else 25, 0.001, 1 if q else 3)
    report["results"] = rows
    report["processes"] = proc
    table = []
    for r in rows:
        met = None if r["name"] != "hotpipe nested" else r["ratio"] <= NESTED_TARGET
        table.append([r["workload"], r["name"], fmt_seconds(r["median_s"]),
                      f"{r['ratio']:.2f}x", f"{r['us_per_inner_call']:.3f}",
                      verdict(met, f"{r['ratio']:.2f}x > {NESTED_TARGET}x")])
    print_table(f"Nested map, {outer_n:,} outer x {inner_n} inner items (median of {rounds})",
                ["workload", "competitor", "median", "vs floor", "us/inner call", "target"],
                table, right=("median", "vs floor", "us/inner call"))
    met = proc["speedup"] >= PROCESSES_TARGET
    print_table("CPU-bound inner node (~1 ms per inner item)",
                ["engine", "median", "speed-up", "target"],
                [["Local", fmt_seconds(proc["local_s"]), "1.00x", ""],
                 ["Processes(2)", fmt_seconds(proc["processes_s"]), f"{proc['speedup']:.2f}x",
                  verdict(met, f"{proc['speedup']:.2f}x < {PROCESSES_TARGET}x")]],
                right=("median", "speed-up"))
    print(env_footer(report))
    path = write_json(args.out or out_path("nested", q), report)
    print(f"JSON written to {path}")


if __name__ == "__main__":
    main()
