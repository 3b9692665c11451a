"""What a Daft query pickles, checked when the map starts, and named when it cannot be.

Daft pickles a query's UDF class with its arguments (the map's payload: the plan, the mapped
items, the broadcast values): on Ray to send it to the workers, on the native runner only to
check that it could (``check_serializable`` in Daft's ``udf_v2``, when the query is built,
after the broadcast steps ran), and Daft's error names nothing. So the engine checks the
parts itself: :func:`check_map` before any node runs (the nodes' functions, an inner node of
a nested map by its own name, the bound values, the broadcast inputs, the mapped items),
:func:`check_outputs` the broadcast steps' outputs once they exist. :func:`culprit` names
the part of a payload that failed to pickle as a whole (Ray: ``packed``).

The check costs little on big maps: a mapped column is pickled into a writer that keeps
nothing, except a column of builtin immutable items (``IMMUTABLE``, tuples and frozensets of
them) or numpy scalars, whose types are read instead (~11 ms per 1,000,000 items; a column
of numbers is pickled, ~7 ms). On native the payload travels in a :class:`Box` that pickles as a
reference to itself, so Daft's own check no longer pickles every item (it did: ~7 ms per
1,000,000 numbers, ~0.14 s per 1,000,000 strings, ~2.4 s per 1,000,000 numpy scalars): the
items are pickled at most once, here.
"""

from __future__ import annotations

import inspect
import itertools
import pickle
import sys
import weakref
from collections.abc import Iterator
from typing import Any

from hotpipe._arrays import is_array
from hotpipe._values import IMMUTABLE, frozen
from hotpipe.errors import InputError
from hotpipe.plan import Plan

__all__ = ["Box", "check_map", "check_outputs", "culprit"]

_FIX_FUNCTION = (
    "define the function at module level (it is then pickled by reference), create the "
    "object inside the function, or declare it with hotpipe.resource(factory, *args) and "
    "pass it as an input (each worker builds its own)"
)
_FIX_VALUE = (
    "pass plain data the node can build the object from (a path, parameters), or declare "
    "it with hotpipe.resource(factory, *args) so that each worker builds its own"
)
_FIX_HELD = (
    "create the object inside the function, or declare it with hotpipe.resource(factory, "
    "*args) and pass it as an input (each worker builds its own)"
)
_FIX_GENERATOR = "pass list(...) of the generator (a generator cannot be pickled), or "
_PLAIN = IMMUTABLE | {tuple, frozenset}
_NUMBERS = frozenset({int, float, bool, type(None)})
BEFORE_ITEMS = "before the map's items run"


def check_map(runner: str, plan: Plan, columns: dict[str, Any],
              scalars: dict[str, Any]) -> None:
    """Before any node runs: raise the ``InputError`` naming the first node function, bound
    value, broadcast input or mapped item of the map that cannot be pickled."""
    error = culprit(runner, plan, columns, scalars)
    if error is not None:
        raise error


def check_outputs(runner: str, plan: Plan, values: dict[str, Any]) -> None:
    """Once the broadcast steps ran (in the driver), before the query: their outputs."""
    made = _made(plan)
    for name in made.keys() & values.keys():
        exc = _unpicklable(values[name])
        if exc is not None:
            raise _error(runner, f"broadcast value {name!r} (the output of node "
                         f"{made[name]!r}, which ran once in the driver)", "", exc,
                         _fix(values[name]), BEFORE_ITEMS)


def culprit(runner: str, plan: Plan, chunk: dict[str, Any], values: dict[str, Any],
            offset: int = 0, when: str = "before any node runs") -> InputError | None:
    """The error naming the first part of a map's payload that cannot be pickled, or None.

    Cheap parts first: the functions, the bound values, ``values`` (the broadcast values:
    the map's inputs, the broadcast steps' outputs once they ran), then the items of
    ``chunk`` (named by their index in the map: ``offset`` + position)."""
    for label, detail, value, fix in _parts(plan, values, _made(plan)):
        exc = _unpicklable(value)
        if exc is not None:
            held = _holder(value) if inspect.isfunction(value) else None
            if held is not None:  # the value in its closure or globals that fails
                kind, name, bad = held
                detail = f": its {kind} {name!r} is a {_type_name(bad)}"
                fix = _FIX_HELD
            return _error(runner, label, detail, exc, fix, when)
    for name, column in chunk.items():
        found = _bad_item(column)
        if found is not None:
            i, exc = found
            item = column[i]
            return _error(runner, f"mapped input {name!r}", f": its item {offset + i} is a "
                          f"{_type_name(item)}", exc, _fix(item), when)
    return None


def _parts(plan: Plan, values: dict[str, Any], made: dict[str, str]
           ) -> Iterator[tuple[str, str, Any, str]]:
    """``(label, detail, value, fix)`` of the functions, the bound values and ``values``
    (those in ``made`` with the node that made them). A nested map's inner nodes come
    before the nested map itself, whose function (its direct-call form) holds them all:
    the inner node that fails is named."""
    later = []
    for step in _steps(plan):  # an inner node's name is its path: 'outer/inner'
        if step.nested is not None:
            later.append(step)
            continue
        for func in (step.func, step.batch):
            if func is not None:
                yield (f"node {step.name!r}", ": its function, or a value its closure "
                       "or globals hold", func, _FIX_FUNCTION)
    for inner, where in _plans(plan, ""):
        for name, value in inner.constants.items():
            yield f"bound value {name!r}{where}", "", value, _fix(value)
    for name, value in values.items():
        made_by = f" (the output of node {made[name]!r})" if name in made else ""
        yield f"broadcast value {name!r}{made_by}", "", value, _fix(value)
    for step in later:
        yield f"nested map {step.name!r}", ": its inner pipeline", step.func, _FIX_FUNCTION


