"""``hotpipe run FILE.py:PIPELINE``: run or map a pipeline defined in a Python file.

The file is imported as a module (its directory first on ``sys.path``, so its sibling
modules import; its ``if __name__ == "__main__"`` block does not run), the named attribute
must be a :class:`hotpipe.Pipeline`, inputs come from a JSON object. Results and the profile
table are printed; the profile can be written as HTML, JSON or a Chrome trace.

Exit codes: 0 success, 1 a node failed (``NodeError``, or failed items with
``--on-error collect``), 2 a problem with the input (the file, the attribute, the JSON, a bad
pipeline or bad arguments). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["UsageError", "add_run_parser", "main", "run_command"]

EXIT_OK, EXIT_NODE_FAILED, EXIT_INPUT = 0, 1, 2
_PROG = "hotpipe run"
ENGINES = ("local", "threads", "processes")
DEFAULT_CACHE = ".hotpipe/cache"

# Python advice in hotpipe's messages, and what a command-line user types instead
_CLI_TERMS = (
    ("The original traceback is chained above; ", ""),
    ("; the original traceback is chained above", ""),
    ("The original traceback is chained above.", ""),
    ("map(..., on_error='collect') keeps the other items",
     "--on-error collect keeps the other items"),
    ("on_error='collect'", "--on-error collect"),
    ("mode='product'", "--mode product"),
    ("Pipeline(..., strict=False)", "strict=False in the file's Pipeline(...)"),
)
_CLI_PATTERNS = (
    (re.compile(r"\bmap\(over='(\w+)'\)"), r"--map-over \1"),
    (re.compile(r"Fix: pass \{'(\w+)': \[\.\.\.\]\} in the inputs\."),
     r'Fix: add "\1": [...] to the --inputs JSON.'),
    (re.compile(r"Fix: pass a list \(a string or a dict is one value, not items\)\."),
     "Fix: give a JSON list (a string or an object is one value, not items)."),
)


class UsageError(Exception):
    """A problem with what the user passed (file, attribute, JSON): exit code 2."""


def add_run_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``run`` sub-command to an ``argparse`` sub-parsers object.

    The parser's default ``func`` is :func:`run_command`, so a caller can dispatch with
    ``sys.exit(args.func(args))``.
    """
    p = subparsers.add_parser(
        "run",
        help="run or map a pipeline from a Python file, print results and the profile",
        description="Run (or, with --map-over, map) a hotpipe Pipeline defined in a Python "
        "file; print the results and the profile; optionally write the profile as HTML, "
        "JSON or a Chrome trace.",
        epilog="exit codes: 0 ok, 1 a node failed, 2 bad input (file, pipeline, JSON, names). "
        "Example: hotpipe run flow.py:pipe --inputs in.json --map-over x --profile-html p.html",
    )
    p.add_argument("target", metavar="FILE.py[:PIPELINE]", nargs="?",
                   help="the Python file and the name of its Pipeline (may be omitted when "
                        "the file defines exactly one); it may come before or after the "
                        "options")
    p.add_argument("--inputs", metavar="JSON",
                   help="a JSON file holding an object of input name -> value, or the object "
                        "itself ('{\"x\": 1}'); default: no inputs")
    p.add_argument("--map-over", metavar="NAME", nargs="+", action="extend",
                   help="map over these inputs (each a JSON list) instead of a single run")
    p.add_argument("--mode", choices=("zip", "product"), default=None,
                   help="with --map-over: pair items position by position (zip, default) or "
                        "take every combination (product)")
    p.add_argument("--outputs", metavar="NAME", nargs="+", action="extend",
                   help="compute only these outputs (and the nodes they need)")
    p.add_argument("--on-error", choices=("raise", "collect"), default="raise",
                   help="with --map-over: stop at the first failed item (raise, default) or "
                        "finish the others (collect; the exit code is then 1 if any failed)")
    p.add_argument("--retries", metavar="N", type=_count,
                   help="retry a failed call up to N times, for the nodes that set no "
                        "retries of their own")
    p.add_argument("--timeout", metavar="SECONDS", type=_seconds,
                   help="fail a call that takes longer, for the nodes that set no timeout "
                        "of their own")
    p.add_argument("--no-progress", action="store_true",
                   help="with --map-over: do not show the progress bar")
    add_engine_flags(p)
    p.add_argument("--traceback", action="store_true",
                   help="on error, also print the full traceback (the node's own exception)")
    p.add_argument("--output", metavar="FILE.json", help="write the results as JSON")
    p.add_argument("--profile-html", metavar="FILE.html", help="write the HTML profile report")
    p.add_argument("--profile-json", metavar="FILE.json",
                   help="write the profile as JSON (schema hotpipe.profile/1)")
    p.add_argument("--profile-trace", metavar="FILE.json",
                   help="write the timeline as a Chrome/Perfetto trace")
    p.set_defaults(func=run_command)
    return p


