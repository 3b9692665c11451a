"""What a nested map costs: hotpipe's nested pipeline against the hand-written nested loop.

Workload: 1,000 outer items of 100 inner items each (100,000 inner calls); the inner pipeline
is one trivial node (``x + 1``) or a chain of three (``x + 1 -> y * 2 -> z - 3``), mapped with
``as_node(over=...)`` inside an outer pipeline that is itself mapped over the outer items.

Competitors, timed together by ``hotpipe.bench.compare`` (outputs checked equal first, then
calibrated, warmed up, interleaved rounds, medians, a significance test):

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
except ImportError:  # imported as ``benchmarks.nested``
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

from hotpipe import Local, Pipeline, Processes, bench, node
from hotpipe.bench import format_seconds as fmt_seconds

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


def part_overhead(outer_n: int, inner_n: int, samples: int, min_time: float
                  ) -> tuple[list[dict[str, Any]], list[bench.BenchResult]]:
    data = [list(range(j, j + inner_n)) for j in range(outer_n)]
    flat = [x for xs in data for x in xs]
    calls = outer_n * inner_n
    rows, results = [], []
    for three in (False, True):
        outer, inner, last = pipelines(three)
        if three:
            def floor():
                return [[sub(dbl(inc(x))) for x in xs] for xs in data]
        else:
            def floor():
                return [[inc(x) for x in xs] for xs in data]
        cases = {  # every case returns the flat list of inner results (checked equal first)
            "floor": bench.Case(lambda f=floor: [v for vs in f() for v in vs], items=calls),
            "hotpipe nested": bench.Case(
                lambda o=outer: o.map({"xs": data}, over="xs", engine=Local()), items=calls,
                output=lambda r: [v for vs in r["out"] for v in vs]),
            "hotpipe flat": bench.Case(
                lambda i=inner: i.map({"x": flat}, over="x", engine=Local()), items=calls,
                output=lambda r, last=last: list(r[last])),
        }
        nodes = 3 if three else 1
        result = bench.compare(cases, samples=samples, min_time=min_time,
                               title=f"nested map, {nodes} inner node(s)",
                               dimensions={"outer": outer_n, "inner": inner_n, "nodes": nodes})
        results.append(result)
        base = result.summary("floor").median
        for name in cases:
            med = result.summary(name).median
            rows.append({
                "workload": f"{nodes} inner node(s)", "name": name, "status": "ok",
                "timing": timing(result, name), "median_s": med, "ratio": med / base,
                "us_per_inner_call": med / (calls * nodes) * 1e6,
                "verdict": None if name == "floor" else
                result.comparison(name, "floor").verdict.label,
            })
    return rows, results


def part_processes(outer_n: int, inner_n: int, seconds: float, samples: int
                   ) -> tuple[dict[str, Any], bench.BenchResult]:
    k = calibrate_spin(seconds)

    def work(x, k=k):
        spin(k)
        return x

    inner = Pipeline([node(work, output="y")], name="inner")
    outer = Pipeline([inner.as_node(name="per", over="x", inputs={"xs": "x"},
                                    outputs={"y": "ys"})], name="outer")
    data = [list(range(inner_n)) for _ in range(outer_n)]
    with Processes(2) as procs:
        result = bench.compare(
            {"local": (outer, {"xs": data}, Local()),
             "processes(2)": (outer, {"xs": data}, procs)},
            samples=samples, min_time=0.0, title="CPU-bound nested map: Processes(2) vs Local",
            dimensions={"outer": outer_n, "inner": inner_n, "inner_seconds": seconds})
        notes = outer.map({"xs": data}, over="xs", engine=procs).profile.notes
    local, pool = (result.summary(n).median for n in ("local", "processes(2)"))
    return ({"inner_seconds": seconds, "outer": outer_n, "inner": inner_n,
             "local": timing(result, "local"), "processes": timing(result, "processes(2)"),
             "local_s": local, "processes_s": pool, "speedup": local / pool,
             "verdict": result.comparison("processes(2)", "local").verdict.label,
             "notes": notes}, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, two samples")
    parser.add_argument("--out", help="JSON report path")
    args = parser.parse_args()
    q = args.quick
    outer_n, inner_n, samples, min_time = (50, 20, 2, 0.0) if q else (1000, 100, 15, 0.05)
    report = env_info()
    report["benchmark"] = "nested"
    report["config"] = {"quick": q, "outer": outer_n, "inner": inner_n, "samples": samples}
    report["targets"] = {"nested_vs_floor_max": NESTED_TARGET,
                         "processes_vs_local_min": PROCESSES_TARGET}
    rows, results = part_overhead(outer_n, inner_n, samples, min_time)
    proc, presult = part_processes(4 if q else 40, 5 if q else 25, 0.001, 2 if q else 5)
    report["results"] = rows
    report["processes"] = proc
    report["warnings"] = unstable([*results, presult])
    table = []
    for r in rows:
        met = None if r["name"] != "hotpipe nested" else r["ratio"] <= NESTED_TARGET
        table.append([r["workload"], r["name"], fmt_seconds(r["median_s"]),
                      f"{r['ratio']:.2f}x", f"{r['us_per_inner_call']:.3f}",
                      verdict(met, f"{r['ratio']:.2f}x > {NESTED_TARGET}x")])
    print_table(f"Nested map, {outer_n:,} outer x {inner_n} inner items (median of {samples})",
                ["workload", "competitor", "median", "vs floor", "us/inner call", "target"],
                table, right=("median", "vs floor", "us/inner call"))
    met = proc["speedup"] >= PROCESSES_TARGET
    print_table("CPU-bound inner node (~1 ms per inner item)",
                ["engine", "median", "speed-up", "target"],
                [["Local", fmt_seconds(proc["local_s"]), "1.00x", ""],
                 ["Processes(2)", fmt_seconds(proc["processes_s"]), f"{proc['speedup']:.2f}x",
                  verdict(met, f"{proc['speedup']:.2f}x < {PROCESSES_TARGET}x")]],
                right=("median", "speed-up"))
    for w in report["warnings"]:
        print(w)
    print(env_footer(report))
    path = write_json(args.out or out_path("nested", q), report)
    print(f"JSON written to {path}")


if __name__ == "__main__":
    main()
