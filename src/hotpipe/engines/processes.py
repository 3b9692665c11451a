"""``Processes``: chunks of items on a pool of worker processes (loky + cloudpickle).

The plan is pickled with cloudpickle, so lambdas, closures and functions defined in
``__main__`` or a notebook work. It is pickled once per plan and unpickled once per worker
(workers keep the last few plans by token); broadcast values likewise once per map.
Workers are reused across maps and shut down at exit.

Failures keep their meaning across the process boundary: a node's exception comes back as a
:class:`~hotpipe.NodeError` with the original exception (type and message) as its cause and
the worker's traceback as a note; an unpicklable result names the node, the item and the type;
a worker that dies (``os._exit``, a segfault, the OOM killer) is detected, its chunk is rerun
one item per task to find the item that kills it, and the pool is replaced for the next map.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import traceback
import uuid
from concurrent.futures import Future
from time import perf_counter
from typing import Any

from hotpipe import _guard, _oneoff
from hotpipe._state import state_of
from hotpipe.engines.pool import Job, PoolEngine, Probe, check_chunk_size
from hotpipe.errors import (
    InputError,
    ItemError,
    NodeError,
    NodeTimeout,
    RemoteError,
    WorkerDied,
    safe_str,
)
from hotpipe.execute import FAILED
from hotpipe.plan import Plan
from hotpipe.profile.stats import Stats
from hotpipe.resources import Resource

__all__ = ["Processes", "WorkerDied"]

_POOL = {"started": False}  # the loky pool is per process, shared by every engine
_START_SECONDS = 0.4  # measured: starting 2 loky workers takes ~0.4 s on the reference machine
_TASK_SECONDS = 0.001  # round trip of one small task through the pool


class Processes(PoolEngine):
    """Run chunks of a map on ``workers`` processes (default: the number of CPUs).

    Chunks are sized from the per-item cost the probe measured (~50 ms of work each, at least
    4 per worker). A map whose remaining work is too small to pay for pickling and the pool
    runs in-process instead; ``result.profile.notes`` says why. ``chunk_size`` fixes the
    chunk size instead and always uses the pool.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, chunk_size: int | None = None) -> None:
        if workers is not None and (type(workers) is not int or workers < 1):
            raise InputError(f"Processes(workers={workers!r}): must be an int >= 1 or None.")
        self.workers = workers or os.cpu_count() or 1
        self.fixed_chunk = check_chunk_size("Processes", chunk_size)

    def _executor(self) -> Any:
        # loky keeps one reusable pool per process, shared by every Processes engine (an
        # engine asking for another size resizes it)
        _POOL["started"] = True
        return _reusable(self.workers)

    def run_map(self, plan: Plan, columns: dict[str, list[Any]], scalars: dict[str, Any],
                n: int, on_error: str, on_progress: Any = None, runner: Any = None,
                broadcast: Any = None, offset: int = 0) -> Any:
        gpu = [s.name for s in plan.steps if s.mapped and (s.node.hints.gpus or 0) > 0]
        if not gpu:
            return super().run_map(plan, columns, scalars, n, on_error, on_progress, runner,
                                   broadcast, offset)
        # a GPU context does not survive fork and each process would claim the device:
        # nodes that need a GPU run on threads of this process instead
        from hotpipe.engines.threads import Threads

        outcome = Threads(self.workers, self.fixed_chunk).run_map(
            plan, columns, scalars, n, on_error, on_progress, runner, broadcast, offset
        )
        outcome.notes.append(
            f"processes: node(s) {gpu} declare gpus, so this map ran on {self.workers} "
            "threads of this process (a GPU context cannot be shared with forked workers)"
        )
        return outcome

    # ------------------------------------------------------------------ decisions

    def plan_chunks(self, job: Job, probe: Probe, rest: int, notes: list[str]) -> int | None:
        if self.workers == 1:
            notes.append("processes: 1 worker, ran in-process")
            return None
        if not probe.items:  # no probe (skip_probe): the workers build what the map needs
            size = self.chunk_size(probe, rest, target_seconds=0.05)
            notes.append(f"processes: {rest:,} items in {-(-rest // size)} chunks of {size} "
                         f"on {self.workers} workers")
            return size
        local = rest * probe.per_item
        transfer = _transfer_per_item(job, probe.items) * rest
        size = self.chunk_size(probe, rest, target_seconds=0.05)
        chunks = -(-rest // size)
        start = 0.0 if _POOL["started"] or local >= 0.2 else _START_SECONDS
        pool = local / self.workers + transfer + start + chunks * _TASK_SECONDS / self.workers
        if pool >= 0.9 * local:
            notes.append(
                f"processes: ran in-process: {rest:,} items estimated at {local * 1e3:.3g} ms "
                f"here vs {pool * 1e3:.3g} ms on {self.workers} workers (pickling "
                f"{transfer / max(rest, 1) * 1e6:.3g} us per item)"
            )
            return None
        notes.append(
            f"processes: {rest:,} items in {chunks} chunks of {size} on {self.workers} workers"
        )
        return size

    def skip_probe(self, job: Job) -> str | None:
        """A map reading a resource this process has not built starts on the workers: a
        probe here would build it once more than the workers do (a model loaded three
        times on two workers)."""
        if self.workers == 1:
            return None
        values = [*job.bc.values.values(), *job.plan.constants.values()]
        unbuilt = [v.name for v in values if type(v) is Resource and not v.built]
        if not unbuilt:
            return None
        return (f"the workers build resource(s) {unbuilt}, the caller builds none of them")

    # ------------------------------------------------------------------ pool protocol

    def prepare(self, job: Job, probe: Probe) -> Any:

        token, plan_bytes = _pickled_plan(job.plan)
        scalars = (uuid.uuid4().hex, _dumps_broadcast(job))
        fresh = not _POOL["started"]  # this map starts the workers: they note their start
        return token, plan_bytes, scalars, probe, fresh

    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future:

        token, plan_bytes, (s_token, s_bytes), probe, fresh = handle
        cols = _dumps_columns(job.chunk(start, stop), job.offset + start)
        stats = self.chunk_stats(job.plan, probe)
        ticks = None
        if job.ticks is not None:
            from hotpipe._ticks import first_slice

            first = first_slice(probe.per_item)
            slot = job.ticks.slot(start) if first < stop - start else None
            ticks = None if slot is None else (job.ticks.path, slot, first)
        args = (token, plan_bytes, s_token, s_bytes, cols, job.offset + start, stop - start,
                job.on_error, stats.sample, stats.slow, ticks, fresh)
        try:
            return self._executor().submit(_worker, *args)
        except _terminated():
            # a worker died (running another chunk) between taking the pool and submitting
            # to it: loky gives a new pool now; that chunk's own future reports the death
            try:
                return self._executor().submit(_worker, *args)
            except _terminated() as exc:  # collect() finds the item, one task per item
                fut: Future = Future()
                fut.set_exception(exc)
                return fut

    def progress_ticks(self, starts: list[int]) -> Any:
        from hotpipe._ticks import SharedTicks

        return SharedTicks(starts)

    def collect(self, fut: Future, handle: Any, job: Job, start: int,
                stop: int) -> tuple[dict[str, list[Any]], Stats]:
        try:
            payload = fut.result()
        except NodeError as err:
            _reraise(err)
        except _terminated() as exc:
            return self._isolate(handle, job, start, stop, exc)
        return _loads_result(job, payload)

    def _isolate(self, handle: Any, job: Job, start: int, stop: int,
                 exc: BaseException) -> tuple[dict[str, list[Any]], Stats]:
        """A worker died in this chunk: rerun it one item per task to find the item."""
        stats = Stats.empty(job.plan.width, sample=0)
        produced: dict[str, list[Any]] = {name: [] for name in job.plan.outputs}
        for i in range(start, stop):
            try:
                values, item_stats = self.collect_one(handle, job, i)
            except _terminated() as dead:
                node, died = _why_died(job, i, exc, dead)
                err = NodeError(node, job.offset + i, _describe_row(job, i), died)
                if job.on_error == "raise":
                    raise err from died
                stats.failed(ItemError(job.offset + i, node, died, (job.offset + i,)))
                values = {name: [FAILED] for name in job.plan.outputs}
            else:
                stats.merge(item_stats)
            for name, col in produced.items():
                col.extend(values[name])
        return produced, stats

    def collect_one(self, handle: Any, job: Job, i: int) -> tuple[dict[str, list[Any]], Stats]:
        try:
            payload = self.submit(handle, job, i, i + 1).result()
        except NodeError as err:
            _reraise(err)
        return _loads_result(job, payload)

    def abort(self) -> None:
        if not _POOL["started"]:
            return
        _reusable(self.workers).shutdown(wait=False, kill_workers=True)
        _POOL["started"] = False

    def close(self) -> None:
        """Shut the worker processes down (they restart when a map needs them again).

        The pool is shared by every ``Processes`` engine of this process."""
        if _POOL["started"]:
            _reusable(self.workers).shutdown(wait=True)
            _POOL["started"] = False

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Processes(workers={self.workers})"


def _why_died(job: Job, i: int, first: BaseException,
              dead: BaseException) -> tuple[str, BaseException]:
    """The node to blame and the error for item ``i``, whose worker died running it alone:
    the watchdog of a call past its ``timeout`` (exit code ``TIMEOUT_EXIT``), or a crash."""
    timed = [s for s in job.plan.rows if s.node.timeout is not None]
    said = str(dead)
    if timed and (f"EXIT({_guard.TIMEOUT_EXIT})" in said or "SIGVTALRM" in said):
        step = timed[0] if len(timed) == 1 else None
        limit = step.node.timeout if step else max(s.node.timeout or 0 for s in timed)
        names = step.name if step else " or ".join(repr(s.name) for s in timed)
        return (step.name if step else "(worker process)",
                NodeTimeout(names, limit, f" and did not return to Python (stuck in native "
                            f"code) {_guard.HARD_KILL_AFTER:g} s later: its worker process "
                            "was killed and replaced"))
    return "(worker process)", WorkerDied(
        f"the worker process died while running item {job.offset + i} "
        f"({first.__class__.__name__}); "
        "a crash in native code, os._exit or the out-of-memory killer can do this"
    )
def _reusable(workers: int) -> Any:
    """loky's reusable pool with hotpipe's arguments (the same ones every time: other
    arguments would make loky replace the pool). Workers are started with
    :func:`_watch_parent`, so they exit soon after this process dies, however it dies."""
    from loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=600,
                                 initializer=_watch_parent, initargs=(os.getpid(),))


