"""A profile as one self-contained HTML page: no network, no library, inline CSS and JS.

The tables (header, projection, slowest items, nodes) are rendered here in Python, every value
passed through :func:`html.escape`, so the page reads without JavaScript. The charts (time per
node, per phase, the timeline of chunks per worker, the projection bars) are drawn as SVG by
the inline script from the profile's data, embedded as JSON in a ``<script>`` element with
``<``, ``>`` and ``&`` escaped so no value can close it. When drawing is done the script sets
``document.body.dataset.rendered = "1"``; JavaScript errors are collected in
``document.body.dataset.errors`` (the browser test reads both).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from html import escape
from typing import TYPE_CHECKING, Any

from hotpipe._files import write_atomic
from hotpipe.profile.format import fmt_s, one_offs_line

if TYPE_CHECKING:
    from hotpipe.profile.view import Profile

__all__ = ["render_html", "write_html"]

NODE_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6",
)
PHASE_COLOURS = (
    "#3b6ea5", "#e07b39", "#5aa469", "#c44e52", "#8172b2",
    "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd",
)
FRAMEWORK = "(framework)"
ONE_OFF = "(one-off)"
FRAMEWORK_COLOUR = "#a0a7b0"
CACHE = "(cache)"
CACHE_COLOUR = "#2a9d8f"
PROJECT_FACTORS = (10, 100)
MAX_INPUTS_CHARS = 200


def write_html(profile: Profile, path: str | os.PathLike[str],
               findings: list[Any] | None = None) -> str:
    """Write the report to ``path`` (atomically: a temp file renamed); return the path."""
    text = render_html(profile, findings)
    return write_atomic(path, text)


def render_html(profile: Profile, findings: list[Any] | None = None) -> str:
    """The whole page as a string (``findings`` default to ``profile.advise()``)."""
    data = profile.to_dict(findings)
    colours = {n["name"]: NODE_COLOURS[i % len(NODE_COLOURS)] for i, n in enumerate(data["nodes"])}
    phase_colours = {
        p["name"]: PHASE_COLOURS[i % len(PHASE_COLOURS)] for i, p in enumerate(data["phases"])
    }
    phase_colours[FRAMEWORK] = FRAMEWORK_COLOUR
    phase_colours[CACHE] = CACHE_COLOUR
    projection = _projection(profile)
    payload = {**data, "colours": colours, "phase_colours": phase_colours,
               "projection": projection, "cache_used": profile.cache.used}
    title = f"hotpipe profile: {data['pipeline'] or 'pipeline'}"
    body = "\n".join([
        _header(data, profile),
        _notes(data["notes"]),
        _findings_section(data["findings"]),
        '<div class="grid2">',
        _section("Time per node", "chart-nodes",
                 "Wall time per node (solid) with its CPU time beside it (light). Wall counts "
                 "waiting (I/O, sleep, locks); CPU only computing. Percent of the time spent "
                 "(nodes summed over workers, plus the cache's and hotpipe's own), as in the "
                 "table."),
        _section("Time per phase", "chart-phases",
                 "Nodes grouped by phase (<code>@node(phase=...)</code> or a nested pipeline's "
                 "name); percent of the time spent in nodes."),
        "</div>",
        _section("Timeline", "chart-timeline",
                 "One row per worker (process, thread); one box per node per chunk, and the "
                 "cache's work (keys, lookups, reads, writes) in teal. Gaps are hotpipe's "
                 "own time. Drag to zoom, double-click to reset; hover for details."),
        _projection_section(projection),
        _slowest_section(data),
        _functions_section(profile),
        _node_table(data, colours),
        _footer(data),
    ])
    blob = _script_json(payload)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n"
        f"<script>{ONERROR_JS}</script>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f'<script id="hotpipe-data" type="application/json">{blob}</script>\n'
        f"<script>{CHARTS_JS}</script>\n</body>\n</html>\n"
    )


# ----------------------------------------------------------------------------- data


def _projection(profile: Profile) -> dict[str, Any]:
    """Measured, 10x and 100x items; per phase the part paid once and the part per item.

    ``project(N)`` is linear in N per phase, so two projections give both parts exactly.
    """
    base = max(profile.items, 1)
    sizes = [base, *(base * f for f in PROJECT_FACTORS)]
    projections = [profile.project(items=n) for n in sizes]
    lo, hi = projections[1], projections[2]
    span = hi.items - lo.items
    order = [p.name for p in profile.phases]
    names = [*order, *(n for n in hi.phases if n not in order)]
    phases = []
    for name in names:
        slope = (hi.phases[name] - lo.phases.get(name, 0.0)) / span
        once = lo.phases.get(name, 0.0) - slope * lo.items
        phases.append({"name": name, "once": _clean(once), "per_item": _clean(slope)})
    rows = [
        {"items": p.items, "label": "measured" if i == 0 else f"{sizes[i] // base}x",
         "total": p.total, "once": p.once, "per_item": p.per_item, "phases": p.phases,
         "warm": p.warm, "cold": p.cold}
        for i, p in enumerate(projections)
    ]
    return {"rows": rows, "phases": phases, "hit_rate": projections[0].hit_rate}


def _clean(x: float) -> float:
    return 0.0 if abs(x) < 1e-12 else x


def _finite(obj: Any) -> Any:
    """JSON.parse rejects NaN and Infinity: turn non-finite floats into null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _script_json(payload: dict[str, Any]) -> str:
    text = json.dumps(_finite(payload), separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ----------------------------------------------------------------------------- html parts


def _t(seconds: float | None) -> str:
    return escape(fmt_s(seconds).replace(" us", " µs"))


def _card(key: str, value: str, hint: str = "") -> str:
    h = f'<div class="h">{hint}</div>' if hint else ""
    return f'<div class="card"><div class="k">{key}</div><div class="v">{value}</div>{h}</div>'


def _header(d: dict[str, Any], profile: Profile) -> str:
    from hotpipe.profile.format import all_from_cache

    items = d["items"]
    spent = _spent(d)
    fw_pct = 100 * d["framework_wall"] / spent
    idle = all_from_cache(profile)  # nothing computed: CPU and parallelism say nothing
    sub = (f'{escape(d["mode"])} of {items:,} item{"s" * (items != 1)} on engine '
           f'<b>{escape(d["engine"])}</b> · {d["chunks"]:,} chunk{"s" * (d["chunks"] != 1)} · '
           f'{len(d["nodes"])} node{"s" * (len(d["nodes"]) != 1)}')
    cards = "".join([
        _card("Items", f"{items:,}"),
        _card("Wall", _t(d["wall"]), "the whole call"),
        _card("CPU", _t(d["cpu"]), "no node ran: every result came from the cache" if idle
              else "nodes, summed over workers" if d["cpu"] is not None
              else "not measured (a run this short skips the CPU clock)"),
        _card("Parallelism",
              "-" if d["parallelism"] is None or idle else f'{d["parallelism"]:.2f}',
              "no node ran" if idle else "CPU / wall"),
        *_cache_cards(d["cache"], spent, profile.cache.used),
        _card("Framework", _t(d["framework_wall"]),
              f"{fw_pct:.1f}% of the time, outside nodes and the cache"),
        _card("Per item", _t(d["wall"] / items) if items else "-", "wall / items"),
    ])
    return (f'<header><div class="brand">hotpipe profile</div>'
            f'<h1>{escape(str(d["pipeline"] or "pipeline"))}</h1><div class="sub">{sub}</div>'
            f'<div class="cards">{cards}</div></header>')


def _cache_cards(c: dict[str, Any], spent: float, used: bool) -> list[str]:
    """Hits, the compute time they saved and the cache's own time, when a cache was used."""
    if not used:
        return []
    lookups = c["hits"] + c["misses"]
    rate = f'{100 * c["hits"] / lookups:.0f}% of {lookups:,} lookups' if lookups else "none"
    return [
        f'<div class="card cache" id="card-cache-hits"><div class="k">Cache hits</div>'
        f'<div class="v">{c["hits"]:,}</div><div class="h">{rate}</div></div>',
        f'<div class="card cache" id="card-cache-saved"><div class="k">Time saved</div>'
        f'<div class="v">{_t(c["saved"])}</div><div class="h">compute time the hits stood '
        "for</div></div>",
        f'<div class="card cache" id="card-cache-time"><div class="k">Cache time</div>'
        f'<div class="v">{_t(c["wall"])}</div><div class="h">{100 * c["wall"] / spent:.1f}% '
        "of the time: keys, lookups, reads, writes</div></div>",
    ]


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    lis = "".join(f"<li>{escape(str(n))}</li>" for n in notes)
    return f'<section class="notes"><h2>Engine notes</h2><ul>{lis}</ul></section>'


def _findings_section(findings: list[dict[str, Any]]) -> str:
    """The advisor's findings (docs/advisor.md): what to change, evidence, expected gain."""
    if not findings:
        items = ('<p class="muted">No findings: nothing to change that this run\'s numbers '
                 "support.</p>")
    else:
        parts = []
        for f in findings:
            gain = ("gain not predicted" if f["gain_s"] is None else
                    f"~{_t(f['gain_s'])} faster ({f['gain_pct']:.0f} % of this run)")
            ev = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in f["evidence"].items())
            parts.append(
                f'<div class="finding sev-{escape(f["severity"])}"><h3>'
                f'<span class="sev">{escape(f["severity"])}</span> {escape(f["rule"])}: '
                f'{escape(f["title"])}</h3><p class="help">evidence: {escape(ev)}</p>'
                f"<pre><code>{escape(f['change'])}</code></pre>"
                f"<p>expected: <b>{escape(gain)}</b>; assumes {escape(f['assumption'])}</p>"
                "</div>")
        items = "".join(parts)
    return ('<section id="findings"><h2>Findings</h2><p class="help">What to change, from '
            "this run's measurements (<code>result.advise()</code>, docs/advisor.md)."
            f"</p>{items}</section>")


