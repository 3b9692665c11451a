"""Array columns and vectorised nodes: how close does an element-wise map get to numpy?

Two element-wise functions of one float, each over 1,000,000 items (``--quick``: 20,000):

* **cheap**: ``x * 2.0 + 1.0`` (2 operations);
* **rational**: 8 rounds of ``y = y * 0.5 + 1.0 / (1.0 + y * y)`` (40 operations).

Both are plain arithmetic, so the same function runs on a Python float, a numpy array and a
JAX tracer. Competitors, timed together by ``hotpipe.bench.compare`` (outputs checked equal
first, to 1e-9 relative; then calibrated, warmed up, interleaved rounds, medians, a
significance test), all on ``Local()``:

* **per-item node**: ``@node`` over a list of floats (what a user writes first);
* **batch node, lists**: ``@node(batch=True)`` doing ``f(np.asarray(x))`` over the list
  (hotpipe before array columns: list -> array -> list per batch);
* **batch node, arrays**: the same batch node mapped over the numpy array: array slices in,
  arrays out, no list anywhere;
* **vectorize="numpy"**: the per-item function itself, ``@node(vectorize="numpy")``, over
  the array (hotpipe checks it on 16 items, then calls it once per batch);
* **vectorize="jax"**: ``@node(vectorize="jax")`` over the array: ``jax.jit(jax.vmap(f))``
  over batches of 65,536 padded to a few sizes; ``jax_enable_x64`` is switched on so that it
  computes in float64 like the others. Its first map (import, tracing, compilation) is timed
  apart and the compilation time reported from the profile;
* **floor**: the hand-written numpy expression ``f(xs)`` on the whole array.

Targets (issue 16): batch node on arrays >= 20x the per-item node and <= 1.2x the floor;
vectorize="jax" on the 40-operation function >= 10x the per-item node.

Usage::

    python benchmarks/vectorize.py            # full run -> benchmarks/results/vectorize.json
    python benchmarks/vectorize.py --quick    # smoke run (small sizes) -> vectorize-quick.json
"""

from __future__ import annotations

import argparse
import importlib.util
from time import perf_counter
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
except ImportError:  # imported as ``benchmarks.vectorize``
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

import numpy as np

from hotpipe import Local, Pipeline, bench, node
from hotpipe._state import state_of
from hotpipe.bench import format_seconds as fmt_seconds

BATCH_TARGET = 20.0  # batch node on arrays vs the per-item node: at least
FLOOR_TARGET = 1.2  # batch node on arrays vs the hand-written expression: at most
JAX_TARGET = 10.0  # vectorize="jax" on the 40-operation function vs per item: at least


def cheap(x):
    return x * 2.0 + 1.0


def rational(x):
    y = x
    for _ in range(8):
        y = y * 0.5 + 1.0 / (1.0 + y * y)
    return y


FUNCTIONS = {"cheap": (cheap, 2), "rational": (rational, 40)}


def batch_of(func):
    def batch(x):
        return func(np.asarray(x))

    return batch


def close(name: str, value: Any, want: np.ndarray) -> bool:
    got = np.asarray(value, dtype=np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-9, atol=0):
        raise AssertionError(f"{name}: values differ from the hand-written expression")
    return True


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None