def add_engine_flags(p: argparse.ArgumentParser) -> None:
    """``--engine``, ``--workers`` and ``--cache``, shared by ``run`` and ``advise``."""
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="where the nodes run: local (the calling thread, default), threads "
                        "(I/O-bound and GPU nodes) or processes (CPU-bound Python)")
    p.add_argument("--workers", metavar="N", type=_positive_int,
                   help="with --engine threads or processes: how many workers (default: "
                        "one per core)")
    p.add_argument("--cache", metavar="DIR", nargs="?", const=DEFAULT_CACHE,
                   help="reuse results stored by earlier runs and store new ones, in DIR "
                        f"(default when the flag is given alone: ./{DEFAULT_CACHE})")
    p.add_argument("--refresh", metavar="NODE", nargs="*",
                   help="with --cache: recompute these nodes (all when none is named) and "
                        "every node downstream of them, overwriting their entries")


def run_command(args: argparse.Namespace) -> int:
    """Execute ``hotpipe run`` for parsed ``args``; return the exit code."""
    from hotpipe.errors import HotpipeError, NodeError

    try:
        _find_target(args)
        pipe = load_pipeline(args.target)
        inputs = read_inputs(args.inputs)
        _check_flags(args)
        result = _execute(pipe, inputs, args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_INPUT, exc.__cause__ if args.traceback else None)
    except NodeError as exc:
        if args.traceback:
            return _fail(cli_terms(str(exc)), EXIT_NODE_FAILED, exc)
        return _fail(f"{cli_terms(str(exc))} (--traceback prints it)", EXIT_NODE_FAILED)
    except HotpipeError as exc:
        return _fail(f"{type(exc).__name__}: {cli_terms(str(exc))}", EXIT_INPUT,
                     exc if args.traceback else None)
    _print_results(result, mapped=bool(args.map_over))
    try:
        _write_reports(result, args)
    except OSError as exc:
        return _fail(f"cannot write {exc.filename}: {exc.strerror}", EXIT_INPUT)
    if result.errors:
        first = result.errors[0]
        return _fail(f"{len(result.errors)} item(s) failed; first: item {first.index} in node "
                     f"{first.node!r}: {type(first.exception).__name__}: {first.exception}",
                     EXIT_NODE_FAILED)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """A stand-alone ``hotpipe`` with only the ``run`` command (``python -m hotpipe.cli_run
    run ...``)."""
    parser = argparse.ArgumentParser(prog="hotpipe")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


# ----------------------------------------------------------------------------- loading


def load_pipeline(target: str) -> Any:
    """Import ``FILE.py`` and return its Pipeline named after the colon (or its only one)."""
    from hotpipe.pipeline import Pipeline

    file, attr = target, ""
    if not target.endswith(".py") and ":" in target:
        file, _, attr = target.rpartition(":")
    module = _import_file(Path(file))
    found = {name: v for name, v in vars(module).items() if isinstance(v, Pipeline)}
    listing = ", ".join(sorted(found)) or "none"
    if not attr:
        if len(found) == 1:
            return next(iter(found.values()))
        raise UsageError(
            f"{file} defines {len(found)} Pipelines ({listing}); name one: {file}:NAME"
        )
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{file} has no attribute {attr!r}; Pipelines defined there: "
                             f"{listing}")
        obj = getattr(obj, part)
    if not isinstance(obj, Pipeline):
        raise UsageError(
            f"{file}:{attr} is a {type(obj).__module__}.{type(obj).__qualname__}, not a "
            f"hotpipe.Pipeline; Pipelines defined there: {listing}"
        )
    return obj


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix != ".py":
        raise UsageError(f"{path} is not a Python file (.py); use FILE.py:PIPELINE")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else (
        f"_hotpipe_run_{abs(hash(str(path.resolve())))}"
    )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have one
        raise UsageError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise UsageError(f"error while importing {path}: {_where(exc, path)}"
                         f"{type(exc).__name__}: {exc}") from exc
    return module


