"""Plan rules: advice from the plan alone, shared by the Daft script's header."""

from __future__ import annotations

from hotpipe import Pipeline, node
from hotpipe.advise import plan_findings


@node(output="y")
def inc(x: int) -> int:
    return x + 1


@node(output="s")
def fmt(y):
    return str(y)


@node(output="t")
def typed_fmt(y: int) -> str:
    return str(y)


def _plan(pipe: Pipeline):
    return pipe._plan(frozenset({"x"}), None, frozenset({"x"}))


def test_a_pipeline_and_its_plan_give_the_same_findings():
    pipe = Pipeline([inc, fmt])
    assert plan_findings(pipe, over="x") == plan_findings(_plan(pipe))


def test_untyped_step_is_found_and_typed_steps_are_not():
    found = plan_findings(_plan(Pipeline([inc, fmt])))
    assert [(f.rule, f.node) for f in found] == [("arrow-types", "fmt")]
    assert found[0].gain_s is None and found[0].severity == "info"
    assert "def fmt(y) -> T" in found[0].change


def test_a_fully_typed_pipeline_is_silent():
    assert plan_findings(_plan(Pipeline([inc, typed_fmt]))) == []


def test_the_daft_header_renders_the_same_findings():
    pipe = Pipeline([inc, fmt], name="c")
    text = pipe.to_daft({"x": [1, 2]}, over="x")
    header = text.split("\nimport", 1)[0]
    for f in plan_findings(_plan(pipe)):
        assert f"[{f.rule}] {f.title}" in header
        assert f.change.splitlines()[0] in header
    typed = Pipeline([inc, typed_fmt]).to_daft({"x": [1, 2]}, over="x")
    assert "what to change: nothing" in typed
