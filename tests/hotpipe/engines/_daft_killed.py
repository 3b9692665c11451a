"""Run by test_daft_ray.py in its own process (Daft fixes its runner once per process): a
node that kills its Ray worker (``os._exit``). Once: Daft and Ray retry it and the map
succeeds. Every time: the map fails with ``WorkerDied`` within seconds instead of hanging,
and the results of the runs that finished are stored (from the driver). A cached rerun on
Ray then hits in the driver and runs no Daft query."""

import os
import sys
import time

import ray

import hotpipe
from hotpipe import Pipeline, node

MARKS = "HOTPIPE_TEST_DIED_MARKS"  # env: a folder, one file per item that killed its worker once


@node(output="y")
def score(x):
    return x * 10


@node(output="z")
def dies_once(y):
    # read in the worker from the environment it inherits: a Ray worker may import this file
    # with its own argv, and a mark written relative to its cwd landed in the repository
    mark = os.path.join(os.environ[MARKS], f"{y}.died")
    if y == 1500 and not os.path.exists(mark):
        open(mark, "w").close()
        os._exit(1)
    return y + 1


@node(output="z")
def dies_always(y):
    if y == 1500:
        os._exit(1)
    return y + 1


def main():
    os.environ[MARKS] = os.path.abspath(sys.argv[1])  # before Ray starts: its workers inherit it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    engine = hotpipe.Daft(runner="ray", batch_size=50, partitions=4)
    xs = list(range(400))
    r = Pipeline([score, dies_once]).map({"x": xs}, over="x", engine=engine)
    assert r["z"] == [x * 10 + 1 for x in xs], "a transient death was not retried"
    cache = hotpipe.Cache(os.path.join(os.environ[MARKS], "cache"))
    t0 = time.perf_counter()
    try:
        Pipeline([score, dies_always]).map({"x": xs}, over="x", engine=engine, cache=cache)
    except hotpipe.WorkerDied as err:
        assert "150..199" in str(err), err  # with any run its worker had started
        named = str(err).count("..")
    else:
        raise AssertionError("no WorkerDied")
    seconds = time.perf_counter() - t0
    warm = Pipeline([score]).map({"x": xs}, over="x", cache=cache)
    # what Local stored (and the Ray map stored before it failed) is hit in the driver:
    # no Daft query runs at all
    again = Pipeline([score]).map({"x": xs}, over="x", engine=engine, cache=cache)
    assert again["y"] == [x * 10 for x in xs]
    note = next(n for n in again.profile.notes if n.startswith("daft cache:"))
    queries = 0 if "no Daft query ran" in note else 1
    print(f"FAILED_AFTER {seconds:.1f} CACHED {warm.profile['score'].hits} NAMED {named} "
          f"RERUN_QUERIES {queries} RERUN_HITS {again.profile['score'].hits}")
    ray.shutdown()


if __name__ == "__main__":
    main()
