"""``@node(vectorize="numpy" | "jax")``: a function of one item called once per batch.

``numpy``: the function is called on the batch's columns as numpy arrays (a broadcast value
as itself). Whether that is the same as calling it per item is not something code can be
trusted to say, so it is measured: the first batch of a map compares one call on the first
``SAMPLE`` items with one call per item (an array of one result per item, the same shape
and kind, equal values; floats within ``RTOL``). When they agree the node is called on
whole batches from then on; when they do not (an ``if`` on a value, ``math.sqrt``, a
reduction), it is called per item, and the map warns once with a
:class:`~hotpipe.errors.VectorizeWarning` naming the reason. The decision is kept per plan
(:class:`hotpipe._state.Vectorizing`) and reported in the profile's notes.

``jax``: ``jax.jit(jax.vmap(f))``, mapped over the per-item arguments (broadcast values
passed once). A batch is padded (with copies of its last item) to one of a few sizes,
powers of 4 from 16 up to the batch size, so a map compiles at most a handful of times
whatever the lengths of its chunks; each compilation is counted and timed apart
(``Stats.counters``: ``"jit compiles"``, ``"jit seconds"``), never as item time. JAX keeps
its own precision: float32 unless ``jax_enable_x64`` is on (then the sample check uses
float32's tolerance and the note says so). Results come back as numpy arrays.

Prefetch: ``prefetch=n`` batches are sliced and converted (with JAX on a GPU or TPU, also
``jax.device_put``) on a helper thread while the current one computes (:func:`prefetched`).
The default is 1 for JAX on an accelerator, else 0: on the CPU a helper thread only
competes with the computation (measured: slower on the 2-core reference machine).
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator
from itertools import repeat
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._batch import JAX_BATCH, MAPPED, REPEATED, BatchCall
from hotpipe._state import Tuning, Vectorizing
from hotpipe._values import short_repr

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotpipe.plan import Plan, Step
    from hotpipe.profile.stats import Stats

__all__ = ["JAX_BATCH", "SAMPLE", "prefetched", "vector_call", "vector_notes"]

SAMPLE = 16
"""Items of the first batch checked against one call per item."""
RTOL = 1e-12
"""Relative tolerance of the check for float64 results (float32: ``RTOL32``)."""
RTOL32 = 1e-5
SMALLEST_BUCKET = 16


def vector_call(step: Step, k: int, ctx: Any, tuning: Tuning) -> BatchCall:
    """The batch call of a ``vectorize=`` step in this chunk."""
    decision = tuning.vector.get(k)
    if decision is None:
        decision = tuning.vector.setdefault(k, Vectorizing(step.node.vectorize or "numpy"))
    cls = _JaxCall if decision.mode == "jax" else _NumpyCall
    return cls(step, k, ctx.stats, decision)


class _NumpyCall(BatchCall):
    """Calls the node's function on numpy arrays, checked against per-item calls first.

    A batch goes through ``prepare`` (converting the columns; it may run ahead, on the
    prefetch thread) and then ``run`` (the check, the call).
    """

    def __init__(self, step: Step, k: int, stats: Stats, decision: Vectorizing) -> None:
        self.step, self.k, self.stats, self.decision = step, k, stats, decision
        self.func = step.func
        self.prefetch = step.node.prefetch or 0

    def __call__(self, args: tuple[Any, ...], per_item: tuple[int, ...]) -> Any:
        return self.run(args, per_item, self.prepare(args, per_item))

    def prepare(self, args: tuple[Any, ...], per_item: tuple[int, ...]) -> Any:
        """The arguments of one call: columns as arrays, a broadcast value as itself."""
        if self.decision.ok is False:
            return None
        import numpy as np

        return [np.asarray(a) if kind == MAPPED else a[0] if kind == REPEATED else a
                for a, kind in zip(args, per_item, strict=True)]

    def run(self, args: tuple[Any, ...], per_item: tuple[int, ...], prepared: Any) -> Any:
        self.setup = 0.0
        decision = self.decision
        m = _length(args, per_item)
        if decision.ok is None:
            if m < 2:  # one item says nothing about arrays: decide on a later batch
                return per_item_calls(self.func, args, per_item)
            self.check(args, per_item, m)
        if not decision.ok or prepared is None:
            return per_item_calls(self.func, args, per_item)
        out = self.compute(prepared, m, per_item)
        if not any(kind == MAPPED and type(a) is not list
                   for a, kind in zip(args, per_item, strict=True)):
            return out.tolist()  # lists came in: Python values go out, in a list
        return out

    def compute(self, prepared: list[Any], m: int, per_item: tuple[int, ...]) -> Any:
        return self.func(*prepared)

    def check(self, args: tuple[Any, ...], per_item: tuple[int, ...], m: int) -> None:
        """Decide on the first ``SAMPLE`` items: one call on arrays vs one per item."""
        s = min(m, SAMPLE)
        head = tuple(a[:s] if kind == MAPPED else a for a, kind in zip(args, per_item,
                                                                        strict=True))
        expected = per_item_calls(self.func, head, per_item)  # a failing item fails as usual
        try:
            got = self.compute(self.prepare(head, per_item), s, per_item)
        except Exception as exc:
            reason = (f"calling it once on arrays of {s} items raised "
                      f"{type(exc).__name__}: {exc}")
        else:
            reason = mismatch(got, expected, s, self.tolerance(got))
        self.decision.reason = reason or self.verified(s)
        self.decision.ok = reason is None

    def tolerance(self, got: Any) -> float:
        return RTOL

    def verified(self, s: int) -> str:
        return f"checked on {s} items: equal to one call per item"


def _length(args: tuple[Any, ...], per_item: tuple[int, ...]) -> int:
    return next(len(a) for a, kind in zip(args, per_item, strict=True) if kind == MAPPED)


def per_item_calls(func: Callable[..., Any], args: tuple[Any, ...],
                   per_item: tuple[int, ...]) -> list[Any]:
    """One call per item, with the items a singular node sees (``list(array)``'s)."""
    cols = [a if kind else repeat(a) for a, kind in zip(args, per_item, strict=True)]
    return list(map(func, *cols))


def mismatch(got: Any, expected: list[Any], s: int, rtol: float) -> str | None:
    """Why one call on arrays did not give the per-item results, or None when it did."""
    import numpy as np

    if type(got) is not np.ndarray:
        return (f"calling it once on arrays of {s} items returned a {type(got).__name__}, "
                f"not an array of {s} results")
    try:
        want = np.asarray(expected)
    except Exception:  # ragged per-item results: no array holds them
        return "its per-item results do not form an array (different shapes)"
    if got.shape != want.shape:
        return (f"calling it once on arrays of {s} items returned shape {got.shape}, but "
                f"the per-item results form shape {want.shape}")
    if got.dtype.kind != want.dtype.kind and {got.dtype.kind, want.dtype.kind} != {"f", "i"}:
        return (f"calling it once on arrays gave dtype {got.dtype}, but one call per item "
                f"gives {want.dtype}")
    if _equal(got, want, rtol):
        return None
    bad = next((j for j in range(s) if not _equal(got[j:j + 1], want[j:j + 1], rtol)), 0)
    return (f"calling it once on arrays differs from one call per item: item {bad} gave "
            f"{short_repr(got[bad])} instead of {short_repr(expected[bad])}")


def _equal(got: Any, want: Any, rtol: float) -> bool:
    import numpy as np

    try:
        if np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"):
            return True
        if got.dtype.kind in "fc" or want.dtype.kind in "fc":
            scale = float(np.max(np.abs(want))) if want.size else 0.0
            return bool(np.allclose(got, want, rtol=rtol, atol=rtol * scale, equal_nan=True))
    except Exception:  # values numpy cannot compare
        return False
    return False


# ----------------------------------------------------------------------------- JAX


_JITTED: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_JIT_LOCK = threading.Lock()


def bucket(m: int, size: int) -> int:
    """The padded length of a batch of ``m`` items: the smallest power of 4 from 16 up
    that holds it, or the batch ``size`` itself."""
    b = SMALLEST_BUCKET
    while b < m:
        b *= 4
    return min(b, max(size, m))


def _accelerated() -> bool:
    """JAX's default device is an accelerator (GPU, TPU), not the CPU."""
    import jax

    return jax.default_backend() != "cpu"


class _JaxCall(_NumpyCall):
    """``jax.jit(jax.vmap(f))`` over batches padded to a few sizes, compiled ahead of the
    call and timed apart."""

    def __init__(self, step: Step, k: int, stats: Stats, decision: Vectorizing) -> None:
        super().__init__(step, k, stats, decision)
        self.device = _accelerated()
        default = 1 if self.device else 0  # on the CPU a helper thread only competes
        self.prefetch = default if step.node.prefetch is None else step.node.prefetch
        self.size = step.node.batch_size or JAX_BATCH

    def prepare(self, args: tuple[Any, ...], per_item: tuple[int, ...]) -> Any:
        """Arrays padded to the batch's bucket and put on the device (ahead, when
        prefetched)."""
        prepared = super().prepare(args, per_item)
        if prepared is None:
            return None
        import jax
        import numpy as np

        m = _length(args, per_item)
        b = bucket(m, self.size)
        out = []
        for p, kind in zip(prepared, per_item, strict=True):
            if kind == MAPPED:
                if b > m:  # pad with the last item: no division by zero, no NaN
                    p = np.concatenate([p, np.repeat(p[-1:], b - m, axis=0)])
                if self.device:  # to the GPU now (ahead of the call, when prefetched)
                    p = jax.device_put(p)
            out.append(p)
        return out

    def compute(self, prepared: list[Any], m: int, per_item: tuple[int, ...]) -> Any:
        import numpy as np

        fn = self.compiled(prepared, per_item)
        return np.asarray(fn(*prepared))[:m]

    def compiled(self, prepared: list[Any], per_item: tuple[int, ...]) -> Callable[..., Any]:
        """The executable for these argument shapes: compiled once per process, the
        compilation counted and timed apart (``self.setup``)."""
        import jax

        key = tuple((getattr(p, "shape", None), str(getattr(p, "dtype", type(p))), kind)
                    for p, kind in zip(prepared, per_item, strict=True))
        with _JIT_LOCK:
            table = _JITTED.setdefault(self.step, {})
            fn = table.get(key)
        if fn is not None:
            return fn
        axes = tuple(0 if kind == MAPPED else None for kind in per_item)
        t = perf_counter()
        fn = jax.jit(jax.vmap(self.func, in_axes=axes)).lower(*prepared).compile()
        seconds = perf_counter() - t
        self.setup += seconds
        self.stats.count(self.k, "jit compiles")
        self.stats.count(self.k, "jit seconds", seconds)
        with _JIT_LOCK:
            table[key] = fn
        return fn

    def tolerance(self, got: Any) -> float:
        return RTOL32 if got.dtype.itemsize <= 4 else RTOL

    def verified(self, s: int) -> str:
        import jax

        x64 = jax.config.read("jax_enable_x64")
        precision = "" if x64 else " (within float32's precision: jax_enable_x64 is off)"
        return f"checked on {s} items: equal to one call per item{precision}"


# ----------------------------------------------------------------------------- prefetch


def prefetched(batches: Iterator[Any], prepare: Callable[[Any], Any],
               ahead: int) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """``(batch, prepare(batch), error)`` in order, preparing up to ``ahead`` batches on a
    helper thread while the caller computes; with ``ahead=0``, in the caller."""
    if ahead <= 0:
        for batch in batches:
            try:
                yield batch, prepare(batch), None
            except Exception as exc:
                yield batch, None, exc
        return
    done = object()
    q: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def work() -> None:
        try:
            for batch in batches:
                try:
                    item = (batch, prepare(batch), None)
                except Exception as exc:
                    item = (batch, None, exc)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # the batches themselves failed: hand it over
            q.put((done, None, exc))
            return
        q.put((done, None, None))

    thread = threading.Thread(target=work, name="hotpipe-prefetch-batch", daemon=True)
    thread.start()
    try:
        while True:
            batch, prepared, exc = q.get()
            if batch is done:
                if exc is not None:
                    raise exc
                return
            yield batch, prepared, exc
    finally:
        stop.set()
        thread.join()


# ----------------------------------------------------------------------------- notes


def vector_notes(plan: Plan, stats: Stats) -> list[str]:
    """The profile's notes on the batch and ``vectorize=`` steps of a map: the batch size
    chosen and the measured curve behind it, whether each vectorised step runs per batch and
    its compilations (and the one warning per plan when a step fell back to per item)."""
    steps = [s for s in plan.rows if s.mapped and s.nested is None
             and (s.batch is not None or s.node.vectorize is not None)]
    if not steps:
        return []
    from hotpipe._state import state_of

    tuning = state_of(plan).tuning
    notes = [note for step in steps for arrays in (False, True)
             if (note := _size_note(step, tuning, arrays))]
    for step in steps:
        if step.node.vectorize is None:
            continue
        decision = tuning.vector.get(step.slot)
        if decision is None or decision.ok is None:
            continue
        mode = decision.mode
        if decision.ok:
            text = (f"vectorize: node {step.name!r} called once per batch ({mode}); "
                    f"{decision.reason}")
        else:
            text = (f"vectorize: node {step.name!r} called once per item: "
                    f"vectorize={mode!r} fell back because {decision.reason}")
            if not decision.warned:
                decision.warned = True
                _warn(step, decision)
        compiles = stats.counters.get((step.slot, "jit compiles"), 0)
        if mode == "jax" and decision.ok:
            seconds = stats.counters.get((step.slot, "jit seconds"), 0.0)
            text += (f"; {int(compiles)} compilation(s) in this map, {seconds:.3g} s "
                     "(one-off, not counted as item time)")
        notes.append(text)
    return notes


def _size_note(step: Step, tuning: Tuning, arrays: bool) -> str | None:
    """The note on the step's batch size over arrays or over lists (learned apart)."""
    sizing = (tuning.array_batch if arrays else tuning.batch).get(step.slot)
    if sizing is None:
        return None
    what = f"batch size: node {step.name!r}" + (" over arrays" if arrays else "")
    if step.node.batch_size is not None or (step.node.vectorize == "jax" and not sizing.curve):
        return f"{what}: {sizing.size:,} items per call (fixed)"
    how = "settled by measurement" if sizing.done else "still being measured"
    curve = ", ".join(f"{size:,}: {rate:.3g}" for size, rate in sizing.curve)
    return (f"{what}: {sizing.size:,} items per call ({how}"
            + (f"; items/s by size {curve}" if curve else "") + ")")


def _warn(step: Step, decision: Vectorizing) -> None:
    import warnings

    from hotpipe.errors import VectorizeWarning

    warnings.warn(
        f"node {step.name!r}: vectorize={decision.mode!r} fell back to one call per item "
        f"because {decision.reason}. The results are right, only slower. Fix: write it with "
        "array operations (np.where instead of if, np.sqrt instead of math.sqrt), or drop "
        "vectorize=.",
        VectorizeWarning,
        stacklevel=6,  # the map(...) call: pipeline, engine, loop, notes, here
    )