def _loads_result(job: Job, payload: bytes) -> tuple[dict[str, list[Any]], Stats]:
    """A worker's outputs and counters; what it learned is merged into this process."""
    produced, stats, tuning = pickle.loads(payload)
    state_of(job.plan).tuning.merge(tuning)
    if stats.errors:  # on_error="collect": the failed items' exceptions, re-created here
        stats.errors = [e._replace(exception=_land(e.exception, note=True))
                        for e in stats.errors]
    return produced, stats


def _terminated() -> tuple[type[BaseException], ...]:
    """The errors that mean a worker process died (imported when a map needs them)."""
    from concurrent.futures.process import BrokenProcessPool

    from loky.process_executor import TerminatedWorkerError

    return (BrokenProcessPool, TerminatedWorkerError)


def _reraise(err: NodeError) -> None:
    note = getattr(err, "remote_traceback", None)
    landed = _land(err.error)
    if landed is not err.error:  # the original exception, re-created: its own message
        err = NodeError(err.node, err.index, err.inputs, landed, err.path)
    if note:
        err.add_note("Traceback in the worker process:\n" + note)
    raise err from err.error


def _land(exc: BaseException, note: bool = False) -> BaseException:
    """The exception a worker shipped (:func:`_ship`), re-created as itself when its pickle
    loads here, else the :class:`RemoteError` standing in for it. ``note``: add the worker's
    traceback to it (a collected item's exception has no NodeError to carry it)."""
    if not isinstance(exc, RemoteError):
        return exc
    blob = exc.__dict__.pop("pickled", None)
    landed: BaseException = exc
    if blob is not None:
        try:
            original = pickle.loads(blob)
        except Exception:  # anything its __init__/__setstate__ raises: keep the stand-in
            original = None
        if isinstance(original, BaseException):
            landed = original
    if note and exc.traceback:
        with contextlib.suppress(Exception):
            landed.add_note("Traceback in the worker process:\n" + exc.traceback)
    return landed


