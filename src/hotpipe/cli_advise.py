"""``hotpipe advise FILE.py:PIPELINE``: run a pipeline once and print what to change.

Loading, inputs and running are ``hotpipe run``'s (:mod:`hotpipe.cli_run`); this command
then prints the profile and the advisor's findings (docs/advisor.md), and can write them as
JSON (the profile's schema, with its ``findings``) or into the HTML report. Exit codes as for
``run``: 0 done (with or without findings), 1 a node failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hotpipe.cli_run import (
    EXIT_INPUT,
    EXIT_NODE_FAILED,
    EXIT_OK,
    UsageError,
    _check_flags,
    _execute,
    add_engine_flags,
    load_pipeline,
    read_inputs,
)

__all__ = ["add_advise_parser", "advise_command"]

_PROG = "hotpipe advise"


def add_advise_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``advise`` sub-command (its ``func`` is :func:`advise_command`)."""
    p = subparsers.add_parser(
        "advise", help="run a pipeline from a Python file and print what to change",
        description="Run (or, with --map-over, map) a hotpipe Pipeline, then print its "
        "profile and the advisor's findings: what to change, the evidence, the expected gain.",
        epilog="exit codes: 0 ok, 1 a node failed, 2 bad input. Example: hotpipe advise "
        "flow.py:pipe --inputs in.json --map-over x --html report.html",
    )
    p.add_argument("target", metavar="FILE.py[:PIPELINE]",
                   help="the Python file and the name of its Pipeline")
    p.add_argument("--inputs", metavar="JSON",
                   help="a JSON file holding an object of input name -> value, or the object")
    p.add_argument("--map-over", metavar="NAME", nargs="+", action="extend",
                   help="map over these inputs (each a JSON list) instead of a single run")
    p.add_argument("--mode", choices=("zip", "product"), default=None)
    p.add_argument("--outputs", metavar="NAME", nargs="+", action="extend",
                   help="compute only these outputs (and the nodes they need)")
    add_engine_flags(p)
    p.add_argument("--measure", action="store_true",
                   help="allow quick experiments (see docs/advisor.md)")
    p.add_argument("--json", metavar="FILE.json",
                   help="write the profile with its findings as JSON")
    p.add_argument("--html", metavar="FILE.html", help="write the HTML report with findings")
    p.set_defaults(func=advise_command, on_error="raise", no_progress=True)
    return p


def advise_command(args: argparse.Namespace) -> int:
    """Execute ``hotpipe advise``; return the exit code."""
    from hotpipe.errors import HotpipeError, NodeError

    try:
        pipe = load_pipeline(args.target)
        inputs = read_inputs(args.inputs)
        _check_flags(args)
        result = _execute(pipe, inputs, args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except NodeError as exc:
        return _fail(str(exc), EXIT_NODE_FAILED)
    except HotpipeError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_INPUT)
    findings = result.advise(measure=args.measure, inputs=inputs)
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    console.print(result.profile)
    console.print(findings)
    try:
        if args.json:
            result.profile.to_json(args.json, findings=findings)
            print(f"wrote profile JSON with findings to {args.json}")
        if args.html:
            result.profile.to_html(args.html, findings=findings)
            print(f"wrote profile HTML with findings to {args.html}")
    except OSError as exc:
        return _fail(f"cannot write {exc.filename}: {exc.strerror}", EXIT_INPUT)
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"{_PROG}: error: {' '.join(message.splitlines())}", file=sys.stderr)
    return code
