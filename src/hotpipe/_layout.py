"""A small layered layout and its SVG: how ``visualize(format="svg")`` draws without Graphviz.

Sugiyama-style, one level of nesting at a time: a cluster (a nested pipeline) is laid out
first and then placed as one big box in its parent. At each level, boxes get ranks (longest
path; an input sits just above its first consumer), edges spanning several ranks get virtual
waypoints, boxes are ordered within ranks by a few barycenter sweeps, then placed left to right
pulled towards their neighbours. Edges are cubic curves through their waypoints. Text is
monospace, so its width is known without a font engine (a wide East Asian character counts
double). Pure Python, no dependency; the output is plain SVG 1.1 with inline styles.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from html import escape
from itertools import pairwise

from hotpipe._visualize import STYLE, Box, Cluster, Scene, box_text, style_of

__all__ = ["FONT", "Layout", "layout", "render_svg", "text_width"]

FONT = "DejaVu Sans Mono,Menlo,Consolas,monospace"
SIZE, SMALL = 12.0, 11.0  # font sizes (px): box text, marks and edge labels
EM = 0.61  # advance of a monospace character, in em
LINE = 16.0
PAD_X, PAD_Y = 12.0, 8.0
GAP_X, GAP_Y = 26.0, 54.0
CLUSTER_PAD, CLUSTER_HEAD = 14.0, 24.0
SKEW = 8.0  # the slant of an input's parallelogram
SWEEPS = 4


def text_width(text: str, size: float = SIZE) -> float:
    """Pixels of ``text`` in the monospace font at ``size``."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * EM * size


@dataclass
class _Item:
    ref: Box | Cluster | None  # None: a waypoint of a long edge
    w: float
    h: float
    x: float = 0.0
    y: float = 0.0
    rank: int = 0
    level: _Level | None = None  # a cluster's own layout


@dataclass
class _Level:
    items: list[_Item]
    waypoints: dict[tuple[int, int], list[_Item]] = field(default_factory=dict)
    w: float = 0.0
    h: float = 0.0


@dataclass
class Layout:
    """Absolute rectangles (x, y, w, h) of every box and cluster, waypoints of every link."""

    width: float
    height: float
    boxes: dict[str, tuple[float, float, float, float]]
    clusters: dict[str, tuple[float, float, float, float]]
    paths: dict[tuple[str, str], list[tuple[float, float]]]


# ----------------------------------------------------------------------------- sizes


def _box_size(box: Box) -> tuple[float, float]:
    lines = box_text(box)
    widths = [text_width(line, SMALL if i >= len(box.lines) else SIZE)
              for i, line in enumerate(lines)]
    extra = 2 * SKEW if box.kind == "input" else 0.0
    extra += 6.0 if box.mapped else 0.0
    head = 8.0 if box.kind == "resource" else 0.0
    return max(widths) + 2 * PAD_X + extra, len(lines) * LINE + 2 * PAD_Y + head


def _descendants(item: Box | Cluster) -> list[str]:
    if isinstance(item, Box):
        return [item.id]
    return [d for child in item.children for d in _descendants(child)]


# ----------------------------------------------------------------------------- one level


def _layout_level(children: list[Box | Cluster], links: list[tuple[str, str]]) -> _Level:
    items = []
    for child in children:
        if isinstance(child, Box):
            items.append(_Item(child, *_box_size(child)))
        else:
            inner = _layout_level(child.children, links)
            label_w = text_width(child.label, SIZE) + 2 * CLUSTER_PAD
            w = max(inner.w + 2 * CLUSTER_PAD, label_w)
            items.append(_Item(child, w, inner.h + CLUSTER_HEAD + CLUSTER_PAD, level=inner))
    owner = {d: i for i, child in enumerate(children) for d in _descendants(child)}
    edges = sorted({(owner[a], owner[b]) for a, b in links
                    if a in owner and b in owner and owner[a] != owner[b]})
    _rank(items, edges)
    level = _Level(items)
    layers = _layers(level, edges)
    _order(layers, level, edges)
    _place(layers, level, edges)
    return level


def _rank(items: list[_Item], edges: list[tuple[int, int]]) -> None:
    preds: dict[int, list[int]] = {i: [] for i in range(len(items))}
    succs: dict[int, list[int]] = {i: [] for i in range(len(items))}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    order = _topological(len(items), preds, succs)
    for i in order:
        items[i].rank = max((items[p].rank + 1 for p in preds[i]), default=0)
    for i in reversed(order):  # sources sit just above their first consumer
        if not preds[i] and succs[i]:
            items[i].rank = max(0, min(items[s].rank for s in succs[i]) - 1)