def _transfer_per_item(job: Job, items: int) -> float:
    """Seconds per item to pickle a chunk's inputs and outputs (measured on the probe's
    inputs; outputs are assumed to cost as much again, times the number of outputs)."""
    if not items:
        return 0.0
    sample = job.chunk(0, items)
    import cloudpickle  # imported before timing: the first import costs ~0.1 s, once

    cloudpickle.dumps(None)
    t = perf_counter()
    _dumps_columns(sample, 0)
    inputs = perf_counter() - t
    # pickled here, unpickled there, and the outputs the other way
    return (inputs * 2 * (1 + len(job.plan.outputs)) / max(1, len(sample))) / items


def _dumps_broadcast(job: Job) -> bytes:
    """cloudpickle the broadcast values (resources travel as declarations)."""
    import cloudpickle

    try:
        return cloudpickle.dumps((job.bc, job.runner))
    except Exception as exc:
        for name, value in job.bc.values.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                raise InputError(
                    f"Processes: the input {name!r} is a {type(value).__qualname__} that "
                    f"cannot be sent to worker processes ({exc}). Fix: declare it with "
                    "hotpipe.resource(factory, *args) so each worker builds its own, or run "
                    "this map with engine=hotpipe.Threads()."
                ) from None
        raise


def _dumps_columns(columns: dict[str, list[Any]], offset: int) -> bytes:
    """cloudpickle the chunk's columns; an item that cannot be sent is an InputError."""
    import cloudpickle

    try:
        return cloudpickle.dumps(columns)
    except Exception as exc:
        for name, col in columns.items():
            for i, value in enumerate(col):
                try:
                    cloudpickle.dumps(value)
                except Exception:
                    raise InputError(
                        f"Processes: item {offset + i} of input {name!r} is a "
                        f"{type(value).__qualname__} that cannot be sent to a worker process "
                        f"({exc}). Fix: run this map with engine=hotpipe.Threads(), or pass "
                        "a description the node can rebuild from (a path, a "
                        "hotpipe.resource(...))."
                    ) from None
        raise


