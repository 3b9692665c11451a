"""The glue around the generated Daft text, written once for the engine and the script.

``hotpipe.Daft`` compiles the text that ``pipe.to_daft()`` writes (the fused per-item steps
and the query, :mod:`hotpipe.engines._daft_code`) in a namespace where the glue names are
bound to callables: the engine binds some to its own (``run_rows`` with the executor's
error handling and counters, ``unbox`` for Ray), the script defines them itself by copying
the source of the functions of this module (``inspect.getsource``): so this module must stay
self-contained, standard library and ``pyarrow`` only, no hotpipe import.

The script's resources are :class:`Resource` declarations in the map's payload, built by
:func:`unbox` in the UDF's ``__init__`` (once per worker), and its async nodes are awaited
by :func:`gathered`; the engine binds ``unbox`` and ``gathered`` to its own (hotpipe's
resources, hotpipe's event loop).
"""

from __future__ import annotations

import threading
from time import perf_counter, thread_time
from typing import Any

__all__ = ["Clock", "Resource", "gathered", "index_column", "row_runs", "run_query", "run_rows",
           "unbox"]


class Clock:
    """The per-node seconds of one run of rows, from the fused code's ``t = clock(k, n, t)``
    lines: node ``k`` just did ``n`` items (in ``calls`` calls: one for a batch node).

    Two clock reads per node and run, nothing per item. ``first``/``last`` hold when each
    node first started and last ended in the run (a nested map's inner nodes run once per
    outer item). The engine turns a run's clock into hotpipe's profile counters; the script
    prints the seconds summed over its runs.
    """

    __slots__ = ("calls", "cpu", "first", "items", "last", "wall")

    def __init__(self, width: int) -> None:
        self.calls = [0] * width
        self.items = [0] * width
        self.wall = [0.0] * width
        self.cpu = [0.0] * width
        self.first = [0.0] * width
        self.last = [0.0] * width

    def __call__(self, k: int = -1, n: int = 0, t: Any = None, calls: int | None = None
                 ) -> tuple[float, float]:
        now = (perf_counter(), thread_time())
        if t is not None:
            if not self.calls[k]:
                self.first[k] = t[0]
            self.calls[k] += n if calls is None else calls
            self.items[k] += n
            self.wall[k] += now[0] - t[0]
            self.cpu[k] += now[1] - t[1]
            self.last[k] = now[0]
        return now


def run_rows(fused_steps: Any, payload: Any, runs: list[tuple[int, int]]) -> list[Any]:
    """The script's loop over the runs of rows of one batch: ``fused_steps`` over each run's
    slice of the mapped columns, with the shared (broadcast) values and a fresh clock.

    ``payload`` is ``(columns, shared, width)``. Returns ``(first, stop, values, clock)`` per
    run. (The engine binds ``run_rows`` to its own loop, which reruns a failing run through
    hotpipe's executor to name the item that failed.)
    """
    columns, shared, width = payload
    out = []
    for a, b in runs:
        clock = Clock(width)
        values = fused_steps(clock, b - a, *[column[a:b] for column in columns], *shared)
        if any(type(v) is list and len(v) < b - a for v in values):
            raise RuntimeError(  # map() ends at a StopIteration without an error
                f"a node raised StopIteration on one of the items {a}..{b - 1}, which would "
                "end the map over them without an error. Fix: catch it in the node "
                "(next(iterator, default)).")
        out.append((a, b, values, clock))
    return out


class Resource:
    """A resource of the script (``hotpipe.resource(factory, *args, **kwargs)``): declared
    in the driver, built where :func:`unbox` unboxes the map's payload, i.e. in the UDF's
    ``__init__``, which Daft runs once per worker; never shipped built (``daft.lit`` of a
    model would pickle it into the plan). Built once per process, under a lock: Daft may
    start several instances of the class in one process at once, and they share it. A copy
    pickled to another process (Ray) holds the declaration only and builds its own.
    """

    __slots__ = ("args", "built", "factory", "kwargs", "lock")

    def __init__(self, factory: Any, *args: Any, **kwargs: Any) -> None:
        self.__setstate__((factory, args, kwargs))

    def get(self) -> Any:
        with self.lock:
            if not self.built:
                self.built.append(self.factory(*self.args, **self.kwargs))
        return self.built[0]

    def __getstate__(self) -> tuple:
        return self.factory, self.args, self.kwargs

    def __setstate__(self, state: tuple) -> None:
        self.factory, self.args, self.kwargs = state
        self.lock, self.built = threading.Lock(), []


def unbox(box: list) -> Any:
    """The map's payload from its box (a list of one: emptied when the query is done), its
    resources built: the UDF class's ``__init__`` calls this, once per worker."""
    columns, shared, width = box[0]
    return columns, [v.get() if type(v) is Resource else v for v in shared], width


def gathered(func: Any, limit: int | None, n: int, *columns: Any) -> list:
    """An async node over a run of ``n`` rows: every row's call awaited concurrently, at
    most ``limit`` at once (the node's ``max_concurrency``; None: no limit), the results in
    row order; the first exception raised is raised. The script runs each run of rows on an
    event loop of its own (``asyncio.run``: a Daft thread runs no loop); the engine binds
    this name to hotpipe's event loop (one per process, as its executor awaits nodes)."""
    import asyncio
    import itertools

    rows = list(itertools.islice(zip(*columns, strict=False), n)) if columns else [()] * n

    async def one(sem: Any, args: tuple) -> Any:
        if sem is None:
            return await func(*args)
        async with sem:
            return await func(*args)

    async def every() -> list:
        sem = asyncio.Semaphore(limit) if limit else None
        return list(await asyncio.gather(*(one(sem, args) for args in rows)))

    return asyncio.run(every())


def index_column(n: int) -> Any:
    """The index column's values: a numpy range when numpy is there (Daft takes it without
    a per-row conversion: ~1 ms for 1,000,000 rows against ~130 ms for a list)."""
    try:
        import numpy as np
    except ImportError:
        return list(range(n))
    return np.arange(n, dtype=np.int64)


def row_runs(index: Any) -> list[tuple[int, int]]:
    """The contiguous runs ``(first, stop)`` of a batch's row numbers, read from Arrow.

    A batch holds distinct rows; when they span exactly ``max - min + 1`` values (Daft's
    usual batch, in any order) they are one run, found without a Python object per row.
    Otherwise they are sorted and cut where they jump.
    """
    import pyarrow.compute as pc

    arr = index.to_arrow()
    if len(arr) == 0:
        return []
    bounds = pc.min_max(arr)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if hi - lo + 1 == len(arr):
        return [(lo, hi + 1)]
    rows = sorted(arr.to_pylist())
    runs: list[tuple[int, int]] = []
    first = prev = rows[0]
    for row in rows[1:]:
        if row != prev + 1:
            runs.append((first, prev + 1))
            first = row
        prev = row
    runs.append((first, prev + 1))
    return runs


def run_query(query: Any, sink: dict, columns: list, shared: list, width: int,
              outputs: list[str], seconds: dict) -> dict:
    """One query of a script that runs a map as several (a nested map exploded into a flat
    query of its inner items): the payload boxed, the query run, its runs of rows taken
    from ``sink`` back in item order; each node's seconds added to ``seconds``. Returns the
    query's output columns by name."""
    query([[columns, shared, width]])
    runs = [sink.pop(first) for first in sorted(sink)]
    for run in runs:
        for k, wall in enumerate(run[3].wall):
            seconds[k] = seconds.get(k, 0.0) + wall
    return {name: [v for run in runs for v in run[2][j]] for j, name in enumerate(outputs)}
