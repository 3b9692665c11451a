"""``Pipeline.visualize``: Mermaid, DOT, SVG (built-in layout and Graphviz) and HTML, parsed and
checked; names holding quotes, ``<`` and ``&`` escaped in each; the notebook HTML of
Pipeline, Result and Profile; and the built-in SVG drawn by a real browser."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import hotpipe
from hotpipe import InputError, Pipeline, node
from hotpipe import _visualize as viz
from tests.hotpipe.profile.test_html import Dom, _headless

SVG = "{http://www.w3.org/2000/svg}"
EVIL = 'odd "name" <b> & &lt; #1 `x` | {y}'


class Model:
    pass


def build() -> Pipeline:
    @node(output="words")
    def tokenize(sentence):
        return sentence.split()

    @node(output="n")
    def count(words):
        return len(words)

    per_sentence = Pipeline([tokenize, count], name="sentence").as_node(
        name="per_sentence", over="sentence", inputs={"sentences": "sentence"},
        outputs={"n": "lengths"},
    )

    @node(output="sentences")
    def split(text):
        return [s for s in text.split(". ") if s]

    @node(output="longest", batch=True)
    def longest(lengths, model):
        return [max(v) for v in lengths]

    @node(output="report", cache=False)
    def report(longest, text, factor=2):
        return f"{text[:10]}: {longest * factor}"

    return Pipeline([split, per_sentence, longest, report], name="doc").bind(
        model=hotpipe.resource(Model)
    )


def evil_pipeline() -> Pipeline:
    def f(x):
        return x

    inner = Pipeline([node(f, name=EVIL, output="y")], name=f"inner {EVIL}")
    return Pipeline([inner.as_node(name=f"nested {EVIL}", over="x")], name=EVIL)


# ----------------------------------------------------------------------------- Mermaid

MERMAID_LINE = [
    r'\w+(\[/"[^"]*"/\]|\[\("[^"]*"\)\]|\["[^"]*"\])',  # input, resource, node
    r'subgraph \w+\["[^"]*"\]', r"direction TD", r"end",
    r'\w+ (-->|==>)\|("[^"]*"|[A-Za-z_]\w*)\| \w+',
    r"classDef \w+ [\w:#,.\- ]+", r"class [\w,]+ \w+",
]


def check_mermaid(text: str) -> list[str]:
    """Every line is a statement we emit; every quoted label holds no raw quote, no markup but
    ours, and ``#`` only in entity codes. Returns the labels, entities decoded."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    depth = 0
    for line in lines[1:]:
        stmt = line.strip()
        assert any(re.fullmatch(p, stmt) for p in MERMAID_LINE), line
        depth += stmt.startswith("subgraph ") - (stmt == "end")
        assert depth >= 0
    assert depth == 0
    labels = []
    for label in re.findall(r'"([^"]*)"', text):
        bare = re.sub(r"<br/>|</?i>", "\n", label)
        assert "<" not in bare and ">" not in bare and "&" not in bare, label
        assert re.fullmatch(r"([^#]|#\w+;)*", bare, re.S), label
        for code, char in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#amp;", "&"),
                           ("#96;", "`"), ("#124;", "|"), ("#35;", "#")):
            bare = bare.replace(code, char)
        labels.append(bare)
    return labels


def test_mermaid_is_the_default_and_draws_clusters_and_marks():
    pipe = build()
    text = pipe.visualize()
    assert text == pipe.visualize("mermaid")
    assert text.startswith("flowchart TD")
    labels = check_mermaid(text)
    assert any("per_sentence (sentence) · map over sentence" in lab for lab in labels)
    assert 'subgraph c1["per_sentence' in text
    assert "n0 ==>|\"sentences → sentence (each)\"| c1_n0" in text  # mapped inside the cluster
    assert "c1_n1 -->|\"n → lengths\"| n2" in text  # renamed on its way out
    assert '[("model<br/>resource Model")]' in text  # a bound resource
    assert "class n2 batch" in text and "class n3 uncached" in text
    marked = pipe.visualize(over="text", cache=True)
    assert "class i0 mapped" in marked and "class n0,c1_n0,c1_n1,n2 cached" in marked


def test_mermaid_escapes_names():
    pipe = evil_pipeline()
    labels = check_mermaid(pipe.visualize())
    assert any(EVIL in lab for lab in labels)
    assert any(f"nested {EVIL}" in lab for lab in labels)
    check_mermaid(pipe.graph.to_mermaid())  # the plain graph's Mermaid too


# ----------------------------------------------------------------------------- DOT

