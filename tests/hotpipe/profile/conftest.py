"""A real profile shared by the report tests: a map over 300 items in chunks of 50, with
phases, a broadcast node, nodes that sleep (so the timeline has visible boxes), and inputs
holding markup (so escaping is tested)."""

from __future__ import annotations

import time

import pytest

from hotpipe import Local, Pipeline, node

ITEMS = 300
CHUNK = 50
EVIL = "<script>alert('x')</script> & </script>"
"""Part of an input value: it must come out of the HTML escaped, never as markup."""


def build_pipeline() -> Pipeline:
    @node(output="raw", phase="load")
    def load(i):
        time.sleep(0.0001)
        return i

    @node(output="clean", phase="prepare")
    def clean(raw):
        return raw * 2

    @node(output="threshold", phase="prepare")
    def setup(weight):
        time.sleep(0.001)
        return 10 * weight

    @node(output="score", phase="score")
    def score(clean, threshold, tag):
        time.sleep(0.0003 if clean % 7 else 0.0008)
        return (clean > threshold, tag)

    return Pipeline([load, clean, setup, score], name="report <demo> & co")


@pytest.fixture(scope="session")
def profile():
    pipe = build_pipeline()
    inputs = {"i": list(range(ITEMS)), "tag": [f"{EVIL}{i}" for i in range(ITEMS)],
              "weight": 2.0}
    result = pipe.map(inputs, over=["i", "tag"], engine=Local(chunk_size=CHUNK))
    assert result.profile.stats.chunks == ITEMS // CHUNK
    return result.profile


@pytest.fixture(scope="session")
def evil() -> str:
    return EVIL
