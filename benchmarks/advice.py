"""Verified advice: for each advisor rule, a pipeline with the problem, the change the
finding suggests, and the predicted gain next to the measured one; then the healthy pipelines,
where the advisor must say nothing.

Self-contained (plain ``time.perf_counter``): per case, warm up both versions, then
interleaved rounds (problem, fixed, problem, fixed, ...); the measured gain is the median of
the problem's wall minus the median of the fixed version's; the prediction is the median of
the findings' ``gain_s`` over the problem rounds. Target: measured within 2x of predicted.
The scaling rule predicts no gain but a projection: its row compares the projected wall at
10x the items with the wall measured at 10x.

    python benchmarks/advice.py            # full: 7 rounds, JSON to benchmarks/results/advice.json
    python benchmarks/advice.py --quick    # 2 rounds, smaller inputs (the smoke test)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "examples"))

import hotpipe  # noqa: E402
from hotpipe import Pipeline, Processes, Threads, node  # noqa: E402


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@dataclass
class Case:
    """``problem()`` and ``fixed()`` each run the pipeline and return the Result; ``advise``
    turns the problem's Result into findings."""

    rule: str
    what: str
    change: str
    problem: Callable[[], Any]
    fixed: Callable[[], Any]
    advise: Callable[[Any], list[Any]]
    cleanup: Callable[[], None] = lambda: None


# ----------------------------------------------------------------------------- the cases


def case_batch(q: bool) -> Case:
    @node(output="y")
    def score(x):
        table = sorted(range(4000, 0, -1))  # a per-call setup (a model call's overhead)
        return x + table[0]

    def score_batch(x):
        table = sorted(range(4000, 0, -1))
        return [v + table[0] for v in x]

    xs = list(range(300 if q else 2000))
    slow, fast = Pipeline([score]), Pipeline([score.batch(score_batch)])
    return Case("batch", f"{len(xs)} items, per-call setup", "score.batch(score_batch)",
                lambda: slow.map({"x": xs}, over="x"), lambda: fast.map({"x": xs}, over="x"),
                lambda r: r.advise(measure=True, inputs={"x": xs},
                                   batches={"score": score_batch}))


TABLE_SIZE = 3_000_000


def _load_table(n: int) -> list[int]:
    return list(range(n))


def case_resource(q: bool) -> Case:
    @node(output="y")
    def lookup(x, table):
        spin(0.002)
        return table[x % len(table)]

    xs = list(range(300))
    table = _load_table(TABLE_SIZE)
    declared = hotpipe.resource(_load_table, TABLE_SIZE)
    engine = Processes(2)
    pipe = Pipeline([lookup])
    return Case("resource", f"{len(xs)} items, a {TABLE_SIZE:,}-int list on Processes(2)",
                "hotpipe.resource(load_table)",
                lambda: pipe.map({"x": xs, "table": table}, over="x", engine=engine),
                lambda: pipe.map({"x": xs, "table": declared}, over="x", engine=engine),
                lambda r: r.advise(inputs={"x": xs, "table": table}), engine.close)


def case_nested(q: bool) -> Case:
    @node(output="n")
    def size(word):
        return len(word)

    @node(output="sizes")
    def per_word_flat(words):
        return [size.func(word) for word in words]  # the change the finding suggests

    inner = Pipeline([size], name="word").as_node(
        name="per_word", over="word", inputs={"words": "word"}, outputs={"n": "sizes"})
    words = [["a", "bb", "ccc", "dd", "e", "ff", "g", "hh", "iii", "j"]] * (
        20_000 if q else 100_000)  # ten words per doc: cheap inner work
    nested, flat = Pipeline([inner]), Pipeline([per_word_flat])
    return Case("nested", f"{len(words):,} lists of 10 words, inner node len()",
                "a list-valued node", lambda: nested.map({"words": words}, over="words"),
                lambda: flat.map({"words": words}, over="words"),
                lambda r: r.advise(measure=True, inputs={"words": words}))


