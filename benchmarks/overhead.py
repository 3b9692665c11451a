"""Per-node-call overhead of hotpipe against a plain Python loop and peer frameworks.

The workload is a 3-node chain, ``inc: x+1 -> dbl: y*2 -> fmt: str(z)``, so the functions
themselves cost almost nothing and what is measured is the framework's bookkeeping:

1. ``plain loop``: a Python ``for`` loop over N items calling the same three functions and
   collecting ``y``, ``z`` and ``s`` lists (the floor every ratio is taken against); also
   reported, as a tighter reference, the column-wise ``list(map(f, column))`` equivalent;
2. ``hotpipe map``: ``pipe.map({"x": xs}, over="x")`` on the default (Local) engine, with
   profiling as shipped (plus the same with ``outputs=["s"]``);
3. ``hotpipe run``: ``pipe.run({"x": x})`` on one item, repeated R times;
4. the same chain in hypernodes and pipefunc (map over N items, single-item run repeated R
   times) when they are installed; a missing peer is reported as "not installed".

All cases are timed together by ``hotpipe.bench.compare``: each is checked for correct
results, calibrated (calls per sample until a sample takes ``--min-time``), warmed up, then
``--repeats`` samples are taken in interleaved rounds (every case once per round, in a
shuffled order) with ``time.perf_counter``; the median is reported. GC stays enabled.
Reported: microseconds per node call = wall / (items * 3), the ratio to the plain loop, and
``hotpipe.bench``'s verdict on it (significance test, minimum factor); a run on a loaded
machine or with a wide spread is flagged unstable.

Usage::

    python benchmarks/overhead.py            # full run -> benchmarks/results/overhead.json
    python benchmarks/overhead.py --quick    # smoke run: N=300, 2 repeats
    python benchmarks/overhead.py --out /tmp/o.json --repeats 9
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from _common import REPO_ROOT, env_info, timing, unstable, write_json
except ImportError:  # imported as ``benchmarks.overhead``
    from benchmarks._common import REPO_ROOT, env_info, timing, unstable, write_json

from hotpipe import bench
from hotpipe.bench import format_seconds as fmt_seconds
from hotpipe.bench import package_version as pkg_version

NODES = 3
PINNED = {"hypernodes": "0.4.8", "pipefunc": "0.93.2"}
MAP_TARGET = 5.0  # hotpipe map: <= 5x the plain loop per node call
MAP_MOONSHOT = 2.0
RUN_TARGET_US = 2.0  # hotpipe run(): <= 2 us per node call

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "overhead.json"
QUICK_OUT = REPO_ROOT / "benchmarks" / "results" / "overhead-quick.json"


# --- the workload: the same three plain functions are wrapped by every framework ----------


def inc(x):
    return x + 1


def dbl(y):
    return y * 2


def fmt(z):
    return str(z)


def expected(xs: Sequence[int]) -> dict[str, list[Any]]:
    ys = [x + 1 for x in xs]
    zs = [y * 2 for y in ys]
    return {"y": ys, "z": zs, "s": [str(z) for z in zs]}


# --- cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    framework: str
    kind: str  # "floor" | "map" | "run"
    settings: str
    version: str | None = None
    work: Callable[[], object] | None = None
    check: Callable[[Any], None] | None = None  # raises if work()'s result is wrong
    items: int = 0  # items processed by one work() call
    repeats: int = 0
    warmup: int = 1
    status: str = "ok"  # ok | not installed | skipped (...) | error: ... | FAILED check: ...
    timing: dict[str, Any] | None = None  # _common.timing(): seconds per work() call
    vs_plain: str | None = None  # hotpipe.bench's verdict against the plain loop
    notes: list[str] = field(default_factory=list)

    @property
    def node_calls(self) -> int:
        return self.items * NODES

    @property
    def us_per_node_call(self) -> float | None:
        if self.timing is None:
            return None
        return self.timing["median_s"] / self.node_calls * 1e6


@dataclass(frozen=True)
class Config:
    n: int
    run_repeats: int
    repeats: int
    slow_repeats: int
    warmup: int
    min_time: float
    quick: bool
    peers: bool


def _check_map(got: dict[str, Sequence[Any]], xs: Sequence[int], keys=("y", "z", "s")) -> None:
    want = expected(xs)
    for k in keys:
        g = list(got[k])
        if g != want[k]:
            pairs = enumerate(zip(g, want[k], strict=False))
            bad = next((i for i, (a, b) in pairs if a != b), None)
            raise AssertionError(
                f"output {k!r}: len {len(g)} vs {len(want[k])}, first mismatch at index {bad}"
            )


def _check_run(call: Callable[[int], dict[str, Any]], xs: Sequence[int]) -> None:
    for x in xs:
        got = call(x)
        want = {"y": x + 1, "z": (x + 1) * 2, "s": str((x + 1) * 2)}
        sub = {k: got[k] for k in want}
        if sub != want:
            raise AssertionError(f"run(x={x}) gave {sub!r}, want {want!r}")


def _check_sample(xs: Sequence[int]) -> list[int]:
    return list(xs[:50]) + list(xs[-5:])


# --- plain loop (the floor) -----------------------------------------------------------------


def plain_cases(cfg: Config, xs: list[int]) -> list[Case]:
    def work() -> dict[str, list[Any]]:
        ys, zs, ss = [], [], []
        for x in xs:
            y = inc(x)
            z = dbl(y)
            s = fmt(z)
            ys.append(y)
            zs.append(z)
            ss.append(s)
        return {"y": ys, "z": zs, "s": ss}

    def work_columns() -> dict[str, list[Any]]:
        ys = list(map(inc, xs))
        zs = list(map(dbl, ys))
        return {"y": ys, "z": zs, "s": list(map(fmt, zs))}

    return [
        Case(
            name="plain loop",
            framework="python",
            kind="floor",
            version=sys.version.split()[0],
            settings="for x in xs: y=inc(x); z=dbl(y); s=fmt(z); append y, z, s to 3 lists",
            work=work,
            check=lambda r: _check_map(r, xs),
            items=len(xs),
            repeats=cfg.repeats,
        ),
        Case(
            name="plain list(map)",
            framework="python",
            kind="reference",
            version=sys.version.split()[0],
            settings="ys = list(map(inc, xs)); zs = list(map(dbl, ys)); ss = list(map(fmt, zs)) "
            "(column-wise, C-level loop: a tighter floor than the issue's plain loop)",
            work=work_columns,
            check=lambda r: _check_map(r, xs),
            items=len(xs),
            repeats=cfg.repeats,
        ),
    ]


# --- hotpipe ----------------------------------------------------------------------------------


def hotpipe_cases(cfg: Config, xs: list[int], xs_run: list[int]) -> list[Case]:
    version = pkg_version("hotpipe")
    try:
        import hotpipe

        n_inc = hotpipe.node(output="y")(inc)
        n_dbl = hotpipe.node(output="z")(dbl)
        n_fmt = hotpipe.node(output="s")(fmt)
        pipe = hotpipe.Pipeline([n_inc, n_dbl, n_fmt], name="chain")
    except Exception as exc:  # the core may not be importable yet
        return [
            Case(
                name="hotpipe",
                framework="hotpipe",
                kind="map",
                version=version,
                settings="",
                status=f"error: hotpipe unavailable ({type(exc).__name__}: {exc})",
            )
        ]

    pmap = pipe.map
    prun = pipe.run

    def map_all() -> Any:
        return pmap({"x": xs}, over="x")

    def map_s() -> Any:
        return pmap({"x": xs}, over="x", outputs=["s"])

    def run_loop() -> Any:
        r = None
        for x in xs_run:
            r = prun({"x": x})
        return r

    def check_map_all(r: Any) -> None:
        _check_map(r, xs)

    def check_map_s(r: Any) -> None:
        _check_map(r, xs, keys=("s",))

    def check_run(_last: Any) -> None:  # the loop returns its last result: check a sample
        _check_run(lambda x: prun({"x": x}), _check_sample(xs_run))

    cases = [
        Case(
            name="hotpipe map",
            framework="hotpipe",
            kind="map",
            version=version,
            settings='pipe.map({"x": xs}, over="x"); default (Local) engine, profiling as shipped; '
            "returns y, z, s",
            work=map_all,
            check=check_map_all,
            items=len(xs),
            repeats=cfg.repeats,
        ),
        Case(
            name="hotpipe map (s only)",
            framework="hotpipe",
            kind="map",
            version=version,
            settings='pipe.map({"x": xs}, over="x", outputs=["s"]); as above, returns s only',
            work=map_s,
            check=check_map_s,
            items=len(xs),
            repeats=cfg.repeats,
        ),
        Case(
            name="hotpipe run",
            framework="hotpipe",
            kind="run",
            version=version,
            settings=f'for x in range({len(xs_run)}): pipe.run({{"x": x}}); profiling as shipped',
            work=run_loop,
            check=check_run,
            items=len(xs_run),
            repeats=cfg.repeats,
        ),
    ]
    cases[0].notes.append(f"hotpipe imported from {Path(hotpipe.__file__).parent}")
    try:
        profile = getattr(prun({"x": 1}), "profile", None)
        cases[0].notes.append(f"Result.profile present: {profile is not None}")
    except Exception as exc:
        cases[0].notes.append(f"could not inspect Result.profile: {exc!r}")
    return cases


# --- hypernodes -------------------------------------------------------------------------------


def hypernodes_cases(cfg: Config, xs: list[int], xs_run: list[int]) -> list[Case]:
    version = pkg_version("hypernodes")
    if version is None:
        return [_not_installed("hypernodes")]
    import hypernodes as hn

    n_inc = hn.node(output_name="y")(inc)
    n_dbl = hn.node(output_name="z")(dbl)
    n_fmt = hn.node(output_name="s")(fmt)
    # Default engine is SeqEngine(cache=None, callbacks=[]): sequential, no cache, no callbacks.
    pipe = hn.Pipeline(nodes=[n_inc, n_dbl, n_fmt], name="chain")
    pmap = pipe.map
    prun = pipe.run

    def map_all() -> Any:
        return pmap(inputs={"x": xs}, map_over="x")

    def run_loop() -> Any:
        r = None
        for x in xs_run:
            r = prun(inputs={"x": x})
        return r

    def check_map(rows: Any) -> None:  # a list of per-item dicts
        _check_map({k: [row[k] for row in rows] for k in ("y", "z", "s")}, xs)

    def check_run(_last: Any) -> None:
        _check_run(lambda x: prun(inputs={"x": x}), _check_sample(xs_run))

    return [
        Case(
            name="hypernodes map",
            framework="hypernodes",
            kind="map",
            version=version,
            settings='pipe.map(inputs={"x": xs}, map_over="x"); default SeqEngine (sequential, '
            "no cache, no callbacks); returns a list of per-item dicts",
            work=map_all,
            check=check_map,
            items=len(xs),
            repeats=cfg.repeats,
        ),
        Case(
            name="hypernodes run",
            framework="hypernodes",
            kind="run",
            version=version,
            settings=f'for x in range({len(xs_run)}): pipe.run(inputs={{"x": x}}); default '
            "SeqEngine",
            work=run_loop,
            check=check_run,
            items=len(xs_run),
            repeats=cfg.repeats,
        ),
    ]


# --- pipefunc ---------------------------------------------------------------------------------


def pipefunc_cases(cfg: Config, xs: list[int], xs_run: list[int]) -> list[Case]:
    version = pkg_version("pipefunc")
    if version is None:
        return [_not_installed("pipefunc")]
    from pipefunc import PipeFunc, Pipeline

    # pipefunc maps through per-function MapSpecs, and refuses Pipeline.run() for outputs that
    # have one, so the idiomatic setup is two pipelines over the same functions: one with
    # mapspecs for map(), one without for run(). PipeFunc defaults: cache=False, profile=False.
    mapped = Pipeline(
        [
            PipeFunc(inc, "y", mapspec="x[i] -> y[i]"),
            PipeFunc(dbl, "z", mapspec="y[i] -> z[i]"),
            PipeFunc(fmt, "s", mapspec="z[i] -> s[i]"),
        ],
        name="chain",
    )
    single = Pipeline([PipeFunc(inc, "y"), PipeFunc(dbl, "z"), PipeFunc(fmt, "s")], name="chain")
    pmap = mapped.map
    prun = single.run

    def map_seq() -> Any:
        return pmap({"x": xs}, run_folder=None, parallel=False, storage="dict", show_progress=False)

    def map_default() -> Any:
        return pmap({"x": xs})

    def run_loop() -> Any:
        r = None
        for x in xs_run:
            r = prun("s", full_output=True, kwargs={"x": x})
        return r

    def outputs(res: Any) -> dict[str, list[Any]]:
        return {k: list(res[k].output) for k in ("y", "z", "s")}

    def check_run(_last: Any) -> None:
        _check_run(lambda x: prun("s", full_output=True, kwargs={"x": x}), _check_sample(xs_run))

    cores = os.cpu_count()
    cases = [
        Case(
            name="pipefunc map",
            framework="pipefunc",
            kind="map",
            version=version,
            settings='pipeline.map({"x": xs}, run_folder=None, parallel=False, storage="dict", '
            'show_progress=False); mapspecs "x[i] -> y[i]" etc.; sequential, in memory',
            work=map_seq,
            check=lambda r: _check_map(outputs(r), xs),
            items=len(xs),
            repeats=cfg.repeats,
        ),
        Case(
            name="pipefunc map (defaults)",
            framework="pipefunc",
            kind="map",
            version=version,
            settings='pipeline.map({"x": xs}) with its defaults: parallel=True (a new '
            f"ProcessPoolExecutor per call, {cores} cores here), storage='dict' (no run_folder)",
            work=map_default,
            check=lambda r: _check_map(outputs(r), xs),
            items=len(xs),
            repeats=cfg.slow_repeats,
        ),
        Case(
            name="pipefunc run",
            framework="pipefunc",
            kind="run",
            version=version,
            settings=f"for x in range({len(xs_run)}): "
            'pipeline.run("s", full_output=True, kwargs={"x": x}) on the mapspec-free pipeline',
            work=run_loop,
            check=check_run,
            items=len(xs_run),
            repeats=cfg.repeats,
        ),
    ]
    if cfg.quick:
        cases[1].status = "skipped (--quick)"
    return cases


def _not_installed(name: str) -> Case:
    return Case(
        name=name,
        framework=name,
        kind="map",
        settings=f"pip install {name}=={PINNED[name]} (benchmarks/requirements-peers.txt)",
        status="not installed",
    )


def _skipped(name: str) -> Case:
    return Case(name=name, framework=name, kind="map", settings="", status="skipped (--no-peers)")


# --- running and reporting --------------------------------------------------------------------


def time_cases(cases: list[Case], cfg: Config, log: Callable[[str], None]) -> list[str]:
    """Time every live case together with ``hotpipe.bench.compare`` (interleaved rounds);
    return the run's instability flags. A case whose output is wrong is marked and left out
    of the ratios; if timing itself fails, every case is marked."""
    live = [c for c in cases if c.status == "ok"]
    if not live:
        return []
    by_name = {c.name: c for c in live}

    def check(name: str, value: Any) -> bool:
        try:
            by_name[name].check(value)  # type: ignore[misc]
        except Exception as exc:
            by_name[name].status = f"FAILED check: {type(exc).__name__}: {exc}"
            log(traceback.format_exc())
        return True  # keep timing the others; the failed case's numbers are dropped

    log(f"timing {len(live)} cases interleaved: {cfg.repeats} samples each "
        f"(>= {cfg.min_time:g} s per sample)")
    try:
        result = bench.compare(
            {c.name: bench.Case(c.work, items=c.items, samples=c.repeats)  # type: ignore[arg-type]
             for c in live},
            check=check, warmup=cfg.warmup, samples=cfg.repeats, min_time=cfg.min_time,
            min_factor=1.05, log=log)
    except Exception as exc:
        for c in live:
            c.status = f"error: {type(exc).__name__}: {exc}"
        log(traceback.format_exc())
        return []
    floor = next((c.name for c in live if c.kind == "floor"), None)
    for c in live:
        if c.status != "ok":
            continue
        c.timing = timing(result, c.name)
        c.warmup = cfg.warmup
        if floor and c.name != floor and by_name[floor].status == "ok":
            c.vs_plain = result.comparison(c.name, floor).verdict.label
    return unstable([result])


def target_of(case: Case, ratio: float | None) -> tuple[str, str, bool | None]:
    """(target text, verdict text, met?) for hotpipe rows; peers get no target."""
    if case.framework != "hotpipe" or case.timing is None or ratio is None:
        return ("", "", None)
    if case.kind == "map":
        met = ratio <= MAP_TARGET
        moon = ratio <= MAP_MOONSHOT
        verdict = ("yes" if met else "NO") + (", moonshot yes" if moon else ", moonshot no")
        return (f"<= {MAP_TARGET:g}x (moonshot {MAP_MOONSHOT:g}x)", verdict, met)
    us = case.us_per_node_call
    assert us is not None
    met = us <= RUN_TARGET_US
    return (f"<= {RUN_TARGET_US:g} us/node call", "yes" if met else "NO", met)


def build_report(cases: list[Case], cfg: Config, env: dict[str, Any],
                 warnings: list[str]) -> dict[str, Any]:
    floor = next(c for c in cases if c.kind == "floor")
    floor_us = floor.us_per_node_call
    cols = next((c for c in cases if c.kind == "reference"), None)
    cols_us = cols.us_per_node_call if cols is not None else None
    rows = []
    for c in cases:
        us = c.us_per_node_call
        ratio = us / floor_us if (us is not None and floor_us) else None
        target, verdict, met = target_of(c, ratio)
        rows.append(
            {
                "name": c.name,
                "framework": c.framework,
                "version": c.version,
                "kind": c.kind,
                "status": c.status,
                "settings": c.settings,
                "items_per_sample": c.items,
                "node_calls_per_sample": c.node_calls,
                "timing": c.timing,
                "us_per_node_call": us,
                "ratio_to_plain": ratio,
                # hotpipe.bench's verdict on the ratio: significance test, minimum factor 1.05
                "vs_plain_verdict": c.vs_plain,
                "ratio_to_plain_list_map": us / cols_us if (us is not None and cols_us) else None,
                # min-over-min: less sensitive to a busy machine than the median ratio
                "ratio_to_plain_min": (
                    (c.timing["min_s"] / c.node_calls) / (floor.timing["min_s"] / floor.node_calls)
                    if (c.timing is not None and floor.timing is not None)
                    else None
                ),
                "target": target or None,
                "meets_target": met,
                "verdict": verdict or None,
                "notes": c.notes,
            }
        )
    return {
        "benchmark": "overhead",
        "workload": "3-node chain inc: x+1 -> dbl: y*2 -> fmt: str(z)",
        **env,
        "config": {
            "n_items_map": cfg.n,
            "run_repeats": cfg.run_repeats,
            "repeats": cfg.repeats,
            "slow_repeats": cfg.slow_repeats,
            "warmup": cfg.warmup,
            "min_time_s": cfg.min_time,
            "quick": cfg.quick,
            "statistic": "median of repeats; us per node call = wall / (items * 3)",
            "timer": "time.perf_counter",
            "method": "hotpipe.bench.compare: output check, calibration, warm-up, samples "
            "interleaved across cases in a shuffled order",
        },
        "unstable": warnings,
        "targets": {
            "map_ratio_to_plain": MAP_TARGET,
            "map_ratio_moonshot": MAP_MOONSHOT,
            "run_us_per_node_call": RUN_TARGET_US,
        },
        "results": rows,
    }


def print_report(report: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=180)
    cfg = report["config"]
    git = report["git"]
    title = (
        f"hotpipe overhead: 3-node chain, map N={cfg['n_items_map']:,}, run x{cfg['run_repeats']:,}"
    )
    table = Table(title=title, title_justify="left")
    for col, kw in [
        ("case", {}),
        ("version", {}),
        ("repeats", {"justify": "right"}),
        ("median wall", {"justify": "right"}),
        ("min wall", {"justify": "right"}),
        ("us / node call", {"justify": "right"}),
        ("x plain", {"justify": "right"}),
        ("x list(map)", {"justify": "right"}),
        ("target", {}),
        ("met", {}),
    ]:
        table.add_column(col, **kw)
    for r in report["results"]:
        if r["timing"] is None:
            table.add_row(r["name"], r["version"] or "-", *["-"] * 6, "", r["status"])
            continue
        t = r["timing"]
        table.add_row(
            r["name"],
            r["version"] or "-",
            str(t["repeats"]),
            fmt_seconds(t["median_s"]),
            fmt_seconds(t["min_s"]),
            f"{r['us_per_node_call']:.3f}",
            f"{r['ratio_to_plain']:.1f}x",
            f"{r['ratio_to_plain_list_map']:.1f}x" if r["ratio_to_plain_list_map"] else "-",
            r["target"] or "",
            r["verdict"] or "",
        )
    console.print(table)
    dirty = " (+ local changes)" if git.get("dirty") else ""
    console.print(
        f"date {report['date']}  commit {git.get('short')}{dirty}  "
        f"python {report['python']['version']}  cores {report['machine']['cores']}  "
        f"loadavg {report['machine']['loadavg']}  "
        f"gc enabled  warm-up {cfg['warmup']} + correctness check before timing, samples "
        "interleaved (hotpipe.bench)"
    )
    for r in report["results"]:
        if r.get("vs_plain_verdict"):
            console.print(f"  {r['name']} vs plain loop: {r['vs_plain_verdict']}",
                          markup=False, highlight=False)
    for w in report["unstable"]:
        console.print(w, markup=False, highlight=False)
    console.print("settings:")
    for r in report["results"]:
        if r["settings"]:
            console.print(
                f"  {r['name']}: {r['settings']}", markup=False, highlight=False, soft_wrap=True
            )
        for note in r["notes"]:
            console.print(f"    note: {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"JSON written to {out}", markup=False, highlight=False)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=None, help="items for map (default 10000)")
    p.add_argument(
        "--run-repeats", type=int, default=None, help="single-item runs per sample (default 2000)"
    )
    p.add_argument("--repeats", type=int, default=None, help="timed samples per case (default 7)")
    p.add_argument(
        "--slow-repeats",
        type=int,
        default=None,
        help="timed samples for slow cases: pipefunc map with defaults (default 3)",
    )
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed warm-up samples after the check and calibration")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds per sample at least, by calibration (default 0.05)")
    p.add_argument("--quick", action="store_true", help="smoke run: N=300, 100 runs, 2 repeats")
    p.add_argument("--no-peers", action="store_true", help="skip hypernodes and pipefunc")
    p.add_argument("--out", type=Path, default=None, help=f"JSON path (default {DEFAULT_OUT})")
    a = p.parse_args(argv)
    if a.quick:
        n, runs, reps, slow = 300, 100, 2, 2
        out = QUICK_OUT
    else:
        n, runs, reps, slow = 10_000, 2_000, 7, 3
        out = DEFAULT_OUT
    cfg = Config(
        n=a.n if a.n is not None else n,
        run_repeats=a.run_repeats if a.run_repeats is not None else runs,
        repeats=a.repeats if a.repeats is not None else reps,
        slow_repeats=a.slow_repeats if a.slow_repeats is not None else slow,
        warmup=a.warmup,
        min_time=a.min_time if a.min_time is not None else (0.005 if a.quick else 0.05),
        quick=a.quick,
        peers=not a.no_peers,
    )
    if min(cfg.n, cfg.run_repeats, cfg.repeats, cfg.slow_repeats) < 1 or cfg.warmup < 0:
        p.error("sizes and repeats must be >= 1, warmup >= 0")
    return cfg, (a.out if a.out is not None else out)


def main(argv: Sequence[str] | None = None) -> int:
    cfg, out = parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    xs = list(range(cfg.n))
    xs_run = list(range(cfg.run_repeats))
    cases = plain_cases(cfg, xs) + hotpipe_cases(cfg, xs, xs_run)
    if cfg.peers:
        cases += hypernodes_cases(cfg, xs, xs_run) + pipefunc_cases(cfg, xs, xs_run)
    else:
        cases += [_skipped("hypernodes"), _skipped("pipefunc")]
    for c in cases:
        if c.framework in PINNED and c.version not in (None, PINNED[c.framework]):
            c.notes.append(f"installed {c.version}, benchmark pins {PINNED[c.framework]}")

    warnings = time_cases(cases, cfg, log)
    report = build_report(
        cases, cfg, env_info(packages=("hotpipe", "hypernodes", "pipefunc", "rich")), warnings
    )
    path = write_json(out, report)
    print_report(report, path)

    bad = [c for c in cases if c.status.startswith(("error", "FAILED"))]
    for c in bad:
        log(f"{c.name}: {c.status}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