def _where(exc: BaseException, path: Path) -> str:
    """``file:line: `` of the innermost frame in the user's file, if any."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"line {exc.lineno}: "
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f"line {frames[-1].lineno}: " if frames else ""


def read_inputs(spec: str | None) -> dict[str, Any]:
    """Inputs from a JSON file, or inline JSON starting with ``{``; must be an object."""
    if spec is None:
        return {}
    if spec.lstrip().startswith("{"):
        text, where = spec, "--inputs"
    else:
        try:
            text, where = Path(spec).read_text(encoding="utf-8"), spec
        except FileNotFoundError:
            raise UsageError(f"--inputs: no such file: {spec}") from None
        except OSError as exc:
            raise UsageError(f"--inputs: cannot read {spec}: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{where} must hold a JSON object of input name -> value, got a "
                         f"{type(value).__name__}; e.g. {{\"x\": [1, 2, 3]}}")
    return value


def cli_terms(message: str) -> str:
    """``message`` with Python advice replaced by the flags that do the same.

    >>> cli_terms("item 3 failed; map(..., on_error='collect') keeps the other items")
    'item 3 failed; --on-error collect keeps the other items'
    """
    for python, flag in _CLI_TERMS:
        message = message.replace(python, flag)
    for pattern, flag in _CLI_PATTERNS:
        message = pattern.sub(flag, message)
    return message


def _number(text: str, cast: type, ok: Any, what: str) -> Any:
    """``text`` read with ``cast`` and checked by ``ok``, else argparse's error naming
    ``what`` it must be."""
    try:
        value = cast(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a whole number >= 1")


def _count(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number >= 0")


def _seconds(text: str) -> float:
    return _number(text, float, lambda v: 0 < v < float("inf"), "a number of seconds > 0")


def _looks_like_target(value: str) -> bool:
    return value.endswith(".py") or ".py:" in value


def _find_target(args: argparse.Namespace) -> None:
    """Take the file back from an option that swallowed it (``--map-over x flow.py``:
    names are identifiers, so a ``.py`` word is the target), else say it is missing."""
    if args.target is not None:
        return
    for option in ("map_over", "outputs", "refresh"):
        values = getattr(args, option, None) or []
        for value in values:
            if _looks_like_target(value):
                values.remove(value)
                args.target = value
                return
    if args.cache is not None and _looks_like_target(args.cache):
        args.target, args.cache = args.cache, DEFAULT_CACHE
        return
    raise UsageError("no pipeline given: name the file, e.g. hotpipe run flow.py:pipe "
                     "--map-over x")


def _engine(args: argparse.Namespace) -> Any:
    import hotpipe

    if args.engine == "threads":
        return hotpipe.Threads(args.workers)
    if args.engine == "processes":
        return hotpipe.Processes(args.workers)
    return hotpipe.Local()


def _check_flags(args: argparse.Namespace) -> None:
    if args.map_over == [] or args.outputs == []:
        flag = "--map-over" if args.map_over == [] else "--outputs"
        raise UsageError(f"{flag} needs at least one name")
    if args.workers is not None and args.engine == "local":
        raise UsageError("--workers applies to --engine threads or --engine processes; "
                         "local runs in the calling thread")
    if not args.map_over:
        for flag, value in (("--mode", args.mode), ("--on-error", args.on_error != "raise"
                                                     and args.on_error)):
            if value:
                raise UsageError(f"{flag} only applies with --map-over NAME")


# ----------------------------------------------------------------------------- running


def _execute(pipe: Any, inputs: dict[str, Any], args: argparse.Namespace) -> Any:
    outputs = args.outputs or None
    engine = _engine(args)
    cache = None
    if args.cache is not None:
        import hotpipe

        cache = hotpipe.Cache(args.cache)
    refresh = getattr(args, "refresh", None)
    if refresh is not None and cache is None:
        raise UsageError("--refresh recomputes cached nodes: it needs --cache [DIR]")
    refresh = False if refresh is None else (refresh or True)
    guards = {"retries": getattr(args, "retries", None), "timeout": getattr(args, "timeout", None)}
    if not args.map_over:
        return pipe.run(inputs, outputs=outputs, engine=engine, cache=cache, refresh=refresh,
                        **guards)
    return pipe.map(inputs, over=args.map_over, mode=args.mode or "zip", outputs=outputs,
                    on_error=args.on_error, progress=not args.no_progress, engine=engine,
                    cache=cache, refresh=refresh, **guards)


def _print_results(result: Any, mapped: bool) -> None:
    from rich.console import Console
    from rich.pretty import Pretty
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: don't squeeze the tables to 80 columns
        console = Console(width=max(console.width, 120))
    n = result.profile.items
    title = f"results ({n:,} item{'s' * (n != 1)})" if mapped else "results"
    table = Table(title=title, title_justify="left")
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for name, value in result.items():
        table.add_row(name, Pretty(value, max_length=8, max_string=80, max_depth=3))
    console.print(table)
    console.print(result.profile)


def _write_reports(result: Any, args: argparse.Namespace) -> None:
    profile = result.profile
    written = []
    if args.output:
        Path(args.output).write_text(json.dumps(_jsonable(result), indent=2, default=repr),
                                     encoding="utf-8")
        written.append(("results", args.output))
    if args.profile_json:
        profile.to_json(args.profile_json)
        written.append(("profile JSON", args.profile_json))
    if args.profile_html:
        profile.to_html(args.profile_html)
        written.append(("profile HTML", args.profile_html))
    if args.profile_trace:
        profile.to_chrome_trace(args.profile_trace)
        written.append(("profile trace", args.profile_trace))
    for what, path in written:
        print(f"wrote {what} to {path}")


def _jsonable(value: Any) -> Any:
    """Results as JSON: containers recursed, numpy-like values via ``tolist()``, the rest
    by ``repr`` (e.g. ``FAILED``) through ``json.dumps(default=repr)``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return value


def _fail(message: str, code: int, exc: BaseException | None = None) -> int:
    if exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    one_line = " ".join(message.split("\n"))
    print(f"{_PROG}: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
