"""Compile (pipeline, given inputs, requested outputs) into an execution plan, once.

Compiling flattens nested pipelines into the parent (their inner values get private names
``"<node>.<name>"``), prunes every step the requested outputs do not need, checks that each
needed parameter has a value or a default, and decides for a map which steps run per item and
which run once (those that depend on broadcast inputs only). Engines only execute plans; a
pipeline caches its plans, so this work is paid once per call shape, not per call.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hotpipe.errors import InputError
from hotpipe.graph import ancestors

if TYPE_CHECKING:
    from hotpipe.node import Nested, Node
    from hotpipe.pipeline import Pipeline

__all__ = ["Plan", "Step", "compile_plan", "nested_function", "suggest"]


@dataclass(frozen=True, eq=False)
class Step:
    """One call site of the plan: ``func(*args)`` where ``args`` are value names."""

    name: str
    func: Callable[..., Any]
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    unpack: bool
    mapped: bool
    node: Node
    phase: str | None = None
    batch: Callable[..., Any] | None = None
    """The node's batch implementation, called positionally with lists (map only)."""
    params: tuple[str, ...] = ()
    """The node's parameters that ``args`` feed, in the same order (the others default)."""

    @property
    def run_batch_only(self) -> bool:
        """The node's own function takes lists (``batch=True``): ``run`` calls it with
        lists of one item."""
        return self.node.is_batch