DOT_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(->)|([{}\[\];,=])|([\w.#:\-]+))', re.S)


def parse_dot(text: str) -> dict:
    """A small DOT reader: nodes with attributes, edges, cluster nesting; strings unescaped."""
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        m = DOT_TOKEN.match(text, pos)
        assert m, f"bad DOT at {text[pos:pos + 40]!r}"
        quoted, arrow, punct, word = m.groups()
        if quoted is not None:
            tokens.append(("str", re.sub(r"\\(.)", lambda g: {"n": "\n"}.get(g[1], g[1]),
                                         quoted[1:-1])))
        else:
            tokens.append(("sym", arrow or punct or word))
        pos = m.end()
    nodes, edges, clusters, stack = {}, [], {}, []
    i = 0

    def attrs(i):
        out = {}
        assert tokens[i] == ("sym", "[")
        i += 1
        while tokens[i] != ("sym", "]"):
            key = tokens[i][1]
            assert tokens[i + 1] == ("sym", "=")
            out[key] = tokens[i + 2][1]
            i += 3
            if tokens[i] == ("sym", ","):
                i += 1
        return out, i + 1

    assert tokens[:2] == [("sym", "digraph"), ("str", "pipeline")] and tokens[2] == ("sym", "{")
    i = 3
    stack.append("root")
    while stack:
        tok = tokens[i]
        if tok == ("sym", "}"):
            stack.pop()
            i += 1
        elif tok == ("sym", "subgraph"):
            name = tokens[i + 1][1]
            assert name.startswith("cluster_") and tokens[i + 2] == ("sym", "{")
            clusters[name] = {"parent": stack[-1], "nodes": []}
            stack.append(name)
            i += 3
        elif tok[1] in ("graph", "node", "edge") and tokens[i + 1] == ("sym", "["):
            _, i = attrs(i + 1)
        elif tokens[i + 1] == ("sym", "="):  # label="..." inside a cluster
            clusters[stack[-1]][tok[1]] = tokens[i + 2][1]
            i += 3
        elif tokens[i + 1] == ("sym", "->"):
            a, i2 = attrs(i + 3)
            edges.append((tok[1], tokens[i + 2][1], a))
            i = i2
        else:
            a, i = attrs(i + 1)
            nodes[tok[1]] = a
            if stack[-1] != "root":
                clusters[stack[-1]]["nodes"].append(tok[1])
        if i < len(tokens) and tokens[i] == ("sym", ";"):
            i += 1
    assert i == len(tokens)
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def test_dot_parses_with_clusters_marks_and_edges():
    dot = parse_dot(build().visualize("dot", over="text", cache=True))
    nodes, clusters = dot["nodes"], dot["clusters"]
    assert nodes["i0"]["shape"] == "parallelogram" and nodes["i0"]["peripheries"] == "2"
    assert nodes["r0"]["shape"] == "cylinder"
    assert nodes["n2"]["label"] == "longest\n→ longest\nbatch · cached"
    assert "dashed" in nodes["n3"]["style"]  # cache=False
    assert clusters["cluster_c1"]["nodes"] == ["c1_n0", "c1_n1"]
    assert clusters["cluster_c1"]["label"].startswith("per_sentence")
    assert ("n0", "c1_n0", {"label": "sentences → sentence (each)", "style": "bold"}) in \
        dot["edges"]


def test_dot_escapes_names():
    dot = parse_dot(evil_pipeline().visualize("dot"))
    labels = [a["label"].replace("&amp;", "&") for a in dot["nodes"].values()]
    assert f"{EVIL}\n→ y" in labels
    cluster = next(iter(dot["clusters"].values()))
    assert cluster["label"].replace("&amp;", "&").startswith(f"nested {EVIL}")


needs_dot = pytest.mark.skipif(not viz.graphviz_available(),
                               reason="the graphviz package or the dot binary is missing")


@needs_dot
def test_dot_renders_with_graphviz_and_round_trips_names():
    svg = evil_pipeline().visualize("svg", renderer="graphviz")
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert EVIL in texts and f"nested {EVIL} (inner {EVIL}) · map over x" in texts
    assert root.find(f".//{SVG}g[@class='cluster']") is not None


# ----------------------------------------------------------------------------- SVG


def boxes_of(root: ET.Element) -> dict[str, dict]:
    """Box id -> name, tags and its rectangle (from the shape's coordinates)."""
    found = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "").split()
        if "hp-box" not in cls:
            continue
        xs, ys = [], []
        for shape in g:
            if shape.tag == f"{SVG}rect":
                x, y = float(shape.get("x")), float(shape.get("y"))
                xs += [x, x + float(shape.get("width"))]
                ys += [y, y + float(shape.get("height"))]
            elif shape.tag == f"{SVG}polygon":
                pts = [tuple(map(float, p.split(","))) for p in shape.get("points").split()]
                xs += [p[0] for p in pts]
                ys += [p[1] for p in pts]
            elif shape.tag == f"{SVG}path":
                nums = list(map(float, re.findall(r"-?\d+\.?\d*", shape.get("d"))))
                xs += nums[0::2][:2]
                ys += nums[1::2][:1]
        texts = ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
        found[g.get("data-id")] = {"name": g.get("data-name"), "tags": g.get("data-tags"),
                                   "kind": cls[1], "rect": (min(xs), min(ys), max(xs), max(ys)),
                                   "texts": texts}
    return found


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_builtin_svg_is_valid_and_laid_out_without_overlaps():
    svg = build().visualize("svg", over="text", cache=True, renderer="builtin")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    vx, vy, vw, vh = map(float, root.get("viewBox").split())
    boxes = boxes_of(root)
    assert {b["name"] for b in boxes.values()} == {
        "text", "factor", "model", "split", "tokenize", "count", "longest", "report"}
    kinds = {b["name"]: (b["kind"], b["tags"]) for b in boxes.values()}
    assert kinds["text"] == ("hp-input", "each item")
    assert kinds["model"] == ("hp-resource", "resource")
    assert kinds["longest"] == ("hp-node", "batch,cached")
    assert kinds["report"] == ("hp-node", "not cached")
    rects = [b["rect"] for b in boxes.values()]
    for i, a in enumerate(rects):
        assert vx <= a[0] and a[2] <= vx + vw and vy <= a[1] and a[3] <= vy + vh
        for b in rects[i + 1:]:
            assert not overlap(a, b), (a, b)
    clusters = [g for g in root.iter(f"{SVG}g") if g.get("class") == "hp-cluster"]
    assert len(clusters) == 1
    r = clusters[0].find(f"{SVG}rect")
    x, y = float(r.get("x")), float(r.get("y"))
    box = (x, y, x + float(r.get("width")), y + float(r.get("height")))
    inside = {b["name"] for b in boxes.values() if box[0] <= b["rect"][0] and
              b["rect"][2] <= box[2] and box[1] <= b["rect"][1] and b["rect"][3] <= box[3]}
    assert inside == {"tokenize", "count"}
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "hp-edge"]
    assert len(edges) == 8
    by_name = {b["name"]: i for i, b in boxes.items()}
    pairs = {(g.get("data-from"), g.get("data-to")) for g in edges}
    assert (by_name["split"], by_name["tokenize"]) in pairs
    assert (by_name["count"], by_name["longest"]) in pairs
    ranks = {n: boxes[by_name[n]]["rect"][1] for n in ("split", "tokenize", "count", "longest",
                                                        "report")}
    assert ranks["split"] < ranks["tokenize"] < ranks["count"] < ranks["longest"] < \
        ranks["report"]


