"""Report formats: JSON round-trip, Markdown sections, the table, instability flags,
compare_to across runs."""

import json

import pytest

from hotpipe import BenchError
from hotpipe.bench import BenchResult, compare, compare_to, load

from .conftest import ENV, noisy, synthetic


def steady(median, n, rng):
    return noisy(median, n, rng, spread=0.01, bursts=0)


def test_json_round_trip_keeps_every_sample_and_the_verdicts(tmp_path, rng):
    result = synthetic({"before": steady(1e-3, 9, rng), "after": steady(5e-4, 9, rng)})
    path = tmp_path / "r.json"
    text = result.to_json(path)
    data = json.loads(path.read_text())
    assert json.loads(text) == data and data["schema"] == "hotpipe.bench/1"
    assert data["cases"]["after"]["wall_s"] == result.cases["after"].wall
    assert data["comparisons"][0]["significant"] is True
    back = load(path)
    assert back.to_dict() == result.to_dict()
    assert back.comparison("after").verdict == result.comparison("after").verdict


def test_real_run_round_trips(tmp_path):
    result = compare({"a": lambda: 1, "b": lambda: 1}, samples=3, min_time=0.0, warmup=0,
                     packages=("rich",), dimensions={"n": 1})
    assert result.env["packages"]["rich"] and result.env["machine"]["cores"] >= 1
    assert result.load_after is not None
    assert load(result.to_json(tmp_path / "x.json") and tmp_path / "x.json").to_dict() == \
        result.to_dict()


def test_markdown_has_the_sections_of_a_pr_report(rng):
    md = synthetic({"before": steady(1e-3, 9, rng), "after": steady(5e-4, 9, rng)}).to_markdown()
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Environment", "## Data dimensions", "## Before", "## After",
                     "## Speed-up", "## Methodology"]
    assert "| after | before | wall | 2." in md and "x faster |" in md
    assert "| after | before | CPU | 2." in md
    assert "commit: `aaaaaaa` (clean)" in md and "Test CPU" in md and "- items: 1000" in md


def test_table_prints_cases_and_verdicts(rng):
    same = steady(1e-3, 9, rng)
    text = str(synthetic({"before": same, "after": same[::-1]}))
    assert "before" in text and "baseline" in text and "not significant" in text
    assert "commit aaaaaaa" in text and "UNSTABLE" not in text


def test_high_load_and_wide_spread_are_flagged_with_their_numbers(rng):
    loaded = {**ENV, "machine": {**ENV["machine"], "loadavg": [3.5, 2.0, 1.0]}}
    result = synthetic({"a": steady(1e-3, 9, rng), "b": [1e-3, 2e-3, 3e-3, 1e-3, 2e-3]},
                       env=loaded, load_after=[4.25, 2.0, 1.0])
    w = result.warnings
    assert result.unstable and len(w) == 2
    assert w[0].startswith("high load: 1-min load average 4.25 on 2 usable cores")
    assert "before 3.5, after 4.25" in w[0]
    assert w[1].startswith("wide spread: the IQR of 'b' is 50% of its median")
    assert "## Stability" in result.to_markdown()
    assert "UNSTABLE: high load" in str(result)


def test_compare_to_across_commits(tmp_path, rng):
    old = synthetic({"map": steady(1e-3, 9, rng), "run": steady(1e-4, 9, rng)})
    new_env = {**ENV, "git": {"commit": "b" * 40, "short": "bbbbbbb", "dirty": True}}
    new = synthetic({"map": steady(6e-4, 9, rng), "run": steady(1e-4, 9, rng)}, env=new_env)
    old.to_json(tmp_path / "old.json")
    new.to_json(tmp_path / "new.json")
    both = compare_to(tmp_path / "old.json", tmp_path / "new.json")
    assert list(both.cases) == ["map @ aaaaaaa", "map @ bbbbbbb+", "run @ aaaaaaa",
                                "run @ bbbbbbb+"]
    verdicts = {c.case: c.verdict for c in both.comparisons}
    assert verdicts["map @ bbbbbbb+"].significant
    assert not verdicts["run @ bbbbbbb+"].significant
    md = both.to_markdown()
    assert "**aaaaaaa**" in md and "**bbbbbbb+**" in md and "(with local changes)" in md
    assert load(tmp_path / "old.json").to_dict() == old.to_dict()
    # a round trip of the comparison itself
    assert BenchResult.from_dict(json.loads(both.to_json())).to_dict() == both.to_dict()


def test_compare_to_flags_another_machine(rng):
    other = {**ENV, "machine": {**ENV["machine"], "cpu_model": "Other CPU"}}
    a = synthetic({"x": steady(1e-3, 5, rng)})
    b = synthetic({"x": steady(1e-3, 5, rng)}, env=other)
    assert any(w.startswith("different machines: 'Test CPU' vs 'Other CPU'")
               for w in compare_to(a, b).warnings)


def test_compare_to_refuses_unrelated_or_foreign_files(tmp_path, rng):
    with pytest.raises(BenchError, match="share no case"):
        compare_to(synthetic({"x": steady(1, 3, rng)}), synthetic({"y": steady(1, 3, rng)}))
    (tmp_path / "other.json").write_text('{"benchmark": "overhead"}')
    with pytest.raises(BenchError, match="not a hotpipe bench result"):
        load(tmp_path / "other.json")
    with pytest.raises(BenchError, match="cannot read"):
        load(tmp_path / "missing.json")


def test_the_report_in_the_docs_is_rendered_from_its_json():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    md = load(root / "benchmarks/results/bench-arcsearch-491db78.json").to_markdown()
    md = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", md, flags=re.M)
    assert (root / "docs/bench.md").read_text().endswith(md)
