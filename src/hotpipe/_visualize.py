"""``Pipeline.visualize``: the graph as Mermaid, Graphviz DOT, SVG or a self-contained HTML page.

The pipeline is first turned into a :class:`Scene`: boxes (inputs, resources, nodes), clusters
(nested pipelines, drawn around their own nodes) and links between boxes. Each format renders
the scene; nothing here executes a node.

* Mermaid and DOT are text, escaped for their own syntax (a name may hold ``"``, ``<``, ``&``).
* SVG comes from Graphviz (the ``graphviz`` Python package driving the ``dot`` binary) when
  both are installed, else from the pure-Python layered layout in :mod:`hotpipe._layout`;
  ``renderer="builtin"`` or ``"graphviz"`` chooses explicitly.
* HTML is one page with the SVG inline and a legend, no network needed.

What is marked: inputs mapped item by item (``over=`` of the call drawn, and the ``over`` of
nested maps), resources (inputs bound to :func:`hotpipe.resource`), batch and async nodes,
and, with ``cache=True``, the nodes a cached run stores (nodes declared ``cache=False`` say
so in any case).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from hotpipe.errors import InputError

if TYPE_CHECKING:
    from hotpipe.node import Node
    from hotpipe.pipeline import Pipeline

__all__ = ["FORMATS", "RENDERERS", "Box", "Cluster", "Link", "Scene", "build_scene",
           "to_dot", "to_html", "to_mermaid", "to_svg", "visualize"]

FORMATS = ("mermaid", "dot", "svg", "html")
RENDERERS = ("auto", "graphviz", "builtin")


@dataclass
class Box:
    """One drawn box: ``kind`` is ``input``, ``resource`` or ``node``; ``lines`` its text
    (the first is the name); ``tags`` the marks (``each item``, ``batch``, ``cached``...)."""

    id: str
    kind: str
    name: str
    lines: list[str]
    tags: list[str] = field(default_factory=list)
    tooltip: str = ""

    @property
    def mapped(self) -> bool:
        return "each item" in self.tags


@dataclass
class Cluster:
    """A nested pipeline: its label and what it contains (boxes and clusters)."""

    id: str
    label: str
    children: list[Box | Cluster] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """``source`` box feeds ``target`` box the value ``label``; ``mapped``: item by item."""

    source: str
    target: str
    label: str
    mapped: bool = False


@dataclass
class Scene:
    title: str
    root: Cluster
    links: list[Link]

    def boxes(self) -> list[Box]:
        found: list[Box] = []
        todo: list[Box | Cluster] = [self.root]
        while todo:
            item = todo.pop(0)
            if isinstance(item, Box):
                found.append(item)
            else:
                todo[:0] = item.children
        return found

    def clusters(self) -> list[Cluster]:
        found: list[Cluster] = []
        todo: list[Box | Cluster] = list(self.root.children)
        while todo:
            item = todo.pop(0)
            if isinstance(item, Cluster):
                found.append(item)
                todo[:0] = item.children
        return found


# ----------------------------------------------------------------------------- entry point


def visualize(pipe: Pipeline, format: str = "mermaid", *, over: str | Sequence[str] = (),
              cache: bool = False, renderer: str = "auto",
              path: str | os.PathLike[str] | None = None) -> str:
    """Render ``pipe`` (see ``Pipeline.visualize``); also write it to ``path`` when given."""
    if format not in FORMATS:
        raise InputError(f"visualize(format={format!r}): choose one of {list(FORMATS)}.")
    if renderer not in RENDERERS:
        raise InputError(f"visualize(renderer={renderer!r}): choose one of {list(RENDERERS)}.")
    names = (over,) if isinstance(over, str) else tuple(over)
    for name in names:
        if name not in pipe.inputs:
            raise InputError(f"visualize(over={name!r}): {name!r} is not an input of the "
                             f"pipeline; its inputs are {list(pipe.inputs)}.")
    scene = build_scene(pipe, names, cache)
    render = {"mermaid": to_mermaid, "dot": to_dot}.get(format)
    if render is not None:
        text = render(scene)
    elif format == "svg":
        text = to_svg(scene, renderer)
    else:
        text = to_html(scene, renderer)
    if path is not None:
        from hotpipe._files import write_atomic

        write_atomic(path, text)
    return text


# ----------------------------------------------------------------------------- the scene


def build_scene(pipe: Pipeline, over: Sequence[str] = (), cache: bool = False) -> Scene:
    """Boxes, clusters and links of ``pipe`` (nested pipelines expanded into clusters)."""
    from hotpipe.resources import Resource

    root = Cluster("root", pipe.name or "pipeline")
    links: list[Link] = []
    feeds: dict[str, list[tuple[str, str]]] = {}
    for i, name in enumerate(pipe.inputs):
        mapped = name in over
        box = Box(f"i{i}", "input", name, [name], ["each item"] if mapped else [],
                  f"input {name}" + (" (mapped: one value per item)" if mapped else ""))
        root.children.append(box)
        feeds[name] = [(box.id, name)]
    _resources(pipe, "r", root, feeds, Resource)
    _expand(pipe, "", root, feeds, set(over), links, cache, Resource)
    return Scene(pipe.name or "pipeline", root, links)


def _resources(pipe: Pipeline, prefix: str, into: Cluster,
               feeds: dict[str, list[tuple[str, str]]], resource_type: type) -> None:
    for i, (name, value) in enumerate(pipe.bound.items()):
        if isinstance(value, resource_type):
            factory = getattr(value.factory, "__qualname__", type(value.factory).__name__)
            box = Box(f"{prefix}{i}", "resource", name, [name, f"resource {factory}"],
                      ["resource"], f"resource {name} = {factory}(...), built once per worker")
            into.children.append(box)
            feeds[name] = [(box.id, name)]


def _expand(pipe: Pipeline, prefix: str, into: Cluster,
            feeds: dict[str, list[tuple[str, str]]], mapped: set[str], links: list[Link],
            cache: bool, resource_type: type) -> dict[str, tuple[str, str]]:
    """Add ``pipe``'s nodes to ``into``; return output name -> (box id, label)."""
    exits: dict[str, tuple[str, str]] = {}
    for i, n in enumerate(pipe.nodes):
        sources = {p: [exits[p]] if p in exits else feeds.get(p, []) for p in n.params}
        if n.nested is None:
            box = _node_box(n, f"{prefix}n{i}", cache)
            into.children.append(box)
            for p, srcs in sources.items():
                each = p in mapped and p not in exits
                links.extend(Link(src, box.id, _rename(label, p), each) for src, label in srcs)
            exits.update((o, (box.id, o)) for o in n.outputs)
            continue
        nested = n.nested
        cid = f"{prefix}c{i}"
        cluster = Cluster(cid, _cluster_label(n))
        into.children.append(cluster)
        inner_feeds: dict[str, list[tuple[str, str]]] = {}
        inner_mapped: set[str] = set()
        for outer, inner in nested.inputs.items():
            inner_feeds[inner] = [(src, _rename(label, outer)) for src, label in sources[outer]]
            if inner in nested.over or (outer in mapped and outer not in exits):
                inner_mapped.add(inner)  # split here, or already one item at a time
        _resources(nested.pipeline, f"{cid}r", cluster, inner_feeds, resource_type)
        inner_exits = _expand(nested.pipeline, f"{cid}_", cluster, inner_feeds,
                              inner_mapped, links, cache, resource_type)
        for inner, outer in nested.outputs.items():
            box_id, label = inner_exits[inner]
            exits[outer] = (box_id, _rename(label, outer))
    return exits


