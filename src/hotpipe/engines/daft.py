"""``Daft``: a map as one Daft query, on Daft's native runner or on Ray.

The engine is an adapter of the one scheduling loop (:func:`hotpipe.schedule.run_map`): the
broadcast steps run once in the driver, and the mapped items become one Daft DataFrame with an
index column. Every per-item step of the plan runs *fused* in one ``@daft.func.batch`` UDF:
each batch of rows crosses from Rust to Python once and goes through hotpipe's column executor
(``job.runner.columns``: node by node, ``list.extend(map(func, *columns))``), never one
crossing per row and node. So values, failures (``NodeError`` with the item index and the
original type), nested maps, resources, batch nodes, async nodes and the cache behave exactly
as on ``Local``. Results are put back in item order from the index column (Ray returns rows
out of order). The query itself (the ``@daft.cls`` UDF with its options, the index column,
the collect) is written as text by :mod:`hotpipe.engines._daft_query`, compiled and run; the
text is in the profile's ``daft plan:`` note.

Daft fixes its runner once per process: ``Daft(runner="ray")`` calls ``daft.set_runner_ray``
(joining ``address`` when given) the first time it runs, and a process that already runs
Daft on the other runner gets an ``InputError`` saying so.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from time import perf_counter
from typing import Any

from hotpipe._arrays import append_column, finish_column, from_items, is_array
from hotpipe.engines.base import Engine
from hotpipe.errors import InputError, NodeError, WorkerDied
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats
from hotpipe.schedule import NO_PROBE, Job, Probe, chunk_stats

__all__ = ["INSTALL", "Daft", "require_daft"]

INSTALL = "pip install 'hotpipe[daft]'  (or: pip install daft 'ray[default]')"
_RUNNERS = ("native", "ray")
_CHOSEN: dict[str, str] = {}  # the Daft runner this process uses, once chosen
_LOCK = threading.Lock()
_KEPT: dict[str, Any] = {}  # resource declarations kept alive in a worker (insertion order)
_KEEP_MAX = 16
_ATTEMPTS: dict[str, Any] = {}  # Ray: this process's attempt ledger (an actor) and its name
WORKER_DEATHS = 2
"""Ray: how many times a worker may die on the same run of items. Daft and Ray retry the
task after a death; the attempt after this many reports ``WorkerDied`` instead of running
the items again, so a node that kills its worker every time fails the map in seconds."""


class MissingDaft(InputError, ImportError):
    """Daft (or Ray) is not installed: the message gives the install command."""


def require_daft(what: str = "daft") -> Any:
    """Import ``daft`` (or ``ray``), or raise a hotpipe error naming the install command."""
    try:
        if what == "ray":
            import ray

            return ray
        import daft

        return daft
    except ImportError as exc:
        raise MissingDaft(
            f"hotpipe.Daft needs the optional dependency {what!r}, which is not installed "
            f"({exc}). Install it with: {INSTALL}"
        ) from exc


class Daft(Engine):
    """Run each map as one Daft query: ``runner="native"`` (this process, Daft's threads) or
    ``runner="ray"`` (a local Ray started on first use, or the cluster at ``address``).

    ``batch_size`` is the rows per batch UDF call (default: Daft's morsel size; a fixed size
    on a column of Python objects costs Daft a re-chunking, measured ~2.5 us per row);
    ``partitions`` splits the DataFrame for Ray (default: the cluster's CPUs).
    ``run`` (one item) runs in the caller: a single item gains nothing from a query.
    """

    name = "daft"
    wants_probe = False
    window = 1  # one Daft query at a time; Daft parallelises inside it

    def __init__(self, runner: str = "native", address: str | None = None,
                 batch_size: int | None = None, partitions: int | None = None) -> None:
        if runner not in _RUNNERS:
            raise InputError(f"Daft(runner={runner!r}): choose one of {list(_RUNNERS)}.")
        if address is not None and runner != "ray":
            raise InputError(f"Daft(address={address!r}) joins a Ray cluster: use "
                             "Daft(runner='ray', address=...).")
        for label, value in (("batch_size", batch_size), ("partitions", partitions)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"Daft({label}={value!r}): must be an int >= 1 or None.")
        self.runner = runner
        self.address = address
        self.batch_size = batch_size
        self.partitions = partitions
        self.workers = os.cpu_count() or 1
        self._last: dict[str, Any] = {}

    @property
    def stream_chunk(self) -> int:
        return 65_536

    # ------------------------------------------------------------------ the runner

    def _daft(self) -> Any:
        daft = require_daft()
        if self.runner == "ray":
            require_daft("ray")
        with _LOCK:
            chosen = _CHOSEN.get("runner")
            if chosen is None:
                try:
                    if self.runner == "ray":
                        daft.set_runner_ray(address=self.address)
                    else:
                        daft.set_runner_native()
                    chosen = self.runner
                except Exception:  # Daft code of the caller's already chose the runner
                    chosen = daft.get_or_infer_runner_type()
                _CHOSEN["runner"] = chosen
            if chosen != self.runner:
                raise InputError(
                    f"Daft(runner={self.runner!r}): this process already runs Daft on the "
                    f"{chosen!r} runner, and Daft fixes its runner once per process. Use "
                    f"Daft(runner={chosen!r}) here, or run the other in a subprocess."
                )
        return daft

    # ------------------------------------------------------------------ adapter protocol

    def plan_chunks(self, job: Job, probe: Probe, rest: int, notes: list[str]) -> int | None:
        return max(rest, 1)  # the whole map is one query; Daft splits it into batches

    def prepare(self, job: Job, probe: Probe) -> Any:
        return self._daft()

    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(self._query(handle, job, start, stop))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def run_map(self, plan: Plan, columns: dict[str, list[Any]], scalars: dict[str, Any],
                n: int, on_error: str, on_progress: Any = None, runner: Any = None,
                broadcast: Any = None, offset: int = 0) -> Any:
        self._last = {}
        outcome = super().run_map(plan, columns, scalars, n, on_error, on_progress, runner,
                                  broadcast, offset)
        if self._last:
            last = self._last
            outcome.notes.append(
                f"daft: {int(last['rows']):,} items as one Daft query on the {self.runner} "
                f"runner: {int(last['batches'])} batch UDF call(s) of the fused plan "
                f"({int(last['steps'])} per-item step(s)), {last['query'] * 1e3:.3g} ms in "
                f"the query of which {last['overhead'] * 1e3:.3g} ms Daft's own overhead "
                "(query time minus the time inside the UDF)"
            )
            outcome.notes.append(
                "daft plan: broadcast steps "
                f"{[s.name for s in plan.steps if not s.mapped]} ran once in the driver; "
                "the generated query below was compiled and run (the last one, for imap):\n"
                + last["text"]
            )
        return outcome

    # ------------------------------------------------------------------ one query

    def _query(self, daft: Any, job: Job, start: int, stop: int
               ) -> tuple[dict[str, list[Any]], Stats]:
        from hotpipe.engines._daft_query import compile_query, query_source

        n = stop - start
        plan = job.plan
        remote = self.runner == "ray"
        watch = self._watch() if remote else None
        payload = (plan, job.chunk(start, stop), job.bc, job.runner, job.on_error,
                   job.offset + start, plan.outputs, watch)

        # On native the batches' results go straight into ``sink`` (this process, arrays
        # as arrays) and the UDF hands Daft its own index column back, which the query
        # collects as Arrow: no Python object per row crosses Daft either way (a list index
        # and a collected column of zeros cost ~0.25 s per 1,000,000 rows). On Ray they come
        # back through Daft as one Python object per row, and a row is a block of items
        # (``block``; on native a row is one item and Daft chooses the batches).
        sink: dict[int, Any] = {}
        names = [s.name for s in plan.steps if s.mapped]
        text = query_source(runner=self.runner, n=n, names=names, hints=_hints(plan),
                            batch_size=self.batch_size,
                            block=self._block(n) if remote else None,
                            partitions=self._partitions(n) if remote else None)
        query = compile_query(text, {"unbox": _unbox, "run_batch": _run_batch,
                                     "row_runs": _row_runs, "index_column": _index,
                                     "sink": sink})
        # Daft keeps a query's UDF class and its arguments after the query: the map's values
        # travel in a box emptied when the query is done (else every map's inputs and
        # results stayed alive, and Python's full collections walked them: measured 0.65 s
        # per collection after six maps of 1,000,000 items)
        box: list | bytearray = bytearray(packed(payload)) if remote else [payload]
        try:
            t0 = perf_counter()
            result = query(box)
            took = perf_counter() - t0
        finally:
            box.clear()
            if watch is not None:
                _ATTEMPTS["ledger"].forget.remote(watch[1])
        if not remote:
            result = list(sink.values())
            sink.clear()
        columns, stats = self._gather(job, n, result, took)
        self._last["text"] = text
        return columns, stats

    def _block(self, n: int) -> int:
        """Ray: items per row of the query, ``batch_size`` or about four rows per partition,
        so that Daft handles a few Python objects, not one per item (~0.25 us each)."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, -(-n // (4 * self._partitions(n))))

    def _partitions(self, n: int) -> int:
        return self.partitions or max(1, min(n, self.workers))

    def _watch(self) -> tuple[str, str]:
        """Ray: the name of this process's attempt ledger (started on first use) and a new
        query id, so that a worker dying on the same items again and again ends the map
        with ``WorkerDied`` (see :func:`_run_batch`) instead of being retried forever."""
        import uuid

        ray = require_daft("ray")
        with _LOCK:
            if "ledger" not in _ATTEMPTS:
                if not ray.is_initialized():  # what Daft's Ray runner would do: it reuses it
                    ray.init(address=self.address)
                name = f"hotpipe-attempts-{uuid.uuid4().hex}"
                _ATTEMPTS["ledger"] = ray.remote(num_cpus=0)(_Attempts).options(
                    name=name).remote()
                _ATTEMPTS["name"] = name
        return _ATTEMPTS["name"], uuid.uuid4().hex

    def _gather(self, job: Job, n: int, result: list[Any], query: float
                ) -> tuple[dict[str, list[Any]], Stats]:
        plan = job.plan
        stats = chunk_stats(plan, NO_PROBE)
        stats.chunks = 0
        runs: list[tuple[int, dict[str, Any]]] = []
        failure: tuple[int, BaseException] | None = None
        deaths: list[tuple[int, int, int]] = []  # Ray: runs that workers kept dying on
        spans: list[tuple[float, float]] = []
        batches = 0
        for row in result:
            if row is None:  # a row inside a run: its values came with the run's first row
                continue
            a, b, produced, (kind, payload, span) = row
            batches += 1
            spans.append(span)
            if kind == "stats":
                stats.merge(payload)
                runs.append((a, {k: _Items.unpack(v) for k, v in produced.items()}))
            elif kind == "died":
                deaths.append((a, b, payload))
            elif failure is None or a < failure[0]:
                failure = (a, payload)
        if deaths:
            raise _worker_died(plan, job.offset, sorted(deaths))
        if failure is not None:
            if isinstance(failure[1], NodeError):
                from hotpipe.engines.processes import _reraise

                _reraise(failure[1])  # with the original exception as its cause
            raise failure[1]
        runs.sort(key=lambda run: run[0])
        columns: dict[str, Any] = {name: [] for name in plan.outputs}
        for _, produced in runs:  # in row order; array columns concatenated once
            for name, col in columns.items():
                columns[name] = append_column(col, produced[name])
        columns = {name: finish_column(col) for name, col in columns.items()}
        self._last = {"rows": n, "batches": batches, "query": query,
                      "overhead": max(0.0, query - _covered(spans, self.runner == "native")),
                      "steps": sum(1 for s in plan.steps if s.mapped),
                      "names": [s.name for s in plan.steps if s.mapped]}
        return columns, stats


class _Items:
    """A list column of numpy items (scalars of one type, rows of one shape) carried from a
    Ray worker as one array: pickling 1,000,000 ``np.float64`` objects one by one took 7 s
    here, the array 0.2 s. The driver gets the same list back (``list(array)``: the same
    items ``Local`` has)."""

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    @staticmethod
    def pack(column: Any) -> Any:
        if is_array(column):
            return column
        column = list(column)
        array = from_items(column) if column and type(column[0]).__module__ == "numpy" \
            else column
        return _Items(array) if array is not column else column

    @staticmethod
    def unpack(column: Any) -> Any:
        return list(column.array) if type(column) is _Items else column


def _covered(spans: list[tuple[float, float]], one_clock: bool) -> float:
    """Seconds inside the UDF: on the native runner the union of the runs' spans (Daft runs
    batches on several threads at once: their sum would exceed the query), on Ray the sum
    of their lengths (each worker has its own clock)."""
    if not one_clock:
        return sum(t1 - t0 for t0, t1 in spans)
    total, end = 0.0, float("-inf")
    for t0, t1 in sorted(spans):
        if t1 > end:
            total += t1 - max(t0, end)
            end = t1
    return total


def packed(payload: tuple) -> bytes:
    """The map's payload pickled once, in the driver, before any work starts; what cannot be
    pickled (a node's closure, an input) is named in an ``InputError``."""
    import cloudpickle

    try:
        return cloudpickle.dumps(payload)
    except Exception as exc:
        plan, chunk, bc = payload[0], payload[1], payload[2]
        parts = [(f"node {s.name!r} (its function or what its closure holds)", s.func)
                 for s in plan.steps]
        parts += [(f"mapped input {k!r}", v) for k, v in chunk.items()]
        parts += [(f"broadcast value {k!r}", v) for k, v in bc.values.items()]
        for label, value in parts:
            try:
                cloudpickle.dumps(value)
            except Exception as part_exc:
                raise InputError(
                    f"Daft(runner='ray'): {label} cannot be pickled to send it to the Ray "
                    f"workers ({type(part_exc).__name__}: {part_exc}). Fix: pass plain data, "
                    "or build the object on the worker with hotpipe.resource(factory, ...)."
                ) from part_exc
        raise InputError(f"Daft(runner='ray'): the map cannot be pickled ({exc}).") from exc


def _unbox(box: list | bytearray) -> tuple:
    """The map's payload in a worker: unpickled once there on Ray (pickled once in the
    driver), as it is on native; its resource declarations kept alive in this process."""
    if isinstance(box, bytearray):
        import cloudpickle

        payload = cloudpickle.loads(box)
    else:
        payload = box[0]
    _keep_resources(payload[2])
    return payload


def _keep_resources(bc: Any) -> None:
    """Hold this process's copies of the map's resource declarations past the task.

    A resource is built once per process while a copy of its declaration is alive; Ray
    unpickles the UDF once per partition, and dropping that copy at the end of a task
    would free the built object and rebuild it for the next partition. The last
    ``_KEEP_MAX`` declarations stay alive here instead.
    """
    from hotpipe.resources import Resource

    for value in bc.values.values():
        if type(value) is Resource:
            with _LOCK:
                _KEPT.pop(value.token, None)
                _KEPT[value.token] = value
                while len(_KEPT) > _KEEP_MAX:
                    _KEPT.pop(next(iter(_KEPT)))


def _hints(plan: Plan) -> dict[str, Any]:
    """The nodes' ``cpus``/``gpus`` hints as Daft's UDF options (the largest of the mapped
    steps: they run fused in one UDF)."""
    options: dict[str, Any] = {}
    for key in ("cpus", "gpus"):
        values = [getattr(s.node.hints, key) or 0 for s in plan.steps if s.mapped]
        if values and max(values) > 0:
            options[key] = max(values)
    return options


def _index(n: int) -> Any:
    """The index column's values: a numpy range when numpy is there (Daft takes it without
    a per-row conversion: ~1 ms for 1,000,000 rows against ~130 ms for a list)."""
    try:
        import numpy as np
    except ImportError:
        return list(range(n))
    return np.arange(n, dtype=np.int64)


def _row_runs(index: Any) -> list[tuple[int, int]]:
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


class _Attempts:
    """Ray: an actor counting, per query and run of items, the attempts that started and
    never finished, i.e. the workers that died on them (a run that raises still finishes)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, int], int] = {}

    def start(self, query: str, first: int) -> int:
        died = self.open.get((query, first), 0)
        self.open[(query, first)] = died + 1
        return died

    def finish(self, query: str, first: int) -> None:
        self.open.pop((query, first), None)

    def forget(self, query: str) -> None:
        self.open = {k: v for k, v in self.open.items() if k[0] != query}


_LEDGERS: dict[str, Any] = {}  # in a Ray worker: the ledger actors by name


def _died_before(watch: tuple[str, str], first: int) -> int:
    """Ray: record that this worker starts the run at ``first``; how many workers died on
    it before."""
    import ray

    ledger = _LEDGERS.get(watch[0])
    if ledger is None:
        ledger = _LEDGERS[watch[0]] = ray.get_actor(watch[0])
    return ray.get(ledger.start.remote(watch[1], first))


def _worker_died(plan: Plan, base: int, deaths: list[tuple[int, int, int]]) -> WorkerDied:
    """The error for runs of items (``first, stop, deaths``) that Ray workers kept dying on.
    A worker runs several batches at once, so every run it had started is named: the item
    to blame is in one of them."""
    names = [s.name for s in plan.steps if s.mapped]
    spans = ", ".join(f"{base + a}..{base + b - 1}" for a, b, _ in deaths)
    most = max(died for _, _, died in deaths)
    return WorkerDied(
        f"Daft(runner='ray'): Ray worker processes died {most} times while running items "
        f"{spans} (nodes {names}), so the map stops instead of retrying forever. A crash in "
        "native code, os._exit or the out-of-memory killer can do this. Fix: run those "
        "items with engine=hotpipe.Processes(), which names the item that kills its "
        "worker; results computed and cached before are kept."
    )


def _run_batch(plan: Plan, chunk: dict[str, list[Any]], bc: Any, runner: Any, on_error: str,
               base: int, outputs: tuple[str, ...], watch: tuple[str, str] | None,
               runs: list[tuple[int, int]]) -> list[Any]:
    """One batch UDF call: the fused per-item steps over each contiguous run of its rows.

    Returns one object per run, ``(first, stop, columns, extra)`` with ``extra`` =
    ``("stats", Stats, span)`` or ``("error", NodeError, span)`` (``span``: the run's start
    and end on this process's ``perf_counter``): one Python object per
    run, not per row, crosses back. On Ray (``watch``: the attempt ledger's name and the
    query id) a run that workers died on ``WORKER_DEATHS`` times is not run again: it
    comes back as ``("died", deaths, (0, 0))`` and the driver raises ``WorkerDied``.
    """
    remote = watch is not None
    out: list[Any] = []
    for a, b in runs:
        if watch is not None:
            died = _died_before(watch, a)
            if died >= WORKER_DEATHS:
                out.append((a, b, None, ("died", died, (0.0, 0.0))))
                continue
        t0 = perf_counter()
        stats = chunk_stats(plan, NO_PROBE)
        cols = {k: v[a:b] for k, v in chunk.items()}
        try:
            produced = runner.columns(plan, cols, bc, b - a, base + a, on_error, stats)
        except Exception as exc:
            if remote and isinstance(exc, NodeError):  # to cross a process: picklable
                from hotpipe.engines.processes import _portable

                exc = _portable(exc)
            out.append((a, b, None, ("error", exc, (t0, perf_counter()))))
            if watch is not None:
                _finished(watch, a)
            continue
        if remote:  # pickled back to the driver: numpy items travel as one array
            kept = {name: _Items.pack(produced[name]) for name in outputs}
        else:
            kept = {name: v if is_array(v := produced[name]) else list(v) for name in outputs}
        out.append((a, b, kept, ("stats", stats, (t0, perf_counter()))))
        if watch is not None:
            _finished(watch, a)
    return out


def _finished(watch: tuple[str, str], first: int) -> None:
    _LEDGERS[watch[0]].finish.remote(watch[1], first)  # no need to wait for it
