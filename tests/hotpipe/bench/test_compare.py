"""compare(): the output check comes first, cases of every kind, and one real timing whose
answer cannot depend on the machine (one case does 1000x the work of the other)."""

import pytest

import hotpipe
from hotpipe import BenchError, Pipeline, node
from hotpipe.bench import Case, compare

FAST = {"min_time": 0.0, "samples": 3, "warmup": 0}


def work(n):
    return sum(i * i for i in range(n))


def test_mismatched_outputs_are_refused_before_timing():
    calls = []

    def after():
        calls.append(1)
        return [1, 2, 4]

    with pytest.raises(BenchError) as err:
        compare({"before": lambda: [1, 2, 3], "after": after}, **FAST)
    msg = str(err.value)
    assert "'after' differs from 'before' at [2]: 3 != 4" in msg
    assert "check=False" in msg and "tolerance" in msg
    assert calls == [1]  # one call, for the check; nothing was timed


def test_mismatch_deep_in_a_dict_names_the_place():
    with pytest.raises(BenchError, match=r"at \['s'\]\[1\]: '4' != '5'"):
        compare({"a": lambda: {"s": ["2", "4"]}, "b": lambda: {"s": ["2", "5"]}}, **FAST)


def test_tolerance_accepts_float_noise_and_check_false_skips():
    cases = {"a": lambda: [0.1 + 0.2, 1.0], "b": lambda: [0.3, 1.0]}
    with pytest.raises(BenchError):
        compare(cases, **FAST)
    assert compare(cases, tolerance=1e-9, **FAST).cases["b"].wall
    assert compare({"a": lambda: 1, "b": lambda: 2}, check=False, **FAST).cases["b"].wall


def test_custom_check():
    def check(name, value):
        assert value == 3, f"{name} gave {value}"

    compare({"a": lambda: 3, "b": lambda: 3}, check=check, **FAST)
    with pytest.raises(BenchError, match="'b' failed its output check: AssertionError: b gave 4"):
        compare({"a": lambda: 3, "b": lambda: 4}, check=check, **FAST)


def test_a_case_that_raises_is_refused():
    with pytest.raises(BenchError, match=r"case 'b' raised ZeroDivisionError"):
        compare({"a": lambda: 1, "b": lambda: 1 / 0}, **FAST)


def test_bad_arguments():
    with pytest.raises(BenchError, match="at least one case"):
        compare({})
    with pytest.raises(BenchError, match="baseline 'c' is not a case"):
        compare({"a": lambda: 1}, baseline="c")
    with pytest.raises(BenchError, match="case 'a' is a int"):
        compare({"a": 3})


def test_pipeline_triples_map_over_lists_and_compare_with_a_plain_loop():
    @node(output="y")
    def inc(x):
        return x + 1

    pipe = Pipeline([inc])
    xs = list(range(50))
    result = compare({"loop": Case(lambda: {"y": [x + 1 for x in xs]}, items=50),
                      "local": (pipe, {"x": xs}, hotpipe.Local()),
                      "run": Case(lambda: pipe.run({"x": 0}), output=lambda r: {"y": [r["y"]]},
                                  samples=2)},
                     check=lambda name, v: v["y"][0] == 1, **FAST)
    assert result.cases["local"].items == 50 and result.cases["loop"].items == 50
    assert len(result.cases["run"].wall) == 2 and len(result.cases["local"].wall) == 3
    assert result.items_per_s("local") > 0
    with pytest.raises(BenchError, match="different lengths"):
        compare({"p": (Pipeline([node(lambda x, z: x, output="o")]),
                       {"x": [1, 2], "z": [1]}, None)}, **FAST)


def test_samples_are_interleaved_and_calibrated():
    result = compare({"a": lambda: work(10), "b": lambda: work(10)}, samples=4, warmup=1,
                     min_time=0.002, seed=3)
    for c in result.cases.values():
        assert c.rounds == [0, 1, 2, 3] and len(c.wall) == len(c.cpu) == 4
        assert c.loops > 1 and c.warmup == 1 and c.first_s > 0
        assert min(c.wall) > 0.001  # calibrated: each sample runs about min_time or more


def test_a_thousandfold_difference_is_found():
    result = compare({"slow": lambda: work(20_000), "fast": lambda: work(20) * 0},
                     check=False, samples=5, min_time=0.002)
    comp = result.comparison("fast")
    assert comp.verdict.significant and comp.verdict.ratio > 10


def test_fresh_processes_measure_the_cold_start():
    result = compare({"a": lambda: work(100)}, processes=1, **FAST)
    (cold,) = result.cases["a"].cold
    assert cold["process_s"] > cold["load_s"] > 0 and cold["first_s"] > 0
