"""Execute a plan: one item through generated straight-line code, or columns of items.

These two executors are the reference semantics every engine reuses. ``run`` compiles the
plan into one Python function (no loop, no dict per node, one clock read per node); a failure
is located afterwards from the traceback's line number, so the happy path pays nothing for it.
A map runs node by node over a chunk of items with ``list.extend(map(func, *columns))``, the
same C loop a hand-written comprehension uses, and reads the clock once per node per chunk.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice, repeat
from time import perf_counter
from typing import Any, NamedTuple

from hotpipe.errors import NodeError
from hotpipe.plan import Plan, Step

__all__ = ["FAILED", "ItemError", "Stats", "compile_item_function", "run_columns"]

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4
_short.maxlevel = 2


class _Failed:
    """The value held by an item that failed (``map(..., on_error="collect")``)."""

    _instance: _Failed | None = None

    def __new__(cls) -> _Failed:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FAILED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "FAILED"


FAILED = _Failed()


class ItemError(NamedTuple):
    """One failed item of a map: its index, the node that raised, and the exception."""

    index: int
    node: str
    exception: BaseException


@dataclass
class Stats:
    """Running counters per step, O(1) per node per chunk (or per node per ``run``)."""

    calls: list[int]
    wall: list[float]
    errors: list[ItemError] = field(default_factory=list)

    @classmethod
    def empty(cls, steps: int) -> Stats:
        return cls([0] * steps, [0.0] * steps)

    def merge(self, other: Stats) -> None:
        for i, (c, w) in enumerate(zip(other.calls, other.wall, strict=True)):
            self.calls[i] += c
            self.wall[i] += w
        self.errors.extend(other.errors)


def describe_inputs(step: Step, values: tuple[Any, ...]) -> str:
    """``x=1, y='a'``: a short repr of a node's arguments for error messages."""
    names = [a.rsplit(".", 1)[-1] for a in step.args]
    return ", ".join(f"{n}={_short.repr(v)}" for n, v in zip(names, values, strict=False)) or "-"


def _unpack_error(step: Step, value: Any) -> ValueError:
    n = len(step.outputs)
    return ValueError(
        f"node {step.name!r} declares {n} outputs {list(step.outputs)} and must return a "
        f"tuple of {n} values, but returned {type(value).__name__}: {_short.repr(value)}"
    )


# ----------------------------------------------------------------------------- one item


def compile_item_function(plan: Plan) -> Callable[[dict[str, Any], list[float]], dict]:
    """Generate ``f(inputs, wall) -> outputs`` running the plan's steps in order.

    Each step is one source line, so a traceback's ``tb_lineno`` identifies the step.
    """
    namespace: dict[str, Any] = {"_clock": perf_counter}
    local: dict[str, str] = {}
    lines = ["def run_item(_inputs, _wall):"]
    for i, name in enumerate(plan.inputs):
        local[name] = f"i{i}"
        lines.append(f"    i{i} = _inputs[{name!r}]")
    for i, (name, value) in enumerate(plan.constants.items()):
        local[name] = f"c{i}"
        namespace[f"c{i}"] = value
    lines.append("    _t0 = _clock()")
    first_step_line = len(lines) + 1
    for k, step in enumerate(plan.steps):
        namespace[f"f{k}"] = step.func
        outs = [f"v{k}_{j}" for j in range(len(step.outputs))]
        local.update(zip(step.outputs, outs, strict=True))
        target = ", ".join(outs) + ("," if step.unpack and len(outs) == 1 else "")
        call = f"f{k}({', '.join(local[a] for a in step.args)})"
        lines.append(
            f"    {target} = {call}; _t1 = _clock(); _wall[{k}] += _t1 - _t0; _t0 = _t1"
        )
    result = ", ".join(f"{o!r}: {local[o]}" for o in plan.outputs)
    lines.append(f"    return {{{result}}}")
    source = "\n".join(lines) + "\n"
    filename = f"<hotpipe plan {plan.pipeline_name}>"
    exec(compile(source, filename, "exec"), namespace)
    func = namespace["run_item"]
    func.first_step_line = first_step_line  # type: ignore[attr-defined]
    func.local_names = local  # type: ignore[attr-defined]
    return func