def _rename(label: str, name: str) -> str:
    """The label of a value that changes name on its way (into or out of a nested pipeline)."""
    last = label.rsplit(" → ", 1)[-1]
    return label if last == name else f"{label} → {name}"


def _node_box(n: Node, ident: str, cache: bool) -> Box:
    tags = []
    if n.is_batch or n.batch_func is not None:
        tags.append("batch" if n.batch_size is None else f"batch of {n.batch_size}")
    if n.is_async:
        tags.append("async")
    if not n.cache:
        tags.append("not cached")
    elif cache:
        tags.append("cached")
    func = getattr(n.func, "__qualname__", None) or type(n.func).__name__
    module = getattr(n.func, "__module__", None)
    where = f"{module}.{func}" if module else func
    tip = f"{n.name}: {where}({', '.join(n.params)}) -> {', '.join(n.outputs)}"
    if n.phase:
        tip += f"; phase {n.phase}"
    return Box(ident, "node", n.name, [n.name, "→ " + ", ".join(n.outputs)], tags, tip)


def _cluster_label(n: Node) -> str:
    nested = n.nested
    assert nested is not None
    inner = nested.pipeline.name
    label = n.name if not inner or inner == n.name else f"{n.name} ({inner})"
    if nested.over:
        how = "map over" if nested.mode == "zip" or len(nested.over) == 1 else "product over"
        label += f" · {how} {', '.join(nested.over)}"
    return label


# ----------------------------------------------------------------------------- Mermaid


def mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: entity codes for what Mermaid or HTML would read.

    >>> mermaid_text('a "b" <c> & #d')
    'a #quot;b#quot; #lt;c#gt; #amp; #35;d'
    """
    out = text.replace("#", "#35;")
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                       ("`", "#96;"), ("|", "#124;")):
        out = out.replace(char, code)
    return out.replace("\n", "<br/>")


_MERMAID_SHAPES = {"input": ('[/"', '"/]'), "resource": ('[("', '")]'), "node": ('["', '"]')}


def to_mermaid(scene: Scene) -> str:
    """Mermaid flowchart text; nested pipelines are subgraphs, marks are classes."""
    lines = ["flowchart TD"]
    classes: dict[str, list[str]] = {}

    def emit(item: Box | Cluster, depth: int) -> None:
        pad = "    " * depth
        if isinstance(item, Cluster):
            lines.append(f'{pad}subgraph {item.id}["{mermaid_text(item.label)}"]')
            lines.append(f"{pad}    direction TD")
            for child in item.children:
                emit(child, depth + 1)
            lines.append(f"{pad}end")
            return
        text = "<br/>".join(mermaid_text(line) for line in item.lines)
        if item.tags and item.kind == "node":
            text += "<br/><i>" + mermaid_text(" · ".join(item.tags)) + "</i>"
        elif item.mapped:
            text += "<br/><i>each item</i>"
        start, end = _MERMAID_SHAPES[item.kind]
        lines.append(f"{pad}{item.id}{start}{text}{end}")
        for cls in _classes(item):
            classes.setdefault(cls, []).append(item.id)

    for child in scene.root.children:
        emit(child, 1)
    for link in scene.links:
        arrow = "==>" if link.mapped else "-->"
        label = link.label + (" (each)" if link.mapped else "")
        label = label if label.isidentifier() else f'"{mermaid_text(label)}"'
        lines.append(f"    {link.source} {arrow}|{label}| {link.target}")
    for cls, style in _MERMAID_CLASSES.items():
        if cls in classes:
            lines.append(f"    classDef {cls} {style}")
            lines.append(f"    class {','.join(classes[cls])} {cls}")
    return "\n".join(lines) + "\n"


_MERMAID_CLASSES = {
    "mapped": "fill:#e8f5e9,stroke:#59a14f,stroke-width:2px",
    "resource": "fill:#f3eef7,stroke:#b07aa1",
    "batch": "fill:#fdf1e4,stroke:#f28e2b,stroke-width:2px",
    "cached": "stroke:#59a14f,stroke-width:2px",
    "uncached": "stroke-dasharray:4 3",
}


def _classes(box: Box) -> list[str]:
    found = []
    if box.mapped:
        found.append("mapped")
    if box.kind == "resource":
        found.append("resource")
    if any(t.startswith("batch") for t in box.tags):
        found.append("batch")
    if "cached" in box.tags:
        found.append("cached")
    if "not cached" in box.tags:
        found.append("uncached")
    return found


# ----------------------------------------------------------------------------- DOT


def dot_text(text: str) -> str:
    """A DOT quoted string's content: backslashes and quotes escaped, ``&`` as an entity (so
    Graphviz never reads a name as one), line breaks as ``\\n``.

    >>> dot_text('say "hi" & <b>\\\\')
    'say \\\\"hi\\\\" &amp; <b>\\\\\\\\'
    """
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
            .replace("\n", "\\n"))


STYLE = {
    "node": {"fill": "#eef3fa", "stroke": "#4e79a7"},
    "batch": {"fill": "#fdf1e4", "stroke": "#f28e2b"},
    "input": {"fill": "#f6f8fa", "stroke": "#8c959f"},
    "mapped": {"fill": "#e8f5e9", "stroke": "#59a14f"},
    "resource": {"fill": "#f3eef7", "stroke": "#b07aa1"},
    "cluster": {"fill": "#fbfbfd", "stroke": "#9aa4b1"},
}


def style_of(box: Box) -> dict[str, str]:
    if box.kind == "node":
        return STYLE["batch" if any(t.startswith("batch") for t in box.tags) else "node"]
    if box.kind == "resource":
        return STYLE["resource"]
    return STYLE["mapped" if box.mapped else "input"]


def box_text(box: Box) -> list[str]:
    """The lines drawn in a box: its own lines, then its marks."""
    return [*box.lines, " · ".join(box.tags)] if box.tags and box.kind != "resource" else list(
        box.lines)


def to_dot(scene: Scene) -> str:
    """Graphviz DOT text; nested pipelines are ``cluster_`` subgraphs."""
    font = 'fontname="Helvetica", fontsize=11'
    lines = [
        'digraph "pipeline" {',
        f'    graph [rankdir=TB, {font}, nodesep=0.35, ranksep=0.45, label="'
        f'{dot_text(scene.title)}", labelloc=t];',
        f"    node [{font}, shape=box, style=\"rounded,filled\"];",
        f"    edge [{font}, color=\"#57606a\", arrowsize=0.7];",
    ]

    def emit(item: Box | Cluster, depth: int) -> None:
        pad = "    " * depth
        if isinstance(item, Cluster):
            colours = STYLE["cluster"]
            lines.append(f'{pad}subgraph "cluster_{item.id}" {{')
            lines.append(f'{pad}    label="{dot_text(item.label)}"; style="rounded,dashed,'
                         f'filled"; fillcolor="{colours["fill"]}"; color="{colours["stroke"]}";')
            for child in item.children:
                emit(child, depth + 1)
            lines.append(f"{pad}}}")
            return
        colours = style_of(item)
        shape = {"input": "parallelogram", "resource": "cylinder", "node": "box"}[item.kind]
        extra = ', peripheries=2' if item.mapped else ""
        extra += ', style="rounded,filled,dashed"' if "not cached" in item.tags else ""
        extra += ', penwidth=2' if "cached" in item.tags or item.mapped else ""
        label = "\\n".join(dot_text(line) for line in box_text(item))
        lines.append(f'{pad}"{item.id}" [label="{label}", shape={shape}, fillcolor="'
                     f'{colours["fill"]}", color="{colours["stroke"]}", tooltip="'
                     f'{dot_text(item.tooltip)}"{extra}];')

    for child in scene.root.children:
        emit(child, 1)
    for link in scene.links:
        label = dot_text(link.label + (" (each)" if link.mapped else ""))
        style = ", style=bold" if link.mapped else ""
        lines.append(f'    "{link.source}" -> "{link.target}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- SVG, HTML


def graphviz_available() -> bool:
    """Both the ``graphviz`` Python package and the ``dot`` binary are installed."""
    if shutil.which("dot") is None:
        return False
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


def to_svg(scene: Scene, renderer: str = "auto") -> str:
    """SVG markup: Graphviz's layout where available (or asked for), else the built-in one."""
    if renderer == "graphviz" or (renderer == "auto" and graphviz_available()):
        if not graphviz_available():
            raise InputError(
                "visualize(renderer='graphviz') needs the graphviz Python package and the dot "
                "binary. Fix: pip install 'hotpipe[viz]' and install Graphviz (e.g. apt-get "
                "install graphviz), or use renderer='builtin' (pure Python)."
            )
        import graphviz

        svg = graphviz.Source(to_dot(scene)).pipe(format="svg", encoding="utf-8")
        return svg[svg.index("<svg"):]  # drop the XML declaration and doctype: embeddable
    from hotpipe._layout import render_svg

    return render_svg(scene, uid(scene))