def case_cache(q: bool) -> Case:
    def blob(x):
        return bytes(1_000_000) + bytes([x % 256])

    cached = Pipeline([node(blob, output="blob")])
    uncached = Pipeline([node(blob, output="blob", cache=False)])
    folder = tempfile.mkdtemp(prefix="advice-cache-")
    store = hotpipe.Cache(Path(folder) / "c")
    xs = list(range(100 if q else 200))
    cached.map({"x": xs}, over="x", cache=store)  # fill the cache: later rounds all hit
    return Case("cache", f"{len(xs)} items of 1 MB, all hits", "@node(cache=False)",
                lambda: cached.map({"x": xs}, over="x", cache=store),
                lambda: uncached.map({"x": xs}, over="x", cache=store),
                lambda r: r.advise(measure=True, inputs={"x": xs}), store.close)


def case_parallel(q: bool) -> Case:
    @node(output="y")
    def nap(x):
        time.sleep(0.03 if x >= 100 else 0.001)  # the last 10 items are slow
        return x

    xs = list(range(110))
    pipe = Pipeline([nap])
    return Case("parallel", "110 items, the 10 slow ones in one chunk of Threads(2, 10)",
                "Threads(2, chunk_size=1)",
                lambda: pipe.map({"x": xs}, over="x", engine=Threads(2, chunk_size=10)),
                lambda: pipe.map({"x": xs}, over="x", engine=Threads(2, chunk_size=1)),
                lambda r: r.advise())


def case_engine(q: bool) -> Case:
    @node(output="y")
    def compute(x):
        spin(0.002)
        return x

    xs = list(range(150 if q else 400))
    pipe = Pipeline([compute])
    engine = Processes(2)
    return Case("engine", f"{len(xs)} CPU-bound items of 2 ms on Threads(2)", "Processes(2)",
                lambda: pipe.map({"x": xs}, over="x", engine=Threads(2)),
                lambda: pipe.map({"x": xs}, over="x", engine=engine),
                lambda r: r.advise(measure=True, inputs={"x": xs}), engine.close)


def case_duplicates(q: bool) -> Case:
    def heavy(x):
        spin(0.001)
        return x * 2

    xs = [1, 2, 3, 4, 5] * (20 if q else 60)
    plain = Pipeline([node(heavy, output="y")])
    memo = Pipeline([node(functools.cache(heavy), output="y", name="heavy")])
    return Case("duplicates", f"{len(xs)} items, 5 distinct", "@functools.cache",
                lambda: plain.map({"x": xs}, over="x"), lambda: memo.map({"x": xs}, over="x"),
                lambda r: r.advise(inputs={"x": xs}))


def case_scaling(q: bool) -> Case:
    @node(output="model", phase="setup")
    def load(name):
        spin(0.03)
        return name

    @node(output="y", phase="work")
    def infer(x, model):
        spin(0.001)
        return x

    pipe = Pipeline([load, infer])
    n = 10
    return Case("scaling", f"{n} items measured, projected to {10 * n}", "(a projection)",
                lambda: pipe.map({"x": list(range(n)), "name": "m"}, over="x"),
                lambda: pipe.map({"x": list(range(10 * n)), "name": "m"}, over="x"),
                lambda r: r.advise())


CASES = [case_batch, case_resource, case_nested, case_cache, case_parallel, case_engine,
         case_duplicates, case_scaling]


# ----------------------------------------------------------------------------- measuring


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def measure_case(case: Case, rounds: int) -> dict[str, Any]:
    case.problem(), case.fixed()  # warm up: plans compiled, pools started, caches filled
    before, after, predicted, titles = [], [], [], set()
    for _ in range(rounds):
        t, r = _timed(case.problem)
        before.append(t)
        mine = [f for f in case.advise(r) if f.rule == case.rule]
        if case.rule == "scaling" and mine:
            predicted.append(mine[0].evidence["projected_total_s"])
        elif mine:
            predicted.append(mine[0].gain_s)
        titles.update(f.title for f in mine)
        after.append(_timed(case.fixed)[0])
    case.cleanup()
    b, a = statistics.median(before), statistics.median(after)
    measured = a if case.rule == "scaling" else b - a
    pred = statistics.median(predicted) if predicted else None
    ratio = measured / pred if pred else None
    return {
        "rule": case.rule, "what": case.what, "change": case.change,
        "fired": f"{len(predicted)}/{rounds}", "predicted_s": pred, "measured_s": measured,
        "ratio": ratio, "within_2x": ratio is not None and 0.5 <= ratio <= 2.0,
        "before_s": b, "after_s": a, "rounds": rounds, "spread_before": _spread(before),
        "spread_after": _spread(after), "title": sorted(titles)[:1],
    }