def _section(title: str, chart_id: str, help_html: str) -> str:
    return (f'<section><h2>{escape(title)}</h2><p class="help">{help_html}</p>'
            f'<div class="chart" id="{chart_id}"></div></section>')


def _projection_section(proj: dict[str, Any]) -> str:
    rows = proj["rows"]
    head = "".join(
        f'<th>{r["items"]:,} items<br><span class="muted">{escape(r["label"])}</span></th>'
        for r in rows
    )
    body = []
    for ph in proj["phases"]:
        name = ph["name"]
        cells = "".join(f"<td>{_t(r['phases'].get(name, 0.0))}</td>" for r in rows)
        cls = ' class="fw"' if name in (FRAMEWORK, CACHE) else ""
        body.append(f'<tr{cls}><td class="l">{escape(name)}</td><td>{_t(ph["once"])}</td>'
                    f'<td>{_t(ph["per_item"])}</td>{cells}</tr>')
    totals = "".join(f"<td><b>{_t(r['total'])}</b></td>" for r in rows)
    once, per_item = rows[0]["once"], rows[0]["per_item"]
    cached = rows[0]["warm"] is not None
    label = "total" if not cached else "total, this run's cache"
    body.append(f'<tr class="total"><td class="l"><b>{label}</b></td><td><b>{_t(once)}</b>'
                f"</td><td><b>{_t(per_item)}</b></td>{totals}</tr>")
    cache_help = ""
    if cached:
        for key, name in (("warm", "total, warm cache"), ("cold", "total, cold cache")):
            cells = "".join(f"<td>{_t(r[key])}</td>" for r in rows)
            body.append(f'<tr class="what-if" id="projection-{key}"><td class="l">{name}</td>'
                        f"<td></td><td></td>{cells}</tr>")
        rate = proj["hit_rate"]
        shown = "no lookups" if rate is None else f"{100 * rate:.0f}% hits"
        cache_help = (f" This run used a cache ({shown}): the totals assume the new items hit "
                      "it as often, and its time (keys, lookups, reads, writes) is the "
                      "<code>(cache)</code> phase, not overhead. <i>Warm cache</i>: every "
                      "cached node a hit; <i>cold cache</i>: nothing cached, every item "
                      "computed (the hits' saved compute time added). Both keep this run's "
                      "cache time per item.")
    return (
        '<section id="projection"><h2>Projection</h2><p class="help">'
        "<code>profile.project(items=N)</code>: nodes that ran once per call (broadcast "
        "inputs) are paid once; mapped nodes and hotpipe's own time grow with the items. "
        f"Parallel engines keep their measured speed-up.{cache_help}</p>"
        '<div class="chart" id="chart-projection"></div>'
        '<div class="scroll"><table class="proj"><thead><tr><th class="l">phase</th>'
        f'<th>once</th><th>per item</th>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        "</table></div></section>"
    )


