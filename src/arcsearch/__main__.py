"""CLI: python -m arcsearch --split training|evaluation [--dataset arc1|arc2] [--tasks N|id,id]
[--workers 2] [--max-candidates 80000] [--budget-s 60] [--without shape,...] [--out DIR]

The result is fixed by ``--max-candidates`` (the same on every machine); ``--budget-s`` is a
safety net only, and the report counts the tasks that hit it."""

from __future__ import annotations

import argparse
import sys

from .search.enumerate import FEATURES


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # python -m arcsearch bench ...: see arcsearch/bench.py
        from .bench import main as bench_main

        return bench_main(argv[1:])
    p = argparse.ArgumentParser(prog="arcsearch")
    p.add_argument("--split", default="training", choices=["training", "evaluation"])
    p.add_argument("--dataset", default="arc1", choices=["arc1", "arc2"])
    p.add_argument("--tasks", default=None, help="N (first N by id) or comma-separated ids")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=60.0,
                   help="wall-clock safety net per task (default 60); results are fixed by "
                        "--max-candidates unless a task hits it")
    p.add_argument("--max-candidates", type=int, default=80_000)
    p.add_argument("--without", default="",
                   help=f"capabilities to switch off (ablation), comma-separated: "
                        f"{','.join(FEATURES)}")
    p.add_argument("--profile-functions", action="store_true",
                   help="sample the functions inside the nodes (hotpipe profile='functions')")
    p.add_argument("--out", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--with-held-out", action="store_true",
                   help="arc2 training: keep the ARC-AGI-1 evaluation tasks it holds (left "
                        "out by default: they are held out from design); to score only")
    p.add_argument("--cache", default=".hotpipe/cache",
                   help="cache directory (default .hotpipe/cache); an unchanged rerun loads")
    p.add_argument("--no-cache", action="store_true", help="compute everything again")
    p.add_argument("--profile-html", default=None, help="write the HTML profile report here")
    a = p.parse_args(argv)
    off = [f for f in a.without.split(",") if f]
    unknown = sorted(set(off) - set(FEATURES))
    if unknown:
        p.error(f"--without: unknown capability {unknown}; choose from {', '.join(FEATURES)}")
    features = tuple(f for f in FEATURES if f not in off)
    ids = a.tasks
    if ids is not None and ids.isdigit():
        ids = int(ids)
    from .runner import run_split

    rep = run_split(a.split, a.dataset, ids, a.workers, a.budget_s, a.max_candidates, a.out,
                    progress=not a.no_progress, cache=None if a.no_cache else a.cache,
                    profile_html=a.profile_html, features=features,
                    profile="functions" if a.profile_functions else None,
                    held_out=a.with_held_out)
    print_report(a.dataset, a.split, rep)
    return 0


def print_report(dataset: str, split: str, rep: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{dataset}/{split}[/bold]: solved {rep['n_solved']}/{rep['n_tasks']} "
        f"({100 * rep['accuracy']:.1f} %), wall {rep['wall_s']:.1f} s on {rep['workers']} "
        f"worker(s), mean {rep['mean_task_s']:.2f} s/task (max {rep['max_task_s']:.2f}), "
        f"{rep['cand_per_s_per_core']:,.0f} candidates/s/core, "
        f"{rep['timed_out']} task(s) hit the time budget, cache {rep['cache']['hits']} hits / "
        f"{rep['cache']['misses']} misses"
    )
    table = Table(title="where the time went, by phase", title_justify="left")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    table.add_column("%", justify="right")
    for row in rep["phases"]:
        table.add_row(row["phase"], f"{row['seconds']:.2f}", f"{row['percent']:.1f}")
    console.print(table)
    from hotpipe.advise import print_findings  # the advisor's findings on this profile

    print_findings(rep.get("profile"), console)


if __name__ == "__main__":
    sys.exit(main())