def item_failure(plan: Plan, func: Callable[..., Any], exc: BaseException) -> BaseException:
    """Turn an exception escaping the generated function into a :class:`NodeError`.

    Returns ``exc`` itself when it did not come from a step (e.g. KeyboardInterrupt).
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code is not func.__code__:
        tb = tb.tb_next
    if tb is None or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    k = tb.tb_lineno - func.first_step_line  # type: ignore[attr-defined]
    if not 0 <= k < len(plan.steps):
        return exc
    step = plan.steps[k]
    frame_locals = tb.tb_frame.f_locals
    local = func.local_names  # type: ignore[attr-defined]
    values = tuple(
        frame_locals.get(local[a], plan.constants.get(a)) for a in step.args
    )
    cause = exc
    if tb.tb_next is None and isinstance(exc, (ValueError, TypeError)) and step.unpack:
        # the unpacking in the generated line failed, not the user's function
        cause = _unpack_error(step, "<see traceback>")
        cause.__cause__ = exc
    err = NodeError(step.name, None, describe_inputs(step, values), cause)
    err.__cause__ = cause
    return err


# ----------------------------------------------------------------------------- columns


def _columns_for(step: Step, cols: dict[str, Any], scalars: dict[str, Any]) -> list[Any]:
    return [cols[a] if a in cols else repeat(scalars[a]) for a in step.args]


def _fail(
    step: Step,
    index: int,
    offset: int,
    values: tuple[Any, ...],
    exc: BaseException,
    on_error: str,
    stats: Stats,
) -> None:
    err = NodeError(step.name, offset + index, describe_inputs(step, values), exc)
    if on_error == "raise":
        raise err from exc
    stats.errors.append(ItemError(offset + index, step.name, exc))


def _map_fast(step: Step, argcols: list[Any], n: int, offset: int, on_error: str,
              stats: Stats, failed: set[int]) -> list[Any]:
    """``list(map(func, *columns))``, resuming after the item that raised."""
    out: list[Any] = []
    func = step.func
    while True:
        try:
            out.extend(map(func, *argcols) if not out else
                       map(func, *(_tail(c, len(out)) for c in argcols)))
            return out
        except Exception as exc:
            i = len(out)
            _fail(step, i, offset, _row(argcols, i), exc, on_error, stats)
            failed.add(i)
            out.append(FAILED)
            if i + 1 >= n:
                return out


def _tail(col: Any, start: int) -> Any:
    return col if isinstance(col, repeat) else islice(col, start, None)


def _row(argcols: list[Any], i: int) -> tuple[Any, ...]:
    return tuple(next(iter(c)) if isinstance(c, repeat) else c[i] for c in argcols)


def _map_slow(step: Step, argcols: list[Any], n: int, offset: int, on_error: str,
              stats: Stats, failed: set[int]) -> list[Any]:
    """Item by item, skipping items that failed upstream."""
    out: list[Any] = []
    func = step.func
    rows = zip(*(c if not isinstance(c, repeat) else repeat(next(iter(c)), n)
                 for c in argcols), strict=False) if argcols else repeat((), n)
    for i, row in enumerate(rows):
        if i in failed:
            out.append(FAILED)
            continue
        try:
            out.append(func(*row))
        except Exception as exc:
            _fail(step, i, offset, row, exc, on_error, stats)
            failed.add(i)
            out.append(FAILED)
    return out


def _unpack_one(step: Step, value: Any) -> tuple[Any, ...]:
    try:
        values = tuple(value)
    except TypeError:
        raise _unpack_error(step, value) from None
    if len(values) != len(step.outputs):
        raise _unpack_error(step, value)
    return values


def _split(step: Step, out: list[Any], offset: int, on_error: str, stats: Stats,
           failed: set[int]) -> list[list[Any]]:
    """Unzip a node's tuple results into one column per output."""
    k = len(step.outputs)
    cols: list[list[Any]] = [[] for _ in range(k)]
    for i, value in enumerate(out):
        if value is FAILED and i in failed:
            for c in cols:
                c.append(FAILED)
            continue
        try:
            if len(value) != k:
                raise _unpack_error(step, value)
            for c, v in zip(cols, value, strict=True):
                c.append(v)
        except (TypeError, ValueError) as exc:
            cause = exc if "must return a tuple" in str(exc) else _unpack_error(step, value)
            _fail(step, i, offset, (), cause, on_error, stats)
            failed.add(i)
            for c in cols:
                c.append(FAILED)
    return cols


def run_broadcast(
    plan: Plan, scalars: dict[str, Any], n: int, offset: int, on_error: str, stats: Stats
) -> tuple[dict[str, Any], bool]:
    """Run the steps that depend on broadcast values only, once for all items.

    Returns the scalar values (inputs, constants, and these steps' outputs) and whether a
    step failed (then, with ``on_error="collect"``, every item is recorded as failed).
    """
    vals = dict(scalars)
    broken = False
    for k, step in enumerate(plan.steps):
        if step.mapped:
            continue
        t0 = perf_counter()
        args = tuple(vals[a] for a in step.args)
        try:
            if broken and any(v is FAILED for v in args):
                raise _Skip
            result = step.func(*args)
            results = _unpack_one(step, result) if step.unpack else (result,)
        except _Skip:
            results = (FAILED,) * len(step.outputs)
        except Exception as exc:
            if on_error == "raise":
                raise NodeError(step.name, None, describe_inputs(step, args), exc) from exc
            stats.errors.extend(ItemError(offset + i, step.name, exc) for i in range(n))
            broken = True
            results = (FAILED,) * len(step.outputs)
        vals.update(zip(step.outputs, results, strict=True))
        stats.calls[k] += 1
        stats.wall[k] += perf_counter() - t0
    return vals, broken


class _Skip(Exception):
    """Internal: a broadcast step's input failed upstream."""


def run_columns(
    plan: Plan,
    columns: dict[str, list[Any]],
    scalars: dict[str, Any],
    n: int,
    offset: int,
    on_error: str,
    stats: Stats,
    broken: bool = False,
) -> dict[str, list[Any]]:
    """Run the plan's per-item steps over ``n`` items held column-wise.

    ``columns`` hold the mapped inputs (lists of length ``n``); ``scalars`` every broadcast
    value, including the outputs of :func:`run_broadcast`. ``offset`` is the index of the
    first item (for error messages); ``broken`` marks every item as failed upstream.
    Returns the columns of ``plan.outputs``.
    """
    cols = dict(columns)
    failed: set[int] = set(range(n)) if broken else set()
    calls, wall = stats.calls, stats.wall
    for k, step in enumerate(plan.steps):
        if not step.mapped:
            continue
        t0 = perf_counter()
        argcols = _columns_for(step, cols, scalars)
        run = _map_slow if failed else _map_fast
        out = run(step, argcols, n, offset, on_error, stats, failed)
        if step.unpack:
            split = _split(step, out, offset, on_error, stats, failed)
            cols.update(zip(step.outputs, split, strict=True))
        else:
            cols[step.outputs[0]] = out
        calls[k] += n - len(failed) if failed else n
        wall[k] += perf_counter() - t0
    return {name: cols[name] if name in cols else [scalars[name]] * n for name in plan.outputs}
