"""CLI: python -m arcsearch --split training|evaluation [--dataset arc1|arc2] [--tasks N|id,id]
[--workers 2] [--budget-s 4.5] [--max-candidates 80000] [--out DIR]"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="arcsearch")
    p.add_argument("--split", default="training", choices=["training", "evaluation"])
    p.add_argument("--dataset", default="arc1", choices=["arc1", "arc2"])
    p.add_argument("--tasks", default=None, help="N (first N by id) or comma-separated ids")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=4.5)
    p.add_argument("--max-candidates", type=int, default=80_000)
    p.add_argument("--out", default=None)
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    ids = a.tasks
    if ids is not None and ids.isdigit():
        ids = int(ids)
    from .runner import run_split

    rep = run_split(a.split, a.dataset, ids, a.workers, a.budget_s, a.max_candidates, a.out,
                    progress=not a.no_progress)
    print(f"{a.dataset}/{a.split}: solved {rep['n_solved']}/{rep['n_tasks']} "
          f"({100 * rep['accuracy']:.1f}%), wall {rep['wall_s']:.1f}s, "
          f"mean {rep['mean_task_s']:.2f}s/task, "
          f"{rep['cand_per_s_per_core']:.0f} candidates/s/core, timed out {rep['timed_out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
