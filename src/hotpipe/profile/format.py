"""Turning a profile into text: units, the rich table, plain-text and HTML renderings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from hotpipe.profile.view import Profile

__all__ = ["fmt_s", "profile_table", "render_html_table", "render_text"]


def fmt_s(seconds: float | None) -> str:
    """Seconds with a unit and 3 significant digits: 12.3 us, 4.56 ms, 1.23 s."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def profile_table(profile: Profile) -> Table:
    """Per node: phase, calls, wall, CPU, mean, p50, p95, max, % of wall; then per phase."""
    from rich.table import Table

    # shares of the time spent: with parallel workers the nodes' time adds up across them
    total = (profile.node_wall + profile.framework_wall) or 1e-300
    items = profile.items
    par = profile.parallelism
    cpu = (
        f"{fmt_s(profile.cpu)} CPU (parallelism {par:.2f})" if par is not None
        else "CPU not measured (run too short)"
    )
    title = (
        f"{profile.pipeline}: {profile.mode} of {items:,} item{'s' * (items != 1)} on "
        f"{profile.engine}: {fmt_s(profile.wall)} wall, {cpu}"
    )
    table = Table(title=title, title_justify="left")
    cached = any(n.hits or n.misses for n in profile.nodes)
    columns = [("node", False), ("phase", False), ("calls", True), ("wall", True),
               ("cpu", True), ("mean", True), ("p50", True), ("p95", True), ("max", True),
               ("%", True)]
    if cached:
        columns += [("hits", True), ("misses", True), ("saved", True)]
    for col, right in columns:
        table.add_column(col, justify="right" if right else "left")
    for n in profile.nodes:
        sampled = "" if n.timed >= n.items else "*"
        row = [
            n.name, n.phase, f"{n.calls:,}", fmt_s(n.wall), fmt_s(n.cpu), fmt_s(n.mean),
            fmt_s(n.p50) + sampled, fmt_s(n.p95) + sampled, fmt_s(n.max) + sampled,
            f"{100 * n.wall / total:.1f}",
        ]
        if cached:
            row += [f"{n.hits:,}", f"{n.misses:,}", fmt_s(n.saved)]
        table.add_row(*row)
    fw = profile.framework_wall
    pad = [""] * (len(columns) - 10)
    table.add_row("(framework)", "", "", fmt_s(fw), "", "", "", "", "",
                  f"{100 * fw / total:.1f}", *pad, style="dim", end_section=True)
    if len(profile.phases) > 1:
        for p in profile.phases:
            table.add_row(f"phase {p.name}", "", "", fmt_s(p.wall), fmt_s(p.cpu), "", "", "",
                          "", f"{p.percent:.1f}", *pad, style="italic")
    if any(n.timed < n.items for n in profile.nodes):
        table.caption = "* percentiles from the items timed one by one (a sample)"
    return table


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


def render_text(table: Table) -> str:
    console = _console()
    console.print(table)
    return console.export_text().rstrip("\n")


def render_html_table(table: Table) -> str:
    console = _console()
    console.print(table)
    return console.export_html(inline_styles=True)