def test_builtin_svg_escapes_names():
    svg = evil_pipeline().visualize("svg", renderer="builtin")
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert EVIL in texts and f"nested {EVIL} (inner {EVIL}) · map over x" in texts
    assert root.find(f"{SVG}title").text == EVIL


def test_wide_graphs_and_deep_nesting_stay_apart():
    @node(output="y")
    def leaf(x):
        return x

    inner = Pipeline([leaf], name="leaf")
    level1 = Pipeline([inner.as_node(name="a"), node(lambda y: y, output="z")], name="l1")
    level2 = Pipeline([level1.as_node(name="b", over="x")], name="l2")
    def same(x):
        return x

    fan = [node(same, name=f"f{i}", output=f"o{i}") for i in range(9)]

    def gather(o0, o1, o2, o3, o4, o5, o6, o7, o8, z):
        return 0

    pipe = Pipeline([level2.as_node(name="c"), *fan, node(gather, output="all")], name="wide")
    root = ET.fromstring(pipe.visualize("svg", renderer="builtin"))
    rects = [b["rect"] for b in boxes_of(root).values()]
    assert len(rects) == 1 + 1 + 9 + 1 + 1  # x, the two nested nodes, the fan, gather
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not overlap(a, b)
    assert sum(g.get("class") == "hp-cluster" for g in root.iter(f"{SVG}g")) == 3


def test_auto_renderer_and_missing_graphviz(monkeypatch):
    pipe = build()
    auto = pipe.visualize("svg")
    expected = "graphviz" if viz.graphviz_available() else "builtin"
    assert ('class="hp-graph"' not in auto) == (expected == "graphviz")
    monkeypatch.setattr(viz, "graphviz_available", lambda: False)
    assert 'class="hp-graph"' in pipe.visualize("svg")
    with pytest.raises(InputError, match=r"pip install 'hotpipe\[viz\]'"):
        pipe.visualize("svg", renderer="graphviz")


def test_bad_arguments_say_the_choices():
    pipe = build()
    with pytest.raises(InputError, match="choose one of"):
        pipe.visualize("png")
    with pytest.raises(InputError, match="choose one of"):
        pipe.visualize("svg", renderer="cairo")
    with pytest.raises(InputError, match="not an input"):
        pipe.visualize(over="words")


