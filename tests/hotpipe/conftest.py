import pytest

from hotpipe import Pipeline, node


@pytest.fixture
def chain():
    @node(output="y")
    def inc(x):
        return x + 1

    @node(output="z")
    def dbl(y):
        return y * 2

    @node(output="s")
    def fmt(z):
        return str(z)

    return Pipeline([inc, dbl, fmt], name="chain")
