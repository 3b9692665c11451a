import pytest

from hotpipe import Local, Processes, Threads

ENGINES = {
    "local": lambda: Local(),
    "local-chunks": lambda: Local(chunk_size=2),
    "threads": lambda: Threads(3, chunk_size=2),
    "threads-auto": lambda: Threads(),
    "processes": lambda: Processes(2, chunk_size=2),
    "processes-auto": lambda: Processes(2),
}


@pytest.fixture(params=sorted(ENGINES), scope="module")
def engine(request):
    eng = ENGINES[request.param]()
    yield eng
    close = getattr(eng, "close", None)
    if close is not None:
        close()
