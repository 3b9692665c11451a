"""``Daft``: a map as one Daft query, on Daft's native runner or on Ray.

The engine is an adapter of the one scheduling loop (:func:`hotpipe.schedule.run_map`): the
broadcast steps run once in the driver, and the mapped items become one Daft DataFrame with an
index column. Every per-item step of the plan runs *fused* in one ``@daft.cls`` batch UDF,
so each batch of rows crosses from Rust to Python once, never once per row and node.

The engine runs the text ``pipe.to_daft()`` writes: :func:`hotpipe.engines._daft_code.
engine_text` generates ``fused_steps`` (the user's functions called by name, node by node,
``y.extend(map(func, *columns))``, one clock line per node) and the query around it; the
engine compiles that text with each function name bound to the node's own function and the
glue names to its own callables (:func:`_run_rows`). A run of rows whose fused code raises
goes on from the failing item through hotpipe's column executor (:func:`_resume`), which
names the item (``NodeError`` with the original type) or collects the failure without
calling it again (a batch, async or nested-map step that raised runs again from its
start). A resource in the text's shared values is hotpipe's, built
once per process (:func:`_fused_run`); an async node's ``gathered`` awaits a run's items on
hotpipe's event loop (:func:`_gathered`). Plans the script does not write (product
nested maps, lambdas, ...: :func:`hotpipe.engines._daft_code.engine_fused`)
run the executor inside the same query (``fused_steps = None`` in the text), and the profile
says which body ran and why. A cached map looks its hits up in the driver and sends only
the misses to Daft, as queries of the plain runner (:mod:`hotpipe.engines._daft_cache`;
a nested map's inner items too: its steps run in the driver, its inner misses as flat
queries). A nested map runs inside the fused UDF, or exploded into one flat query of its
inner items between queries of the steps around it (``nested=``,
:mod:`hotpipe.engines._daft_explode`). Results
are put back in item order from the index column (Ray returns rows out of order). The
text is in the profile's ``daft plan:`` note.

What Daft pickles (a node's function and its closure, a bound, broadcast or mapped value) is
checked before any node runs, and what cannot be pickled is named in an ``InputError``
(:mod:`hotpipe.engines._daft_pickle`).

Daft fixes its runner once per process: ``Daft(runner="ray")`` calls ``daft.set_runner_ray``
(joining ``address`` when given) the first time it runs, and a process that already runs
Daft on the other runner gets an ``InputError`` saying so.
"""

from __future__ import annotations

import copy
import itertools
import os
import threading
from concurrent.futures import Future
from time import perf_counter
from typing import Any

from hotpipe import _oneoff
from hotpipe._arrays import append_column, finish_column, from_items, is_array
from hotpipe._values import FAILED, IMMUTABLE, frozen
from hotpipe.engines._daft_glue import Clock
from hotpipe.engines._daft_glue import index_column as _index
from hotpipe.engines._daft_glue import row_runs as _row_runs
from hotpipe.engines._daft_pickle import BEFORE_ITEMS, Box, check_map, check_outputs, culprit
from hotpipe.engines.base import Engine
from hotpipe.errors import InputError, NodeError, WorkerDied
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats
from hotpipe.resources import resolve
from hotpipe.schedule import NO_PROBE, Job, Probe, chunk_stats

__all__ = ["INSTALL", "Daft", "require_daft"]

