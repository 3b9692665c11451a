"""Findings in the HTML report (checked in headless Chromium), the JSON, and the CLI."""

from __future__ import annotations

import json
import textwrap

from hotpipe import Pipeline
from hotpipe.cli import main
from tests.hotpipe.advise.test_rules import heavy
from tests.hotpipe.profile.test_html import Dom, _headless


def test_findings_section_in_the_browser(tmp_path):
    xs = [1, 2, 3] * 30
    r = Pipeline([heavy], name="dupes").map({"x": xs}, over="x")
    found = r.advise(inputs={"x": xs})
    path = tmp_path / "report.html"
    r.profile.to_html(str(path), findings=found)
    dom = Dom(_headless(tmp_path, "--dump-dom", path.as_uri()).stdout)
    assert dom.body.get("data-rendered") == "1"
    assert "data-errors" not in dom.body, dom.body["data-errors"]
    assert dom.inside["findings"]["div.finding"] == len(found) == 1
    assert dom.inside["findings"]["pre"] == 1  # the change, as code
    healthy = tmp_path / "healthy.html"
    Pipeline([heavy]).map({"x": list(range(5))}, over="x").profile.to_html(str(healthy))
    text = healthy.read_text()
    assert 'id="findings"' in text and "No findings" in text


def test_findings_in_json():
    xs = [1, 2] * 20
    r = Pipeline([heavy]).map({"x": xs}, over="x")
    data = json.loads(r.profile.to_json(findings=r.advise(inputs={"x": xs})))
    [f] = data["findings"]
    assert set(f) >= {"rule", "severity", "node", "title", "evidence", "change", "gain_s",
                      "gain_pct", "assumption"}
    assert f["rule"] == "duplicates" and f["evidence"]["duplicates"] == 38


FLOW = textwrap.dedent("""
    import time
    from hotpipe import Pipeline, node

    @node(output="y")
    def slow_square(x):
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass
        return x * x

    pipe = Pipeline([slow_square], name="squares")
""")


def test_cli_advise_prints_findings(tmp_path, capsys):
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    out = tmp_path / "advice.json"
    code = main(["advise", f"{flow}:pipe", "--inputs", json.dumps({"x": [1, 2, 3] * 20}),
                 "--map-over", "x", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "duplicates" in text and "slow_square ran 60 times on 3 distinct inputs" in text
    data = json.loads(out.read_text())
    assert [f["rule"] for f in data["findings"]] == ["duplicates"]


def test_cli_advise_healthy_and_bad_input(tmp_path, capsys):
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    assert main(["advise", f"{flow}:pipe", "--inputs", '{"x": [1, 2, 3]}', "--map-over",
                 "x"]) == 0
    assert "no findings" in capsys.readouterr().out
    assert main(["advise", f"{tmp_path / 'nope.py'}:pipe"]) == 2
    assert "no such file" in capsys.readouterr().err