def uid(scene: Scene) -> str:
    """A short id derived from the drawing, so that several SVGs on one page do not clash."""
    return hashlib.sha1(to_dot(scene).encode()).hexdigest()[:8]


_LEGEND = (("node", "node", ""), ("batch", "batch node", ""), ("input", "input", ""),
           ("mapped", "mapped input (each item)", ""), ("resource", "resource", ""),
           ("cluster", "nested pipeline", "dashed"))


def legend_html() -> str:
    items = []
    for key, text, dash in _LEGEND:
        c = STYLE[key]
        border = f"1.5px {'dashed' if dash else 'solid'} {c['stroke']}"
        items.append(f'<span style="display:inline-flex;align-items:center;gap:5px">'
                     f'<span style="width:14px;height:10px;border-radius:3px;background:'
                     f'{c["fill"]};border:{border}"></span>{escape(text)}</span>')
    return ('<div class="hp-legend" style="display:flex;flex-wrap:wrap;gap:4px 14px;'
            'font:12px system-ui,sans-serif;color:#656d76;margin-top:6px">'
            + "".join(items) + "</div>")


def to_html(scene: Scene, renderer: str = "auto") -> str:
    """One self-contained page: the title, the SVG, a legend."""
    svg = to_svg(scene, renderer)
    title = escape(f"hotpipe pipeline: {scene.title}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n</head>\n"
        '<body style="margin:0;background:#f4f6f8;font:14px system-ui,sans-serif;'
        'color:#1f2328">\n<main style="padding:20px 24px">\n'
        f'<h1 style="font-size:20px;margin:0 0 12px">{title}</h1>\n'
        '<div class="hp-graph" style="background:#fff;border:1px solid #d8dee4;'
        f'border-radius:8px;padding:12px;overflow:auto">{svg}</div>\n{legend_html()}\n'
        "</main>\n</body>\n</html>\n"
    )


def repr_html(pipe: Pipeline) -> str:
    """What Jupyter shows for a pipeline: the SVG and the legend."""
    scene = build_scene(pipe)
    try:
        svg = to_svg(scene)
    except Exception as exc:  # a broken Graphviz install: fall back rather than show nothing
        from hotpipe._layout import render_svg

        svg = render_svg(scene, uid(scene)) + f"<!-- graphviz failed: {escape(str(exc))} -->"
    return f'<div class="hp-pipeline" style="overflow:auto">{svg}{legend_html()}</div>'
