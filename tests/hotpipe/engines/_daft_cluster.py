"""Run by test_daft_ray.py in its own process (Daft fixes its runner once per process): a
two-node local Ray cluster, hotpipe.Daft joining it by address: docs/engines.md's "join a
cluster" block, run as written but for the head's address."""

import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import ray
from ray.cluster_utils import Cluster

import hotpipe
from hotpipe import Pipeline, node

DOCS = Path(__file__).resolve().parents[3] / "docs" / "engines.md"
MARKER = "# run by tests/hotpipe/engines/_daft_cluster.py"
INITS = sys.argv[1]  # a file: one line per resource build, with the building process id


class Model:
    def __init__(self):
        time.sleep(0.2)  # a slow init: must happen once per worker process, not per row
        with open(INITS, "a") as f:
            f.write(f"{os.getpid()}\n")

    def __call__(self, x):
        return x * 10


@node(output="y")
def score(x, model):
    time.sleep(0.001)
    return model(x)


@node(output="where")
def where(y):
    ctx = ray.get_runtime_context()
    return f"{ctx.get_node_id()}/{os.getpid()}"


@node(output="z")
def fragile(y):
    if y == 370:
        raise KeyError(y)
    return y


@node(output="r", batch=True)
def root(x):
    return np.sqrt(np.asarray(x, dtype=np.float64))


@node(output="e", batch=True)
def embed(r):
    r = np.asarray(r)
    return np.stack([r, 2 * r], axis=1)


def joined(address, pipe, inputs):
    """docs/engines.md's block, its ``HEAD_IP:6379`` replaced by the head's GCS address: the
    engine it builds and the result of its map."""
    assert re.fullmatch(r"[\d.]+:\d+", address), f"not the docs' HOST:PORT form: {address}"
    block = DOCS.read_text().split(MARKER, 1)[1].split("\n", 1)[1].split("```", 1)[0]
    assert 'address="HEAD_IP:6379"' in block, block
    namespace = {"hotpipe": hotpipe, "pipe": pipe, "inputs": inputs}
    code = compile(block.replace("HEAD_IP:6379", address), "docs/engines.md[cluster]", "exec")
    exec(code, namespace)
    return namespace["engine"], namespace["result"]


def main():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    model = hotpipe.resource(Model)
    xs = list(range(400))
    engine, r = joined(cluster.address, Pipeline([score, where]), {"x": xs, "model": model})
    assert r["y"] == [x * 10 for x in xs], "values or order differ from Local"
    nodes = {w.split("/")[0] for w in r["where"]}
    pids = {int(w.split("/")[1]) for w in r["where"]}
    with open(INITS) as f:
        built = [int(line) for line in f.read().split()]
    assert len(built) == len(set(built)), f"a worker built the resource twice: {built}"
    assert set(built) == pids, (built, pids)
    try:
        Pipeline([score, fragile]).map({"x": xs, "model": model}, over="x", engine=engine)
    except hotpipe.NodeError as err:
        assert err.index == 37 and isinstance(err.__cause__, KeyError), err
    else:
        raise AssertionError("no NodeError")
    arrays = Pipeline([root, embed])  # numpy items travel back as one array per run
    got = arrays.map({"x": xs}, over="x", engine=engine)
    want = arrays.map({"x": xs}, over="x")
    assert got["r"] == want["r"] and {type(v) for v in got["r"]} == {np.float64}, got["r"][:3]
    np.testing.assert_array_equal(np.stack(got["e"]), np.stack(want["e"]))
    print(f"NODES {len(nodes)} WORKERS {len(pids)} INITS {len(built)}")
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
