"""``Pipeline.to_daft``: the pipeline as a standalone Daft script, and the text that
``hotpipe.Daft`` compiles and runs: one generator for both.

:func:`fused_steps_source` writes ``fused_steps(clock, n, *columns, *shared)``: every
per-item step over one run of rows, calling the user's functions by name, node by node
(``list(map(func, *columns))``, a batch node called once on the lists, a ``vectorize=`` node
once on numpy arrays after hotpipe's 16-item check, a ``mode="zip"`` nested map as a helper
over the run's outer items: explode by offsets, inner steps once, regroup), with one
``t = clock(k, n, t)`` line per node (two clock reads per node and run, nothing per item).
:mod:`hotpipe.engines._daft_query` writes the query around it (the ``@daft.cls`` UDF, its
options, the index column, the collect).
:func:`engine_text` is that text for one map; the engine compiles it with each function name
bound to the node's own function, and :func:`to_daft` writes the same text verbatim, after
the user's function sources, the glue (:mod:`hotpipe.engines._daft_glue`, copied by
``inspect.getsource``), the inputs as literals and the broadcast steps. A header analyses
the translation in the user's names.

A resource (``hotpipe.resource(factory, *args, **kwargs)``) is written as the factory's
source (or its import, for a factory from another module: a package) and a
``Resource(factory, *args, **kwargs)`` declaration of the glue with literal arguments; the
glue's ``unbox`` builds it in the UDF's ``__init__``, once per worker, and the engine binds
``unbox`` to its own (hotpipe's resources, built once per process). An ``async def`` node is
``gathered(func, max_concurrency, n, *columns)``: the run's items awaited concurrently.

Not written (``InputError`` naming it; ``hotpipe.Daft`` runs them through hotpipe's column
executor instead, and says so in the profile): product nested maps, lambdas, two functions
with one name, a resource argument that is not a literal.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
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
_GLUE = {"Clock", "run_rows", "unbox", "index_column", "row_runs", "sink", "clock",
         "fused_steps", "HotpipePlan", "query", "frame", "typed", "NODES", "OUTPUTS",
         "Resource", "gathered"}
"""Names the generated text and the script's glue define or read: a function or value of
the pipeline named so is renamed (values) or not written (functions)."""
_RESERVED = {"daft", "itertools", "DataType", "Series", "n", "rows", "run", "fused", "df",
             "table", "order", "out", "name", "row", "k", "i", "np", "pa", "jax", "column",
             "vectorized", "tolist", "first", "dtype", "udf", "t", "box", "runs", "values",
             "batched", "asyncio", "threading", "kept",
             "self", "index", "perf_counter", "thread_time", "Any", "annotations", *_GLUE}
_NOT_A_FUNCTION = {"daft", "itertools", "sys", "asyncio", "threading", "DataType", "Series",
                   "np", "pa", "jax", "vectorized", "tolist", "batched", "perf_counter",
                   "thread_time", "Any", "n", "t", "run", *_GLUE}
"""Names a function of the pipeline cannot have: the script defines or imports them at
module level, or ``fused_steps`` holds them (``clock``, ``n``, ``t``)."""


def to_daft(pipe: Any, inputs: Mapping[str, Any], outputs: str | Sequence[str] | None,
            over: str | Sequence[str], advice: Any = None, nested: str = "auto") -> str:
    """The script; ``advice(plan)`` gives the findings its header lists under "what to change"
    (the caller passes the advisor's plan rules: the advisor sits above the engines).
    ``nested``: how its nested maps run (:mod:`hotpipe.engines._daft_explode`), chosen as
    ``hotpipe.Daft(nested=...)`` chooses on this machine for these inputs."""
    from hotpipe.engines._daft_explode import check_nested, stages, strategies

    check_nested("to_daft", nested)
    names = (over,) if isinstance(over, str) else tuple(over)
    wanted = (outputs,) if isinstance(outputs, str) else (
        tuple(outputs) if outputs is not None else None)
    plan: Plan = pipe._plan(frozenset(inputs), wanted, frozenset(names))
    for step in _all_steps(plan):
        why = _not_written(step)
        if why:
            raise InputError(f"to_daft: node {step.name!r} is {why}.")
    clash = _name_clash(plan)
    if clash:
        raise InputError(f"to_daft: {clash}.")
    mapped = _mapped(plan)
    if not mapped:
        raise InputError(f"to_daft: over={list(names)} maps no input of the pipeline "
                         f"(its inputs: {list(plan.inputs)}); name the mapped inputs.")
    broadcast_in = {k: inputs[k] for k in plan.inputs if k not in plan.mapped}
    broadcast_in.update(plan.constants)
    held = _resources(broadcast_in)
    once = [s for s in plan.steps if not s.mapped]
    rows = [s for s in plan.steps if s.mapped]
    sources, _ = _sources(plan, held)
    var = _namer(plan, held)
    n = len(list(inputs[mapped[0]]))
    chosen = strategies(plan, {m: list(inputs[m]) for m in mapped}, n, os.cpu_count() or 1,
                        nested)
    explode = {k for k, (how, _) in chosen.items() if how == "explode"}
    if explode:
        order = stages(plan, explode)
        fuseds = [fused_steps_source(st.plan, var) for st in order]
        text = "\n\n".join(
            engine_text(st.plan, fused, n=_stage_items(plan, st, inputs, n), suffix=st.suffix)
            for st, fused in zip(order, fuseds, strict=True))
        main = _exploded_main(plan, mapped, var, order, fuseds, chosen)
        heading = ("# --- the texts hotpipe.Daft compiles and runs for this map, one per "
                   "query (names bound to the functions above) ---\n")
    else:
        fuseds = [fused_steps_source(plan, var)]
        text = engine_text(plan, fuseds[0], n=n)
        main = _main(plan, mapped, var, fuseds[0])
        heading = ("# --- the text hotpipe.Daft compiles and runs for this map (names bound "
                   "to the functions above) ---\n")
    imports = ["import itertools", "import sys", "import threading",
               "from time import perf_counter, thread_time", "from typing import Any"]
    imports += [i for f in fuseds for i in f.imports if i not in imports]
    names = {plan.steps[k].name: how_why for k, how_why in chosen.items()}
    from hotpipe.execute import Broadcast

    engine_plans = [st.plan for st in order] if explode else [plan]
    engine_why = next((why for p in engine_plans
                       if (why := engine_fused(p, Broadcast(dict(broadcast_in)))[1])), "")
    parts = [
        _header(pipe, plan, once, rows, mapped, advice(plan) if advice else [], held, text,
                names, engine_why, nested),
        "\n".join(imports) + "\n\nimport daft\nfrom daft import DataType, Series\n",
        sources,
        _glue(bool(explode)),
        _inputs(inputs, mapped, broadcast_in, var),
        _broadcast(once, var, held),
        heading + text,
        main,
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def _stage_items(plan: Plan, stage: Any, inputs: Mapping[str, Any], n: int) -> int:
    """The items of one query of an exploded map: the outer items, or for a nested map's
    inner steps its inner items (an exploded nested map's lists are a mapped input:
    :func:`hotpipe.engines._daft_explode.strategies`)."""
    if stage.kind != "body":
        return n
    step = stage.step
    outer = dict(zip(step.nested.args, step.args, strict=True))[step.nested.over[0]]
    return sum(len(v) for v in inputs[outer])


def engine_text(plan: Plan, fused: Fused | None, *, n: int, runner: str = "native",
                batch_size: int | None = None, block: int | None = None,
                partitions: int | None = None, why: str = "", suffix: str = "") -> str:
    """The text of one map: ``fused_steps`` (or, when ``fused`` is None, ``fused_steps = None``
    and ``why``: the engine then runs the steps through hotpipe's column executor) and the
    Daft query around it. ``hotpipe.Daft`` compiles exactly this; ``to_daft`` writes it.
    ``suffix``: one query of an exploded map (its names suffixed: ``query_1``, ...)."""
    from hotpipe.engines._daft_query import hints_of, query_source, spread_batch, suffixed

    names = [s.name for s in plan.steps if s.mapped]
    if batch_size is None and runner == "native" and not any(
            s.node.is_async and s.node.max_concurrency for s in _all_steps(plan)):
        batch_size = spread_batch(n)  # every core for nodes that release the GIL
    query = query_source(runner=runner, n=n, names=names, hints=hints_of(plan),
                         batch_size=batch_size, block=block, partitions=partitions,
                         fused=fused is not None)
    if fused is None:
        head = (f"# the per-item steps run through hotpipe's column executor: {why}\n"
                "fused_steps = None\n")
    else:
        head = fused.text + "\n"
    return suffixed(head + "\n\n" + query, suffix)


def engine_fused(plan: Plan, bc: Any, live: frozenset[str] | None = None
                 ) -> tuple[Fused | None, str]:
    """What the engine runs for ``plan``: ``(fused, why)``, with ``fused`` None and
    ``why`` the reason when the plan is not one ``to_daft`` writes (then the engine runs
    its column executor inside the same query). ``live`` (a cached map's sub-query, see
    :func:`fused_steps_source`): the values read by a later step are kept as produced."""
    if bc.broken:
        return None, "a broadcast step failed (on_error='collect'): FAILED values"
    for step in _all_steps(plan):
        why = _not_written(step) or _not_fused(step)
        if why:
            return None, f"node {step.name!r} is {why}"
    clash = _name_clash(plan)
    if clash:
        return None, clash
    if live is not None and any(f.__name__ == "kept" for f in _functions(plan)):
        return None, ("a function named 'kept' (in a cached map the text keeps values with "
                      "a function of that name)")
    var = _namer(plan, _resources(bc.values))
    try:
        return fused_steps_source(plan, var, live), ""
    except InputError as exc:  # e.g. a bound constant of a nested map that is not a literal
        return None, str(exc)


def _mapped(plan: Plan) -> list[str]:
    """The mapped inputs, in the plan's order: the columns ``fused_steps`` takes."""
    return [name for name in plan.inputs if name in plan.mapped]


def _known(plan: Plan) -> set[str]:
    """The values every item shares: broadcast inputs, constants, broadcast steps' outputs."""
    known = {name for name in plan.inputs if name not in plan.mapped}
    known.update(plan.constants)
    known.update(o for s in plan.steps if not s.mapped for o in s.outputs)
    return known


def _resources(values: Mapping[str, Any]) -> dict[str, Any]:
    """The broadcast values that are hotpipe resources, by name."""
    from hotpipe.resources import Resource

    return {k: v for k, v in values.items() if type(v) is Resource}


def _namer(plan: Plan, held: Mapping[str, Any] | None = None) -> Any:
    """``var(name)``: a value's name in the text; one named like a function, a resource's
    factory, a global the functions read, or a name of the text itself gets a ``_``."""
    taken = _taken(plan)
    taken.update(_factory_name(r.factory) for r in (held or {}).values())

    def var(name: str) -> str:
        return f"{name}_" if name in taken or name in _RESERVED else name

    return var


def _functions(plan: Plan) -> list[Any]:
    return [f for step in _all_steps(plan) if step.nested is None
            for f in (step.node.func, step.node.batch_func) if f is not None]


def _taken(plan: Plan) -> set[str]:
    """The functions' names and the globals and closure names they read (from their code
    objects: no source needed, so the engine and the script name values alike), and those
    of the helpers they call that are defined beside them (the script copies those)."""
    taken: set[str] = set()
    modules = {"__main__"} | {f.__module__ for f in _functions(plan)}
    work, seen = list(_functions(plan)), set()
    while work:
        func = work.pop()
        if id(func) in seen:
            continue
        seen.add(id(func))
        taken.add(func.__name__)
        for fn in _methods(func) if inspect.isclass(func) else [func]:
            code = getattr(fn, "__code__", None)
            if code is None:
                continue
            taken.update(code.co_freevars)
            for name, value in _free_values(fn).items():
                taken.add(name)
                if (inspect.isfunction(value) or inspect.isclass(value)) and (
                        getattr(value, "__module__", None) in modules):
                    work.append(value)
    return taken


def _code_names(code: Any) -> set[str]:
    """The global names a code object loads (not its attribute names: ``cfg.scale`` reads
    no global ``scale``), with those of the code nested in it (a comprehension or a
    generator expression is code of its own on Python 3.11)."""
    import dis

    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _name_clash(plan: Plan) -> str | None:
    """Two different functions with one name, or a function named like the text's glue."""
    seen: dict[str, Any] = {}
    for func in _functions(plan):
        name = func.__name__
        if name in _NOT_A_FUNCTION or name.startswith("nested_"):
            return (f"function {func.__qualname__!r} is named like a name of the generated "
                    f"text ({name!r}): rename it")
        if seen.setdefault(name, func) is not func:
            return (f"two different functions are named {name!r} ({seen[name].__qualname__}, "
                    f"{func.__qualname__}): the text calls functions by name; rename one")
    return None


def _all_steps(plan: Plan) -> list[Step]:
    """The plan's steps and, depth first, those of its nested maps."""
    out = []
    for step in plan.steps:
        out.append(step)
        if step.nested is not None:
            out += _all_steps(step.nested.pre) + _all_steps(step.nested.body)
    return out


def _not_written(step: Step) -> str | None:
    """Why ``to_daft`` does not write ``step`` (None: it does)."""
    node = step.node
    if step.nested is not None and step.nested.mode != "zip":
        return ("a nested map with mode='product' (run it with engine=hotpipe.Daft(); "
                "to_daft writes zip nested maps only)")
    if step.nested is None:
        for func in (node.func, node.batch_func):
            if func is not None and not inspect.isfunction(func):
                return (f"a {type(func).__name__} object, not a function (the text calls "
                        "functions by name with their source: write it as a def)")
    if node.func.__name__ == "<lambda>":
        return "a lambda (its source is not a def: write it as a def)"
    return None


def _not_fused(step: Step) -> str | None:
    """Why the engine runs ``step`` through its executor although ``to_daft`` writes it:
    where the executor's semantics are not those of the written text."""
    node = step.node
    if step.nested is not None:
        if any(not s.mapped for s in (*step.nested.pre.steps, *step.nested.body.steps)):
            return ("a nested map with inner steps run once per map (the executor runs "
                    "them once; the written helper once per run of rows)")
        return None
    if node.vectorize is not None:
        return ("a vectorize= node (the executor's check warns and counts compiles: "
                "VectorizeWarning, jit counters)")
    if node.retries or node.timeout is not None:
        return "a node with retries or a timeout (the executor's guard)"
    if step.func is not node.func or (step.batch is not None
                                      and step.batch is not node.batch_func):
        return "called through an adapter (its inputs are not its first positional parameters)"
    return None


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


def _sources(plan: Plan, held: Mapping[str, Any]) -> tuple[str, set[str]]:
    """The script's section of the pipeline's own code: each node function's source, the
    functions and classes they call that are defined beside them (in ``__main__`` or their
    module: copied too, and what those read, in turn), the resource factories, and the
    imports and literal globals all of these read. A global that cannot be written (an
    object built at import time) is an ``InputError`` naming it."""
    seen: dict[str, str] = {}
    context: dict[str, str] = {}
    modules = {"__main__"}
    work: list[tuple[Any, bool, str]] = []  # (function or class, write its source, reader)
    for step in _all_steps(plan):
        if step.nested is not None:
            continue
        for func in (step.node.func, step.node.batch_func):
            if func is not None:
                modules.add(func.__module__)
                work.append((func, True, f"node {step.name!r}"))
    for name, res in held.items():
        factory, fname = res.factory, _factory_name(res.factory)
        if fname in _NOT_A_FUNCTION:
            raise InputError(f"to_daft: resource {name!r}: its factory is named like a name "
                             f"of the generated text ({fname!r}): rename it.")
        other = next((f for f in _functions(plan) if f.__name__ == fname), factory)
        if other is not factory:
            raise InputError(f"to_daft: resource {name!r}: its factory {fname!r} has the name "
                             f"of the function {other.__qualname__!r}: the script defines "
                             "both by name; rename one.")
        if _written_here(factory, modules):
            work.append((factory, True, f"resource {name!r}"))
        elif getattr(factory, "__module__", None) != "builtins":
            context[fname] = (f"__import__({factory.__module__!r}, fromlist=['_'])."
                              f"{factory.__qualname__}")
    done: dict[str, Any] = {}
    while work:
        obj, write, reader = work.pop(0)
        name = obj.__name__
        if done.get(name, obj) is not obj:
            first = done[name]
            raise InputError(f"to_daft: two functions or classes are named {name!r} "
                             f"({first.__module__}.{first.__qualname__} and {obj.__module__}."
                             f"{obj.__qualname__}, the second read by {reader}); the script "
                             "defines them by name: rename one.")
        if name in done:
            continue
        done[name] = obj
        if write:
            if name in _NOT_A_FUNCTION:
                raise InputError(f"to_daft: {obj.__qualname__} (read by {reader}) is named like "
                                 f"a name of the generated text ({name!r}): rename it.")
            if "(through " in reader and _decorated(obj):
                raise InputError(
                    f"to_daft: {obj.__qualname__} (read by {reader}) is decorated: the script "
                    "copies a helper's own source, without its decorators (a @dataclass "
                    "would lose its __init__). Fix: import it from a module the script can "
                    "import, or write it without decorators.")
            seen[name] = _source(obj)
        home = _file_of(obj)
        reads = [(obj, _definition_values(obj))] if write else []
        reads += [(func, _free_values(func))
                  for func in (_methods(obj) if inspect.isclass(obj) else [obj])
                  if func.__code__.co_filename == home]  # (not a dataclass's __repr__, ...)
        for func, values in reads:
            for gname, value in values.items():
                expr, helper = _written_value(gname, value, modules, reader, func)
                if helper is not None:
                    work.append((helper, True, f"{reader} (through {func.__name__})"))
                elif expr is not None and context.setdefault(gname, expr) != expr:
                    raise InputError(
                        f"to_daft: two functions read a global or closure value named "
                        f"{gname!r} with different values ({context[gname]} and {expr}, the "
                        f"second read by {func.__qualname__}); the script writes one value "
                        "per name. Fix: rename one.")
    context = {k: v for k, v in context.items() if k not in seen}
    lines = ["# --- the pipeline's functions, as written ---"]
    lines += [f"{k} = {v}" for k, v in sorted(context.items())]
    text = "\n".join(lines) + "\n\n\n" + "\n\n\n".join(seen.values())
    return text, set(seen) | set(context)


def _definition_values(obj: Any) -> dict[str, Any]:
    """The globals a function's or class's definition reads when the script runs it: the
    defaults of its parameters, a class's bases and the statements of its body besides its
    methods (``def f(v, k=K)``, ``class C: size = K``), by name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return {}
    node = tree.body[0] if tree.body else None
    parts: list[ast.AST] = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts += [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
    elif isinstance(node, ast.ClassDef):
        parts += [*node.bases, *node.keywords]
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                parts += [d for d in (*stmt.args.defaults, *stmt.args.kw_defaults)
                          if d is not None]
            else:
                parts.append(stmt)
    names = {n.id for part in parts for n in ast.walk(part)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    module = getattr(inspect.getmodule(obj), "__dict__", {})
    glob = getattr(obj, "__globals__", module)
    return {name: glob[name] for name in names if name in glob}


def _decorated(obj: Any) -> bool:
    """Whether a function's or class's source starts with decorators."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return False
    node = tree.body[0] if tree.body else None
    return bool(getattr(node, "decorator_list", None))


def _file_of(obj: Any) -> str | None:
    """The file that defines a function or class (None where it cannot be told)."""
    try:
        return inspect.getfile(obj)
    except (TypeError, OSError):
        return None


def _free_values(func: Any) -> dict[str, Any]:
    """The globals (those its comprehensions read too) and closure values a function
    reads, by name."""
    glob = getattr(func, "__globals__", {})
    found = {name: glob[name] for name in _code_names(func.__code__) if name in glob}
    cells = func.__closure__ or ()
    for name, cell in zip(func.__code__.co_freevars, cells, strict=False):
        try:
            found[name] = cell.cell_contents
        except ValueError:  # an empty cell: a name bound later in the enclosing function
            continue
    return found


def _written_value(name: str, value: Any, modules: set[str], reader: str, func: Any
                   ) -> tuple[str | None, Any]:
    """How the script writes a value a function reads: ``(expression, None)``, or
    ``(None, helper)`` for a function or class defined beside the pipeline's functions
    (its source is copied), or ``(None, None)`` for a name the script need not write."""
    import re

    if inspect.ismodule(value):
        if "." in value.__name__:
            return f"__import__({value.__name__!r}, fromlist=['_'])", None
        return f"__import__({value.__name__!r})", None
    if isinstance(value, (set, frozenset)) and not value:
        return f"{type(value).__name__}()", None
    if _literal(value):
        return repr(value), None
    if isinstance(value, re.Pattern):
        return f"__import__('re').compile({value.pattern!r}, {value.flags!r})", None
    module = getattr(value, "__module__", None)
    if ((inspect.isfunction(value) or inspect.isclass(value)) and module in modules
            and module != "__main__" and (hasattr(value, "__wrapped__") or _decorated(value))):
        # decorated beside the nodes: the script imports it (its source would lose them)
        return f"__import__({module!r}, fromlist=['_']).{value.__qualname__}", None
    if inspect.isfunction(value) and hasattr(value, "__wrapped__") and module in modules:
        raise InputError(
            f"to_daft: {func.__qualname__} (read by {reader}) calls {name!r}, a decorated "
            "function: the script copies a helper's own source, without its decorator. Fix: "
            "call an undecorated helper, or import it from a module the script can import.")
    if (inspect.isfunction(value) or inspect.isclass(value)) and (
            module in modules or "<locals>" in value.__qualname__):
        if value.__name__ != name or value.__name__ == "<lambda>":
            raise InputError(
                f"to_daft: {func.__qualname__} (read by {reader}) calls {name!r}, which is "
                f"{value.__qualname__} under another name (or a lambda): the script copies "
                f"helpers by their own name. Fix: call it by its name, or write it as a def.")
        return None, value
    qualname = getattr(value, "__qualname__", None)
    if callable(value) and module not in (None, "builtins", "__main__") and qualname:
        return f"__import__({module!r}, fromlist=['_']).{qualname}", None
    if hasattr(builtins, name) and value is getattr(builtins, name):
        return None, None  # the builtin itself: the script has it
    raise InputError(
        f"to_daft: {func.__qualname__} (read by {reader}) reads the global {name!r}, a "
        f"{type(value).__name__} built when its module ran, which the script cannot write as "
        "a literal. Fix: build it inside the function, pass it as an input (a literal), or "
        "declare it with hotpipe.resource(factory, ...) so each worker builds its own.")


def _factory_name(factory: Any) -> str:
    return getattr(factory, "__name__", type(factory).__name__)


def _written_here(factory: Any, modules: set[str]) -> bool:
    """Whether the script holds a resource factory's own source: a class or function
    defined in a module of the pipeline's functions (the user's), in ``__main__`` or inside
    a function; any other (a package's model class) is imported by the script."""
    if not (inspect.isclass(factory) or inspect.isfunction(factory)):
        raise InputError(
            f"to_daft: the resource factory {factory!r} is a {type(factory).__name__} "
            "object, not a class or function: the script builds the resource by calling its "
            "factory by name. Fix: pass the class (or a def that builds the object).")
    return factory.__module__ in modules or "<locals>" in factory.__qualname__


def _methods(factory: Any) -> list[Any]:
    """The functions whose global names a factory's source reads: itself, or a class's
    methods."""
    if inspect.isfunction(factory):
        return [factory]
    found = []
    for value in vars(factory).values():
        value = getattr(value, "__func__", value)  # staticmethod, classmethod
        if inspect.isfunction(value):
            found.append(value)
    return found


def _literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _inputs(inputs: Mapping[str, Any], mapped: list[str], bc: Mapping[str, Any],
            var: Any) -> str:
    from hotpipe.resources import Resource

    lines = ["# --- inputs ---"]
    for name in [*mapped, *bc]:
        value = list(inputs[name]) if name in mapped else bc[name]
        if type(value) is Resource:
            lines.append(f"{var(name)} = {_declaration(name, value)}")
            continue
        if not _literal(value):
            raise InputError(f"to_daft: input {name!r} ({type(value).__name__}) cannot be "
                             "written as a literal; pass plain lists/numbers/strings.")
        lines.append(f"{var(name)} = {value!r}")
    return "\n".join(lines)


def _declaration(name: str, res: Any) -> str:
    """``Resource(factory, *args, **kwargs)``: a resource of the script, with its arguments
    as literals (it is built in each worker, so they must be written, not pickled)."""
    args = [*(("argument", i, a) for i, a in enumerate(res.args)),
            *(("keyword argument", k, a) for k, a in res.kwargs.items())]
    for kind, key, arg in args:
        if not _literal(arg):
            raise InputError(
                f"to_daft: resource {name!r} ({res.name}): its {kind} {key!r} "
                f"({type(arg).__name__}) cannot be written as a literal; the script builds "
                "the resource in each worker from its written arguments. Fix: pass plain "
                "values (a path, a model name, numbers) and load the rest in the factory.")
    written = [repr(a) for a in res.args] + [f"{k}={a!r}" for k, a in res.kwargs.items()]
    return (f"Resource({', '.join([_factory_name(res.factory), *written])})"
            "  # built once per worker, by unbox in the UDF's __init__")


def _call(step: Step, var: Any, held: Mapping[str, Any] | None = None) -> str:
    kwargs = ", ".join(f"{p}={var(a)}{'.get()' if a in (held or {}) else ''}"
                       for p, a in zip(step.params, step.args, strict=True))
    return f"{step.node.func.__name__}({kwargs})"


def _broadcast(once: list[Step], var: Any, held: Mapping[str, Any]) -> str:
    if not once:
        return ""
    lines = ["# --- broadcast steps: once, in the driver (a resource built here too) ---"]
    for step in once:
        target = ", ".join(map(var, step.outputs))
        lines.append(f"{target} = {_call(step, var, held)}")
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
          helpers: list[str], made: dict[str, str],
          keep: Mapping[str, str] | None = None) -> list[str]:
    """Per-item steps over the lists of a batch (or of one outer item's inner items):
    ``list(map(func, *columns))`` per node, a batch node called once on the lists, a
    ``vectorize=`` node once on arrays (:data:`_VECTORIZED`), a nested map as a helper called
    once over the run's outer items (:func:`_nested_helper`).

    ``made`` records the values a batch (``"batch"``) or vectorised (``"vector"``) step
    produced: they stay what the function returned (a numpy array is not split), and a
    later node receives what it gets on ``Local``: a vectorised result as Python values
    (``tolist``), a batch result's items as they are. ``keep`` (value -> name): after its
    step, ``name = kept(value)``, the value as produced, before a later step can mutate it
    (the clock restarts after, so the copy is no node's time).
    """
    lines = []
    for step in steps:
        if not step.mapped:  # an inner step of a nested map that reads no inner item
            target = ", ".join(map(var, step.outputs))
            lines.append(f"{indent}{target} = {_call(step, var)}")
            lines.append(f"{indent}t = clock({step.slot}, 1, t)")
            known.update(step.outputs)
            continue
        func = step.node.func.__name__
        cols = [f"itertools.repeat({var(a)})" if a in known else _items(a, var, made)
                for a in step.args]
        listed = [f"[{var(a)}] * n" if a in known else _listed(a, var, made)
                  for a in step.args]
        kind = None
        if step.nested is not None:  # the run's outer items at once, a list per output
            func = _nested_helper(step, var, helpers, known)
            args = [var(a) if a in known else _items(a, var, made) for a in step.args]
            call = f"{func}(clock, n, {', '.join(args)})"
            if len(step.outputs) > 1:
                target = ", ".join(map(var, step.outputs))
                lines.append(f"{indent}{target} = {call}")
                lines.append(f"{indent}t = clock({step.slot}, n, t)")
                continue
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
        elif step.node.is_async:  # the run's items awaited at once, max_concurrency at most
            call = (f"gathered({func}, {step.node.max_concurrency!r}, n"
                    f"{''.join(', ' + c for c in cols)})")
        elif step.node.is_batch or step.batch is not None:
            if not step.node.is_batch:
                func = step.node.batch_func.__name__
            size = step.node.batch_size
            if size:  # called on slices of that many items, as hotpipe calls it
                call = f"batched({func}, {size}, [{', '.join(listed)}])"
                if _BATCHED not in helpers:
                    helpers.insert(0, _BATCHED)
            else:
                call = f"{func}({', '.join(listed)})"
            kind = "batch"
        else:
            call = f"list(map({func}, {', '.join(cols)}))" if cols else f"[{func}()] * n"
        tuples = step.unpack or len(step.outputs) > 1
        target = ", ".join(map(var, step.outputs)) + ("," if len(step.outputs) == 1 else "")
        empty = ", ".join("[]" for _ in step.outputs)
        if kind is None and cols and step.nested is None and not step.node.is_async:
            # filled item by item (list.extend keeps what came before a failing item):
            # hotpipe.Daft resumes a run there instead of calling its items again
            out = var(step.outputs[0])
            if tuples or out in {var(a) for a in step.args}:
                buf = rows_name(out)  # the results, then the output columns from them
                lines.append(f"{indent}{buf} = []")
                lines.append(f"{indent}{buf}.extend(map({func}, {', '.join(cols)}))")
                lines.append(f"{indent}{target} = map(list, zip(*{buf}, strict=True)) if n "
                             f"else ({empty},)" if tuples else f"{indent}{out} = {buf}")
            else:
                lines.append(f"{indent}{out} = []")
                lines.append(f"{indent}{out}.extend(map({func}, {', '.join(cols)}))")
        elif tuples:
            if kind is not None:
                call = f"list({call})"
            lines.append(f"{indent}{target} = map(list, zip(*{call}, strict=True)) if n "
                         f"else ({empty},)")
        else:
            lines.append(f"{indent}{var(step.outputs[0])} = {call}")
            if kind is not None:
                made[step.outputs[0]] = kind
        once = ""  # calls: one per item, one per run for a batch node, or one per slice
        if kind is not None:
            once = f", -(-n // {step.node.batch_size})" if step.node.batch_size else ", 1"
        lines.append(f"{indent}t = clock({step.slot}, n, t{once})")
        snapshots = [o for o in step.outputs if o in (keep or {})]
        for o in snapshots:
            lines.append(f"{indent}{keep[o]} = kept({var(o)})")  # type: ignore[index]
        if snapshots:
            lines.append(f"{indent}t = clock()")
    return lines


def rows_name(out: str) -> str:
    """The name of the list a per-item step with tuple results (or whose output has the
    name of its argument) fills item by item, before its output columns are made."""
    return f"_{out}_rows"


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


def _nested_helper(step: Step, var: Any, helpers: list[str], outer_known: set[str]) -> str:
    """A nested map over a run of outer items, as ``Local`` runs it over a chunk: the
    inner steps that read no inner item once per outer item, then one explode of the run's
    inner lists (their lengths are the index: offsets), every inner step once over all the
    run's inner items (a batch node gets them all), and one regroup by the offsets, in
    order, an empty list staying empty. No Daft explode/groupby: no shuffle, the run's
    inner items stay in its batch. Returns the helper's name; it returns one list of
    per-outer lists per output of the nested map."""
    nm = step.nested
    assert nm is not None
    name = "nested_" + "".join(c if c.isalnum() else "_" for c in step.name)
    over = list(nm.over)
    known = {inner for outer, inner in zip(step.args, nm.args, strict=True)
             if outer in outer_known}
    params = ", ".join(var(a) for a in nm.args)
    lines = [f"def {name}(clock, n, {params}):",
             f"    # nested map {step.name!r} over {over} for a run of n outer items: the",
             "    # inner lists exploded into one column, the inner steps once over it, the",
             "    # results regrouped by the lists' offsets (in order; [] stays [])",
             "    t = clock()"]
    for plan in (nm.pre, nm.body):
        for k, v in plan.constants.items():
            if not _literal(v):
                raise InputError(f"to_daft: the bound value {k!r} of nested map {step.name!r} "
                                 f"({type(v).__name__}) cannot be written as a literal.")
            lines.append(f"    {var(k)} = {v!r}")
        known.update(plan.constants)
    made: dict[str, str] = {}
    lines += _emit(nm.pre.steps, known, var, "    ", helpers, made)  # per outer item
    first = var(over[0])
    not_items = f"nested map {step.name!r}: the values of {over} must be lists of items"
    unequal = f"nested map {step.name!r} (mode='zip') needs lists of equal length: {over}"
    lines += [
        f"    if any(isinstance(x, (str, bytes, dict, set, frozenset)) for x in {first}):",
        f"        raise TypeError({not_items!r})",
        f"    sizes = [len(x) for x in {first}]",
    ]
    for other in over[1:]:
        lines += [f"    if [len(x) for x in {var(other)}] != sizes:",
                  f"        raise ValueError({unequal!r})"]
    lines.append("    starts = list(itertools.accumulate(sizes, initial=0))")
    need = set(nm.outputs).union(*(s.args for s in nm.body.steps))
    per_outer = [a for a in nm.args if a not in known and a not in over]
    per_outer += [o for s in nm.pre.steps for o in s.outputs if o not in known]
    for a in over:
        lines.append(f"    {var(a)} = list(itertools.chain.from_iterable({var(a)}))")
    for a in per_outer:
        if a in need:
            lines.append(f"    {var(a)} = list(itertools.chain.from_iterable("
                         f"map(itertools.repeat, {_items(a, var, made)}, sizes)))")
            made.pop(a, None)
    lines += ["    n = starts[-1]", "    t = clock()"]
    lines += _emit(nm.body.steps, known, var, "    ", helpers, made)
    outs = []
    for o in nm.outputs:
        if o in known:
            outs.append(f"[[{var(o)}] * size for size in sizes]")
        else:
            col = _listed(o, var, made)
            outs.append(f"[{col}[a:b] for a, b in itertools.pairwise(starts)]")
    lines.append(f"    return {', '.join(outs)}")
    helpers.append("\n".join(lines))
    return name


_BATCHED = """\
def batched(func, size, columns):
    # a batch node with batch_size=: called on slices of that many items, as hotpipe calls it
    out = []
    for i in range(0, len(columns[0]) if columns else 0, size):
        out.extend(func(*[column[i:i + size] for column in columns]))
    return out\
"""

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

_TYPED = """\
def typed(values, dtype=None):
    # one output as a typed Daft column: the type of its node's return annotation, else a
    # numpy result's own (1-D typed, 2-D as fixed-size lists: Daft's embedding type for
    # floats), else Python objects
    if dtype is not None:
        return Series.from_pylist(list(values), dtype=dtype)
    try:
        import numpy as np
        import pyarrow as pa
    except ImportError:
        np = None
    if np is not None and len(values) and isinstance(values[0], (np.generic, np.ndarray)):
        array = np.asarray(values)
        if array.dtype.kind in "biuf" and array.ndim == 1:
            return Series.from_numpy(array)
        if array.dtype.kind in "biuf" and array.ndim == 2:
            width = array.shape[1]
            series = Series.from_arrow(pa.FixedSizeListArray.from_arrays(array.ravel(), width))
            if array.dtype.kind == "f":
                series = series.cast(
                    DataType.embedding(DataType.from_numpy_dtype(array.dtype), width))
            return series
    return Series.from_pylist(list(values), dtype=DataType.python())\
"""


class Fused:
    """``fused_steps``' source and its signature: the mapped columns and the shared
    (broadcast) values it takes after ``clock, n``, in order; ``live``: the outputs whose
    live column it returns too, after the outputs (a cached map's sub-query only)."""

    def __init__(self, text: str, mapped: list[str], shared: list[str],
                 imports: list[str], live: list[str] | None = None) -> None:
        self.text = text
        self.mapped = mapped
        self.shared = shared
        self.imports = imports
        self.live = live or []


def fused_steps_source(plan: Plan, var: Any, live: frozenset[str] | None = None) -> Fused:
    """``def fused_steps(clock, n, *columns, *shared)``: every per-item step over one run of
    ``n`` rows, node by node, one clock line per node; returns the outputs' columns in
    ``plan.outputs`` order (a batch node's array as the function returned it).

    With ``live`` (a cached map's sub-query on ``hotpipe.Daft``, never the script): each
    output a later step reads is kept as its node returned it (``kept``, bound by the
    engine: the column itself when its values are immutable, else a copy) and returned in
    its place, for the cache; its live column (what the later steps may have mutated, what
    an uncached map returns) is returned too, after the outputs, where ``live`` names it.
    """
    rows = [s for s in plan.steps if s.mapped]
    mapped = _mapped(plan)
    known = _known(plan)
    shared: list[str] = []
    for name in [a for s in rows for a in s.args] + list(plan.outputs):
        if name in known and name not in shared:
            shared.append(name)
    helpers: list[str] = []
    made: dict[str, str] = {}
    params = ", ".join(["clock", "n", *map(var, mapped), *map(var, shared)])
    lines = [
        "# every per-item step over one run of rows, node by node (each function called by",
        "# name); `t = clock(k, n, t)`: node k did n items (two clock reads per node and run)",
        f"def fused_steps({params}):",
        "    t = clock()",
    ]
    keep = _kept_names(plan, var) if live is not None else {}
    lines += _emit(rows, set(known), var, "    ", helpers, made, keep)
    outs = [f"[{var(o)}] * n" if o in known else keep.get(o, var(o)) for o in plan.outputs]
    extra = [o for o in plan.outputs if o in keep and o in (live or ())]
    outs += [var(o) for o in extra]
    lines.append(f"    return [{', '.join(outs)}]")
    vector = [s for s in _all_steps(plan) if s.node.vectorize is not None]
    imports = ["import numpy as np"] if vector else []
    if any(s.node.vectorize == "jax" for s in vector):
        imports.append("import jax")
    pre = [_VECTORIZED] if vector else []
    text = "\n\n\n".join([*pre, *helpers, "\n".join(lines)])
    return Fused(text, mapped, shared, imports, extra)


def read_later(plan: Plan) -> list[str]:
    """The outputs of the plan's per-item steps that a later per-item step reads: the
    values a later step of the same query could mutate before the query ends."""
    rows = [s for s in plan.steps if s.mapped]
    found: list[str] = []
    for j, step in enumerate(rows):
        found += [o for o in step.outputs
                  if o not in found and any(o in later.args for later in rows[j + 1:])]
    return found


def _kept_names(plan: Plan, var: Any) -> dict[str, str]:
    """:func:`read_later`'s outputs, each with the name of its kept column in the text."""
    used = set(_RESERVED) | _taken(plan)
    used.update(var(name) for name in (*plan.inputs, *plan.constants))
    used.update(var(o) for step in plan.steps for o in step.outputs)
    keep: dict[str, str] = {}
    for o in read_later(plan):
        name = f"{var(o)}_kept"
        while name in used:
            name += "_"
        used.add(name)
        keep[o] = name
    return keep


def _glue(several: bool = False) -> str:
    """The script's own definitions of the names the text reads besides the functions:
    hotpipe's glue, copied from :mod:`hotpipe.engines._daft_glue`."""
    from hotpipe.engines import _daft_glue as glue

    parts = ["# --- the glue the text reads (hotpipe.engines._daft_glue, copied) ---"]
    parts += [inspect.getsource(obj).rstrip("\n") for obj in
              (glue.Clock, glue.run_rows, glue.Resource, glue.unbox, glue.gathered,
               glue.index_column, glue.row_runs, *([glue.run_query] if several else []))]
    parts.append("sink = {}  # the runs' results, by first row: they stay in this process\n\n\n"
                 + _TYPED)
    return "\n\n\n".join(parts)


def _main(plan: Plan, mapped: list[str], var: Any, fused: Fused) -> str:
    nodes = {s.slot: s.name for s in _all_steps(plan)}
    outs = list(plan.outputs)
    box = (f"[[{', '.join(map(var, fused.mapped))}], [{', '.join(map(var, fused.shared))}], "
           f"{plan.width}]")
    lines = [
        f"NODES = {nodes!r}  # the clock's rows",
        f"OUTPUTS = {outs!r}",
        "",
        "",
        "def run() -> dict:",
        "    # the map's payload: the mapped columns, the values every item shares, the clock's",
        "    # rows; Daft runs the query, each batch's runs of rows land in `sink`",
        f"    box = [{box}]",
        "    query(box)",
        "    runs = [sink.pop(first) for first in sorted(sink)]  # back in item order",
        "    seconds = {name: sum(run[3].wall[k] for run in runs) for k, name in NODES.items()}",
        "    print('seconds per node:', seconds, file=sys.stderr)",
        "    return {name: [v for run in runs for v in run[2][k]] for k, name in "
        "enumerate(OUTPUTS)}",
        *_frame(plan),
    ]
    return "\n".join(lines)


def _frame(plan: Plan) -> list[str]:
    """The script's ``frame(outputs)`` (a typed Daft DataFrame) and its ``__main__``."""
    types = []
    for name, (dtype, _) in _output_types(plan).items():
        types.append(f"{name!r}: typed(outputs[{name!r}]{', ' + dtype if dtype else ''})")
    return [
        "",
        "",
        "def frame(outputs: dict) -> Any:",
        "    # the outputs as a typed Daft DataFrame (Arrow types: from the return annotations,",
        "    # or a numpy result's own)",
        "    return daft.from_pydict({",
        *[f"        {line}," for line in types],
        "    })",
        "",
        "",
        "if __name__ == '__main__':",
        "    print(repr(run()))",
    ]


def _exploded_main(plan: Plan, mapped: list[str], var: Any, order: list[Any],
                   fuseds: list[Fused], chosen: Mapping[int, tuple[str, str]]) -> str:
    """``run()`` of a map whose nested maps are exploded: its queries in order (the texts
    above, ``query_1``, ...), each nested map exploded between them into one flat column
    of its inner items (offsets as the index) and regrouped after, as the engine runs it
    (:func:`hotpipe.engines._daft_explode.exploded_map`)."""
    nodes = {s.slot: s.name for s in _all_steps(plan)}
    known = sorted(_known(plan))
    lines = [
        f"NODES = {nodes!r}  # the clock's rows",
        f"OUTPUTS = {list(plan.outputs)!r}",
        "",
        "",
        "def run() -> dict:",
        f"    # the map as {len(order)} Daft queries (a nested map exploded into one flat "
        "query of its inner",
        "    # items: see the header); each query's runs of rows land in `sink`",
        "    cols = {" + ", ".join(f"{m!r}: {var(m)}" for m in mapped) + "}  # per item",
        "    shared = {" + ", ".join(f"{k!r}: {var(k)}" for k in known) + "}  # every item's",
        f"    n = len(cols[{mapped[0]!r}])",
        "    seconds = {}",
    ]
    begun: set[int] = set()
    for st, fused in zip(order, fuseds, strict=True):
        call = f"run_query(query{st.suffix}, sink, [{{}}], [{{}}], {st.plan.width}, " \
               f"{list(st.plan.outputs)!r}, seconds)"
        if st.kind == "steps":
            lines.append("    cols.update(" + call.format(
                ", ".join(f"cols[{a!r}]" for a in fused.mapped),
                ", ".join(f"shared[{a!r}]" for a in fused.shared)) + ")")
            continue
        step, k = st.step, st.ks[0]
        nm = step.nested
        if k not in begun:
            begun.add(k)
            why = chosen[k][1]
            lines.append(f"    # nested map {step.name!r} over {list(nm.over)}, exploded: {why}")
            per, once = [], []
            for outer, inner in zip(step.args, nm.args, strict=True):
                if outer in plan.mapped:
                    per.append(f"{inner!r}: cols[{outer!r}]")
                elif inner in nm.over:
                    per.append(f"{inner!r}: [shared[{outer!r}]] * n")
                else:
                    once.append(f"{inner!r}: shared[{outer!r}]")
            for sub in (nm.pre, nm.body):
                for name, value in sub.constants.items():
                    if not _literal(value):
                        raise InputError(f"to_daft: the bound value {name!r} of nested map "
                                         f"{step.name!r} ({type(value).__name__}) cannot be "
                                         "written as a literal.")
                    once.append(f"{name!r}: {value!r}")
            lines.append("    inner = {" + ", ".join(per) + "}  # per outer item")
            lines.append("    inner_shared = {" + ", ".join(once) + "}")
        if st.kind == "pre":  # the inner steps that read no inner item: per outer item
            lines.append("    inner.update(" + call.format(
                ", ".join(f"inner[{a!r}]" for a in fused.mapped),
                ", ".join(f"inner_shared[{a!r}]" for a in fused.shared)) + ")")
            continue
        first = nm.over[0]
        lines.append(f"    sizes = [len(x) for x in inner[{first!r}]]")
        for other in nm.over[1:]:
            lines += [f"    if [len(x) for x in inner[{other!r}]] != sizes:",
                      f"        raise ValueError('nested map {step.name}: lists of unequal "
                      "length in an item')"]
        lines.append("    starts = list(itertools.accumulate(sizes, initial=0))  # the index")
        flat = [f"{a!r}: list(itertools.chain.from_iterable(inner[{a!r}]))" for a in nm.over]
        flat += [f"{a!r}: list(itertools.chain.from_iterable(map(itertools.repeat, "
                 f"inner[{a!r}], sizes)))" for a in st.columns if a not in nm.over]
        lines += ["    flat = {  # the explode", *[f"        {f}," for f in flat], "    }"]
        lines.append("    got = " + call.format(
            ", ".join(f"flat[{a!r}]" for a in fused.mapped),
            ", ".join(f"inner_shared[{a!r}]" for a in fused.shared)))
        for outer, inner in zip(step.outputs, nm.outputs, strict=True):
            lines.append(f"    cols[{outer!r}] = [got[{inner!r}][a:b] for a, b in "
                         "itertools.pairwise(starts)]  # the regroup, in order")
    lines += [
        "    print('seconds per node:', {NODES[k]: s for k, s in seconds.items() if k in "
        "NODES},",
        "          file=sys.stderr)",
        "    return {name: cols[name] if name in cols else [shared[name]] * n for name in "
        "OUTPUTS}",
        *_frame(plan),
    ]
    return "\n".join(lines)


def _output_types(plan: Plan) -> dict[str, tuple[str | None, str]]:
    """Each output's Arrow type in ``frame()`` (``typed(values, dtype)``), or None and why:
    only a per-item node's single output is typed by its return annotation; without one,
    ``typed`` reads a numpy result's own type at run time, else keeps Python objects."""
    found: dict[str, tuple[str | None, str]] = {}
    for name in plan.outputs:
        step = next((s for s in plan.steps if name in s.outputs), None)
        if step is None:
            found[name] = None, "an input passed through"
        elif not step.mapped:
            found[name] = None, f"node {step.name!r} runs once, in the driver"
        elif step.nested is not None:
            found[name] = None, f"nested map {step.name!r}: a list per outer item"
        elif len(step.outputs) > 1:
            found[name] = None, f"node {step.name!r} returns {len(step.outputs)} outputs"
        else:
            dtype = _dtype(step)
            found[name] = dtype, "" if dtype else f"node {step.name!r} has no int, float, " \
                "str, bool or bytes return annotation"
    return found


def _cycles(text: str, nested: list[Step], chosen: Mapping[str, tuple[str, str]]) -> str:
    """The header's explode/groupby line: the Daft explode/groupby cycles the text has (an
    ``.explode(`` in its code), and what each nested map is instead."""
    code = [line.split("#", 1)[0] for line in text.splitlines()]
    count = sum(line.count(".explode(") for line in code)
    if not nested:
        return f"{count} (no nested maps)"
    kinds = {"explode": "exploded in the driver into one flat query of its inner items",
             "inline": "exploded and regrouped inside the fused UDF, per run of rows",
             "executor": "a helper inside the fused UDF in this script, hotpipe's column "
                         "executor in the engine (see above)"}
    parts = [f"{s.name!r}: {kinds[chosen.get(s.name, ('inline', ''))[0]]}" for s in nested]
    return (f"{count} ({len(nested)} nested map{'s' if len(nested) > 1 else ''}: "
            f"{'; '.join(parts)}; see below)")


def _python_objects(plan: Plan) -> str:
    """The header's line on the outputs that reach Daft as one Python object per row."""
    loose = [f"{name!r} ({why})" for name, (dtype, why) in _output_types(plan).items()
             if dtype is None]
    if not loose:
        return "none (every output is typed by its node's return annotation)"
    return ("; ".join(loose) + ": DataType.python() in frame(), unless the values are numpy "
            "(typed at run time). To type a node's column, annotate its return: -> int, "
            "float, str, bool or bytes (a batch node: -> list[int], ...)")


def _model_calls(plan: Plan, held: Mapping[str, Any]) -> str:
    """The header's line on the model calls made once per item: a per-item node (not batch,
    not vectorize=) that reads a resource or asks for GPUs, nested maps' inner nodes too."""
    calls = []
    for step, resources in _resource_readers(plan, set(held)):
        node = step.node
        if node.is_batch or step.batch is not None or node.vectorize:
            continue
        why = [f"reads resource {name!r}" for name in resources]
        why += [f"gpus={node.hints.gpus}"] if node.hints.gpus else []
        if why:
            calls.append(f"{step.name!r} ({', '.join(why)}"
                         + (", async: awaited per item)" if node.is_async else
                            "; give it batch=True to call the model once per batch of items)"))
    if not calls:
        return "none (no per-item node reads a resource or asks for gpus)"
    return ("; ".join(calls) + ": called per item inside one batch UDF (`fused_steps`), not "
            "a row-wise @daft.func")


def _resource_readers(plan: Plan, held: set[str]) -> list[tuple[Step, list[str]]]:
    """The plan's per-item steps, depth first, with the resources each reads (by the name
    the caller passed: an inner node's argument is traced to the outer input)."""
    found = []
    for step in plan.steps:
        if step.nested is not None:
            inner = {a: outer for a, outer in zip(step.nested.args, step.args, strict=False)
                     if outer in held}
            for sub in (step.nested.pre, step.nested.body):
                for s, names in _resource_readers(sub, set(inner)):
                    found.append((s, [inner[name] for name in names]))
        elif step.mapped:
            found.append((step, [a for a in step.args if a in held]))
    return found


def _verbatim(engine_why: str, nested: str = "auto") -> list[str]:
    """The header's lines on what the engine runs: this text, verbatim, or (``engine_why``)
    hotpipe's column executor inside the same query, and why."""
    engine = "hotpipe.Daft()" if nested == "auto" else f"hotpipe.Daft(nested={nested!r})"
    if not engine_why:
        return ["# The section `the text hotpipe.Daft compiles and runs` is, verbatim, what",
                f"# engine={engine} compiles and runs for this map on this machine (names",
                "# bound to your functions; on Ray the query's rows also carry their items)."]
    return [f"# NOT what engine={engine} runs for this map: the engine runs hotpipe's column",
            f"# executor inside the same query instead of `fused_steps`, because {engine_why}",
            "# (same values; this script writes the steps as they would be fused)."]


def _header(pipe: Any, plan: Plan, once: list[Step], rows: list[Step],
            mapped: list[str], found: list[Any], held: Mapping[str, Any], text: str,
            chosen: Mapping[str, tuple[str, str]] | None = None, engine_why: str = "",
            strategy: str = "auto") -> str:
    untyped = [s.name for s in rows if s.nested is None and _dtype(s) is None]
    exploded = any(how == "explode" for how, _ in (chosen or {}).values())
    nested = [s for s in _all_steps(plan) if s.nested is not None]
    lines = [
        f"# Daft script generated by hotpipe for pipeline {pipe.name or '(unnamed)'!r}.",
        "# Runs standalone: `python this_file.py` prints the outputs (needs `pip install daft`).",
        *_verbatim(engine_why, strategy),
        "#",
        "# Analysis",
        f"#   explode/groupby cycles: {_cycles(text, nested, chosen or {})}",
        f"#   mapped inputs: {mapped}; outputs: {list(plan.outputs)}",
        (f"#   per-item steps fused into ONE batch UDF (`fused_steps` per run of rows): "
         f"{[s.name for s in rows]}" if not exploded else
         "#   per-item steps fused into one batch UDF per query (`fused_steps_1`, "
         "`fused_steps_2`, ...: the queries in the order `run()` runs them, a nested map "
         f"exploded between them): {[s.name for s in _all_steps(plan) if s.mapped]}"),
        f"#   broadcast steps, once in the driver: {[s.name for s in once] or 'none'}",
        f"#   batch nodes (one call per batch): "
        f"{[s.name for s in rows if s.node.is_batch or s.batch is not None] or 'none'}",
        f"#   vectorize= nodes (one call on numpy arrays per batch, checked on 16 items): "
        f"{[f'{s.name} ({s.node.vectorize})' for s in rows if s.node.vectorize] or 'none'}",
        f"#   row-wise model calls: {_model_calls(plan, held)}",
        "#   resources (built once per worker in the UDF's __init__, never shipped built): "
        + (", ".join(f"{k} = {r.name}(...)" for k, r in held.items()) or "none"),
        "#   async nodes (a run's items awaited concurrently, at most max_concurrency): "
        + (", ".join(f"{s.name} ({s.node.max_concurrency or 'no limit'})"
                     for s in _all_steps(plan) if s.node.is_async) or "none"),
        f"#   untyped steps (no Arrow return annotation): {untyped or 'none'}",
        f"#   per-row Python objects (outputs Daft gets untyped): {_python_objects(plan)}",
    ]
    for step in nested:
        how, why = (chosen or {}).get(step.name, ("inline", ""))
        if how == "executor":
            lines.append(f"#   nested map {step.name!r} over {list(step.nested.over)}: in this "
                         "script a helper inside the fused UDF over each run of rows; in the "
                         f"engine, {why}.")
            continue
        if how == "explode":
            lines.append(
                f"#   nested map {step.name!r} over {list(step.nested.over)}: EXPLODED into one "
                "flat Daft query of every inner item (query after query: the steps before "
                "it, its per-outer inner steps, its inner steps over the explode, with the "
                "lists' offsets as the index, then the steps after it; `run()` explodes and "
                f"regroups in order, [] staying []). Why: {why}. The trade-off: an extra "
                "query per stage, and the values go through the driver between them.")
            continue
        lines.append(
            f"#   nested map {step.name!r} over {list(step.nested.over)}: a helper inside "
            "the fused UDF over each run of rows: the run's inner lists exploded into one "
            "column (offsets as the index), each inner step once over it (a batch node: one "
            "call), regrouped in order; no Daft explode/groupby (it would shuffle every inner "
            "row and sort to restore the order: 3.5x slower in benchmarks/daft.py (d)). "
            + (f"Why not exploded into a flat query: {why}. " if why else "")
            + "The trade-off: a run's inner items stay on its worker."
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