def _topological(n: int, preds: dict[int, list[int]], succs: dict[int, list[int]]) -> list[int]:
    waiting = {i: len(preds[i]) for i in range(n)}
    ready = [i for i in range(n) if not waiting[i]]
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for s in succs[i]:
            waiting[s] -= 1
            if not waiting[s]:
                ready.append(s)
    return order + [i for i in range(n) if i not in order]  # (a cycle cannot happen)


def _layers(level: _Level, edges: list[tuple[int, int]]) -> list[list[int]]:
    """Items per rank, with waypoint items added for edges that skip ranks."""
    items = level.items
    for a, b in edges:
        chain = []
        for r in range(items[a].rank + 1, items[b].rank):
            items.append(_Item(None, 8.0, 8.0, rank=r))
            chain.append(items[-1])
        if chain:
            level.waypoints[(a, b)] = chain
    depth = max((it.rank for it in items), default=0) + 1
    layers: list[list[int]] = [[] for _ in range(depth)]
    for i, it in enumerate(items):
        layers[it.rank].append(i)
    return layers


def _segments(level: _Level, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Edges between adjacent ranks, through the waypoints."""
    index = {id(it): i for i, it in enumerate(level.items)}
    result = []
    for a, b in edges:
        path = [a, *(index[id(w)] for w in level.waypoints.get((a, b), [])), b]
        result.extend(pairwise(path))
    return result


def _order(layers: list[list[int]], level: _Level, edges: list[tuple[int, int]]) -> None:
    segs = _segments(level, edges)
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    for a, b in segs:
        down.setdefault(a, []).append(b)
        up.setdefault(b, []).append(a)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        rows = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for r in rows:
            ref = layers[r - 1] if forward else layers[r + 1]
            pos = {i: k for k, i in enumerate(ref)}
            near = up if forward else down
            layer = layers[r]
            current = {i: k for k, i in enumerate(layer)}

            def key(i: int, pos: dict[int, int] = pos, near: dict[int, list[int]] = near,
                    current: dict[int, int] = current) -> float:
                ns = [pos[n] for n in near.get(i, []) if n in pos]
                return sum(ns) / len(ns) if ns else float(current[i])

            layer.sort(key=key)


def _place(layers: list[list[int]], level: _Level, edges: list[tuple[int, int]]) -> None:
    items = level.items
    segs = _segments(level, edges)
    neighbours: dict[int, list[int]] = {}
    for a, b in segs:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    for layer in layers:  # packed left to right
        x = 0.0
        for i in layer:
            items[i].x = x
            x += items[i].w + GAP_X
    for _ in range(SWEEPS):  # pull towards the neighbours' centres, keeping order and gaps
        for layer in layers:
            wanted = []
            for i in layer:
                ns = neighbours.get(i, [])
                centre = (sum(items[n].x + items[n].w / 2 for n in ns) / len(ns) if ns
                          else items[i].x + items[i].w / 2)
                wanted.append(centre - items[i].w / 2)
            _fit(layer, wanted, items)
    left = min((it.x for it in items), default=0.0)
    y = 0.0
    for layer in layers:
        height = max((items[i].h for i in layer), default=0.0)
        for i in layer:
            items[i].x -= left
            if items[i].ref is None:  # a waypoint runs straight down through its rank
                items[i].y, items[i].h = y, height
            else:
                items[i].y = y + (height - items[i].h) / 2
        y += height + GAP_Y
    level.w = max((it.x + it.w for it in items), default=0.0)
    level.h = max(0.0, y - GAP_Y)


def _fit(layer: list[int], wanted: list[float], items: list[_Item]) -> None:
    """Place a layer's items as close to ``wanted`` as their order and the gaps allow."""
    xs = list(wanted)
    for k in range(1, len(layer)):  # push right what overlaps its left neighbour
        prev = items[layer[k - 1]]
        xs[k] = max(xs[k], xs[k - 1] + prev.w + GAP_X)
    for k in range(len(layer) - 2, -1, -1):  # then pull back left what can go where it wants
        limit = xs[k + 1] - items[layer[k]].w - GAP_X
        xs[k] = min(max(wanted[k], xs[k]) if xs[k] <= limit else limit, limit)
    for k in range(1, len(layer)):
        prev = items[layer[k - 1]]
        xs[k] = max(xs[k], xs[k - 1] + prev.w + GAP_X)
    for i, x in zip(layer, xs, strict=True):
        items[i].x = x


# ----------------------------------------------------------------------------- absolute


def layout(scene: Scene, margin: float = 12.0) -> Layout:
    """Lay the scene out; every rectangle in absolute pixels."""
    pairs = [(link.source, link.target) for link in scene.links]
    root = _layout_level(scene.root.children, pairs)
    result = Layout(root.w + 2 * margin, root.h + 2 * margin, {}, {}, {})
    _absolute(root, margin, margin, result)
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    _routes(scene.root.children, root, margin, margin, routes)
    for a, b in pairs:
        result.paths[(a, b)] = routes.get((a, b), [])
    return result


def _absolute(level: _Level, dx: float, dy: float, out: Layout) -> None:
    for it in level.items:
        x, y = it.x + dx, it.y + dy
        if isinstance(it.ref, Box):
            out.boxes[it.ref.id] = (x, y, it.w, it.h)
        elif isinstance(it.ref, Cluster) and it.level is not None:
            out.clusters[it.ref.id] = (x, y, it.w, it.h)
            inner_x = x + (it.w - it.level.w) / 2
            _absolute(it.level, inner_x, y + CLUSTER_HEAD, out)


def _routes(children: list[Box | Cluster], level: _Level, dx: float, dy: float,
            out: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    """Waypoints of each link, from the level where its two ends part."""
    for (a, b), chain in level.waypoints.items():
        points = [p for w in chain for p in ((w.x + dx + w.w / 2, w.y + dy),
                                             (w.x + dx + w.w / 2, w.y + dy + w.h))]
        for src in _descendants(children[a]):
            for dst in _descendants(children[b]):
                out.setdefault((src, dst), points)
    for it, child in zip(level.items, children, strict=False):
        if isinstance(child, Cluster) and it.level is not None:
            inner_x = it.x + dx + (it.w - it.level.w) / 2
            _routes(child.children, it.level, inner_x, it.y + dy + CLUSTER_HEAD, out)


# ----------------------------------------------------------------------------- SVG


def render_svg(scene: Scene, uid: str) -> str:
    """The scene as a standalone SVG element (inline styles, no CSS, no script)."""
    lay = layout(scene)
    marker = f"hp-arrow-{uid}"
    clusters = {c.id: c for c in scene.clusters()}
    body = [_cluster_svg(clusters[cid], *rect) for cid, rect in lay.clusters.items()]
    labels = []
    taken = [*lay.boxes.values(), *((x, y, w, CLUSTER_HEAD) for x, y, w, _ in
                                    lay.clusters.values())]
    lo_x, lo_y, hi_x, hi_y = 0.0, 0.0, lay.width, lay.height
    for link in scene.links:
        points = _points(lay, link.source, link.target)
        width = 2.2 if link.mapped else 1.2
        body.append(
            f'<g class="hp-edge" data-from="{escape(link.source)}" data-to="'
            f'{escape(link.target)}"><path d="{_curve(points)}" fill="none" stroke="#57606a" '
            f'stroke-width="{width}" marker-end="url(#{marker})"/></g>'
        )
        text = link.label + (" (each)" if link.mapped else "")
        rect = _label_place(points, text_width(text, SMALL) + 6, 15.0, taken)
        taken.append(rect)
        labels.append(_label_svg(text, rect))
        lo_x, lo_y = min(lo_x, rect[0] - 4), min(lo_y, rect[1] - 4)
        hi_x, hi_y = max(hi_x, rect[0] + rect[2] + 4), max(hi_y, rect[1] + rect[3] + 4)
    boxes = {b.id: b for b in scene.boxes()}
    body.extend(_box_svg(boxes[bid], *rect) for bid, rect in lay.boxes.items())
    body.extend(labels)
    w, h = hi_x - lo_x, hi_y - lo_y
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hp-graph" width="{w:.0f}" '
        f'height="{h:.0f}" viewBox="{lo_x:.1f} {lo_y:.1f} {w:.1f} {h:.1f}" '
        f'role="img" aria-label="{escape(scene.title)}" font-family="{FONT}" '
        f'font-size="{SIZE:g}">',
        f"<title>{escape(scene.title)}</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>',
        *body,
        "</svg>",
    ])


