"""``hotpipe bench FILE.py``: compare the cases a Python file defines; ``hotpipe bench
--compare OLD.json NEW.json``: compare two saved runs (two commits).

The file is imported as a module and must define ``cases``: a dict of name -> case (or a
function returning one); it may define ``baseline``, ``title``, ``dimensions`` and
``tolerance``. Exit codes: 0 done, 1 refused (outputs differ, a case failed), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_bench_parser", "bench_command"]

EXIT_OK, EXIT_REFUSED, EXIT_INPUT = 0, 1, 2


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench`` to an argparse sub-parsers object (``func`` is :func:`bench_command`)."""
    p = subparsers.add_parser(
        "bench", help="compare cases (before/after) on a noisy machine, or two saved runs",
        description="Time the cases that FILE.py defines (a dict named `cases`: name -> "
        "callable or (pipeline, inputs, engine)); check their outputs first, interleave the "
        "samples, report ratios with a significance test.",
        epilog="examples: hotpipe bench flow_bench.py --json after.json --markdown after.md; "
        "hotpipe bench --compare before.json after.json",
    )
    p.add_argument("file", nargs="?", metavar="FILE.py", help="the file defining `cases`")
    p.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                   help="compare two results written with --json (e.g. two commits)")
    p.add_argument("--cases", nargs="+", metavar="NAME", help="time only these cases")
    p.add_argument("--baseline", metavar="NAME", help="the case others are compared to")
    p.add_argument("--samples", type=int, default=15, help="samples per case (default 15)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds per sample at least, by calibration (default 0.05)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up samples (default 1)")
    p.add_argument("--processes", type=int, default=0,
                   help="also run each case this many times in a fresh process (cold start)")
    p.add_argument("--min-factor", type=float, default=1.05,
                   help="smallest ratio worth calling a difference (default 1.05)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="relative and absolute tolerance for numbers in the output check")
    p.add_argument("--no-check", action="store_true", help="time even if outputs differ")
    p.add_argument("--seed", type=int, default=None, help="seed of the shuffled order")
    p.add_argument("--json", metavar="OUT.json", help="write every sample as JSON")
    p.add_argument("--markdown", metavar="OUT.md", help="write the Markdown report")
    p.set_defaults(func=bench_command)
    return p


def _fail(message: str, code: int) -> int:
    print(f"hotpipe bench: {message}", file=sys.stderr)
    return code


def _module_cases(path: str, only: list[str] | None) -> tuple[dict[str, Any], Any]:
    from hotpipe.cli_run import UsageError, _import_file

    module = _import_file(Path(path))
    found = getattr(module, "cases", None)
    if callable(found):
        found = found()
    if not isinstance(found, dict) or not found:
        kind = "nothing" if found is None else type(found).__name__
        raise UsageError(f"{path} must define `cases`, a dict of name -> callable or "
                         f"(pipeline, inputs, engine); it defines {kind}")
    if only:
        missing = [n for n in only if n not in found]
        if missing:
            raise UsageError(f"--cases: {missing} not in {path}; its cases are {list(found)}")
        found = {n: found[n] for n in only}
    try:  # so that processes= can rebuild the cases in a child without the file on sys.path
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    except (ImportError, ValueError):
        pass
    return found, module


def bench_command(args: argparse.Namespace) -> int:
    """Execute ``hotpipe bench`` for parsed ``args``; return the exit code."""
    from rich.console import Console

    from hotpipe import bench
    from hotpipe.cli_run import UsageError
    from hotpipe.errors import BenchError

    if bool(args.file) == bool(args.compare):
        return _fail("give FILE.py, or --compare OLD.json NEW.json (not both)", EXIT_INPUT)
    try:
        if args.compare:
            result = bench.compare_to(*args.compare, min_factor=args.min_factor)
        else:
            cases, module = _module_cases(args.file, args.cases)
            result = bench.compare(
                cases, baseline=args.baseline or getattr(module, "baseline", None),
                samples=args.samples, min_time=args.min_time, warmup=args.warmup,
                processes=args.processes, check=not args.no_check,
                tolerance=args.tolerance if args.tolerance is not None
                else getattr(module, "tolerance", None),
                min_factor=args.min_factor, seed=args.seed,
                title=getattr(module, "title", f"hotpipe bench {Path(args.file).name}"),
                dimensions=getattr(module, "dimensions", None),
                log=lambda m: print(m, file=sys.stderr, flush=True))
    except UsageError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except BenchError as exc:
        return _fail(str(exc), EXIT_REFUSED)
    Console(width=max(Console().width, 120)).print(result)
    try:
        if args.json:
            result.to_json(args.json)
            print(f"JSON written to {args.json}")
        if args.markdown:
            Path(args.markdown).write_text(result.to_markdown(), encoding="utf-8")
            print(f"Markdown written to {args.markdown}")
    except OSError as exc:
        return _fail(f"cannot write {exc.filename}: {exc.strerror}", EXIT_INPUT)
    return EXIT_OK
