"""One pipeline that shows every rule of the Daft translation in one script (a broadcast
step, a hinted row node, a batch node with a batch size returning a 2-D array, an async node,
a vectorize= node): docs/engines.md quotes what ``RULES.to_daft(INPUTS, over="x")`` writes,
and tests/hotpipe/engines/test_daft.py checks the quote and runs the script."""

import asyncio

import numpy as np

from hotpipe import Pipeline, node


@node(output="scale")
def scale_of(factor: int) -> int:
    return factor * 10


@node(output="y", cpus=2)
def inc(x: int) -> int:
    return x + 1


@node(output="e", batch=True, batch_size=64)
def embed(y: list) -> list:
    return np.stack([np.full(2, v, dtype=np.float32) for v in y])


@node(output="z")
async def fetch(y: int, scale: int) -> int:
    await asyncio.sleep(0)
    return y * scale


@node(output="r", vectorize="numpy")
def root(z: float) -> float:
    return np.sqrt(z)


RULES = Pipeline([scale_of, inc, embed, fetch, root], name="rules")
INPUTS = {"x": [1, 2, 3], "factor": 2}
