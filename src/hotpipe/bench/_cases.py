"""What a case is, and the output check that runs before anything is timed.

A case is a zero-argument callable, a ``(pipeline, inputs, engine)`` triple, or a
:class:`Case` when it needs more (items per call, its own sample count, an output to compare).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotpipe.errors import BenchError

__all__ = ["Case", "as_case", "check_outputs", "first_difference"]


@dataclass
class Case:
    """One thing to time.

    ``fn`` is called with no arguments; one call processes ``items`` items (for items/s and
    to compare cases of different sizes per item). ``output`` turns ``fn``'s return value
    into the value compared across cases (default: the value itself). ``samples``,
    ``warmup`` and ``loops`` override :func:`~hotpipe.bench.compare`'s settings for this
    case.
    """

    fn: Callable[[], Any]
    items: int = 1
    output: Callable[[Any], Any] | None = None
    samples: int | None = None
    warmup: int | None = None
    loops: int | None = None
    description: str = ""

    def value(self, returned: Any) -> Any:
        return returned if self.output is None else self.output(returned)


def _pipeline_case(name: str, pipeline: Any, inputs: Mapping[str, Any], engine: Any) -> Case:
    """``pipeline.map`` over the inputs given as lists, tuples or ranges; ``run`` if none."""
    if not isinstance(inputs, Mapping):
        raise BenchError(f"case {name!r}: the inputs of a (pipeline, inputs, engine) triple "
                         f"must be a dict of input name -> value, not {type(inputs).__name__}")
    wanted = set(getattr(pipeline, "inputs", ()))
    over = [k for k, v in inputs.items() if k in wanted and isinstance(v, list | tuple | range)]
    inputs = dict(inputs)
    options = {} if engine is None else {"engine": engine}
    if not over:
        return Case(lambda: pipeline.run(inputs, **options), items=1, output=dict,
                    description=f"{pipeline!r}.run, engine {engine!r}")
    sizes = {len(inputs[k]) for k in over}
    if len(sizes) != 1:
        raise BenchError(f"case {name!r}: the mapped inputs {over} have different lengths "
                         f"{sorted(sizes)}; give lists of equal length, or a Case(fn, items=N)")
    return Case(lambda: pipeline.map(inputs, over=over, **options), items=sizes.pop(),
                output=dict, description=f"map over {over}, engine {engine!r}")


def as_case(name: str, spec: Any) -> Case:
    """A :class:`Case` from a callable, a ``(pipeline, inputs, engine)`` triple or a Case."""
    if isinstance(spec, Case):
        return spec
    if isinstance(spec, tuple) and len(spec) in (2, 3) and hasattr(spec[0], "map"):
        pipeline, inputs, engine = (*spec, None) if len(spec) == 2 else spec
        return _pipeline_case(name, pipeline, inputs, engine)
    if callable(spec):
        return Case(spec)
    raise BenchError(
        f"case {name!r} is a {type(spec).__name__}; give a zero-argument callable, a "
        "(pipeline, inputs, engine) tuple or a hotpipe.bench.Case"
    )


def _close(a: Any, b: Any, tol: float) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def first_difference(a: Any, b: Any, tolerance: float | None = None, where: str = ""
                     ) -> str | None:
    """Where ``a`` and ``b`` first differ (``"['s'][3]: '8' != '9'"``), or None if equal.

    Containers are walked; floats (and numpy arrays) are compared with ``tolerance``
    (relative and absolute) when one is given, exactly otherwise.
    """
    if tolerance is not None and isinstance(a, float | int) and isinstance(b, float | int) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return None if _close(a, b, tolerance) else f"{where or 'value'}: {a!r} != {b!r}"
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return f"{where or 'keys'}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for k in a:
            found = first_difference(a[k], b[k], tolerance, f"{where}[{k!r}]")
            if found:
                return found
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{where or 'value'}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, tolerance, f"{where}[{i}]")
            if found:
                return found
        return None
    if hasattr(a, "shape") and hasattr(a, "dtype"):  # numpy arrays, without importing numpy
        import numpy as np

        same = (np.shape(a) == np.shape(b)) and (
            np.allclose(a, b, rtol=tolerance, atol=tolerance) if tolerance is not None
            else np.array_equal(a, b))
        return None if same else f"{where or 'array'}: arrays differ"
    try:
        equal = bool(a == b)
    except Exception as exc:  # e.g. an object whose == raises
        return f"{where or 'value'}: cannot compare ({type(exc).__name__}: {exc})"
    return None if equal else f"{where or 'value'}: {_short(a)} != {_short(b)}"


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def check_outputs(values: dict[str, Any], check: Any, tolerance: float | None) -> None:
    """Raise :class:`BenchError` unless every case's output passes the check.

    ``check=True``: each output must equal the first case's (within ``tolerance``);
    a callable ``check(name, value)`` must not raise nor return False; ``False`` skips.
    """
    if check is False or check is None:
        return
    if callable(check):
        for name, value in values.items():
            try:
                ok = check(name, value)
            except Exception as exc:
                raise BenchError(f"case {name!r} failed its output check: "
                                 f"{type(exc).__name__}: {exc}") from exc
            if ok is False:
                raise BenchError(f"case {name!r} failed its output check (check returned "
                                 "False); fix the case before timing it")
        return
    names = list(values)
    ref = names[0]
    bad = []
    for name in names[1:]:
        diff = first_difference(values[ref], values[name], tolerance)
        if diff:
            bad.append(f"{name!r} differs from {ref!r} at {diff}")
    if bad:
        hint = ("" if tolerance is not None else
                "; for float noise pass tolerance=1e-9 (relative and absolute)")
        raise BenchError(
            "the cases do not compute the same result, so their timings are not comparable: "
            + "; ".join(bad) + hint + "; check=False times them anyway"
        )