def _describe_row(job: Job, i: int) -> str:
    return ", ".join(f"{k}={v[i]!r:.60}" for k, v in job.columns.items()) or "-"


# ----------------------------------------------------------------------------- plan pickle

_PICKLED: dict[int, tuple[Plan, str, bytes]] = {}


def _pickled_plan(plan: Plan) -> tuple[str, bytes]:
    """``(token, cloudpickle bytes)`` of a plan, computed once per plan object."""
    cached = _PICKLED.get(id(plan))
    if cached is None or cached[0] is not plan:
        import cloudpickle

        cached = (plan, uuid.uuid4().hex, cloudpickle.dumps(plan))
        if len(_PICKLED) > 64:
            _PICKLED.clear()
        _PICKLED[id(plan)] = cached
    return cached[1], cached[2]


# ----------------------------------------------------------------------------- worker side

WATCH_SECONDS = 0.5
"""How often a worker checks that the process that started it is alive."""


def _watch_parent(parent: int) -> None:
    """Worker initializer: a daemon thread that ends the worker once its parent is gone.

    A parent killed with ``kill -9`` runs no cleanup, and loky's idle workers would wait for
    their 600 s idle timeout, holding the parent's pipes (and keeping loky's resource
    trackers alive, which exit once the last holder of their pipe is gone). When the parent
    dies the worker is re-parented, so ``os.getppid()`` changes: checked every
    ``WATCH_SECONDS``, a cost of two wake-ups a second. (``prctl(PR_SET_PDEATHSIG)`` would
    be immediate, but it fires when the parent *thread* that started the worker exits,
    which loky's manager thread does while the parent lives on.)
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="hotpipe-watch-parent", daemon=True).start()


_PLANS: dict[str, Plan] = {}
_SCALARS: dict[str, Any] = {}


def _remember(cache: dict, token: str, data: bytes) -> Any:
    value = cache.get(token)
    if value is None:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        value = cache[token] = pickle.loads(data)
    return value


def _worker(token: str, plan_bytes: bytes, s_token: str, s_bytes: bytes, cols: bytes,
            offset: int, n: int, on_error: str, sample: int,
            slow: frozenset[int], ticks: tuple[str, int, int] | None = None,
            fresh: bool = False) -> bytes:
    """Run one chunk in a worker; return the pickled ``(outputs, stats)``. With ``ticks``
    (a progress counter's file and slot, the first slice's items) the chunk runs in slices
    that count the items they finish (hotpipe._ticks); ``fresh``: the map started this
    pool, so the worker's start-up is a one-off of this map."""
    _guard.IN_WORKER = True  # a call stuck past its timeout may end this process
    plan: Plan = _remember(_PLANS, token, plan_bytes)
    bc, runner = _remember(_SCALARS, s_token, s_bytes)
    columns = pickle.loads(cols)
    stats = Stats.empty(plan.width, sample=sample, slow=slow)
    if fresh and not _STARTED:
        _note_start(stats)
    try:
        bump = None
        if ticks is not None:
            from hotpipe._ticks import shared_bump

            bump = shared_bump(ticks[0], ticks[1])
        if bump is None:
            produced = runner.columns(plan, columns, bc, n, offset, on_error, stats)
        else:
            from hotpipe._ticks import run_with_progress

            def run(a: int, b: int) -> dict[str, list[Any]]:
                return runner.columns(plan, {k: v[a:b] for k, v in columns.items()}, bc,
                                      b - a, offset + a, on_error, stats)

            produced = run_with_progress(plan, run, n, bump, ticks[2])
    except NodeError as err:
        raise _portable(err) from None
    if stats.errors:  # on_error="collect": ship each item's exception so it cannot fail all
        stats.errors = [e._replace(exception=_ship(e.exception)) for e in stats.errors]
    # what this worker learned (batch sizes) goes back with the results
    result = (produced, stats, state_of(plan).tuning)
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        try:
            return cloudpickle.dumps(result)
        except Exception as exc:
            raise _unpicklable(plan, produced, offset, exc) from None