def _slowest_section(d: dict[str, Any]) -> str:
    cards = []
    for n in d["nodes"]:
        slow = n["slowest"]
        if not slow:
            continue
        top = max(s["seconds"] for s in slow) or 1e-300
        rows = "".join(
            f'<tr><td>{s["index"]:,}</td><td><span class="mini" style="width:'
            f'{max(2.0, 60 * s["seconds"] / top):.0f}px"></span>{_t(s["seconds"])}</td>'
            f'<td class="l inputs" title="{escape(s["inputs"])}">'
            f"{escape(_shorten(s['inputs']))}</td></tr>"
            for s in slow
        )
        sampled = ("" if n["timed"] >= n["items"]
                   else f' <span class="muted">(of the {n["timed"]:,} items timed)</span>')
        cards.append(
            f'<div class="slow"><h3>{escape(n["name"])}{sampled}</h3><div class="scroll"><table>'
            '<thead><tr><th>item</th><th>seconds</th><th class="l">inputs</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></div>"
        )
    if not cards:
        return ""
    return ('<section id="slowest"><h2>Slowest items</h2><p class="help">Per node, the items '
            "that took longest (index in the map, wall seconds, a short repr of the inputs)."
            f'</p><div class="slowgrid">{"".join(cards)}</div></section>')


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_INPUTS_CHARS else text[: MAX_INPUTS_CHARS - 1] + "…"