INSTALL = "pip install 'hotpipe[daft]'  (or: pip install daft 'ray[default]')"
_RUNNERS = ("native", "ray")
_CHOSEN: dict[str, str] = {}  # the Daft runner this process uses, once chosen
_LOCK = threading.Lock()
_KEPT: dict[str, Any] = {}  # resource declarations kept alive in a worker (insertion order)
_KEEP_MAX = 16
_ATTEMPTS: dict[str, Any] = {}  # Ray: this process's attempt ledger (an actor) and its name
LIVE = " (live)"
"""The key of an output's live column in a cached map's sub-query (see :meth:`Daft._query`);
not a Python name, so no output of a pipeline has it."""
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

    ``batch_size`` is the rows per batch UDF call (default on native: about two batches per
    core, Daft's own size from ``2 * cores * 131,072`` rows on, see
    :func:`hotpipe.engines._daft_query.spread_batch`; on Ray: see ``_block``);
    ``partitions`` splits the DataFrame for Ray (default: the cluster's CPUs).
    ``nested`` is how a nested map runs: ``"inline"`` inside the fused UDF, ``"explode"`` as
    one flat query of its inner items, ``"auto"`` (default) chooses per map
    (:mod:`hotpipe.engines._daft_explode`; the profile's ``daft nested:`` note says which
    and why). ``run`` (one item) runs in the caller: a single item gains nothing from a query.
    """

    name = "daft"
    wants_probe = False
    window = 1  # one Daft query at a time; Daft parallelises inside it

    def __init__(self, runner: str = "native", address: str | None = None,
                 batch_size: int | None = None, partitions: int | None = None,
                 nested: str = "auto") -> None:
        from hotpipe.engines._daft_explode import check_nested

        self.nested = check_nested("Daft", nested)
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
                except Exception as exc:
                    if not isinstance(exc, daft.exceptions.DaftCoreException):
                        self._note_failed_start(exc)  # e.g. no Ray at the address
                        raise
                    # Daft code of the caller's already chose the runner
                    chosen = daft.get_or_infer_runner_type()
                _CHOSEN["runner"] = chosen
            if chosen != self.runner:
                raise InputError(
                    f"Daft(runner={self.runner!r}): this process already runs Daft on the "
                    f"{chosen!r} runner, and Daft fixes its runner once per process. Use "
                    f"Daft(runner={chosen!r}) here, or run the other in a subprocess."
                )
        return daft

    def _note_failed_start(self, exc: Exception) -> None:
        """The runner did not start (none is chosen; a later map tries again): the error
        stays Ray's own (a ``ValueError`` for a malformed address, a ``ConnectionError``
        when no Ray Client answers), with a note naming the address and the forms Ray takes.
        Daft's "Cannot set runner more than once" is its ``DaftCoreException``."""
        if self.runner == "ray":
            exc.add_note(
                f"hotpipe.Daft(runner='ray', address={self.address!r}): Daft's Ray runner did "
                "not start. The address goes to ray.init: the head's GCS address "
                "'HOST:6379' from a machine of the cluster (after `ray start`), "
                "'ray://HOST:10001' for Ray Client, or None for a local Ray "
                "(docs/engines.md, 'On Ray').")

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
        nested_notes: list[str] = []
        daft = self._daft()
        # what the query pickles, before the broadcast steps run (Daft's own check comes
        # when the query is built, after them, and names nothing)
        check_map(self.runner, plan, columns, scalars)
        if runner is not None and runner.cached:
            from hotpipe.engines._daft_cache import cached_map

            if n:  # (a map of no items has nothing to look up)
                outcome = cached_map(self, daft, plan, columns, scalars, n, on_error,
                                     on_progress, runner, broadcast, offset)
                self._notes(plan, outcome)
                return outcome
        elif plan.has_nested and n:
            from hotpipe.engines._daft_explode import exploded_map, nested_note, strategies

            chosen = strategies(plan, columns, n, self.workers, self.nested, self.runner)
            if any(how == "explode" for how, _ in chosen.values()):
                exploded = exploded_map(self, daft, plan, columns, scalars, n,
                                        on_error, on_progress, runner, broadcast, offset,
                                        chosen)
                self._notes(plan, exploded)
                return exploded
            nested_notes = [nested_note(plan.steps[k].name, how, why)
                            for k, (how, why) in chosen.items()]
        outcome = super().run_map(plan, columns, scalars, n, on_error, on_progress, runner,
                                  broadcast, offset)
        outcome.notes.extend(nested_notes)
        self._notes(plan, outcome)
        return outcome

    def _notes(self, plan: Plan, outcome: Any) -> None:
        """The last query's note and its text, for the profile."""
        if self._last:
            last = self._last
            outcome.notes.append(
                f"daft: {int(last['rows']):,} items as one Daft query on the {self.runner} "
                f"runner: {int(last['batches'])} batch UDF call(s) of the fused plan "
                f"({int(last['steps'])} per-item step(s)), {last['query'] * 1e3:.3g} ms in "
                f"the query of which {last['overhead'] * 1e3:.3g} ms Daft's own overhead "
                f"(query time minus the time inside the UDF); the body that ran: "
                f"{last['body']}"
                + (f"; {last['reruns']} run(s) of rows raised in the fused text and ran again "
                   "through hotpipe's column executor (their items were called again)"
                   if last["reruns"] else "")
                + (f"; {last['resumed']} run(s) of rows raised in the fused text and ran on "
                   "from the failing item through hotpipe's column executor (no item was "
                   "called twice)" if last.get("resumed") else "")
            )
            outcome.notes.append(
                "daft plan: broadcast steps "
                f"{[s.name for s in plan.steps if not s.mapped]} ran once in the driver; "
                "the generated text below (`fused_steps` and the query, as pipe.to_daft "
                "writes it) was compiled and run (the last one, for imap):\n"
                + last["text"]
            )

    # ------------------------------------------------------------------ one query

    def _query(self, daft: Any, job: Job, start: int, stop: int,
               live: frozenset[str] | None = None, suffix: str = ""
               ) -> tuple[dict[str, list[Any]], Stats]:
        """One query of ``job``'s items ``start..stop``: its output columns and counters.
        ``live`` (a cached map's sub-query, :mod:`hotpipe.engines._daft_cache`): each output
        a later step reads comes back as its node returned it (``kept``), and those of them
        named in ``live`` also as live columns, keyed ``name + LIVE``."""
        from hotpipe.engines import _daft_query as generated
        from hotpipe.engines._daft_code import engine_fused, engine_text

        n = stop - start
        plan = job.plan
        remote = self.runner == "ray"
        watch = self._watch() if remote else None
        chunk = job.chunk(start, stop)
        fused, why = engine_fused(plan, job.bc, live)
        if fused is not None and job.runner.cached:  # (a cached map of no items)
            fused, why = None, "a cache (the cached runner looks up and writes each item)"
        if fused is not None and any(is_array(v) for v in chunk.values()):
            fused, why = None, "an array input (the executor keeps array columns)"
        signature = (fused.mapped, fused.shared, fused.live) if fused is not None else None
        outputs, runner = plan.outputs, job.runner
        if live is not None:  # a cached map's sub-query: values kept as produced
            from hotpipe.engines._daft_cache import KeptRunner
            from hotpipe.engines._daft_code import read_later

            extra = [o for o in plan.outputs if o in read_later(plan) and o in live]
            outputs = (*plan.outputs, *(name + LIVE for name in extra))
            runner = KeptRunner(job.runner, frozenset(extra))  # the executor's, step by step
        # on Ray the items travel in the query's rows, a block per row, so that a worker gets
        # the items of its own rows only; the payload holds what every row needs
        payload = (plan, {} if remote else chunk, job.bc, runner, job.on_error,
                   job.offset + start, outputs, watch, signature)

        # On native the batches' results go straight into ``sink`` (this process, arrays
        # as arrays) and the UDF hands Daft its own index column back, which the query
        # collects as Arrow: no Python object per row crosses Daft either way (a list index
        # and a collected column of zeros cost ~0.25 s per 1,000,000 rows). On Ray they come
        # back through Daft as one Python object per row, and a row is a block of items
        # (``block``; on native a row is one item and Daft chooses the batches).
        sink: dict[int, Any] = {}
        text = engine_text(plan, fused, n=n, runner=self.runner,
                           batch_size=self.batch_size,
                           block=self._block(n) if remote else None,
                           partitions=self._partitions(n) if remote else None, why=why,
                           suffix=suffix)
        named = _functions(plan) if fused is not None else {}
        query = generated.compile_query(text, {**named, "unbox": _unbox,
                                               "run_rows": _run_rows, "row_runs": _row_runs,
                                               "gathered": _gathered,
                                               "index_column": _index, "sink": sink,
                                               "kept": kept}, suffix)
        # Daft keeps a query's UDF class and its arguments after the query: the map's values
        # travel in a box emptied when the query is done (else every map's inputs and
        # results stayed alive, and Python's full collections walked them: measured 0.65 s
        # per collection after six maps of 1,000,000 items); on native a Box that Daft's
        # check pickles as a reference (its parts were checked: ``check_map``)
        if not remote:
            check_outputs(self.runner, plan, job.bc.values)
        box: list | bytearray = bytearray(packed(payload)) if remote else Box([payload])
        blocks = _blocks(chunk, n, self._block(n), payload) if remote else None
        try:
            t0 = perf_counter()
            try:
                result = query(box, blocks) if remote else query(box)
            except ValueError as exc:  # Daft's check_serializable: say what and how to fix
                error = culprit(self.runner, plan, chunk, job.bc.values,
                                job.offset + start, BEFORE_ITEMS) \
                    if "must be serializable" in str(exc) else None
                if error is None:
                    raise
                raise error from error.__cause__
            took = perf_counter() - t0
        finally:
            box.clear()
            if watch is not None:
                _ATTEMPTS["ledger"].forget.remote(watch[1])
        if not remote:
            result = list(sink.values())
            sink.clear()
        columns, stats = self._gather(job, n, result, took, outputs)
        self._last["text"] = text
        self._last["body"] = ("the fused text (`fused_steps`, the to_daft script's)"
                              if fused is not None else f"hotpipe's column executor ({why})")
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

    def _gather(self, job: Job, n: int, result: list[Any], query: float,
                outputs: tuple[str, ...]) -> tuple[dict[str, list[Any]], Stats]:
        plan = job.plan
        stats = chunk_stats(plan, NO_PROBE)
        stats.chunks = 0
        runs: list[tuple[int, dict[str, Any]]] = []
        failure: tuple[int, BaseException] | None = None
        deaths: list[tuple[int, int, int]] = []  # Ray: runs that workers kept dying on
        spans: list[tuple[float, float]] = []
        batches = reruns = resumed = 0
        for row in result:
            if row is None:  # a row inside a run: its values came with the run's first row
                continue
            a, b, produced, (kind, payload, span, again) = row
            batches += 1
            reruns += again == 1
            resumed += again == 2
            spans.append(span)
            if kind == "stats":
                stats.merge(payload)
                runs.append((a, {k: _Items.unpack(v) for k, v in produced.items()}))
            elif kind == "died":
                deaths.append((a, b, payload))
            elif failure is None or a < failure[0]:
                failure = (a, payload)
        if deaths:
            died = _worker_died(plan, job.offset, sorted(deaths))
            died.kept = runs  # type: ignore[attr-defined]  # the runs that finished
            raise died
        if failure is not None:
            if isinstance(failure[1], NodeError):
                from hotpipe.engines.processes import _reraise

                _reraise(failure[1])  # with the original exception as its cause
            raise failure[1]
        runs.sort(key=lambda run: run[0])
        columns: dict[str, Any] = {name: [] for name in outputs}
        for _, produced in runs:  # in row order; array columns concatenated once
            for name, col in columns.items():  # (a live column not copied: the output's)
                part = produced.get(name)
                columns[name] = append_column(
                    col, produced[name[:-len(LIVE)]] if part is None else part)
        columns = {name: finish_column(col) for name, col in columns.items()}
        self._last = {"rows": n, "batches": batches, "query": query, "reruns": reruns,
                      "resumed": resumed,
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
    """Ray: the map's payload pickled once, in the driver, before its items run; what cannot
    be pickled (a node's closure, an input) is named in an ``InputError``
    (:func:`hotpipe.engines._daft_pickle.culprit`; ``Daft.run_map`` checked it before any
    node ran)."""
    import cloudpickle

    try:
        return cloudpickle.dumps(payload)
    except Exception as exc:
        plan, chunk, bc = payload[0], payload[1], payload[2]
        error = culprit("ray", plan, chunk, bc.values, payload[5], BEFORE_ITEMS)
        if error is not None:
            raise error from error.__cause__
        raise InputError(
            f"Daft(runner='ray'): the map cannot be pickled to send it to the Ray workers "
            f"({type(exc).__name__}: {exc}), though each of its functions, values and items "
            "can (hotpipe's runner or plan cannot: a cache store?). Fix: run it with "
            "engine=hotpipe.Threads(), and report this with the pipeline."
        ) from exc


def _blocks(chunk: dict[str, Any], n: int, block: int, payload: tuple) -> list[bytes]:
    """Ray: the items of each row of the query (``block`` items, the last one shorter), as
    the mapped columns' slices pickled in the driver; an input that cannot be pickled is
    named (:func:`packed`) before any work starts."""
    import cloudpickle

    try:
        return [cloudpickle.dumps({k: v[a:a + block] for k, v in chunk.items()})
                for a in range(0, n, block)]
    except Exception:
        packed((*payload[:1], chunk, *payload[2:]))  # raises the InputError naming it
        raise


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


def _worker_died(plan: Plan, base: int, deaths: list[tuple[int, int, int]],
                 where: list[int] | None = None) -> WorkerDied:
    """The error for runs of items (``first, stop, deaths``: positions in the query) that
    Ray workers kept dying on. A worker runs several batches at once, so every run it had
    started is named: the item to blame is in one of them. Items are named by their index
    in the map: ``base + position``, or ``where[position]`` (a cached map's query of some
    of its items). The error keeps ``deaths``."""
    names = [s.name for s in plan.steps if s.mapped]
    spans = ", ".join(_spans(where[a:b] if where is not None else range(base + a, base + b))
                      for a, b, _ in deaths)
    most = max(died for _, _, died in deaths)
    died = WorkerDied(
        f"Daft(runner='ray'): Ray worker processes died {most} times while running items "
        f"{spans} (nodes {names}), so the map stops instead of retrying forever. A crash in "
        "native code, os._exit or the out-of-memory killer can do this. Fix: run those "
        "items with engine=hotpipe.Processes(), which names the item that kills its "
        "worker; results computed and cached before are kept."
    )
    died.deaths = deaths  # type: ignore[attr-defined]
    return died


def _spans(indices: Any) -> str:
    """Increasing item indices as ranges: ``3..5, 9..9``."""
    found: list[list[int]] = []
    for i in indices:
        if found and found[-1][1] == i - 1:
            found[-1][1] = i
        else:
            found.append([i, i])
    return ", ".join(f"{a}..{b}" for a, b in found)


def _functions(plan: Plan) -> dict[str, Any]:
    """The names the fused text calls, bound to the nodes' own functions."""
    from hotpipe.engines._daft_code import _all_steps

    found: dict[str, Any] = {}
    for step in _all_steps(plan):
        if step.nested is None:
            for func in (step.node.func, step.node.batch_func):
                if func is not None:
                    found[func.__name__] = func
    return found


def _run_rows(fused_steps: Any, payload: tuple, runs: list[tuple[int, int]],
              blocks: list[bytes] | None = None) -> list[Any]:
    """One batch UDF call: ``fused_steps`` (the generated text) over each contiguous run of
    its rows, or hotpipe's column executor (``runner.columns``) where the text is None or
    raised on the run: then the executor runs the run again and names the failing item.

    Returns one object per run, ``(first, stop, columns, extra)`` with ``extra`` =
    ``("stats", Stats, span, again)`` or ``("error", NodeError, span, again)`` (``span``:
    the run's start and end on this process's ``perf_counter``; ``again``: 1 when the
    executor reran a run the fused text raised on): one Python object per run, not per
    row, crosses back. On Ray (``watch``: the attempt ledger's name and the query id) a run
    that workers died on ``WORKER_DEATHS`` times is not run again: it comes back as
    ``("died", deaths, (0, 0), 0)`` and the driver raises ``WorkerDied``. On Ray a run is
    one row, whose items come in ``blocks`` (pickled in the driver), not in the payload.
    """
    plan, chunk, bc, runner, on_error, base, outputs, watch, signature = payload
    remote = watch is not None
    out: list[Any] = []
    for j, (a, b) in enumerate(runs):
        if watch is not None:
            died = _died_before(watch, a)
            if died >= WORKER_DEATHS:
                out.append((a, b, None, ("died", died, (0.0, 0.0), 0)))
                continue
        t0 = perf_counter()
        cols, lo = (chunk, a) if blocks is None else (_loads(blocks[j]), 0)
        produced, stats, stopped = (None, None, None) if fused_steps is None else _fused_run(
            fused_steps, plan, cols, bc, signature, lo, lo + b - a)
        resume = stopped is not None and _resumable(runner)
        # 1: the run's items (from the step that raised on) ran again through the executor;
        # 2: it resumed at the item that raised, none called twice
        again = 0 if fused_steps is None or produced is not None else \
            2 if resume and stopped.index is not None else 1
        if produced is None:
            cols = {k: v[lo:lo + b - a] for k, v in cols.items()}
            try:
                if resume:  # from where the text stopped: no item is called twice
                    stats = stopped.stats
                    produced = _resume(plan, cols, bc, runner, on_error, base + a, b - a,
                                       stopped)
                else:
                    stats = chunk_stats(plan, NO_PROBE)
                    produced = runner.columns(plan, cols, bc, b - a, base + a, on_error,
                                              stats)
            except Exception as exc:
                if remote and isinstance(exc, NodeError):  # to cross a process: picklable
                    from hotpipe.engines.processes import _portable

                    exc = _portable(exc)
                out.append((a, b, None, ("error", exc, (t0, perf_counter()), again)))
                if watch is not None:
                    _finished(watch, a)
                continue
        names = [name for name in outputs if name in produced]  # (live: where copied)
        if remote:  # pickled back to the driver: numpy items travel as one array
            back = {name: _Items.pack(produced[name]) for name in names}
        else:
            back = {name: v if is_array(v := produced[name]) else list(v) for name in names}
        out.append((a, b, back, ("stats", stats, (t0, perf_counter()), again)))
        if watch is not None:
            _finished(watch, a)
    return out


def _loads(data: bytes) -> Any:
    import cloudpickle

    return cloudpickle.loads(data)


def _fused_run(fused_steps: Any, plan: Plan, chunk: dict[str, list[Any]], bc: Any,
               signature: tuple[list[str], list[str], list[str]], a: int, b: int
               ) -> tuple[dict[str, Any] | None, Stats | None, Any]:
    """Rows ``a..b`` through the fused text: the outputs (a batch node's array as its
    items: the map's inputs are lists, so ``Local`` gives lists), the counters read from
    the run's clock, and None; when the text raised, ``(None, None, stopped)``, where it
    stopped (:class:`_Stopped`, or None when that cannot be read)."""
    mapped, shared, live = signature
    noted = _oneoff.NOTED
    clock = Clock(plan.width)
    try:
        # a resource is built here on the first run in this process (hotpipe's, once per
        # process, under its lock), before the clock starts: a one-off, not a node's time
        values = [resolve(bc.values[name]) for name in shared]
        values = fused_steps(clock, b - a, *[chunk[name][a:b] for name in mapped], *values)
    except Exception as exc:
        stopped = _Stopped.read(exc, fused_steps, plan, bc, b - a)
        if stopped is not None:
            stopped.stats = chunk_stats(plan, NO_PROBE)
            if noted != _oneoff.NOTED:
                stopped.stats.one_off(_oneoff.take(noted))
            if stopped.index and stopped.t is not None:  # its items before the failing one
                clock(plan.steps[stopped.k].slot, stopped.index, stopped.t)
            _clock_stats(plan, clock, stopped.stats)  # the steps that ran before it
        return None, None, stopped
    if any(_short(v, b - a) for v in values):
        # a node raised StopIteration, which ends a map() silently: the executor runs the
        # run again and names that item (hotpipe.execute.stop_iteration)
        return None, None, None
    stats = chunk_stats(plan, NO_PROBE)
    if noted != _oneoff.NOTED:
        stats.one_off(_oneoff.take(noted))
    _clock_stats(plan, clock, stats)
    m = len(plan.outputs)
    out = {name: v if type(v) is list else list(v)
           for name, v in zip(plan.outputs, values, strict=False)}
    for name, v in zip(live, values[m:], strict=True):  # a live column that was not copied
        if v is not values[plan.outputs.index(name)]:  # is the output's own: sent once
            out[name + LIVE] = v if type(v) is list else list(v)
    return out, stats, None


class _Stopped:
    """Where the fused text raised on a run of ``n`` rows: step ``k`` (of ``plan.steps``)
    raised at item ``index`` (None: a step that produces its column at once, a batch node
    or a nested map, which then runs again from its start), ``exc``; ``done``: the
    columns of the steps before it, complete, and ``partial``: its own items before the
    failing one. Read from the text's frame in the traceback, as the executor reads its
    own (:func:`hotpipe.execute.item_failure`)."""

    __slots__ = ("done", "exc", "index", "k", "partial", "stats", "t")

    @classmethod
    def read(cls, exc: BaseException, fused_steps: Any, plan: Plan, bc: Any, n: int
             ) -> _Stopped | None:
        from hotpipe.engines._daft_code import _namer, _resources, rows_name

        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not fused_steps.__code__:
            tb = tb.tb_next
        if tb is None:
            return None
        local = tb.tb_frame.f_locals
        var = _namer(plan, _resources(bc.values))
        done: dict[str, Any] = {}
        for k, step in enumerate(plan.steps):
            if not step.mapped:
                continue
            names = [var(o) for o in step.outputs]
            if all(name in local and _sized(local[name], n) for name in names):
                done.update((o, local[name]) for o, name in zip(step.outputs, names,
                                                                strict=True))
                continue
            stopped = cls()
            stopped.k, stopped.exc, stopped.done = k, exc, done
            stopped.index = stopped.partial = None
            stopped.t = local.get("t")  # when the step started (the text's clock reading)
            plain = (step.nested is None and step.batch is None and not step.node.is_batch
                     and step.node.vectorize is None and not step.node.is_async)
            got = local.get(rows_name(names[0]), local.get(names[0]))
            if plain and type(got) is list and len(got) < n:
                stopped.index, stopped.partial = len(got), got
            return stopped
        return None


def _short(col: Any, n: int) -> bool:
    """A column of fewer than ``n`` items (a per-item step's ``map()`` stopped early)."""
    return type(col) is list and len(col) < n


def _sized(col: Any, n: int) -> bool:
    try:
        return len(col) == n
    except TypeError:
        return False


def _resumable(runner: Any) -> bool:
    """Whether a run that raised in the fused text can resume where it stopped: not in a
    cached map's sub-query, whose executor keeps values step by step (``KeptRunner``)."""
    from hotpipe.engines._daft_cache import KeptRunner

    return not isinstance(runner, KeptRunner)


def _resume(plan: Plan, cols: dict[str, Any], bc: Any, runner: Any, on_error: str,
            base: int, n: int, stopped: _Stopped) -> dict[str, Any]:
    """The rest of a run whose fused text raised, through hotpipe's column executor, as
    ``Local`` runs it: the failing item named (``on_error="raise"``: raised) or collected
    with the original exception, never called again; the failing step over the items after
    it; the later steps over every item (those whose arguments failed are skipped)."""
    from hotpipe.engines._daft_cache import sub_plan
    from hotpipe.execute import Chunk

    stats = stopped.stats
    chunks = stats.chunks
    k, i = stopped.k, stopped.index
    step = plan.steps[k]
    values = {**cols, **stopped.done}
    start = k
    if i is not None:
        args = tuple(values[a][i] if a in values else bc.values[a] for a in step.args)
        Chunk(base, on_error, stats, set()).fail(step, i, args, stopped.exc)
        rest: dict[str, Any] = {o: [] for o in step.outputs}
        if i + 1 < n:
            one = sub_plan(plan, [k])
            rest = runner.columns(one, {a: values[a][i + 1:] for a in one.inputs
                                        if a in one.mapped}, bc, n - i - 1, base + i + 1,
                                  on_error, stats)
        tuples = step.unpack or len(step.outputs) > 1  # the partial results are tuples
        for j, o in enumerate(step.outputs):
            col = [r[j] for r in stopped.partial] if tuples else list(stopped.partial)
            col.append(FAILED)
            col.extend(rest[o])
            values[o] = col
        start = k + 1
    after = [j for j in range(start, len(plan.steps)) if plan.steps[j].mapped]
    if after:
        sub = sub_plan(plan, after)
        checked = copy.copy(bc)
        checked.broken = True  # an item that failed above is skipped, not called
        values.update(runner.columns(sub, {a: values[a] for a in sub.inputs
                                           if a in sub.mapped}, checked, n, base,
                                     on_error, stats))
    stats.chunks = chunks  # one run: the chunk its clock counted
    return {name: values[name] if name in values else [bc.values[name]] * n
            for name in plan.outputs}


_FROZEN = IMMUTABLE | {tuple, frozenset}


def kept(column: Any) -> Any:
    """A step's column as its node returned it, for the cache, before a later step of the
    same query can mutate its values (the text's ``x_kept = kept(x)``, a cached map only).

    The column itself when every value is of an immutable builtin type (or a tuple or
    frozenset of those): nothing can change it, and checking costs one ``type`` per value
    in C. Otherwise a copy by a pickle round trip (what the cache does to the value
    anyway); a value that cannot be pickled stays live (the cache drops it, as it would)."""
    if type(column) is list:
        types = set(map(type, column))
        if types <= IMMUTABLE or (types <= _FROZEN and all(
                frozen(v) for v in column if type(v) is tuple or type(v) is frozenset)):
            return column
    from hotpipe.cache import serialize

    try:
        return serialize.loads(serialize.dumps(column))
    except Exception:  # some value cannot be pickled: copy the others one by one
        return [_copied(v) for v in column]


def _copied(value: Any) -> Any:
    from hotpipe.cache import serialize

    if frozen(value):
        return value
    try:
        return serialize.loads(serialize.dumps(value))
    except Exception:
        return value


def _gathered(func: Any, limit: int | None, n: int, *columns: Any) -> list[Any]:
    """The engine's ``gathered`` (the text's async node): the run's rows awaited on
    hotpipe's event loop (one per process, :mod:`hotpipe._aio`), ``limit`` at once, as the
    column executor awaits a chunk; the first failing row's exception is raised (the run
    then runs again through the executor, which names the item)."""
    from hotpipe._aio import gather_items

    rows = list(itertools.islice(zip(*columns, strict=False), n)) if columns else [()] * n
    out = []
    for _, value, exc, _ in gather_items(func, enumerate(rows), limit):
        if exc is not None:
            raise exc
        out.append(value)
    return out


def _clock_stats(plan: Plan, clock: Clock, stats: Stats) -> None:
    """A run's clock as hotpipe's counters, the way the column executor reports a chunk:
    ``step_done`` per node (a nested map's own share: its time minus its inner nodes'), and
    its items in the per-item sample at the run's mean (as a timed block: none alone)."""
    from hotpipe.engines._daft_code import _all_steps

    inner = {s.slot: s.nested.slots for s in _all_steps(plan) if s.nested is not None}
    for k in plan.mapped_slots():
        items = clock.items[k]
        if not clock.calls[k] and not items:
            continue
        wall, cpu = clock.wall[k], clock.cpu[k]
        for j in inner.get(k, ()):
            wall -= clock.wall[j]
            cpu -= clock.cpu[j]
        stats.step_done(k, clock.calls[k], items, clock.first[k], clock.last[k], cpu, wall)
        if items:
            stats.record_block(k, min(items, stats.sample), max(wall, 0.0) / items)
    stats.chunks += 1


def _finished(watch: tuple[str, str], first: int) -> None:
    _LEDGERS[watch[0]].finish.remote(watch[1], first)  # no need to wait for it