def group(label: str, items: int, samples: int, min_time: float
          ) -> tuple[list[dict[str, Any]], bench.BenchResult, dict[str, Any]]:
    func, ops = FUNCTIONS[label]
    xs = np.random.default_rng(0).random(items) * 3.0
    listed = xs.tolist()
    want = func(xs)
    per_item = Pipeline([node(func, output="y")], name=f"{label}-item")
    batch = Pipeline([node(batch_of(func), output="y", name=label, batch=True)],
                     name=f"{label}-batch")
    vec = Pipeline([node(func, output="y", vectorize="numpy")], name=f"{label}-numpy")
    out = {"output": lambda r: r["y"]}
    slow = max(2, samples // 4)  # the per-item node takes seconds per sample at full size
    cases: dict[str, Any] = {
        "per-item node": bench.Case(lambda: per_item.map({"x": listed}, over="x",
                                                         engine=Local()),
                                    items=items, samples=slow, **out),
        "batch node, lists": bench.Case(lambda: batch.map({"x": listed}, over="x",
                                                          engine=Local()), items=items, **out),
        "batch node, arrays": bench.Case(lambda: batch.map({"x": xs}, over="x", engine=Local()),
                                         items=items, **out),
        'vectorize="numpy"': bench.Case(lambda: vec.map({"x": xs}, over="x", engine=Local()),
                                        items=items, **out),
    }
    first: dict[str, Any] = {"status": "not installed (pip install 'hotpipe[jax]')"}
    if jax_available():
        import jax

        jax.config.update("jax_enable_x64", True)
        jx = Pipeline([node(func, output="y", vectorize="jax")], name=f"{label}-jax")
        t = perf_counter()
        r = jx.map({"x": xs}, over="x", engine=Local())
        wall = perf_counter() - t
        counters = r.profile.stats.counters
        first = {"status": "ok", "first_map_s": wall,
                 "compiles": counters.get((0, "jit compiles"), 0),
                 "compile_s": counters.get((0, "jit seconds"), 0.0),
                 "notes": list(r.profile.notes)}
        close("jax first map", r["y"], want)
        cases['vectorize="jax"'] = bench.Case(
            lambda: jx.map({"x": xs}, over="x", engine=Local()), items=items, **out)
    cases["floor"] = bench.Case(lambda: {"y": func(xs)}, items=items, **out)
    result = bench.compare(cases, baseline="per-item node", samples=samples,
                           min_time=min_time, check=lambda name, v: close(name, v, want),
                           title=f"{label}: {ops} operations per item",
                           dimensions={"items": items, "operations": ops},
                           packages=("hotpipe", "numpy", "jax"))
    base = result.summary("per-item node").median
    floor = result.summary("floor").median
    rows = []
    for name in cases:
        med = result.summary(name).median
        rows.append({"function": label, "operations": ops, "name": name, "status": "ok",
                     "timing": timing(result, name), "median_s": med,
                     "ns_per_item": med / items * 1e9, "speedup_vs_item": base / med,
                     "vs_floor": med / floor,
                     "verdict": None if name == "per-item node" else
                     result.comparison(name, "per-item node").verdict.label})
    plan = batch._plan(frozenset({"x"}), None, frozenset({"x"}))
    tuning = state_of(plan).tuning  # learned apart over lists and over arrays
    for key, table in (("batch_size", tuning.array_batch), ("list_batch_size", tuning.batch)):
        sizing = table.get(0)
        first[key] = sizing.size if sizing else None
    return rows, result, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, two samples")
    parser.add_argument("--out", help="JSON report path")
    args = parser.parse_args()
    q = args.quick
    items, samples, min_time = (20_000, 2, 0.0) if q else (1_000_000, 12, 0.05)
    report = env_info(("numpy", "jax"))
    report["benchmark"] = "vectorize"
    report["config"] = {"quick": q, "items": items, "samples": samples}
    report["targets"] = {"batch_arrays_vs_item_min": BATCH_TARGET,
                         "batch_arrays_vs_floor_max": FLOOR_TARGET,
                         "jax_vs_item_min": JAX_TARGET}
    rows, results, firsts = [], [], {}
    for label in FUNCTIONS:
        r, result, first = group(label, items, samples, min_time)
        rows += r
        results.append(result)
        firsts[label] = first
    report["results"] = rows
    report["jax_first_map"] = firsts
    report["warnings"] = unstable(results)
    table = []
    for r in rows:
        met = None
        gap = ""
        if r["name"] == "batch node, arrays":
            met = r["speedup_vs_item"] >= BATCH_TARGET and r["vs_floor"] <= FLOOR_TARGET
            gap = f"{r['speedup_vs_item']:.1f}x vs item, {r['vs_floor']:.2f}x floor"
        elif r["name"] == 'vectorize="jax"' and r["function"] == "rational":
            met = r["speedup_vs_item"] >= JAX_TARGET
            gap = f"{r['speedup_vs_item']:.1f}x < {JAX_TARGET}x"
        table.append([r["function"], r["name"], fmt_seconds(r["median_s"]),
                      f"{r['ns_per_item']:.1f}", f"{r['speedup_vs_item']:.1f}x",
                      f"{r['vs_floor']:.2f}x", verdict(met, gap)])
    print_table(f"Element-wise maps over {items:,} floats (median; Local())",
                ["function", "competitor", "median", "ns/item", "vs per-item", "vs floor",
                 "target"], table, right=("median", "ns/item", "vs per-item", "vs floor"))
    for label, first in firsts.items():
        if first.get("status") == "ok":
            print(f"{label}: vectorize='jax' first map {first['first_map_s']:.2f} s, of which "
                  f"{int(first['compiles'])} compilation(s) {first['compile_s']:.2f} s "
                  "(reported apart; later maps reuse them)")
        else:
            print(f"{label}: vectorize='jax' {first['status']}")
        print(f"{label}: batch node's batch size settled at {first.get('batch_size')} over "
              f"arrays, {first.get('list_batch_size')} over lists")
    for w in report["warnings"]:
        print(w)
    print(env_footer(report))
    path = write_json(args.out or out_path("vectorize", q), report)
    print(f"JSON written to {path}")


if __name__ == "__main__":
    main()
