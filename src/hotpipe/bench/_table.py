"""The rich table of a :class:`~hotpipe.bench.BenchResult` (rich is imported here, lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotpipe.bench._result import format_seconds

if TYPE_CHECKING:
    from hotpipe.bench._result import BenchResult

__all__ = ["environment_line", "plain_text", "renderable"]


def _rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def environment_line(env: dict[str, Any], load_after: list[float] | None) -> str:
    """One line: commit (dirty?), Python, CPU, cores, load before and after."""
    git, m = env.get("git", {}), env.get("machine", {})
    dirty = " (+ local changes)" if git.get("dirty") else ""
    before = (m.get("loadavg") or ["?"])[0]
    after = (load_after or ["?"])[0]
    return (f"{env.get('date', '?')}  commit {git.get('short')}{dirty}  python "
            f"{env.get('python', {}).get('version')}  {m.get('cpu_model')}  cores "
            f"{m.get('cores_usable') or m.get('cores')}  load {before} -> {after}")


def renderable(result: BenchResult) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=result.title, title_justify="left")
    for col in ("case", "samples", "median", "IQR", "min", "max", "CPU", "items/s",
                "first call", f"vs {result.baseline}"):
        table.add_column(col, justify="left" if col == "case" else "right",
                         no_wrap=col == "case")
    verdicts = {c.case: c.verdict.label for c in result.comparisons
                if c.baseline == result.baseline}
    for name, c in result.cases.items():
        s, cpu = result.summary(name), result.cpu_summary(name)
        table.add_row(
            name, f"{s.n} x {c.loops}", format_seconds(s.median), format_seconds(s.iqr),
            format_seconds(s.min), format_seconds(s.max), format_seconds(cpu.median),
            _rate(result.items_per_s(name)), format_seconds(c.first_s),
            "baseline" if name == result.baseline else verdicts.get(name, ""),
        )
    lines = [table]
    for comp in result.comparisons:
        lines.append(Text(f"{comp.case} vs {comp.baseline}: wall {comp.verdict.label}; CPU "
                          f"{comp.cpu_verdict.label}"))
    for name, c in result.cases.items():
        if c.cold:
            med = sorted(x["process_s"] for x in c.cold)[len(c.cold) // 2]
            lines.append(Text(
                f"{name}, fresh process x{len(c.cold)}: process {format_seconds(med)}, "
                f"load {format_seconds(min(x['load_s'] for x in c.cold))}, first call "
                f"{format_seconds(min(x['first_s'] for x in c.cold))} (min)"))
    for w in result.warnings:
        lines.append(Text(f"UNSTABLE: {w}", style="bold yellow"))
    for label, env in (result.sources or {"": result.env}).items():
        after = env.get("loadavg_after") if result.sources else result.load_after
        lines.append(Text((f"{label}: " if label else "") + environment_line(env, after),
                          style="dim"))
    return Group(*lines)


def plain_text(result: BenchResult, width: int = 120) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, force_terminal=False)
    with console.capture() as cap:
        console.print(renderable(result))
    return cap.get()
