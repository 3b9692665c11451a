"""The to_daft script's header analyses the plan in the user's names: explode/groupby cycles,
per-row Python objects, row-wise model calls (none of them constant text)."""

import pytest

import hotpipe
from hotpipe import Pipeline, node

pytest.importorskip("daft")


class Model:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x * self.k


@node(output="p", gpus=1)
def predict(x: int, model) -> int:
    return model(x)


@node(output="q", batch=True)
def predict_many(x, model) -> list[int]:
    return [model(v) for v in x]


@node(output="label")
def name_of(p) -> str:
    return str(p)


@node(output=("lo", "hi"))
def bounds(p):
    return p - 1, p + 1


@node(output="row")
def as_row(x):
    return {"x": x}


def _analysis(script: str) -> dict[str, str]:
    lines = [line[4:] for line in script.splitlines() if line.startswith("#   ")]
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def test_each_line_comes_from_the_plan():
    pipe = Pipeline([predict, predict_many, name_of, bounds, as_row], name="models")
    inputs = {"x": [1, 2], "model": hotpipe.resource(Model, 2)}
    head = _analysis(pipe.to_daft(inputs, over="x"))
    assert head["explode/groupby cycles"] == "0 (no nested maps)"
    calls = head["row-wise model calls"]
    assert calls.startswith("'predict' (reads resource 'model', gpus=1; give it batch=True")
    assert "predict_many" not in calls  # a batch node: one call per batch
    assert "not a row-wise @daft.func" in calls
    loose = head["per-row Python objects (outputs Daft gets untyped)"]
    assert "'lo' (node 'bounds' returns 2 outputs)" in loose
    assert "'row' (node 'as_row' has no int, float, str, bool or bytes return" in loose
    for typed in ("'p'", "'q'", "'label'"):  # -> int, -> list[int], -> str
        assert typed not in loose
    assert "numpy (typed at run time)" in loose


def test_a_plan_without_models_or_loose_outputs_says_none():
    @node(output="y")
    def inc(x: int) -> int:
        return x + 1

    head = _analysis(Pipeline([inc]).to_daft({"x": [1]}, over="x"))
    assert head["row-wise model calls"].startswith("none")
    assert head["per-row Python objects (outputs Daft gets untyped)"].startswith("none")


def test_a_nested_map_is_counted_and_its_inner_model_call_named():
    @node(output="w")
    def score(v: int, model) -> int:
        return model(v)

    inner = Pipeline([score], name="inner").as_node(
        name="per", over="v", inputs={"vs": "v", "m": "model"}, outputs={"w": "ws"})
    inputs = {"vs": [[1, 2], [3]], "m": hotpipe.resource(Model, 3)}
    head = _analysis(Pipeline([inner], name="outer").to_daft(inputs, over="vs"))
    assert head["explode/groupby cycles"].startswith(
        "0 (1 nested map: 'per': exploded and regrouped inside the fused UDF, per run of rows")
    assert head["row-wise model calls"].startswith("'per/score' (reads resource 'm'")
    assert "'ws' (nested map 'per': a list per outer item)" in head[
        "per-row Python objects (outputs Daft gets untyped)"]
