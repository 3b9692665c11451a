import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from hotpipe import Engine, Local, Processes, Threads
from hotpipe.schedule import chunk_stats


class OneThread(Engine):
    """The adapter written in docs/engines.md ("Writing an engine"): a new engine is an
    adapter of the scheduling loop plus this suite."""

    name = "one-thread"
    fixed_chunk = 3
    window = 2

    def __init__(self):
        self.pool = ThreadPoolExecutor(1)

    def submit(self, handle, job, start, stop):
        stats = chunk_stats(job.plan, handle)

        def run():
            columns = job.runner.columns(job.plan, job.chunk(start, stop), job.bc,
                                         stop - start, job.offset + start, job.on_error, stats)
            return columns, stats

        return self.pool.submit(run)

    def close(self):
        self.pool.shutdown()


ENGINES = {
    "adapter-example": OneThread,
    "local": lambda: Local(),
    "local-chunks": lambda: Local(chunk_size=2),
    "threads": lambda: Threads(3, chunk_size=2),
    "threads-auto": lambda: Threads(),
    "processes": lambda: Processes(2, chunk_size=2),
    "processes-auto": lambda: Processes(2),
}
if importlib.util.find_spec("daft") is not None:  # the optional extra hotpipe[daft]
    from hotpipe.engines.daft import Daft

    ENGINES["daft"] = lambda: Daft()
    ENGINES["daft-small-batches"] = lambda: Daft(batch_size=2)
    if os.environ.get("HOTPIPE_TEST_DAFT_RAY"):  # test_daft_ray.py: this process runs Ray
        ENGINES = {"daft-ray": lambda: Daft(runner="ray", batch_size=2)}


def built(factory):
    """An engine from ``factory`` for a fixture to yield, closed (pools) after its tests."""
    eng = factory()
    yield eng
    close = getattr(eng, "close", None)
    if close is not None:
        close()


@pytest.fixture(params=sorted(ENGINES), scope="module")
def engine(request):
    yield from built(ENGINES[request.param])
