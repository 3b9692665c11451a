"""Data loading and the official ARC scoring rule."""

import pytest

import arcsearch
from arcsearch.scoring import score_task, score_tasks, to_submission


def test_load_arc1_splits():
    tr = arcsearch.load_tasks("training")
    assert len(tr) == 400
    assert len(arcsearch.load_tasks("evaluation", ids_or_n=3)) == 3
    t = tr[0]
    assert set(t) == {"id", "train", "test"}
    assert "output" in t["test"][0]
    assert arcsearch.load_tasks("training", ids_or_n="007bbfb7")[0]["id"] == "007bbfb7"


def test_load_arc2_and_errors():
    assert len(arcsearch.load_tasks("evaluation", dataset="arc2", ids_or_n=2)) == 2
    with pytest.raises(ValueError):
        arcsearch.load_tasks("training", dataset="arc9")
    with pytest.raises(KeyError):
        arcsearch.load_tasks("training", ids_or_n=["nope"])


A, B, C = [[1]], [[2]], [[1, 1]]


def test_arc2_training_leaves_the_held_out_arc1_evaluation_tasks_out():
    """The ARC-AGI-2 training split (a design source) holds 376 ARC-AGI-1 evaluation tasks;
    they are left out unless asked for, and asking for one by id names the rule."""
    from arcsearch.data import held_out_ids

    held = held_out_ids()
    design = {t["id"] for t in arcsearch.load_tasks("training", dataset="arc2")}
    whole = {t["id"] for t in arcsearch.load_tasks("training", dataset="arc2", held_out=True)}
    assert len(whole) == 1000 and len(whole & held) == 376
    assert design == whole - held
    some = sorted(whole & held)[0]
    with pytest.raises(ValueError, match="ARC-AGI-1 evaluation tasks, held out"):
        arcsearch.load_tasks("training", dataset="arc2", ids_or_n=[some])
    # the ARC-AGI-1 splits themselves are unchanged
    assert len(arcsearch.load_tasks("evaluation")) == 400


def test_rule_one_of_two_attempts():
    assert score_task([[A, B]], [A])
    assert score_task([[B, A]], [A])
    assert not score_task([[B, B]], [A])
    assert not score_task([[C]], [A])  # shape must match exactly


def test_rule_every_test_input_and_at_most_two():
    assert score_task([[A], [B]], [A, B])
    assert not score_task([[A], [A]], [A, B])
    assert not score_task([[B, B, A]], [A])  # a third attempt does not count
    assert not score_task([], [A])
    assert not score_task([[None]], [A])


def test_submission_format_and_score_tasks():
    sub = to_submission("t1", [[A, B]], 1)
    assert sub == {"t1": [{"attempt_1": A, "attempt_2": B}]}
    empty = to_submission("t2", [], 2)
    assert len(empty["t2"]) == 2
    tasks = [{"id": "t1", "test": [{"output": B}]}, {"id": "t2", "test": [{"output": A}] * 2}]
    rep = score_tasks({**sub, **empty}, tasks)
    assert rep["n_solved"] == 1 and rep["solved"] == ["t1"] and rep["accuracy"] == 0.5