def test_path_writes_the_file_with_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "graph.html"
        text = build().visualize("html", path=str(target), renderer="builtin")
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text


# ----------------------------------------------------------------------------- notebooks


class Tags(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.tags, self.text = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs).get("class")))

    def handle_data(self, data):
        self.text.append(data)


def test_repr_html_of_pipeline_result_and_profile():
    pipe = build()
    html = pipe._repr_html_()
    assert "<svg" in html and "hp-legend" in html
    r = pipe.map({"text": ["a b. c", f"x {EVIL}"]}, over="text")
    page = r._repr_html_()
    parsed = Tags(page)
    assert ("table", "hp-values") in parsed.tags and ("div", "hp-cards") in parsed.tags
    assert EVIL[:12] in "".join(parsed.text)
    assert sum(tag == "b" for tag, _ in parsed.tags) == len(r)  # the output names, no more
    assert "&lt;b&gt;" in page and "<b> &" not in page  # the value is escaped
    prof = r.profile._repr_html_()
    assert prof.count('class="hp-card"') == 5 and ("table", "hp-nodes") in Tags(prof).tags
    failed = Pipeline([node(lambda x: 1 / x, output="inv")]).map(
        {"x": [1, 0]}, over="x", on_error="collect")
    assert "1 item(s) failed" in failed._repr_html_()


def test_repr_html_of_a_hand_made_result_and_a_run():
    import numpy as np

    html = hotpipe.Result({"a": np.zeros((2, 3)), "b": 1})._repr_html_()
    assert "2 x 3" in html and "hp-cards" not in html
    run = Pipeline([node(lambda x: x + 1, output="y")]).run({"x": 1})
    assert 'class="hp-cards"' in run._repr_html_() and "run on local" in run._repr_html_()


def test_repr_html_shows_the_cache(tmp_path):
    pipe = build()
    cache = hotpipe.Cache(str(tmp_path / "c"))
    pipe.map({"text": ["a b. c"] * 3}, over="text", cache=cache)
    warm = pipe.map({"text": ["a b. c"] * 3}, over="text", cache=cache)
    assert "Cache" in warm.profile._repr_html_() and " hits" in warm.profile._repr_html_()


# ----------------------------------------------------------------------------- browser

MEASURE_JS = """
<script>
window.onerror = function (m) { document.body.setAttribute("data-errors", m); };
window.addEventListener("load", function () {
  var bad = [], n = 0;
  document.querySelectorAll("g.hp-box").forEach(function (g) {
    var shape = g.querySelector("rect,polygon,path").getBBox();
    g.querySelectorAll("text").forEach(function (t) {
      n += 1;
      var b = t.getBBox();
      if (b.x < shape.x - 0.5 || b.x + b.width > shape.x + shape.width + 0.5)
        bad.push(t.textContent + ":" + b.width.toFixed(1) + ">" + shape.width.toFixed(1));
    });
  });
  document.body.setAttribute("data-texts", String(n));
  document.body.setAttribute("data-overflow", bad.join("|"));
  document.body.setAttribute("data-rendered", "1");
});
</script>
"""


def test_browser_draws_the_builtin_svg_with_text_inside_boxes(tmp_path):
    pipe = evil_pipeline()
    page = tmp_path / "graph.html"
    body = "".join([build().visualize("svg", renderer="builtin", over="text", cache=True),
                    pipe.visualize("svg", renderer="builtin"),
                    build()._repr_html_(),
                    build().map({"text": ["a b. c"]}, over="text")._repr_html_()])
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}"
                    f"{MEASURE_JS}</body></html>", encoding="utf-8")
    dom = Dom(_headless(tmp_path, "--dump-dom", page.as_uri()).stdout)
    assert dom.body.get("data-rendered") == "1"
    assert "data-errors" not in dom.body, dom.body["data-errors"]
    assert int(dom.body["data-texts"]) >= 20
    assert dom.body["data-overflow"] == "", dom.body["data-overflow"]


def test_browser_screenshot_of_the_html_page(tmp_path):
    page = tmp_path / "graph.html"
    build().visualize("html", over="text", path=str(page), renderer="builtin")
    png = tmp_path / "graph.png"
    _headless(tmp_path, f"--screenshot={png}", "--window-size=900,800", page.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000, f"screenshot is suspiciously small ({len(data)} bytes)"


@pytest.mark.skipif(shutil.which("dot") is None, reason="no dot binary")
def test_dot_binary_accepts_the_dot_text(tmp_path):
    for pipe in (build(), evil_pipeline()):
        out = subprocess.run(["dot", "-Tsvg"], input=pipe.visualize("dot"), text=True,
                             capture_output=True, check=True).stdout
        ET.fromstring(out[out.index("<svg"):])