def _holder(func: Any) -> tuple[str, str, Any] | None:
    """The first closure variable or global a function reads that cannot be pickled, as
    ``(kind, name, value)``; None when none is found (the function itself fails)."""
    try:
        cv = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return None
    for kind, values in (("closure variable", cv.nonlocals), ("global", cv.globals)):
        for name, value in values.items():
            if not inspect.ismodule(value) and _unpicklable(value) is not None:
                return kind, name, value
    return None


def _steps(plan: Plan) -> Iterator[Any]:
    for step in plan.steps:
        yield step
        if step.nested is not None:
            yield from _steps(step.nested.pre)
            yield from _steps(step.nested.body)


def _plans(plan: Plan, where: str) -> Iterator[tuple[Plan, str]]:
    yield plan, where
    for step in plan.steps:
        if step.nested is not None:
            inner = f" (inside the nested map {step.name!r})"
            yield from _plans(step.nested.pre, inner)
            yield from _plans(step.nested.body, inner)


def _made(plan: Plan) -> dict[str, str]:
    """The broadcast steps' outputs, each with its node's name."""
    return {out: s.name for s in plan.steps if not s.mapped for out in s.outputs}


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"


def _fix(value: Any) -> str:
    import types

    return (_FIX_GENERATOR if isinstance(value, types.GeneratorType) else "") + _FIX_VALUE


def _error(runner: str, label: str, detail: str, exc: BaseException, fix: str,
           when: str = "before any node runs") -> InputError:
    why = ("Daft pickles a query's functions and values to send them to the Ray workers"
           if runner == "ray" else "Daft pickles a query's functions to check that it could "
           "send them to a worker, and its values must pickle for the map to run on Ray")
    error = InputError(
        f"Daft(runner={runner!r}): {label} cannot be pickled{detail} "
        f"({type(exc).__name__}: {exc}). {why}, so the map stops {when}. Fix: {fix}; or "
        "run this map with engine=hotpipe.Threads(), which pickles nothing."
    )
    error.__cause__ = exc
    return error


class _Discard:
    """A file that keeps nothing: pickling into it checks a value without its bytes."""

    @staticmethod
    def write(data: Any) -> int:
        return len(data)


def _unpicklable(value: Any) -> Exception | None:
    """Why ``value`` cannot be pickled (cloudpickle, as Daft does), or None."""
    import cloudpickle

    try:
        cloudpickle.CloudPickler(_Discard()).dump(value)
    except Exception as exc:
        return exc
    return None


def _bad_item(column: Any) -> tuple[int, Exception] | None:
    """The first item of ``column`` that cannot be pickled, with why; None when all can. A
    numpy column (not ``object``: see ``as_column``) or one of builtin immutable items is
    not pickled."""
    if is_array(column):
        return None
    column = column if type(column) is list else list(column)
    if column and type(column[0]) in _NUMBERS:
        try:  # numbers pickle (~7 ms per 1,000,000) faster than their types are read (~11)
            pickle.Pickler(_Discard(), pickle.HIGHEST_PROTOCOL).dump(column)
            return None
        except Exception:
            pass  # an item pickle cannot take: cloudpickle may
    types = set(map(type, column))
    if types <= IMMUTABLE or _numpy_scalars(types) or (
            types <= _PLAIN and all(map(frozen, column))):
        return None
    if _unpicklable(column) is None:
        return None
    for i, item in enumerate(column):
        exc = _unpicklable(item)
        if exc is not None:
            return i, exc
    return None


def _numpy_scalars(types: set[type]) -> bool:
    """Whether every type is a numpy scalar's (``np.float64``, ...) or builtin immutable:
    they all pickle, and cloudpickle takes ~2.4 s per 1,000,000 numpy scalars."""
    np = sys.modules.get("numpy")
    return np is not None and all(t in IMMUTABLE or issubclass(t, np.generic) for t in types)


_BOXES: weakref.WeakValueDictionary[int, Box] = weakref.WeakValueDictionary()
_TOKENS = itertools.count()


class Box(list):
    """Native: the map's payload, in a list of one that the engine empties when the query is
    done (Daft keeps a query's UDF arguments after it). The UDF runs in this process
    (``use_process=False``), and Daft pickles its arguments only to check that it could send
    them: a box pickles as a reference to itself in this process, so that check does not
    pickle every item; :func:`check_map` checked them, once."""

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        token = next(_TOKENS)
        _BOXES[token] = self
        return _unboxed, (token,)


def _unboxed(token: int) -> Box:
    box = _BOXES.get(token)
    if box is None:
        raise RuntimeError(
            "hotpipe.Daft: the payload of a native query was unpickled outside the process "
            "that runs it (native queries run in this process, use_process=False); run the "
            "map with Daft(runner='ray') to send it to other processes."
        )
    return box
