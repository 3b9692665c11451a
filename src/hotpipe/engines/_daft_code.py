"""``Pipeline.to_daft``: the pipeline as a standalone Daft script, written the way an expert
writes Daft by hand.

The script holds the user's own function sources (decorators stripped), the inputs as
literals, the broadcast steps computed once in the driver, and every per-item step fused into
one ``@daft.func.batch`` UDF that runs the nodes column by column over the batch
(``list(map(func, *columns))``, a batch node called once on the lists, a ``vectorize=`` node
once on numpy arrays after hotpipe's 16-item check), so each batch crosses from Rust to Python
once. A batch node's numpy result stays an array and leaves the UDF as an Arrow column (2-D:
fixed-size lists). A single output gets a typed ``return_dtype`` when its node's return
annotation maps to an Arrow type (for an array result without one, the script reads it from
a first call). A header analyses the translation in the user's names.

A nested map (``mode="zip"``) becomes a list-valued helper called per outer item inside the
fused UDF (no explode/groupby; the header says why). Not written yet (``InputError`` naming
it; ``hotpipe.Daft`` runs them): product nested maps, resources, async nodes, lambdas.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from hotpipe.errors import InputError
from hotpipe.plan import Plan, Step

__all__ = ["to_daft"]

_DTYPES = {int: "DataType.int64()", float: "DataType.float64()", str: "DataType.string()",
           bool: "DataType.bool()", bytes: "DataType.binary()"}
_DTYPE_NAMES = {t.__name__: d for t, d in _DTYPES.items()}
_RESERVED = {"daft", "itertools", "DataType", "Series", "n", "rows", "run", "fused", "df",
             "table", "order", "out", "name", "row", "k", "i", "np", "pa", "jax", "column",
             "vectorized", "tolist", "first", "dtype", "udf"}


def to_daft(pipe: Any, inputs: Mapping[str, Any], outputs: str | Sequence[str] | None,
            over: str | Sequence[str], advice: Any = None) -> str:
    """The script; ``advice(plan)`` gives the findings its header lists under "what to change"
    (the caller passes the advisor's plan rules: the advisor sits above the engines)."""
    names = (over,) if isinstance(over, str) else tuple(over)
    wanted = (outputs,) if isinstance(outputs, str) else (
        tuple(outputs) if outputs is not None else None)
    plan: Plan = pipe._plan(frozenset(inputs), wanted, frozenset(names))
    for step in _all_steps(plan):
        _check_step(step)
    mapped = [name for name in plan.inputs if name in names]
    broadcast_in = {k: inputs[k] for k in plan.inputs if k not in names}
    broadcast_in.update(plan.constants)
    once = [s for s in plan.steps if not s.mapped]
    rows = [s for s in plan.steps if s.mapped]
    sources, taken = _sources(plan)

    def var(name: str) -> str:  # a value named like a function or a global gets a "_"
        return f"{name}_" if name in taken or name in _RESERVED else name

    fused = _udf(plan, rows, mapped, broadcast_in, once, var)
    imports = "\n".join(["import itertools", *fused.imports])
    parts = [
        _header(pipe, plan, once, rows, mapped, advice(plan) if advice else []),
        f"{imports}\n\nimport daft\nfrom daft import DataType, Series\n",
        sources,
        _inputs(inputs, mapped, broadcast_in, var),
        _broadcast(once, var),
        fused.text,
        _main(plan, mapped, var, fused),
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def _all_steps(plan: Plan) -> list[Step]:
    """The plan's steps and, depth first, those of its nested maps."""
    out = []
    for step in plan.steps:
        out.append(step)
        if step.nested is not None:
            out += _all_steps(step.nested.pre) + _all_steps(step.nested.body)
    return out


def _check_step(step: Step) -> None:
    node = step.node
    why = None
    if step.nested is not None and step.nested.mode != "zip":
        why = ("a nested map with mode='product' (run it with engine=hotpipe.Daft(); "
               "to_daft writes zip nested maps only)")
    elif node.is_async:
        why = "an async node (run it with engine=hotpipe.Daft(); to_daft does not write it yet)"
    elif node.func.__name__ == "<lambda>":
        why = "a lambda (its source is not a def: write it as a def)"
    if why:
        raise InputError(f"to_daft: node {step.name!r} is {why}.")


def _source(func: Any) -> str:
    try:
        text = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise InputError(f"to_daft: cannot read the source of {func.__qualname__} ({exc}). "
                         "Define it in a file, not an interactive prompt.") from exc
    tree = ast.parse(text)
    fn = tree.body[0]
    first = fn.lineno - 1  # the `def` line, after the decorators
    return "\n".join(text.splitlines()[first:])


def _sources(plan: Plan) -> tuple[str, set[str]]:
    seen: dict[str, str] = {}
    context: dict[str, str] = {}
    for step in _all_steps(plan):
        if step.nested is not None:
            continue
        for func in (step.node.func, step.node.batch_func):
            if func is None or func.__name__ in seen:
                continue
            seen[func.__name__] = _source(func)
            context.update(_free_names(func))
    lines = ["# --- the pipeline's functions, as written ---"]
    lines += [f"{k} = {v}" for k, v in sorted(context.items())]
    text = "\n".join(lines) + "\n\n\n" + "\n\n\n".join(seen.values())
    return text, set(seen) | set(context)


def _free_names(func: Any) -> dict[str, str]:
    """Module imports and literal globals/closure values the function reads."""
    found: dict[str, str] = {}
    cv = inspect.getclosurevars(func)
    for name, value in {**cv.globals, **cv.nonlocals}.items():
        if inspect.ismodule(value):
            found[name] = f"__import__({value.__name__!r})"
            if "." in value.__name__:
                found[name] = f"__import__({value.__name__!r}, fromlist=['_'])"
        elif _literal(value):
            found[name] = repr(value)
        elif callable(value) and getattr(value, "__module__", None) not in (None, "builtins"):
            mod = value.__module__
            if mod != "__main__" and not hasattr(builtins, name):
                found[name] = f"__import__({mod!r}, fromlist=['_']).{value.__qualname__}"
    return found


def _literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _inputs(inputs: Mapping[str, Any], mapped: list[str], bc: Mapping[str, Any],
            var: Any) -> str:
    lines = ["# --- inputs ---"]
    for name in [*mapped, *bc]:
        value = list(inputs[name]) if name in mapped else bc[name]
        if not _literal(value):
            raise InputError(f"to_daft: input {name!r} ({type(value).__name__}) cannot be "
                             "written as a literal; pass plain lists/numbers/strings.")
        lines.append(f"{var(name)} = {value!r}")
    return "\n".join(lines)


def _call(step: Step, var: Any) -> str:
    kwargs = ", ".join(f"{p}={var(a)}" for p, a in zip(step.params, step.args, strict=True))
    return f"{step.node.func.__name__}({kwargs})"


def _broadcast(once: list[Step], var: Any) -> str:
    if not once:
        return ""
    lines = ["# --- broadcast steps: once, in the driver ---"]
    for step in once:
        target = ", ".join(map(var, step.outputs))
        lines.append(f"{target} = {_call(step, var)}")
    return "\n".join(lines)


def _dtype(step: Step) -> str | None:
    """The Arrow type of the step's output from its return annotation: ``int``, ``float``,
    ``str``, ``bool``, ``bytes``; for a batch node (``batch=True``), ``list[...]`` of one."""
    ann = inspect.signature(step.node.func).return_annotation
    if step.node.is_batch:
        inner = typing.get_args(ann)
        if isinstance(ann, str) and ann.startswith("list[") and ann.endswith("]"):
            ann = ann[5:-1]
        elif typing.get_origin(ann) is list and len(inner) == 1:
            ann = inner[0]
        else:
            return None
    if isinstance(ann, str):
        return _DTYPE_NAMES.get(ann)
    return _DTYPES.get(ann)


def _emit(steps: Sequence[Step], known: set[str], var: Any, indent: str,
          helpers: list[str], made: dict[str, str]) -> list[str]:
    """Per-item steps over the lists of a batch (or of one outer item's inner items):
    ``list(map(func, *columns))`` per node, a batch node called once on the lists, a
    ``vectorize=`` node once on arrays (:data:`_VECTORIZED`), a nested map as a list-valued
    helper mapped over the outer items.

    ``made`` records the values a batch (``"batch"``) or vectorised (``"vector"``) step
    produced: they stay what the function returned (a numpy array is not split), and a
    later node receives what it gets on ``Local``: a vectorised result as Python values
    (``tolist``), a batch result's items as they are.
    """
    lines = []
    for step in steps:
        if not step.mapped:  # an inner step of a nested map that reads no inner item
            target = ", ".join(map(var, step.outputs))
            lines.append(f"{indent}{target} = {_call(step, var)}")
            known.update(step.outputs)
            continue
        func = step.node.func.__name__
        cols = [f"itertools.repeat({var(a)})" if a in known else _items(a, var, made)
                for a in step.args]
        listed = [f"[{var(a)}] * n" if a in known else _listed(a, var, made)
                  for a in step.args]
        kind = None
        if step.nested is not None:
            func = _nested_helper(step, var, helpers)
            call = f"list(map({func}, {', '.join(cols)}))"
        elif step.node.vectorize is not None:
            args = ", ".join(var(a) for a in step.args)
            mapped = ", ".join(str(a not in known) for a in step.args)
            batch_call = func
            if step.node.vectorize == "jax":  # compiled once per batch shape, vmapped
                batch_call = f"{func}_jax"
                axes = tuple(None if a in known else 0 for a in step.args)
                jitted = f"{batch_call} = jax.jit(jax.vmap({func}, in_axes={axes!r}))"
                if jitted not in helpers:
                    helpers.append(jitted)
            call = f"vectorized({func}, {batch_call}, [{args}], [{mapped}])"
            kind = "vector"
        elif step.node.is_batch:
            call = f"{func}({', '.join(listed)})"
            kind = "batch"
        elif step.batch is not None:
            call = f"{step.node.batch_func.__name__}({', '.join(listed)})"
            kind = "batch"
        else:
            call = f"list(map({func}, {', '.join(cols)}))" if cols else f"[{func}()] * n"
        if len(step.outputs) > 1:
            if kind is not None:
                call = f"list({call})"
            target = ", ".join(map(var, step.outputs))
            empty = ", ".join("[]" for _ in step.outputs)
            lines.append(f"{indent}{target} = map(list, zip(*{call})) if n else ({empty},)")
        else:
            lines.append(f"{indent}{var(step.outputs[0])} = {call}")
            if kind is not None:
                made[step.outputs[0]] = kind
    return lines


def _items(name: str, var: Any, made: dict[str, str]) -> str:
    """The items of a value for a singular node (``Local``'s: a vectorised result as Python
    values, the items of a batch result as they are)."""
    return f"tolist({var(name)})" if made.get(name) == "vector" else var(name)


def _listed(name: str, var: Any, made: dict[str, str]) -> str:
    """A value as a batch node receives it on ``Local``: a list."""
    kind = made.get(name)
    if kind == "vector":
        return f"tolist({var(name)})"
    return f"list({var(name)})" if kind == "batch" else var(name)


def _nested_helper(step: Step, var: Any, helpers: list[str]) -> str:
    """A nested map as one function of an outer item: its inner lists in, its output lists
    out (no explode/groupby: the inner items are handled in Python, per batch)."""
    nm = step.nested
    assert nm is not None
    name = "nested_" + "".join(c if c.isalnum() else "_" for c in step.name)
    over = set(nm.over)
    known = {a for a in nm.args if a not in over}
    lines = [f"def {name}({', '.join(var(a) for a in nm.args)}):",
             f"    # nested map {step.name!r} over {list(nm.over)}, for one outer item",
             f"    n = len({var(nm.over[0])})"]
    for plan in (nm.pre, nm.body):
        lines += [f"    {var(k)} = {v!r}" for k, v in plan.constants.items()]
        known.update(plan.constants)
    made: dict[str, str] = {}
    lines += _emit(nm.pre.steps, known, var, "    ", helpers, made)
    lines += _emit(nm.body.steps, known, var, "    ", helpers, made)
    outs = [f"[{var(o)}] * n" if o in known else _listed(o, var, made) for o in nm.outputs]
    lines.append(f"    return {', '.join(outs)}")
    helpers.append("\n".join(lines))
    return name


_VECTORIZED = """\
def vectorized(func, batch_call, args, mapped):
    # a vectorize= node over one batch: one call on its columns as numpy arrays, when that
    # call gives the first 16 items' per-item results (hotpipe's check); else per item
    def per_item(cols):
        return list(map(func, *[c if m else itertools.repeat(c) for c, m in zip(cols, mapped)]))

    def on_arrays(cols):
        return np.asarray(batch_call(*[np.asarray(c) if m else c for c, m in zip(cols, mapped)]))

    head = [c[:16] if m else c for c, m in zip(args, mapped)]
    want = per_item(head)
    try:
        got, want = on_arrays(head), np.asarray(want)
        rtol = 1e-5 if got.dtype.itemsize <= 4 else 1e-12
        same = len(want) > 1 and got.shape == want.shape and (
            np.array_equal(got, want) or got.dtype.kind in "fc" and np.allclose(
                got, want, rtol=rtol, atol=rtol * float(np.max(np.abs(want))), equal_nan=True))
    except Exception:
        same = False
    return on_arrays(args) if same else per_item(args)


def tolist(values):
    # what a later node receives from a vectorize= node (as on hotpipe's engines): a list
    return values.tolist() if isinstance(values, np.ndarray) else values\
"""

_COLUMN = """\
def column(values):
    # a batch node's numpy result stays an array: 1-D -> an Arrow column, 2-D -> fixed-size
    # lists (Daft's embedding type for floats); no Python object per item
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and values.ndim in (1, 2):
        if values.ndim == 1:
            return Series.from_numpy(values)
        width = values.shape[1]
        series = Series.from_arrow(pa.FixedSizeListArray.from_arrays(values.ravel(), width))
        if values.dtype.kind == "f":
            series = series.cast(
                DataType.embedding(DataType.from_numpy_dtype(values.dtype), width))
        return series
    return values\
"""


class _Fused:
    """The fused UDF's source and what ``run()`` needs to know of it."""

    def __init__(self, text: str, probe: str | None, imports: list[str]) -> None:
        self.text = text
        self.probe = probe  # the step whose Arrow type is read from a first call, or None
        self.imports = imports


def _udf(plan: Plan, rows: list[Step], mapped: list[str], bc: Mapping[str, Any],
         once: list[Step], var: Any) -> _Fused:
    outs = plan.outputs
    single = len(outs) == 1 and outs[0] not in mapped
    producer = next((s for s in rows if single and outs[0] in s.outputs), None)
    dtype = _dtype(producer) if producer is not None else None
    known = set(bc) | {o for s in once for o in s.outputs}
    helpers: list[str] = []
    made: dict[str, str] = {}
    body = [f"    {var(m)} = {var(m)}.to_pylist()" for m in mapped]
    body.append(f"    n = len({var(mapped[0])})" if mapped else "    n = 0")
    body += _emit(rows, known, var, "    ", helpers, made)
    imports: list[str] = []
    vector = [s for s in _all_steps(plan) if s.node.vectorize is not None]
    arrays = single and outs[0] in made
    if vector or arrays:
        imports.append("import numpy as np")
    if arrays:
        imports.append("import pyarrow as pa")
    if any(s.node.vectorize == "jax" for s in vector):
        imports.append("import jax")
    probe = producer.name if arrays and dtype is None and producer is not None else None
    if single:
        ret = var(outs[0])
        if arrays:
            body.append(f"    return column({ret})")
        else:
            body.append(f"    return {ret}" if dtype else
                        f"    return Series.from_pylist({ret}, dtype=DataType.python())")
    else:
        cols = [f"[{var(o)}] * n" if o in known else _listed(o, var, made) for o in outs]
        body.append(f"    rows = list(zip({', '.join(cols)}))")
        body.append("    return Series.from_pylist(rows, dtype=DataType.python())")
    lines = ["# --- every per-item step fused in one batch UDF: one Python call per batch ---"]
    if probe is None:
        lines.append(f"@daft.func.batch(return_dtype={dtype or 'DataType.python()'})")
    lines.append(f"def fused({', '.join(f'{var(m)}: Series' for m in mapped)}) -> Series:")
    lines += body
    pre = []
    if vector:
        pre.append(_VECTORIZED)
    if arrays:
        pre.append(_COLUMN)
    text = "\n\n\n".join([*dict.fromkeys(pre), *helpers, "\n".join(lines)])
    return _Fused(text, probe, imports)


def _main(plan: Plan, mapped: list[str], var: Any, fused: _Fused) -> str:
    outs = list(plan.outputs)
    data = ", ".join(f"{m!r}: {var(m)}" for m in mapped)
    args = ", ".join(f"df[{m!r}]" for m in mapped)
    lines = [
        "def run() -> dict:",
        "    # the index column carries the item order: a distributed runner returns rows",
        "    # in any order",
        f"    df = daft.from_pydict({{'__index': list(range(len({var(mapped[0])}))), {data}}})",
    ]
    udf = "fused"
    if fused.probe is not None:
        first = ", ".join(f"Series.from_pylist({var(m)}[:16])" for m in mapped)
        lines += [
            f"    # {fused.probe!r} returns arrays and no annotation gives their Arrow type:",
            "    # read it from one call on the first 16 items (or annotate the node)",
            f"    first = fused({first})",
            "    dtype = first.datatype() if isinstance(first, Series) else DataType.python()",
            "    udf = daft.func.batch(return_dtype=dtype)(fused)",
        ]
        udf = "udf"
    lines += [
        f"    df = df.with_column('__out', {udf}({args}))",
        "    table = df.select('__index', '__out').to_pydict()",
        "    order = sorted(range(len(table['__index'])), key=table['__index'].__getitem__)",
        "    out = [table['__out'][i] for i in order]",
    ]
    if len(outs) == 1 and outs[0] not in mapped:
        lines.append(f"    return {{{outs[0]!r}: out}}")
    else:
        lines.append(f"    return {{name: [row[k] for row in out] for k, name in "
                     f"enumerate({outs!r})}}")
    lines += ["", "", "if __name__ == '__main__':", "    print(repr(run()))"]
    return "\n".join(lines)


def _header(pipe: Any, plan: Plan, once: list[Step], rows: list[Step],
            mapped: list[str], found: list[Any]) -> str:
    untyped = [s.name for s in rows if s.nested is None and _dtype(s) is None]
    nested = [s for s in _all_steps(plan) if s.nested is not None]
    lines = [
        f"# Daft script generated by hotpipe for pipeline {pipe.name or '(unnamed)'!r}.",
        "# Runs standalone: `python this_file.py` prints the outputs (needs `pip install daft`).",
        "#",
        "# Analysis",
        "#   explode/groupby cycles: 0" + ("" if nested else " (no nested maps)"),
        f"#   mapped inputs: {mapped}; outputs: {list(plan.outputs)}",
        f"#   per-item steps fused into ONE batch UDF `fused`: {[s.name for s in rows]}",
        f"#   broadcast steps, once in the driver: {[s.name for s in once] or 'none'}",
        f"#   batch nodes (one call per batch): "
        f"{[s.name for s in rows if s.node.is_batch or s.batch is not None] or 'none'}",
        f"#   vectorize= nodes (one call on numpy arrays per batch, checked on 16 items): "
        f"{[f'{s.name} ({s.node.vectorize})' for s in rows if s.node.vectorize] or 'none'}",
        "#   row-wise model calls: none (no row-wise @daft.func)",
        f"#   untyped steps (no Arrow return annotation): {untyped or 'none'}",
    ]
    for step in nested:
        lines.append(
            f"#   nested map {step.name!r} over {list(step.nested.over)}: a list-valued helper "
            "inside the fused UDF, no explode/groupby. Why: its inner steps are Python calls "
            "handled per batch; an explode/groupby would shuffle every inner row and sort to "
            "restore the order (3x slower in benchmarks/daft.py (d)). The trade-off: the inner "
            "items of one outer item stay on one worker."
        )
    return "\n".join(lines + _what_to_change(found))


def _what_to_change(found: list[Any]) -> list[str]:
    """The advisor's plan findings (hotpipe.advise.plan_rules), as comments: the header and
    ``hotpipe.advise`` speak from one rule set."""
    if not found:
        return ["#   what to change: nothing (hotpipe.advise.plan_findings is empty)"]
    lines = ["#   what to change (hotpipe.advise.plan_findings):"]
    for f in found:
        lines.append(f"#     [{f.rule}] {f.title}")
        lines += [f"#       {line}" for line in f.change.splitlines()]
        lines.append(f"#       if {f.assumption}")
    return lines