@dataclass(frozen=True, eq=False)
class Plan:
    """What to run, in order. ``constants`` are bound values; ``inputs`` the names read from
    the caller; ``mapped`` the names that hold one value per item (empty for ``run``)."""

    pipeline_name: str
    steps: tuple[Step, ...]
    inputs: tuple[str, ...]
    constants: Mapping[str, Any]
    outputs: tuple[str, ...]
    mapped: frozenset[str]

    tuning: dict[str, Any] = field(default_factory=lambda: {"cpu": True})
    """Mutable per-plan choices made from measurements (e.g. whether ``run`` reads the CPU
    clock per node); never part of the plan's meaning."""

    @cached_property
    def item_function(self) -> Callable[..., dict[str, Any]]:
        """The plan as one generated function, for ``run`` (built on first use)."""
        from hotpipe.execute import compile_item_function

        return compile_item_function(self, cpu=True)

    @cached_property
    def lean_item_function(self) -> Callable[..., dict[str, Any]]:
        """The same without CPU clock reads, for runs too short to afford them."""
        from hotpipe.execute import compile_item_function

        return compile_item_function(self, cpu=False)

    def __getstate__(self) -> dict[str, Any]:
        # the generated functions are rebuilt where the plan is unpickled
        state = dict(self.__dict__)
        state.pop("item_function", None)
        state.pop("lean_item_function", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


@dataclass
class _Flat:
    """A node after flattening: parameter -> value name, outputs -> value names."""

    name: str
    node: Node
    args: dict[str, str]
    outputs: tuple[str, ...]
    phase: str | None


def suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """' Did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _flatten(
    pipe: Pipeline,
    prefix: str,
    rename: Mapping[str, str],
    flats: list[_Flat],
    constants: dict[str, Any],
    phase: str | None = None,
) -> None:
    """Append ``pipe``'s nodes to ``flats``, inlining nested pipelines that have no ``over``.

    ``rename`` maps names of ``pipe`` to value names of the enclosing plan; names it does not
    cover are private to ``pipe`` and get ``prefix``. ``phase`` is the enclosing nested node's
    phase: the outermost grouping wins, so a phase holds everything nested inside it.
    """

    def value(name: str) -> str:
        return rename.get(name, prefix + name)

    for name, val in pipe.bound.items():
        constants[value(name)] = val
    for n in pipe.nodes:
        nested = n.nested
        if nested is not None and not nested.over:
            inner_rename = {inner: value(outer) for outer, inner in nested.inputs.items()}
            inner_rename.update({inner: value(outer) for inner, outer in nested.outputs.items()})
            inner_phase = phase or n.phase or n.name
            _flatten(nested.pipeline, f"{prefix}{n.name}.", inner_rename, flats, constants,
                     inner_phase)
            continue
        args = {p: value(p) for p in n.params}
        outs = tuple(value(o) for o in n.outputs)
        own = n.phase or (n.name if n.nested else None)
        flats.append(_Flat(prefix + n.name, n, args, outs, phase or own))


def _call_args(flat: _Flat, available: set[str], where: str) -> dict[str, str]:
    """The parameters to pass: the ones with a value; the rest must have defaults."""
    args = {}
    for param, val in flat.args.items():
        if val in available:
            args[param] = val
        elif param not in flat.node.defaults:
            raise InputError(
                f"missing input {val!r}, needed by node {flat.name!r}{where}. "
                f"Fix: pass {{{val!r}: ...}} in the inputs."
            )
    return args


def _adapter(flat: _Flat, args: dict[str, str],
             func: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A callable taking the values positionally, in ``args`` order.

    The user's function is used as is when ``args`` is a prefix of its positional parameters
    (the common case, zero overhead); otherwise a tiny generated function forwards by keyword.
    """
    node = flat.node
    names = list(args)
    if func is None and node.nested is not None and node.nested.over:
        func = nested_function(node.nested, flat.outputs)
    else:
        func = func or node.func
        positional = node.positional if func is node.func else _positional(func)
        if names == list(positional[: len(names)]):
            return func
    params = ", ".join(f"a{i}" for i in range(len(names)))
    call = ", ".join(f"{p}=a{i}" for i, p in enumerate(names))
    namespace = {"func": func}
    exec(f"def adapter({params}):\n    return func({call})\n", namespace)
    adapter = namespace["adapter"]
    adapter.__qualname__ = adapter.__name__ = f"{flat.name}_adapter"
    return adapter


def _positional(func: Callable[..., Any]) -> tuple[str, ...]:
    """Names that can be passed positionally (for a batch implementation's own signature)."""
    import inspect

    return tuple(
        p.name for p in inspect.signature(func).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    )


def nested_function(nested: Nested, needed: Iterable[str] | None = None) -> Callable[..., Any]:
    """The function of a nested pipeline: keyword arguments under the outer names in, its
    outputs (outer ``needed`` ones, all by default) out; with ``over``, lists in and lists
    out, like ``map``. Omitted optional inputs take the inner defaults."""
    outer_of = dict(nested.outputs)
    keep = set(outer_of.values()) if needed is None else set(needed)
    wanted = tuple(inner for inner, outer in outer_of.items() if outer in keep)
    to_inner = dict(nested.inputs)
    inner, over, mode = nested.pipeline, list(nested.over), nested.mode
    single = len(wanted) == 1

    def run_nested(**kwargs: Any) -> Any:
        values = {to_inner.get(k, k): v for k, v in kwargs.items()}
        if over:
            result = inner.map(values, over=over, mode=mode, outputs=wanted)
        else:
            result = inner.run(values, outputs=wanted)
        return result[wanted[0]] if single else tuple(result[w] for w in wanted)

    return run_nested


def compile_plan(
    pipe: Pipeline,
    given: frozenset[str],
    outputs: tuple[str, ...] | None,
    mapped: frozenset[str] = frozenset(),
) -> Plan:
    """Validate a call shape and build its :class:`Plan`."""
    where = f" in pipeline {pipe.name!r}" if pipe.name else ""
    flats: list[_Flat] = []
    constants: dict[str, Any] = {}
    _flatten(pipe, "", {}, flats, constants)
    public = pipe.outputs
    if outputs is None:
        outputs = public
    for out in outputs:
        if out not in public:
            raise InputError(
                f"unknown output {out!r}{where}; the outputs are {list(public)}."
                + suggest(out, public)
            )
    producer = {o: f for f in flats for o in f.outputs}
    deps = {
        f.name: [producer[v].name for v in f.args.values() if v in producer] for f in flats
    }
    needed = ancestors(deps, [producer[o].name for o in outputs])
    available = set(given) | set(constants) | set(producer)
    consumed = set(outputs).union(*(f.args.values() for f in flats if f.name in needed))
    steps: list[Step] = []
    mapped_values = set(mapped)
    used_inputs: set[str] = set()
    for flat in flats:
        if flat.name not in needed:
            continue
        if flat.node.nested is not None and flat.node.nested.over:
            # a mapped nested pipeline computes only the outputs someone reads
            flat.outputs = tuple(o for o in flat.outputs if o in consumed)
        args = _call_args(flat, available, where)
        is_mapped = any(v in mapped_values for v in args.values())
        if is_mapped:
            mapped_values.update(flat.outputs)
        used_inputs.update(v for v in args.values() if v in given)
        node = flat.node
        steps.append(
            Step(
                name=flat.name,
                func=_adapter(flat, args),
                args=tuple(args.values()),
                outputs=flat.outputs,
                unpack=len(flat.outputs) > 1 if node.nested else node.unpack,
                mapped=is_mapped,
                node=node,
                phase=flat.phase,
                batch=_adapter(flat, args, node.batch_func) if node.batch_func else None,
                params=tuple(args),
            )
        )
    return Plan(
        pipeline_name=pipe.name or "pipeline",
        steps=tuple(steps),
        inputs=tuple(sorted(used_inputs)),
        constants=constants,
        outputs=tuple(outputs),
        mapped=frozenset(mapped_values),
    )


def product_columns(
    values: Mapping[str, list[Any]], over: list[str]
) -> tuple[dict[str, list[Any]], int]:
    """Row-major cartesian product of the mapped columns, in the order ``over`` gives."""
    rows = list(itertools.product(*(values[name] for name in over)))
    cols = {name: [r[i] for r in rows] for i, name in enumerate(over)}
    return cols, len(rows)
