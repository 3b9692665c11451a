"""The ``hotpipe`` command: ``hotpipe cache stats|clear|prune [PATH]``, ``run``, ``bench``,
``advise``.

Each command is an argparse sub-parser (``run`` comes from ``hotpipe.cli_run``). Cache exit
codes: 0 done, 1 no cache at PATH for ``stats``, a cache this version cannot open (or a
directory hotpipe did not create, or does not trust), or ``clear`` answered "no", 2 bad
arguments. ``hotpipe --version`` prints the version.

>>> parse_size("1.5GiB"), parse_size("500MB"), parse_size("12")
(1610612736, 500000000, 12)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hotpipe._units import format_size
from hotpipe._units import parse_size as _parse_size

__all__ = ["main", "parse_size"]

DEFAULT_PATH = Path(".hotpipe/cache")


def parse_size(text: str) -> int:
    """Bytes in ``500MB``, ``1GB``, ``1.5GiB`` (KB/MB/GB/TB are powers of 1000, KiB... of 1024)."""
    try:
        return _parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _open(path: Path, read_only: bool = False):  # type: ignore[no-untyped-def]
    from hotpipe.cache import SQLiteStore

    if not (path / "index.sqlite").exists():
        return None
    return SQLiteStore(path, read_only=read_only)


def _stats(args: argparse.Namespace) -> int:
    store = _open(args.path, read_only=True)  # reading changes nothing in the cache
    if store is None:
        print(f"hotpipe: no cache at {args.path} (no index.sqlite there)", file=sys.stderr)
        return 1
    with store:
        s = store.stats()
        groups = store.by_prefix()
    if args.json:
        import dataclasses
        import json

        nodes = [{**dataclasses.asdict(g), "prefix": g.prefix.hex()} for g in groups]
        print(json.dumps({"path": str(args.path), **dataclasses.asdict(s), "nodes": nodes},
                         indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hotpipe cache {args.path}", show_header=False)
    rows = [
        ("entries", f"{s.entries:,}"),
        ("packs (chunk copies)", f"{s.packs:,}"),
        ("total size", format_size(s.bytes)),
        ("inline entries", f"{s.inline_entries:,}"),
        ("file entries", f"{s.file_entries:,}"),
        ("oldest access", _when(s.oldest_access)),
        ("newest access", _when(s.newest_access)),
        ("oldest write", _when(s.oldest_write)),  # the age max_age= compares
        ("newest write", _when(s.newest_write)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console = Console()
    console.print(table)
    if groups:
        console.print(_node_table(groups))
    return 0


def _node_table(groups: list) -> object:  # list[PrefixStats] -> rich Table
    """One row per node (key prefix), largest first; prefixes without a name (entries
    written by an older hotpipe, or through ``Cache.put_many`` by hand) summed in one row."""
    from rich import box
    from rich.table import Table

    rows = [(g.node, g.pipeline or "-", g.prefix.hex()[:8], f"{g.entries:,}", f"{g.packs:,}",
             format_size(g.bytes), _span(g.oldest_access, g.newest_access), "")
            for g in groups if g.node is not None]
    unnamed = [g for g in groups if g.node is None]
    if unnamed:
        oldest = min((g.oldest_access for g in unnamed if g.oldest_access is not None),
                     default=None)
        newest = max((g.newest_access for g in unnamed if g.newest_access is not None),
                     default=None)
        prefix = unnamed[0].prefix.hex()[:8] if len(unnamed) == 1 else f"{len(unnamed):,} of"
        rows.append(("(no name)", "-", prefix, f"{sum(g.entries for g in unnamed):,}",
                     f"{sum(g.packs for g in unnamed):,}",
                     format_size(sum(g.bytes for g in unnamed)), _span(oldest, newest), "dim"))
    table = Table(title="per node (the entries of each pipeline step; --json: full prefixes)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    heads = ("node", "pipeline", "prefix", "entries", "packs", "size", "accessed")
    for j, col in enumerate(heads):
        fixed = max(len(col), *(len(r[j]) for r in rows)) if j >= 2 else None
        table.add_column(col, justify="right" if col in ("entries", "packs", "size") else
                         "left", no_wrap=True, overflow="ellipsis", min_width=fixed or 6)
    for *cells, style in rows:
        table.add_row(*cells, style=style or None)
    return table


def _span(oldest: float | None, newest: float | None) -> str:
    """The range of access times, as short as it can be said."""
    if oldest is None or newest is None:
        return "-"
    a, b = time.localtime(oldest), time.localtime(newest)
    first = time.strftime("%Y-%m-%d %H:%M", a)
    if first == time.strftime("%Y-%m-%d %H:%M", b):
        return first
    if a[:3] == b[:3]:
        return f"{first}-{time.strftime('%H:%M', b)}"
    return f"{time.strftime('%Y-%m-%d', a)}..{time.strftime('%Y-%m-%d', b)}"


def _clear(args: argparse.Namespace) -> int:
    store = _open(args.path)
    if store is None:
        print(f"nothing to clear: no cache at {args.path}")
        return 0
    with store:
        s = store.stats()
        if not args.yes and sys.stdin.isatty():
            question = (f"remove {s.entries:,} entries and {s.packs:,} packs "
                        f"({format_size(s.bytes)}) from {args.path}? [y/N] ")
            if input(question).strip().lower() not in ("y", "yes"):
                print("nothing removed (hotpipe cache clear --yes skips this question)")
                return 1
        store.clear()
    print(f"cleared {s.entries:,} entries and {s.packs:,} packs from {args.path}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    store = _open(args.path)
    if store is None:
        print(f"nothing to prune: no cache at {args.path}")
        return 0
    with store:
        removed = store.prune(args.max_size)
        left = store.stats()
    print(
        f"removed {removed:,} least recently used entries and packs; {left.entries:,} "
        f"entries, {left.packs:,} packs, "
        f"{format_size(left.bytes)} left in {args.path}"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    from hotpipe import __version__

    parser = argparse.ArgumentParser(prog="hotpipe", description="hotpipe command line")
    parser.add_argument("--version", action="version", version=f"hotpipe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from hotpipe.cli_run import add_run_parser  # ``hotpipe run``, owned by the engine side

    add_run_parser(commands)
    from hotpipe.bench._cli import add_bench_parser  # ``hotpipe bench``, in hotpipe.bench

    add_bench_parser(commands)
    from hotpipe.cli_advise import add_advise_parser  # ``hotpipe advise``

    add_advise_parser(commands)
    cache = commands.add_parser("cache", help="inspect and manage the on-disk cache")
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    path_help = f"the cache directory (default: ./{DEFAULT_PATH})"
    for name, func, help_text in (
        ("stats", _stats, "entries, size and access times, in total and per node"),
        ("clear", _clear, "remove every entry"),
        ("prune", _prune, "remove least recently used entries down to --max-size"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help=path_help)
        sub.set_defaults(func=func)
        if name == "stats":
            sub.add_argument("--json", action="store_true",
                             help="print the numbers as a JSON object (per node under "
                                  "\"nodes\")")
        if name == "clear":
            sub.add_argument("--yes", "-y", action="store_true",
                             help="do not ask first (on a terminal, clear asks; from a "
                                  "script it does not)")
        if name == "prune":
            sub.add_argument(
                "--max-size", type=parse_size, required=True, help="e.g. 500MB, 1GB, 1.5GiB"
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    import sqlite3

    from hotpipe.errors import HotpipeError

    args = _parser().parse_args(argv)
    if args.command != "cache":
        return int(args.func(args))
    try:
        return int(args.func(args))
    except (RuntimeError, sqlite3.Error, HotpipeError) as exc:
        # a cache from a newer hotpipe, a locked file, a directory hotpipe did not create
        print(f"hotpipe: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