def _points(lay: Layout, src: str, dst: str) -> list[tuple[float, float]]:
    sx, sy, sw, sh = lay.boxes[src]
    tx, ty, tw, _ = lay.boxes[dst]
    return [(sx + sw / 2, sy + sh), *lay.paths.get((src, dst), []), (tx + tw / 2, ty - 1)]


def _curve(points: list[tuple[float, float]]) -> str:
    """Cubic segments leaving and entering each point vertically."""
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in pairwise(points):
        my = (y0 + y1) / 2
        d += f" C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}"
    return d


def _at(p0: tuple[float, float], p1: tuple[float, float], t: float) -> tuple[float, float]:
    """The point at ``t`` on the cubic segment drawn by :func:`_curve`."""
    (x0, y0), (x1, y1) = p0, p1
    my, u = (y0 + y1) / 2, 1 - t
    x = u**3 * x0 + 3 * u * u * t * x0 + 3 * u * t * t * x1 + t**3 * x1
    y = u**3 * y0 + 3 * u * u * t * my + 3 * u * t * t * my + t**3 * y1
    return x, y


def _label_place(points: list[tuple[float, float]], w: float, h: float,
                 taken: list[tuple[float, float, float, float]]) -> tuple[float, ...]:
    """A spot on the edge for its label that covers no box and no other label (the middle
    of the edge when nothing is free)."""
    segments = list(pairwise(points))
    middle = len(segments) // 2
    order = sorted(range(len(segments)), key=lambda k: abs(k - middle))
    first = None
    for k in order:
        for t in (0.5, 0.35, 0.65, 0.2, 0.8):
            x, y = _at(*segments[k], t)
            rect = (x - w / 2, y - h / 2, w, h)
            first = first or rect
            if not any(_overlap(rect, other) for other in taken):
                return rect
    assert first is not None
    return first


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _label_svg(text: str, rect: tuple[float, ...]) -> str:
    x, y, w, h = rect
    return (f'<g class="hp-label"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="3" fill="#ffffff" fill-opacity="0.88"/><text x="'
            f'{x + w / 2:.1f}" y="{y + h / 2 + 3.5:.1f}" text-anchor="middle" font-size="'
            f'{SMALL:g}" fill="#57606a">{escape(text)}</text></g>')


