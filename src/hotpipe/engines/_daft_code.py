"""``Pipeline.to_daft``: the pipeline as a standalone Daft script, written the way an expert
writes Daft by hand.

The script holds the user's own function sources (decorators stripped), the inputs as
literals, the broadcast steps computed once in the driver, and every per-item step fused into
one ``@daft.func.batch`` UDF that runs the nodes column by column over the batch
(``list(map(func, *columns))``, a batch node called once on the lists), so each batch crosses
from Rust to Python once. A single output gets a typed ``return_dtype`` when its node's return
annotation maps to an Arrow type. A header analyses the translation in the user's names.

Scope (the rest raises ``InputError`` naming what is unsupported): flat plans; nested maps,
resources and async nodes are run by ``hotpipe.Daft`` but not written out yet.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from hotpipe.errors import InputError
from hotpipe.plan import Plan, Step

__all__ = ["to_daft"]

_DTYPES = {int: "DataType.int64()", float: "DataType.float64()", str: "DataType.string()",
           bool: "DataType.bool()", bytes: "DataType.binary()"}
_DTYPE_NAMES = {t.__name__: d for t, d in _DTYPES.items()}
_RESERVED = {"daft", "itertools", "DataType", "Series", "n", "rows", "run", "fused", "df",
             "table", "order", "out", "name", "row", "k", "i"}


def to_daft(pipe: Any, inputs: Mapping[str, Any], outputs: str | Sequence[str] | None,
            over: str | Sequence[str]) -> str:
    names = (over,) if isinstance(over, str) else tuple(over)
    wanted = (outputs,) if isinstance(outputs, str) else (
        tuple(outputs) if outputs is not None else None)
    plan: Plan = pipe._plan(frozenset(inputs), wanted, frozenset(names))
    for step in plan.steps:
        _check_step(step)
    mapped = [name for name in plan.inputs if name in names]
    broadcast_in = {k: inputs[k] for k in plan.inputs if k not in names}
    broadcast_in.update(plan.constants)
    once = [s for s in plan.steps if not s.mapped]
    rows = [s for s in plan.steps if s.mapped]
    sources, taken = _sources(plan)

    def var(name: str) -> str:  # a value named like a function or a global gets a "_"
        return f"{name}_" if name in taken or name in _RESERVED else name

    parts = [
        _header(pipe, plan, once, rows, mapped),
        "import itertools\n\nimport daft\nfrom daft import DataType, Series\n",
        sources,
        _inputs(inputs, mapped, broadcast_in, var),
        _broadcast(once, var),
        _udf(plan, rows, mapped, broadcast_in, once, var),
        _main(plan, mapped, var),
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def _check_step(step: Step) -> None:
    node = step.node
    why = None
    if step.nested is not None:
        why = "a nested map (run it with engine=hotpipe.Daft(); to_daft does not write it yet)"
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
    for step in plan.steps:
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
    ann = inspect.signature(step.node.func).return_annotation
    if isinstance(ann, str):
        return _DTYPE_NAMES.get(ann)
    return _DTYPES.get(ann)


def _udf(plan: Plan, rows: list[Step], mapped: list[str], bc: Mapping[str, Any],
         once: list[Step], var: Any) -> str:
    outs = plan.outputs
    single = len(outs) == 1 and outs[0] not in mapped
    dtype = None
    if single:
        dtype = next((_dtype(s) for s in rows if outs[0] in s.outputs), None)
    known = set(bc) | {o for s in once for o in s.outputs}
    lines = [
        "# --- every per-item step fused in one batch UDF: one Python call per batch ---",
        f"@daft.func.batch(return_dtype={dtype or 'DataType.python()'})",
        f"def fused({', '.join(f'{var(m)}: Series' for m in mapped)}) -> Series:",
    ]
    lines += [f"    {var(m)} = {var(m)}.to_pylist()" for m in mapped]
    lines.append(f"    n = len({var(mapped[0])})" if mapped else "    n = 0")
    for step in rows:
        func = step.node.func.__name__
        cols = [var(a) if a not in known else f"itertools.repeat({var(a)})"
                for a in step.args]
        if step.node.is_batch:
            listed = [var(a) if a not in known else f"[{var(a)}] * n" for a in step.args]
            call = f"list({func}({', '.join(listed)}))"
        elif step.batch is not None:
            listed = [var(a) if a not in known else f"[{var(a)}] * n" for a in step.args]
            call = f"list({step.node.batch_func.__name__}({', '.join(listed)}))"
        else:
            call = f"list(map({func}, {', '.join(cols)}))" if cols else f"[{func}()] * n"
        if step.unpack:
            target = ", ".join(map(var, step.outputs))
            empty = ", ".join("[]" for _ in step.outputs)
            lines.append(f"    {target} = map(list, zip(*{call})) if n else ({empty},)")
        else:
            lines.append(f"    {var(step.outputs[0])} = {call}")
    if single:
        ret = var(outs[0])
        lines.append(f"    return {ret}" if dtype else
                     f"    return Series.from_pylist({ret}, dtype=DataType.python())")
    else:
        cols = [var(o) if o not in known else f"[{var(o)}] * n" for o in outs]
        lines.append(f"    rows = list(zip({', '.join(cols)}))")
        lines.append("    return Series.from_pylist(rows, dtype=DataType.python())")
    return "\n".join(lines)


def _main(plan: Plan, mapped: list[str], var: Any) -> str:
    outs = list(plan.outputs)
    data = ", ".join(f"{m!r}: {var(m)}" for m in mapped)
    args = ", ".join(f"df[{m!r}]" for m in mapped)
    lines = [
        "def run() -> dict:",
        "    # the index column carries the item order: a distributed runner returns rows",
        "    # in any order",
        f"    df = daft.from_pydict({{'__index': list(range(len({var(mapped[0])}))), {data}}})",
        f"    df = df.with_column('__out', fused({args}))",
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
            mapped: list[str]) -> str:
    untyped = [s.name for s in rows if _dtype(s) is None]
    lines = [
        f"# Daft script generated by hotpipe for pipeline {pipe.name or '(unnamed)'!r}.",
        "# Runs standalone: `python this_file.py` prints the outputs (needs `pip install daft`).",
        "#",
        "# Analysis",
        "#   explode/groupby cycles: 0 (no nested maps)",
        f"#   mapped inputs: {mapped}; outputs: {list(plan.outputs)}",
        f"#   per-item steps fused into ONE batch UDF `fused`: {[s.name for s in rows]}",
        f"#   broadcast steps, once in the driver: {[s.name for s in once] or 'none'}",
        f"#   batch nodes (one call per batch): "
        f"{[s.name for s in rows if s.node.is_batch or s.batch is not None] or 'none'}",
        "#   row-wise model calls: none (no row-wise @daft.func)",
        f"#   untyped steps (no Arrow return annotation): {untyped or 'none'}",
    ]
    if untyped:
        lines.append(f"#   what to change: annotate the return type of {untyped} (int, float, "
                     "str, bool, bytes) to get a typed Arrow column instead of Python objects.")
    return "\n".join(lines)