_STARTED: list[float] = []  # this worker's start-up, once noted


def _note_start(stats: Stats) -> None:
    """The first task of a worker that a map started: its start-up (interpreter, imports,
    the plan unpickled) is a one-off of that map, paid while the caller waited."""
    age = _oneoff.process_age()
    if age is None:
        return
    _STARTED.append(age)
    stats.one_offs.append(_oneoff.OneOff(_oneoff.POOL_START, "worker", age, os.getpid(),
                                         threading.get_ident(), inside=False))


def _portable(err: NodeError) -> NodeError:
    """A NodeError that survives pickling, with the worker's traceback as text."""
    tb = "".join(traceback.format_exception(err.error))
    portable = NodeError(err.node, err.index, err.inputs, _ship(err.error, tb), err.path)
    portable.remote_traceback = tb  # type: ignore[attr-defined]
    return portable


def _ship(exc: BaseException, tb: str | None = None) -> RemoteError:
    """What travels back for a node's exception: a :class:`RemoteError` (type name, message,
    traceback text: always picklable) holding the exception's own cloudpickle when it
    round-trips, so the caller re-creates the original (:func:`_land`). An exception that
    cannot be pickled or re-created arrives as the RemoteError, never failing the chunk."""
    import cloudpickle

    if tb is None:
        tb = "".join(traceback.format_exception(exc))
    remote = RemoteError(f"{type(exc).__module__}.{type(exc).__qualname__}", safe_str(exc), tb)
    try:
        blob = cloudpickle.dumps(exc)
        pickle.loads(blob)  # a class whose __init__ takes other arguments fails here
    except Exception:
        blob = None
    remote.pickled = blob  # type: ignore[attr-defined]
    return remote


def _unpicklable(plan: Plan, produced: dict[str, list[Any]], offset: int,
                 exc: Exception) -> NodeError:
    """Name the node, item and type of the first value that cannot be sent back."""
    import cloudpickle

    producer = {o: step for step in plan.steps for o in step.outputs}
    for name, col in produced.items():
        for i, value in enumerate(col):
            try:
                cloudpickle.dumps(value)
            except Exception as item_exc:
                step = producer.get(name)
                why = TypeError(
                    f"output {name!r} of item {offset + i} is a {type(value).__qualname__}, "
                    f"which cannot be pickled to return it from the worker process "
                    f"({item_exc}). Fix: return plain data from the node, or run this "
                    "pipeline with engine=hotpipe.Threads()"
                )
                return NodeError(step.name if step else name, offset + i, "-", why)
    return NodeError("(worker process)", offset, "-", RuntimeError(f"cannot pickle: {exc}"))