def _functions_section(profile: Profile) -> str:
    """Top functions per node when the profile was taken with ``profile="functions"``."""
    try:
        per_node = profile.functions(top=5)
    except (AttributeError, ValueError):
        return ""
    blocks = []
    for node, stats in per_node.items():
        if not stats:
            continue
        rows = "".join(
            f'<tr><td class="l inputs">{escape(s.function)}</td><td class="l">'
            f"{escape(s.category)}</td><td>{_t(s.self_seconds)}</td>"
            f"<td>{_t(s.total_seconds)}</td></tr>"
            for s in stats
        )
        blocks.append(
            f'<div class="slow"><h3>{escape(node)}</h3><table><thead><tr>'
            '<th class="l">function</th><th class="l">category</th><th>self</th>'
            f"<th>total</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    if not blocks:
        return ""
    return ('<section id="functions"><h2>Functions inside nodes (sampled)</h2>'
            f'<div class="slowgrid">{"".join(blocks)}</div></section>')


def _node_table(d: dict[str, Any], colours: dict[str, str]) -> str:
    wall = _spent(d)
    c = d["cache"]
    cache = bool(c["hits"] or c["misses"] or c["wall"])
    cols = ["node", "phase", "calls", "items", "wall", "cpu", "mean", "p50", "p95", "max",
            "timed", *(["cache hits/misses", "saved", "cache time"] if cache else []),
            "% of time"]
    head = "".join(f'<th{" class=l" if c in ("node", "phase") else ""}>{c}</th>' for c in cols)
    rows = []
    any_sampled = False
    for n in d["nodes"]:
        mark = "" if n["timed"] >= n["items"] else "*"
        any_sampled |= bool(mark)
        pct = 100 * n["wall"] / wall
        cells = [
            f'<td class="l"><span class="sw" style="background:{colours[n["name"]]}"></span>'
            f'{escape(n["name"])}</td>',
            f'<td class="l">{escape(n["phase"])}</td>',
            f'<td>{n["calls"]:,}</td>', f'<td>{n["items"]:,}</td>',
            f'<td>{_t(n["wall"])}</td>', f'<td>{_t(n["cpu"])}</td>', f'<td>{_t(n["mean"])}</td>',
            *(f"<td>{_t(n[q])}{mark}</td>" for q in ("p50", "p95", "max")),
            f'<td>{n["timed"]:,}</td>',
            *([f'<td>{n["hits"]:,} / {n["misses"]:,}</td>', f'<td>{_t(n["saved"])}</td>',
               f'<td>{_t(n["cache_wall"])}</td>'] if cache else []),
            _pct_cell(pct),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    if cache:
        rows.append(f'<tr class="fw" id="row-cache"><td class="l">{CACHE}</td>'
                    f'{"<td></td>" * 3}<td>{_t(c["wall"])}</td>{"<td></td>" * 6}'
                    f'<td>{c["hits"]:,} / {c["misses"]:,}</td><td>{_t(c["saved"])}</td>'
                    f'<td>{_t(c["wall"])}</td>{_pct_cell(100 * c["wall"] / wall)}</tr>')
    once = d.get("one_off_wall", 0.0)
    if d.get("one_offs"):
        what = escape(one_offs_line((e["kind"], e["name"], e["seconds"])
                                    for e in d["one_offs"]))
        rows.append(f'<tr class="fw" id="row-one-off" title="{what}"><td class="l">{ONE_OFF}'
                    f'</td>{"<td></td>" * 3}<td>{_t(once)}</td>'
                    f'{"<td></td>" * (len(cols) - 6)}{_pct_cell(100 * once / wall)}</tr>')
    fw = d["framework_wall"]
    rows.append(f'<tr class="fw"><td class="l">{FRAMEWORK}</td>{"<td></td>" * 3}<td>{_t(fw)}'
                f'</td>{"<td></td>" * (len(cols) - 6)}{_pct_cell(100 * fw / wall)}</tr>')
    if len(d["phases"]) > 1:
        for p in d["phases"]:
            rows.append(
                f'<tr class="phase"><td class="l">phase {escape(p["name"])}</td><td></td>'
                f'<td></td><td></td><td>{_t(p["wall"])}</td><td>{_t(p["cpu"])}</td>'
                f'{"<td></td>" * (len(cols) - 7)}{_pct_cell(p["percent"], "% of node time")}'
                "</tr>"
            )
    from hotpipe.profile.stats import SAMPLE_ITEMS, TIME_EVERY_ITEM_ABOVE

    note = ('<p class="help">* percentiles from the items timed one by one (a sample: the '
            f"first {SAMPLE_ITEMS} items per node; nodes faster than "
            f"{_t(TIME_EVERY_ITEM_ABOVE)} per item run untimed in C loops after that)"
            "</p>" if any_sampled else "")
    return (f'<section><h2>Nodes</h2><div class="scroll"><table id="table-nodes"><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{note}</section>")


def _spent(d: dict[str, Any]) -> float:
    """The time spent: the nodes' and the cache's wall (summed over workers) plus hotpipe's
    own. It is the call's wall on one worker; percents of it add up to 100 on any engine."""
    return (sum(n["wall"] for n in d["nodes"]) + d["cache"]["wall"]
            + d["framework_wall"] + d.get("one_off_wall", 0.0)) or 1e-300


def _pct_cell(pct: float, title: str = "% of the time spent (nodes + cache + framework)") -> str:
    width = max(0.0, min(100.0, pct))
    return (f'<td class="pct" title="{escape(title)}"><span class="pbar" '
            f'style="width:{width:.1f}%"></span><span class="pv">{pct:.1f}</span></td>')


def _footer(d: dict[str, Any]) -> str:
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return (f'<footer>schema {escape(d["schema"])} · generated {escape(now)} · '
            "self-contained: no network needed</footer>")


# ----------------------------------------------------------------------------- assets

ONERROR_JS = """
window.onerror = function (msg, src, line, col) {
  var b = document.body || document.documentElement, prev = b.getAttribute("data-errors");
  b.setAttribute("data-errors", (prev ? prev + " | " : "") + msg + " (line " + line + ")");
};
"""

CSS = """
:root { --fg:#1f2328; --muted:#656d76; --bg:#f4f6f8; --card:#fff; --line:#d8dee4;
  --soft:#eef1f4; --accent:#4e79a7; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:22px 24px 32px; }
header { margin-bottom:14px; }
.brand { color:var(--accent); font-weight:600; font-size:12px; letter-spacing:.08em;
  text-transform:uppercase; }
h1 { font-size:24px; margin:2px 0 2px; }
.sub { color:var(--muted); }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px;
  margin:16px 0 4px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:10px 14px; }
.card .k { color:var(--muted); font-size:11px; text-transform:uppercase; letter-spacing:.06em; }
.card .v { font-size:21px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .h { color:var(--muted); font-size:12px; }
.card.cache { border-color:#b7c7d6; background:#f6f9fc; }
tr.what-if td { color:#444c56; font-style:italic; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:14px 18px 16px; margin:0 0 16px; min-width:0; }
section h2 { font-size:16px; margin:0 0 2px; }
section h3 { font-size:13px; margin:0 0 6px; }
p.help { color:var(--muted); margin:0 0 10px; font-size:12.5px; }
code { font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:var(--soft);
  padding:1px 4px; border-radius:4px; }
.grid2 { display:grid; grid-template-columns:minmax(0,1.35fr) minmax(0,1fr); gap:16px; }
@media (max-width:980px) { .grid2 { grid-template-columns:minmax(0,1fr); } }
.grid2 { margin-bottom:16px; }
.grid2 > section { margin:0; }
.chart { width:100%; overflow:hidden; }
.scroll { width:100%; overflow-x:auto; }
.chart svg { display:block; }
.chart .err { color:#b42318; }
svg text { font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:var(--fg); }
svg text.muted, svg .axis text { fill:var(--muted); }
svg .grid line { stroke:#e6eaef; }
svg .ev:hover { stroke:#1f2328; stroke-width:1; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; margin-top:8px; font-size:12px;
  color:var(--muted); }
table { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
th, td { padding:5px 9px; border-bottom:1px solid var(--soft); text-align:right;
  white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; border-bottom:1px solid var(--line);
  vertical-align:bottom; }
th.l, td.l { text-align:left; }
tbody tr:hover { background:#f7f9fb; }
tr.fw td { color:var(--muted); }
tr.phase td { font-style:italic; color:#444c56; }
tr.total td { border-top:1px solid var(--line); }
.muted { color:var(--muted); font-weight:400; }
.sw { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:7px;
  vertical-align:-1px; }
td.pct { position:relative; min-width:90px; }
td.pct .pbar { position:absolute; left:6px; top:7px; bottom:7px; background:#dde7f2;
  border-radius:2px; max-width:calc(100% - 12px); }
td.pct .pv { position:relative; }
.slowgrid { display:grid; grid-template-columns:repeat(auto-fill,minmax(min(380px,100%),1fr));
  gap:14px; }
.slow { border:1px solid var(--soft); border-radius:6px; padding:8px 10px; min-width:0; }
td.inputs { white-space:normal; word-break:break-all; font:12px ui-monospace,SFMono-Regular,
  Menlo,Consolas,monospace; color:#444c56; }
.mini { display:inline-block; height:8px; background:#e15759; opacity:.55; border-radius:2px;
  margin-right:6px; vertical-align:0; }
.notes ul { margin:4px 0 0; padding-left:20px; }
.finding { border-left:4px solid #999; padding:2px 10px; margin:8px 0; }
.finding.sev-high { border-color:#d62728; } .finding.sev-medium { border-color:#ff7f0e; }
.finding.sev-low { border-color:#1f77b4; }
.finding .sev { text-transform:uppercase; font-size:11px; }
.finding pre { background:#f5f5f5; padding:6px; overflow-x:auto; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:8px; }
"""

CHARTS_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("hotpipe-data").textContent);
  var NS = "http://www.w3.org/2000/svg", FW = "(framework)", FW_COLOUR = "#a0a7b0";
  var CACHE = "(cache)", CACHE_COLOUR = "#2a9d8f";
  var BOLD = "font-weight:600";

  function S(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(e, text) { S("title", {}, e, text); return e; }
  function sig(x) { return String(parseFloat(x.toPrecision(3))); }
  function fmt(s) {
    if (s === null || s === undefined) return "-";
    if (s >= 1) return sig(s) + " s";
    if (s >= 1e-3) return sig(s * 1e3) + " ms";
    return sig(s * 1e6) + " \u00b5s";
  }
  function pct(x) { return (x >= 9.95 ? x.toFixed(0) : x.toFixed(1)) + "%"; }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function widthOf(host) { return Math.max(320, Math.floor(host.getBoundingClientRect().width)); }
  function clip(text, px) {
    var max = Math.max(3, Math.floor(px / 6.6));
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }
  function ticks(max, want) {
    if (!(max > 0)) return [0];
    var raw = max / want, step = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / step;
    step *= r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1;
    var out = [];
    for (var i = 0; i * step <= max * 1.0000001; i++) out.push(i * step);
    return out;
  }
  function svgRoot(host, w, h, label) {
    return S("svg", {width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img",
                     "aria-label": label}, host);
  }
  function legend(host, entries) {
    var div = document.createElement("div");
    div.className = "legend";
    entries.forEach(function (e) {
      var item = document.createElement("span"), sw = document.createElement("span");
      sw.className = "sw";
      sw.style.background = e[1];
      if (e[2]) sw.style.opacity = e[2];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(e[0]));
      div.appendChild(item);
    });
    host.appendChild(div);
  }

  // ------------------------------------------------------------------ time per node
  function drawNodes(host) {
    var rows = D.nodes.map(function (n) {
      return {name: n.name, wall: n.wall, cpu: n.cpu, colour: D.colours[n.name],
              detail: n.phase + " \u00b7 " + num(n.calls) + " calls \u00b7 mean " + fmt(n.mean)};
    });
    if (D.cache_used) rows.push({name: CACHE, wall: D.cache.wall, cpu: null,
      colour: CACHE_COLOUR, detail: "the cache: keys, lookups, reads, writes \u00b7 " +
      num(D.cache.hits) + " hits saved " + fmt(D.cache.saved) + " of compute"});
    rows.push({name: FW, wall: D.framework_wall, cpu: null, colour: FW_COLOUR,
               detail: "hotpipe's own time, outside the nodes and the cache"});
    var W = widthOf(host), labelW = Math.min(170, Math.round(W * 0.26)), valueW = 190;
    var plotW = Math.max(60, W - labelW - valueW - 12), rowH = 36, top = 6;
    var max = 1e-300, total = D.framework_wall + D.cache.wall;
    D.nodes.forEach(function (n) { total += n.wall; });
    total = total || 1e-300;
    rows.forEach(function (r) { max = Math.max(max, r.wall, r.cpu || 0); });
    var svg = svgRoot(host, W, top + rows.length * rowH + 4, "Wall and CPU time per node");
    rows.forEach(function (r, i) {
      var y = top + i * rowH, ww = Math.max(1.5, r.wall / max * plotW);
      var label = S("text", {x: labelW - 10, y: y + 17, "text-anchor": "end",
                             "class": r.name === FW || r.name === CACHE ? "muted" : undefined},
                    svg,
                    clip(r.name, labelW - 12));
      tip(label, r.name);
      tip(S("rect", {x: labelW, y: y + 5, width: ww, height: 15, rx: 2, fill: r.colour}, svg),
          r.name + ": " + fmt(r.wall) + " wall (" + pct(100 * r.wall / total) +
          " of the time spent)\n" + r.detail);
      var end = labelW + ww;
      if (r.cpu !== null) {
        var cw = Math.max(1, r.cpu / max * plotW);
        tip(S("rect", {x: labelW, y: y + 22, width: cw, height: 8, rx: 2, fill: r.colour,
                       "fill-opacity": 0.42}, svg), r.name + ": " + fmt(r.cpu) + " CPU");
        end = Math.max(end, labelW + cw);
      }
      var text = fmt(r.wall) + (r.cpu !== null ? " \u00b7 CPU " + fmt(r.cpu) : "") +
                 " \u00b7 " + pct(100 * r.wall / total);
      S("text", {x: end + 7, y: y + 17, "class": "muted"}, svg, text);
    });
    legend(host, D.cpu === null ? [["wall (CPU not measured)", "#4e79a7"]]
                                : [["wall", "#4e79a7"], ["CPU", "#4e79a7", 0.42]]);
  }

  // ------------------------------------------------------------------ time per phase
  function drawPhases(host) {
    var phases = D.phases.filter(function (p) { return p.wall > 0 || D.phases.length === 1; });
    var W = widthOf(host), R = 74, SW = 26, cx = R + SW / 2 + 6, cy = R + SW / 2 + 6;
    var legendX = 2 * cx + 18, rowH = 40;
    var H = Math.max(2 * cy, 10 + (phases.length + (D.cache_used ? 2 : 1)) * rowH);
    var svg = svgRoot(host, W, H, "Time per phase");
    var C = 2 * Math.PI * R, offset = 0, gap = phases.length > 1 ? 1.5 : 0;
    S("circle", {cx: cx, cy: cy, r: R, fill: "none", stroke: "#eef1f4", "stroke-width": SW}, svg);
    phases.forEach(function (p) {
      var len = C * p.percent / 100;
      if (len > 0) {
        var seg = S("circle", {cx: cx, cy: cy, r: R, fill: "none",
          stroke: D.phase_colours[p.name], "stroke-width": SW,
          "stroke-dasharray": Math.max(0.5, len - gap) + " " + (C - Math.max(0.5, len - gap)),
          "stroke-dashoffset": -offset, transform: "rotate(-90 " + cx + " " + cy + ")"}, svg);
        tip(seg, p.name + ": " + fmt(p.wall) + " (" + pct(p.percent) + ")");
      }
      offset += len;
    });
    var inNodes = D.phases.reduce(function (a, p) { return a + p.wall; }, 0);
    S("text", {x: cx, y: cy - 2, "text-anchor": "middle", style: "font-size:18px;font-weight:600"},
      svg, fmt(inNodes));
    S("text", {x: cx, y: cy + 16, "text-anchor": "middle", "class": "muted"}, svg, "in nodes");
    var lw = W - legendX - 4;
    phases.forEach(function (p, i) {
      var y = 14 + i * rowH;
      S("rect", {x: legendX, y: y, width: 12, height: 12, rx: 2,
                 fill: D.phase_colours[p.name]}, svg);
      tip(S("text", {x: legendX + 19, y: y + 10.5, style: BOLD}, svg,
            clip(p.name, lw - 80)), p.name);
      S("text", {x: W - 4, y: y + 10.5, "text-anchor": "end", style: BOLD}, svg,
        pct(p.percent));
      S("text", {x: legendX + 19, y: y + 27, "class": "muted"}, svg,
        clip(fmt(p.wall) + " wall \u00b7 " + fmt(p.cpu) + " CPU \u00b7 " + p.nodes.join(", "),
             lw - 20));
    });
    var spent = inNodes + D.framework_wall + D.cache.wall || 1e-300;
    var outside = [["framework", D.framework_wall, FW_COLOUR]];
    if (D.cache_used) outside.unshift(["cache", D.cache.wall, CACHE_COLOUR]);
    outside.forEach(function (o, i) {
      var y = 14 + (phases.length + i) * rowH;
      S("rect", {x: legendX, y: y, width: 12, height: 12, rx: 2, fill: o[2]}, svg);
      S("text", {x: legendX + 19, y: y + 10.5, "class": "muted"}, svg, o[0] + " (not in ring)");
      S("text", {x: legendX + 19, y: y + 27, "class": "muted"}, svg,
        clip(fmt(o[1]) + " \u00b7 " + pct(100 * o[1] / spent) + " of the time spent", lw - 20));
    });
  }

  // ------------------------------------------------------------------ timeline
  var view = null;
  function drawTimeline(host) {
    var ev = D.events, cev = D.cache_events || [], workers = [], index = {}, pids = {};
    ev.concat(cev).forEach(function (e) {
      var key = e.pid + ":" + e.tid;
      if (!(key in index)) { index[key] = workers.length; workers.push(e); pids[e.pid] = 1; }
    });
    var multiPid = Object.keys(pids).length > 1, tEnd = D.wall || 0;
    ev.concat(cev).forEach(function (e) { tEnd = Math.max(tEnd, e.end); });
    if (!(tEnd > 0)) tEnd = 1e-6;
    if (!view) view = [0, tEnd];
    var W = widthOf(host), labelW = multiPid ? 150 : 96, rowH = 26, axisH = 22;
    var plotW = W - labelW - 10, H = axisH + Math.max(1, workers.length) * rowH + 6;
    var t0 = view[0], span = view[1] - view[0];
    function X(t) { return labelW + (t - t0) / span * plotW; }
    var svg = svgRoot(host, W, H, "Timeline of chunks per worker");
    var clipId = "tl-clip";
    var defs = S("defs", {}, svg), cp = S("clipPath", {id: clipId}, defs);
    S("rect", {x: labelW, y: 0, width: plotW, height: H}, cp);
    var grid = S("g", {"class": "grid axis"}, svg);
    ticks(span, Math.max(2, Math.floor(plotW / 110))).forEach(function (v) {
      var x = X(t0 + v);
      S("line", {x1: x, x2: x, y1: axisH - 4, y2: H - 4}, grid);
      S("text", {x: x, y: 12, "text-anchor": "middle"}, grid, v === 0 && t0 === 0 ? "0" :
        fmt(t0 + v));
    });
    workers.forEach(function (w, i) {
      var y = axisH + i * rowH;
      if (i % 2 === 1) S("rect", {x: labelW, y: y, width: plotW, height: rowH,
                                  fill: "#f7f9fb"}, svg);
      var name = (multiPid ? "pid " + w.pid + " \u00b7 " : "") + "thread " + (i + 1);
      tip(S("text", {x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end"}, svg, name),
          "pid " + w.pid + ", thread id " + w.tid);
    });
    var g = S("g", {"clip-path": "url(#" + clipId + ")"}, svg);
    ev.forEach(function (e) {
      var y = axisH + index[e.pid + ":" + e.tid] * rowH;
      var x = X(e.start), w = Math.max(0.8, X(e.end) - x);
      tip(S("rect", {"class": "ev", x: x, y: y + 4, width: w, height: rowH - 8,
                     fill: D.colours[e.node] || FW_COLOUR}, g),
          e.node + " \u00b7 " + num(e.items) + " item" + (e.items === 1 ? "" : "s") + "\n" +
          fmt(e.end - e.start) + " (" + fmt(e.start) + " \u2192 " + fmt(e.end) + ")\npid " +
          e.pid + ", thread id " + e.tid);
    });
    cev.forEach(function (e) {
      var y = axisH + index[e.pid + ":" + e.tid] * rowH;
      var x = X(e.start), w = Math.max(0.8, X(e.end) - x);
      tip(S("rect", {"class": "cev", x: x, y: y + 7, width: w, height: rowH - 14,
                     fill: CACHE_COLOUR}, g),
          "cache" + (e.node ? ": " + e.node : " (several nodes, or none)") + "\n" +
          fmt(e.end - e.start) + " (" + fmt(e.start) + " \u2192 " + fmt(e.end) + ")\npid " +
          e.pid + ", thread id " + e.tid);
    });
    if (!ev.length && !cev.length) S("text", {x: labelW + 8, y: axisH + 16, "class": "muted"},
                                     svg, "no events recorded");
    var sel = S("rect", {x: 0, y: axisH, width: 0, height: H - axisH - 4, fill: "#4e79a7",
                         "fill-opacity": 0.15, stroke: "#4e79a7", display: "none"}, svg);
    var from = null;
    function tAt(evt) {
      var box = svg.getBoundingClientRect(), x = evt.clientX - box.left;
      return Math.min(view[1], Math.max(view[0], t0 + (x - labelW) / plotW * span));
    }
    svg.addEventListener("mousedown", function (evt) { from = tAt(evt); evt.preventDefault(); });
    svg.addEventListener("mousemove", function (evt) {
      if (from === null) return;
      var a = X(Math.min(from, tAt(evt))), b = X(Math.max(from, tAt(evt)));
      sel.setAttribute("x", a); sel.setAttribute("width", b - a);
      sel.setAttribute("display", "inline");
    });
    svg.addEventListener("mouseup", function (evt) {
      if (from === null) return;
      var a = Math.min(from, tAt(evt)), b = Math.max(from, tAt(evt));
      from = null;
      if ((b - a) / span * plotW > 4) { view = [a, b]; redraw(host, drawTimeline); }
      else sel.setAttribute("display", "none");
    });
    svg.addEventListener("dblclick", function () { view = null; redraw(host, drawTimeline); });
    var seen = {}, entries = [];
    D.nodes.forEach(function (n) {
      if (!seen[n.name]) { seen[n.name] = 1; entries.push([n.name, D.colours[n.name]]); }
    });
    if (cev.length) entries.push([CACHE, CACHE_COLOUR]);
    legend(host, entries);
  }

  // ------------------------------------------------------------------ projection bars
  function drawProjection(host) {
    var P = D.projection, names = P.phases.map(function (p) { return p.name; });
    var W = widthOf(host), labelW = 200, valueW = 80, plotW = W - labelW - valueW - 10;
    var rowH = 30, svg = svgRoot(host, W, P.rows.length * rowH + 4, "Projected wall time");
    var colourOf = function (name) {
      return D.phase_colours[name] || (name === CACHE ? CACHE_COLOUR : FW_COLOUR);
    };
    P.rows.forEach(function (r, i) {
      var y = i * rowH, x = labelW, total = r.total || 1e-300;
      S("text", {x: labelW - 10, y: y + 19, "text-anchor": "end"}, svg,
        num(r.items) + " items" + (i === 0 ? " (measured)" : ""));
      names.forEach(function (name) {
        var s = r.phases[name] || 0, w = s / total * plotW;
        if (w <= 0) return;
        tip(S("rect", {x: x, y: y + 5, width: w, height: 20,
                       fill: colourOf(name)}, svg),
            name + ": " + fmt(s) + " (" + pct(100 * s / total) + ")");
        if (w > 70) S("text", {x: x + 6, y: y + 19, style: "fill:#fff"}, svg,
                      clip(name, w - 40) + " " + pct(100 * s / total));
        x += w;
      });
      S("text", {x: labelW + plotW + 8, y: y + 19, style: BOLD}, svg, fmt(r.total));
    });
    legend(host, names.map(function (n) { return [n, colourOf(n)]; }));
  }

  // ------------------------------------------------------------------ driver
  var charts = [["chart-nodes", drawNodes], ["chart-phases", drawPhases],
                ["chart-timeline", drawTimeline], ["chart-projection", drawProjection]];
  function redraw(host, draw) {
    host.textContent = "";
    try { draw(host); } catch (err) {
      var b = document.body, prev = b.getAttribute("data-errors");
      b.setAttribute("data-errors", (prev ? prev + " | " : "") + host.id + ": " + err);
      var p = document.createElement("p");
      p.className = "err";
      p.textContent = "could not draw this chart: " + err;
      host.appendChild(p);
    }
  }
  function drawAll() {
    charts.forEach(function (c) {
      var host = document.getElementById(c[0]);
      if (host) redraw(host, c[1]);
    });
  }
  drawAll();
  var pending = null, lastW = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth === lastW) return;
    lastW = window.innerWidth;
    clearTimeout(pending);
    pending = setTimeout(drawAll, 120);
  });
  document.body.dataset.rendered = "1";
})();
"""
