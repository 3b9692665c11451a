"""What Jupyter shows for a :class:`~hotpipe.Result` and a :class:`~hotpipe.Profile`.

HTML fragments with inline styles only (a notebook may drop ``<style>`` and never runs a
script): a profile is a row of cards (items, wall, CPU, parallelism, framework; with a cache:
hits, the compute time they saved and the cache's own time) and
the per-node table; a result is a table of its values (type, length, a short preview), its
failed items, then the profile's cards. Every value goes through :func:`html.escape`.
"""

from __future__ import annotations

import reprlib
from html import escape
from typing import TYPE_CHECKING, Any

from hotpipe.profile.format import fmt_s

if TYPE_CHECKING:
    from hotpipe.profile import Profile
    from hotpipe.result import Result

__all__ = ["profile_html", "result_html"]

FONT = "font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif"
MUTED = "#656d76"
CARD = ("display:inline-block;vertical-align:top;min-width:112px;margin:0 8px 8px 0;"
        "padding:7px 12px;border:1px solid #d8dee4;border-radius:8px;background:#fff")
CELL = "padding:3px 10px;border-bottom:1px solid #eef1f4;text-align:left;vertical-align:top"
PREVIEW_CHARS = 120

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict = 80, 80, 6, 6


def _t(seconds: float | None) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.23 s``; ``-`` when not measured."""
    if seconds is None:
        return "-"
    text = fmt_s(seconds)
    for unit, shown in (("us", " µs"), ("ms", " ms"), ("s", " s")):
        if text.endswith(unit):
            return escape(text[: -len(unit)] + shown)
    return escape(text)  # pragma: no cover - fmt_s always ends in a unit


def _card(key: str, value: str, hint: str = "") -> str:
    h = f'<div style="color:{MUTED};font-size:11.5px">{escape(hint)}</div>' if hint else ""
    return (f'<div class="hp-card" style="{CARD}"><div style="color:{MUTED};font-size:11px;'
            f'text-transform:uppercase;letter-spacing:.05em">{escape(key)}</div>'
            f'<div style="font-size:18px;font-weight:600">{value}</div>{h}</div>')


def cards(profile: Profile) -> str:
    """The profile's headline numbers as cards."""
    from hotpipe.profile.format import all_from_cache

    items = profile.items
    par = profile.parallelism
    spent = profile.spent or 1e-300
    idle = all_from_cache(profile)
    parts = [
        _card("Items", f"{items:,}", f"{profile.mode} on {profile.engine}"),
        _card("Wall", _t(profile.wall), "the whole call"),
        _card("CPU", _t(profile.cpu), "no node ran: all from the cache" if idle
              else "nodes, all workers" if profile.cpu is not None
              else "not measured (too short)"),
        _card("Parallelism", "-" if par is None or idle else f"{par:.2f}",
              "no node ran" if idle else "CPU / wall"),
        _card("Framework", _t(profile.framework_wall),
              f"{100 * profile.framework_wall / spent:.1f} % of the time"),
    ]
    cache = profile.cache
    if cache.used:
        rate = "" if cache.hit_rate is None else f" ({100 * cache.hit_rate:.0f} %)"
        parts += [
            _card("Cache hits", f"{cache.hits:,}", f"{cache.misses:,} misses{rate}"),
            _card("Time saved", _t(cache.saved), "compute the hits stood for"),
            _card("Cache time", _t(cache.wall), f"{100 * cache.wall / spent:.1f} % of the "
                  "time: keys, lookups, reads, writes"),
        ]
    title = escape(f"{profile.pipeline}: {profile.mode} of {items:,} item"
                   f"{'s' * (items != 1)} on {profile.engine}")
    return (f'<div style="font-weight:600;margin:4px 0 6px">{title}</div>'
            f'<div class="hp-cards">{"".join(parts)}</div>')


def node_table(profile: Profile) -> str:
    spent = profile.spent or 1e-300
    cache = profile.cache
    cached = cache.used
    cols = ["node", "calls", "wall", "mean", "p50", "p95", "max", "%"]
    cols += ["hits", "misses", "saved", "cache"] if cached else []
    head = "".join(f'<th style="{CELL};color:{MUTED}">{c}</th>' for c in cols)
    rows = []
    for n in profile.nodes:
        cells = [escape(n.name), f"{n.calls:,}", _t(n.wall), _t(n.mean), _t(n.p50), _t(n.p95),
                 _t(n.max), f"{100 * n.wall / spent:.1f}"]
        if cached:
            cells += [f"{n.hits:,}", f"{n.misses:,}", _t(n.saved), _t(n.cache_wall)]
        rows.append("<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")
    if cached:
        cache_cells = ["(cache)", "", _t(cache.wall), "", "", "", "",
                       f"{100 * cache.wall / spent:.1f}", f"{cache.hits:,}", f"{cache.misses:,}",
                       _t(cache.saved), ""]
        rows.append(f'<tr class="hp-cache" style="color:{MUTED}">' + "".join(
            f'<td style="{CELL}">{c}</td>' for c in cache_cells) + "</tr>")
    once = profile.one_off_wall
    if profile.one_offs:  # paid once (resource builds, pool start, first calls)
        rows.append(_muted_row("(one-off)", once, spent, len(cols), "hp-one-off"))
    rows.append(_muted_row("(framework)", profile.framework_wall, spent, len(cols)))
    return (f'<table class="hp-nodes" style="border-collapse:collapse;'
            f'font-variant-numeric:tabular-nums"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _muted_row(label: str, wall: float, spent: float, width: int, cls: str = "") -> str:
    cells = [label, "", _t(wall), "", "", "", "", f"{100 * wall / spent:.1f}"]
    cells += [""] * (width - len(cells))
    klass = f' class="{cls}"' if cls else ""
    return (f'<tr{klass} style="color:{MUTED}">'
            + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")


def profile_html(profile: Profile) -> str:
    """A profile in a notebook: the cards, then the per-node table."""
    return (f'<div class="hp-profile" style="{FONT};color:#1f2328">{cards(profile)}'
            f"{node_table(profile)}</div>")


def _describe(value: Any) -> tuple[str, str]:
    """The value's type name and its length (or shape) when it has one."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return kind, " x ".join(map(str, shape))
    try:
        return kind, f"{len(value):,}"
    except TypeError:
        return kind, ""


def result_html(result: Result) -> str:
    """A result in a notebook: one row per output, the failed items, the profile's cards."""
    rows = []
    for name, value in result.items():
        kind, size = _describe(value)
        preview = _repr.repr(value)
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        cells = [f"<b>{escape(str(name))}</b>", escape(kind), escape(size),
                 f'<code style="white-space:pre-wrap;word-break:break-all">{escape(preview)}'
                 "</code>"]
        rows.append("<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")
    head = "".join(f'<th style="{CELL};color:{MUTED}">{c}</th>'
                   for c in ("output", "type", "length", "value"))
    errors = ""
    if result.errors:
        first = result.errors[0]
        errors = (f'<div class="hp-errors" style="color:#b42318;margin:6px 0">'
                  f"{len(result.errors):,} item(s) failed; first: item {first.index} in node "
                  f"{escape(repr(first.node))}: {escape(type(first.exception).__name__)}: "
                  f"{escape(str(first.exception))}</div>")
    try:
        profile = cards(result.profile)
    except Exception:  # a Result built by hand has no profile: show the values alone
        profile = ""
    return (f'<div class="hp-result" style="{FONT};color:#1f2328">'
            f'<table class="hp-values" style="border-collapse:collapse;margin-bottom:8px">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{errors}"
            f"{profile}</div>")