def _cluster_svg(c: Cluster, x: float, y: float, w: float, h: float) -> str:
    s = STYLE["cluster"]
    return (f'<g class="hp-cluster" data-name="{escape(c.label)}"><title>{escape(c.label)}'
            f'</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8" '
            f'fill="{s["fill"]}" stroke="{s["stroke"]}" stroke-dasharray="5 4"/>'
            f'<text x="{x + CLUSTER_PAD:.1f}" y="{y + 16:.1f}" font-weight="bold" '
            f'fill="#444c56">{escape(c.label)}</text></g>')


def _box_svg(box: Box, x: float, y: float, w: float, h: float) -> str:
    s = style_of(box)
    paint = f'fill="{s["fill"]}" stroke="{s["stroke"]}"'
    thick = ' stroke-width="2"' if box.mapped or "cached" in box.tags else ""
    dash = ' stroke-dasharray="4 3"' if "not cached" in box.tags else ""
    shapes = []
    if box.kind == "input":
        if box.mapped:  # a stack: one value per item
            shapes.append(_parallelogram(x + 6, y - 4, w - 6, h, paint))
            w -= 6
        shapes.append(_parallelogram(x, y, w, h, paint + thick))
    elif box.kind == "resource":
        r = 5.0
        shapes.append(
            f'<path d="M{x:.1f},{y + r:.1f} A{w / 2:.1f},{r} 0 0 0 {x + w:.1f},{y + r:.1f} '
            f'L{x + w:.1f},{y + h - r:.1f} A{w / 2:.1f},{r} 0 0 1 {x:.1f},{y + h - r:.1f} z '
            f'M{x:.1f},{y + r:.1f} A{w / 2:.1f},{r} 0 0 1 {x + w:.1f},{y + r:.1f}" {paint}/>'
        )
    else:
        shapes.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                      f"{paint}{thick}{dash}/>")
    lines = box_text(box)
    top = y + PAD_Y + (8.0 if box.kind == "resource" else 0.0)
    texts = []
    for i, line in enumerate(lines):
        mark = i >= len(box.lines)
        style = (f' font-size="{SMALL:g}" font-style="italic" fill="#656d76"' if mark else
                 (' font-weight="bold" fill="#1f2328"' if i == 0 else ' fill="#444c56"'))
        texts.append(f'<text x="{x + w / 2:.1f}" y="{top + LINE * i + 12:.1f}" '
                     f'text-anchor="middle"{style}>{escape(line)}</text>')
    return (f'<g class="hp-box hp-{box.kind}" data-id="{box.id}" data-name="{escape(box.name)}" '
            f'data-tags="{escape(",".join(box.tags))}"><title>{escape(box.tooltip or box.name)}'
            f"</title>{''.join(shapes)}{''.join(texts)}</g>")


def _parallelogram(x: float, y: float, w: float, h: float, paint: str) -> str:
    pts = [(x + SKEW, y), (x + w, y), (x + w - SKEW, y + h), (x, y + h)]
    return ('<polygon points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + f'" {paint}/>')
