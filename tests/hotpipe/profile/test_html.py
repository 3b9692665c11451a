"""The HTML report: self-contained and escaped (static checks), and drawn without a JavaScript
error by a real browser (headless Chromium: the DOM after the script ran, and a screenshot).

Chromium comes from ``scripts/install-chromium.sh``. Without it the browser tests fail and say
so; set ``HOTPIPE_SKIP_BROWSER=1`` to skip them on purpose.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hotpipe import Pipeline, node

CHROMIUM = Path("/usr/bin/chromium")
CHART_IDS = ("chart-nodes", "chart-phases", "chart-timeline", "projection", "table-nodes")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Dom(HTMLParser):
    """Counts the tags (and ``tag.class``) inside every element that has an id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.inside: dict[str, Counter[str]] = defaultdict(Counter)
        self.body: dict[str, str | None] = {}
        self.ids: set[str] = set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        names = [tag, *(f"{tag}.{c}" for c in (a.get("class") or "").split())]
        for _, ident in self.stack:
            if ident:
                self.inside[ident].update(names)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag not in VOID:
            self.stack.append((tag, a.get("id")))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


@pytest.fixture(scope="module")
def report(profile, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    assert profile.to_html(str(path)) == str(path)
    return path


# ----------------------------------------------------------------------------- static


def test_page_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(link|img|iframe)\b", text)
    assert not re.search(r"<script[^>]*\ssrc=", text)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    dom = Dom(text)
    assert set(CHART_IDS) <= dom.ids


def test_names_and_inputs_are_escaped(report, profile, evil):
    text = report.read_text(encoding="utf-8")
    assert text.count("<script") == 3  # onerror hook, the data, the charts: nothing injected
    assert "<demo>" not in text and "report &lt;demo&gt; &amp; co" in text
    assert "&lt;script&gt;alert(" in text  # the slowest items' inputs, escaped
    blob = re.search(r'<script id="hotpipe-data" type="application/json">(.*?)</script>',
                     text, re.S).group(1)
    assert "<" not in blob and ">" not in blob
    data = json.loads(blob)
    assert data["schema"] == "hotpipe.profile/1"
    assert data["pipeline"] == profile.pipeline
    assert any(evil[:20] in s["inputs"] for n in data["nodes"] for s in n["slowest"])


def test_projection_splits_once_and_per_item(report, profile):
    data = json.loads(re.search(r'type="application/json">(.*?)</script>',
                                report.read_text(encoding="utf-8"), re.S).group(1))
    rows = data["projection"]["rows"]
    assert [r["items"] for r in rows] == [profile.items, 10 * profile.items, 100 * profile.items]
    for r in rows[1:]:
        assert r["total"] == pytest.approx(profile.project(items=r["items"]).total)
    phases = {p["name"]: p for p in data["projection"]["phases"]}
    setup = profile["setup"]  # broadcast: paid once, in phase "prepare"
    assert phases["prepare"]["once"] == pytest.approx(setup.wall, rel=1e-6)
    assert phases["load"]["once"] == pytest.approx(0.0, abs=1e-9)
    assert phases["load"]["per_item"] == pytest.approx(profile["load"].wall / profile.items)
    for r in rows:
        total = sum(p["once"] + p["per_item"] * r["items"] for p in phases.values())
        assert total == pytest.approx(r["total"], rel=1e-6)


def test_node_table_lists_every_node_and_marks_samples(report, profile):
    text = report.read_text(encoding="utf-8")
    table = text.split('id="table-nodes"', 1)[1].split("</table>", 1)[0]
    for n in profile.nodes:
        assert f"{n.name}</td>" in table
    assert "*</td>" in table  # clean is fast: its percentiles come from the sampled items
    assert "(framework)" in table


# ----------------------------------------------------------------------------- browser


def _chromium() -> Path:
    if os.environ.get("HOTPIPE_SKIP_BROWSER") == "1":
        pytest.skip("HOTPIPE_SKIP_BROWSER=1: browser checks of the HTML report skipped")
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing, so the HTML report cannot be checked in a browser. "
            "Fix: run scripts/install-chromium.sh (as root; it uses apt-get), or set "
            "HOTPIPE_SKIP_BROWSER=1 to skip these checks.",
            pytrace=False,
        )
    return CHROMIUM


def _headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chrome'}",
        "--virtual-time-budget=5000", *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def test_browser_draws_every_chart_without_errors(report, profile, tmp_path):
    proc = _headless(tmp_path, "--dump-dom", report.as_uri())
    dom = Dom(proc.stdout)
    assert dom.body.get("data-rendered") == "1", proc.stdout[:2000]
    assert "data-errors" not in dom.body, dom.body["data-errors"]
    nodes, events = profile.nodes, profile.to_dict()["events"]
    inside = dom.inside
    assert inside["chart-nodes"]["rect"] >= len(nodes)
    assert inside["chart-nodes"]["text"] >= len(nodes)
    drawn_phases = [p for p in profile.phases if p.wall > 0]
    assert inside["chart-phases"]["circle"] >= len(drawn_phases) + 1  # ring + one per phase
    assert len(events) >= profile.stats.chunks * 3
    assert inside["chart-timeline"]["rect.ev"] == len(events)
    assert inside["chart-timeline"]["rect"] >= len(events)
    assert inside["projection"]["rect"] >= 3  # measured, 10x, 100x
    assert inside["table-nodes"]["tr"] >= len(nodes) + 2


def test_short_runs_render_with_or_without_cpu(tmp_path):
    """``run`` profiles: one item, one event per node; a very short run measures no CPU."""

    @node(output="y", phase="compute")
    def inc(x):
        return x + 1

    pipe = Pipeline([inc], name="tiny")
    profiles = [pipe.run({"x": i}).profile for i in range(4)]
    pages = []
    for i, profile in enumerate(profiles):
        path = tmp_path / f"run{i}.html"
        profile.to_html(str(path))
        pages.append(path)
    assert profiles[-1].cpu is None or profiles[-1].cpu >= 0
    dom = Dom(_headless(tmp_path, "--dump-dom", pages[-1].as_uri()).stdout)
    assert dom.body.get("data-rendered") == "1"
    assert "data-errors" not in dom.body, dom.body["data-errors"]
    assert dom.inside["chart-timeline"]["rect.ev"] == 1


def test_browser_screenshot(report, tmp_path):
    png = tmp_path / "report.png"
    _headless(tmp_path, f"--screenshot={png}", "--window-size=1400,2000", report.as_uri())
    assert png.exists(), "chromium wrote no screenshot"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 2000)
    # A blank 1400x2000 page compresses to a few KB; charts, text and tables do not.
    assert len(data) > 60_000, f"screenshot is suspiciously small ({len(data)} bytes)"