def _spread(xs: list[float]) -> float:
    """(max - min) / median of a case's rounds: above ~0.3 the machine was busy."""
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else 0.0


def healthy(q: bool) -> list[dict[str, Any]]:
    """The examples and the README tour pipelines: the advisor must find nothing."""
    import quickstart

    texts = [importlib.import_module(m).__doc__ or "" for m in quickstart.MODULES]

    @node(output="y")
    def inc(x):
        return x + 1

    @node(output="z")
    def dbl(y, factor=2):
        return y * factor

    @node(output="s")
    def fmt(z):
        return str(z)

    @node(output="words")
    def tokenize(sentence):
        return sentence.split()

    @node(output="n")
    def count(words):
        return len(words)

    per_sentence = Pipeline([tokenize, count], name="sentence").as_node(
        name="per_sentence", over="sentence", inputs={"sentences": "sentence"},
        outputs={"n": "lengths"})

    @node(output="sentences")
    def split(text):
        return [s for s in text.split(". ") if s]

    chain = Pipeline([inc, dbl, fmt], name="chain")
    doc = Pipeline([split, per_sentence], name="doc")
    n = 1000 if q else 10_000
    runs = [
        ("examples/quickstart.py stats", quickstart.stats, {"text": texts}, "text"),
        ("README chain", chain, {"x": list(range(n))}, "x"),
        ("README doc (nested)", doc, {"text": ["a b. c d e", "one. two three"] * (n // 2)},
         "text"),
        ("README chain on Threads(2)", chain, {"x": list(range(n))}, "x"),
    ]
    rows = []
    for name, pipe, inputs, over in runs:
        engine = Threads(2) if "Threads" in name else None
        pipe.map(inputs, over=over, engine=engine)  # the first map of a plan prepares it
        r = pipe.map(inputs, over=over, engine=engine)
        found = r.advise(inputs=inputs)
        rows.append({"pipeline": name, "findings": [f"{f.rule}: {f.title}" for f in found]})
    return rows


# ----------------------------------------------------------------------------- report


def _env() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": {"commit": commit, "dirty": bool(git("status", "--porcelain",
                                                    "--untracked-files=no"))},
        "python": {"version": platform.python_version()},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "loadavg": [round(v, 2) for v in os.getloadavg()]},
    }


def _fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.1f} ms" if abs(s) < 1 else f"{s:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds, smaller inputs")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--only", nargs="+", help="rule ids to run")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/"
                    "advice.json, or advice-quick.json with --quick)")
    a = ap.parse_args(argv)
    rounds = a.rounds or (2 if a.quick else 7)
    env = _env()
    load_before = list(env["machine"]["loadavg"])
    results = []
    for make in CASES:
        case = make(a.quick)
        if a.only and case.rule not in a.only:
            case.cleanup()
            continue
        row = measure_case(case, rounds)
        results.append(row)
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{row['rule']:<11} predicted {_fmt(row['predicted_s']):>10}  measured "
              f"{_fmt(row['measured_s']):>10}  ratio {ratio:>5}  "
              f"{'ok' if row['within_2x'] else 'OFF'}  fired {row['fired']}  ({row['what']})",
              flush=True)
    rows = healthy(a.quick)
    for row in rows:
        print(f"healthy {row['pipeline']:<32} findings: {row['findings'] or 'none'}")
    report = {
        "benchmark": "advice", **env,
        "config": {"quick": a.quick, "rounds": rounds, "interleaved": True,
                   "statistic": "median"},
        "targets": {"ratio": [0.5, 2.0], "healthy_findings": 0},
        "results": results, "healthy": rows,
    }
    report["machine"]["loadavg_before"] = load_before
    report["machine"]["loadavg"] = [round(v, 2) for v in os.getloadavg()]  # at the end
    out = Path(a.out) if a.out else ROOT / "benchmarks" / "results" / (
        "advice-quick.json" if a.quick else "advice.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"load average {report['machine']['loadavg']} on {os.cpu_count()} cores")
    print(f"JSON written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
