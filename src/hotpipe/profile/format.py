"""Turning a profile into text: units, the rich table, plain-text and HTML renderings."""

from __future__ import annotations

from typing import TYPE_CHECKING

NO_PHASE = "(no phase)"
CACHE_ROW = "(cache)"
FRAMEWORK_ROW = "(framework)"
ONE_OFF_ROW = "(one-off)"
"""The table's row of the costs paid once (resource builds, pool start, first calls)."""

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.table import Table

    from hotpipe.profile.view import Profile

__all__ = ["fmt_s", "one_offs_line", "profile_table", "render_html_table", "render_text",
           "terminal_width"]


def fmt_s(seconds: float | None) -> str:
    """Seconds with a unit and 3 significant digits: 12.3 us, 4.56 ms, 1.23 s."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds * 1e6:.3g}us"


_DROP_ORDER = ("phase", "p95", "mean", "cpu", "misses", "saved", "p50")


def profile_table(profile: Profile, max_width: int | None = None) -> Table:
    """Per node: calls, wall, CPU, mean, p50, p95, max, % of the time (with phase and cache
    columns when they apply: hits, misses, compute time saved, the cache's own time); then
    the cache's time, the framework's and the phases; the cache's totals in the caption.

    Numbers never wrap: when the table is wider than ``max_width`` the least needed columns
    go first (the phase column, whose totals stay below, then p95, mean, cpu, ...).
    """
    from rich import box
    from rich.table import Table

    # shares of the time spent: with parallel workers the nodes' time adds up across them
    total = profile.spent or 1e-300
    phased = any(n.phase != NO_PHASE for n in profile.nodes)
    cache = profile.cache
    cached = cache.used
    names = ["calls", "wall", "cpu", "mean", "p50", "p95", "max", "%"]
    if cached:
        names += ["hits", "misses", "saved", "cache"]
    rows: list[tuple[str, str, list[str], str]] = []
    for n in profile.nodes:
        mark = "" if n.timed >= n.items else "*"
        cells = [f"{n.calls:,}", fmt_s(n.wall), fmt_s(n.cpu), fmt_s(n.mean),
                 fmt_s(n.p50) + mark, fmt_s(n.p95) + mark, fmt_s(n.max) + mark,
                 f"{100 * n.wall / total:.1f}"]
        if cached:
            cells += [f"{n.hits:,}", f"{n.misses:,}", fmt_s(n.saved), fmt_s(n.cache_wall)]
        rows.append((n.name, n.phase, cells, ""))
    pad = [""] * (len(names) - 8)
    if cached:
        cw = cache.wall
        rows.append((CACHE_ROW, "", ["", fmt_s(cw), "", "", "", "", "",
                                     f"{100 * cw / total:.1f}", f"{cache.hits:,}",
                                     f"{cache.misses:,}", fmt_s(cache.saved), ""],
                     "dim"))
    one_off = profile.one_off_wall
    if profile.one_offs:
        rows.append((ONE_OFF_ROW, "", ["", fmt_s(one_off), "", "", "", "", "",
                                       f"{100 * one_off / total:.1f}", *pad], "dim"))
    fw = profile.framework_wall
    rows.append((FRAMEWORK_ROW, "", ["", fmt_s(fw), "", "", "", "", "",
                                     f"{100 * fw / total:.1f}", *pad], "dim"))
    if phased:
        rows += [(f"phase {p.name}", "", ["", fmt_s(p.wall), fmt_s(p.cpu), "", "", "", "",
                                          f"{p.percent:.1f}", *pad], "italic")
                 for p in profile.phases]
    widths = {col: max(len(col), *(len(r[2][j]) for r in rows)) for j, col in enumerate(names)}
    widths["node"] = max(len(r[0]) for r in rows)
    if phased:
        widths["phase"] = max(len("phase"), *(len(r[1]) for r in rows))
    keep = set(widths)
    for col in _DROP_ORDER:
        if max_width is None or sum(widths[c] + 3 for c in keep) <= max_width:
            break
        keep.discard(col)
    table = Table(title=_title(profile), title_justify="left", box=box.SIMPLE_HEAD,
                  caption_justify="left")
    table.add_column("node", no_wrap=True, overflow="ellipsis", min_width=8)
    if "phase" in keep:
        table.add_column("phase", no_wrap=True, overflow="ellipsis", min_width=6)
    shown = [j for j, col in enumerate(names) if col in keep]
    for j in shown:
        table.add_column(names[j], justify="right", no_wrap=True, min_width=widths[names[j]])
    for label, phase, cells, style in rows:
        table.add_row(label, *([phase] if "phase" in keep else []), *(cells[j] for j in shown),
                      style=style or None, end_section=label == FRAMEWORK_ROW)
    captions = []
    if cached:
        captions.append(f"{cache} (keys, lookups, reads, writes)")
    if profile.one_offs:
        captions.append(one_offs_line(e[:3] for e in profile.one_offs))
    if any(n.timed < n.items for n in profile.nodes):
        captions.append("* percentiles of the first items, timed one by one (a sample)")
    if captions:
        table.caption = "\n".join(captions)
    return table


def one_offs_line(entries: Iterable[tuple[str, str, float]]) -> str:
    """The one-off costs ``(kind, name, seconds)`` in a line: what, how often and how long,
    e.g. ``resource Model 2x (812ms), pool start worker 2x (390ms)`` (summed over workers)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for kind, name, seconds in entries:
        groups.setdefault((kind, name), []).append(seconds)
    parts = []
    for (kind, name), times in groups.items():
        count = f" {len(times)}x" if len(times) > 1 else ""
        parts.append(f"{kind} {name}{count} ({fmt_s(sum(times))})")
    return ("one-off (not item time, projected once): " + ", ".join(parts))


def _title(profile: Profile) -> str:
    items = profile.items
    par = profile.parallelism
    cpu = (
        f"{fmt_s(profile.cpu)} CPU, parallelism {par:.2f}" if par is not None
        else "CPU not measured (run too short)"
    )
    if all_from_cache(profile):
        cpu = "no node ran: every result came from the cache"
    return (
        f"{profile.pipeline}: {profile.mode} of {items:,} item{'s' * (items != 1)} on "
        f"{profile.engine}: {fmt_s(profile.wall)} wall, {cpu}"
    )


def all_from_cache(profile: Profile) -> bool:
    """Whether the call computed nothing: every node's result was a cache hit (then CPU and
    parallelism say nothing about the nodes)."""
    return profile.cache.hits > 0 and not any(n.calls for n in profile.nodes)


def functions_table(profile: Profile, functions: dict, shares: dict) -> Table:
    """Top functions per node by self time, with each node's category shares."""
    from rich.table import Table

    table = Table(title=f"{profile.pipeline}: functions inside the nodes (sampled)",
                  title_justify="left")
    for col, right in (("node", False), ("function", False), ("category", False),
                       ("self", True), ("total", True), ("self %", True)):
        table.add_column(col, justify="right" if right else "left")
    for node in profile.nodes:
        stats = functions.get(node.name) or []
        n = sum(f.self_samples for f in stats) or 1
        share = ", ".join(f"{c} {p:.1f} %" for c, p in shares.get(node.name, {}).items())
        for i, f in enumerate(stats):
            table.add_row(
                node.name if i == 0 else "", f.function, f.category, fmt_s(f.self_seconds),
                fmt_s(f.total_seconds), f"{100 * f.self_samples / n:.1f}",
                end_section=i == len(stats) - 1,
            )
        if share:
            table.add_row("", f"[italic]categories: {share}[/italic]", "", "", "", "",
                          end_section=True)
    return table


class _NullFile:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _console(width: int = 120):
    from rich.console import Console

    return Console(width=width, record=True, file=_NullFile(), color_system=None)


def terminal_width(fallback: int = 120) -> int:
    """Columns of the terminal ``print`` writes to: ``$COLUMNS`` if set, else the terminal's
    real width, else ``fallback`` (output piped to a file or captured)."""
    import shutil

    return max(40, shutil.get_terminal_size((fallback, 24)).columns)


def render_text(table: Table, width: int = 120) -> str:
    console = _console(width)
    console.print(table)
    return console.export_text().rstrip("\n")


def render_html_table(table: Table) -> str:
    console = _console()
    console.print(table)
    return console.export_html(inline_styles=True)
