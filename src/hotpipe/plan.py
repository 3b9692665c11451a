"""Compile (pipeline, given inputs, requested outputs) into an execution plan, once.

A plan is frozen plain data (``docs/plan.md`` is its spec): steps in order, each naming its
function, the values it reads and writes, whether it runs per item or once, its batch
function, phase and hints. Compiling flattens nested pipelines without ``over`` into the
parent (their inner values get private names ``"<node>.<name>"``); a nested pipeline mapped
``over`` a list becomes one step holding a :class:`NestedMap`, itself two plans, that the
executors run by exploding inner items into one flat column (never one map per outer item).
Compiling also prunes every step the requested outputs do not need, checks that each needed
parameter has a value or a default, and decides for a map which steps run per item and which
run once. What executors learn while running (CPU clock on or off, batch sizes) lives in
:mod:`hotpipe._state`, not here.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hotpipe._guard import guard
from hotpipe.errors import InputError
from hotpipe.graph import ancestors

if TYPE_CHECKING:
    from hotpipe.node import Nested, Node
    from hotpipe.pipeline import Pipeline

__all__ = ["NestedMap", "Plan", "Step", "compile_plan", "nested_function", "suggest"]


@dataclass(frozen=True, eq=False)
class Step:
    """One call site of the plan: ``func(*args)`` where ``args`` are value names.

    ``slot`` is the step's row in the counters (:class:`~hotpipe.profile.stats.Stats`) and
    the profile: the steps of a plan have slots ``0..len(steps)-1`` in order, the steps of
    nested maps the slots after. ``nested`` is set for a nested pipeline mapped ``over`` a
    list: then ``func`` is only its direct-call form, and executors run ``nested`` instead.
    """

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
    slot: int = 0
    nested: NestedMap | None = None

    @property
    def run_batch_only(self) -> bool:
        """The node's own function takes lists (``batch=True``): ``run`` calls it with
        lists of one item."""
        return self.node.is_batch


@dataclass(frozen=True, eq=False)
class NestedMap:
    """A nested pipeline mapped ``over`` lists, as data the executors run column-wise.

    Per outer item the ``over`` inputs hold lists; their items (zipped, or every combination
    with ``mode="product"``) are the inner items. ``pre`` holds the inner steps that read no
    ``over`` value: once per map when they read only broadcast values, else once per outer
    item. ``body`` holds the others, run per inner item over one flat column of every outer
    item's inner items. ``args[i]`` is the inner input fed by the outer step's ``args[i]``;
    ``outputs[i]`` the inner value returned as the outer step's ``outputs[i]`` (a list per
    outer item, aligned with its inner items).
    """

    pre: Plan
    body: Plan
    over: tuple[str, ...]
    mode: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def slots(self) -> tuple[int, ...]:
        """Counter rows of every inner step, nested ones included."""
        return tuple(step.slot for step in self.pre.rows + self.body.rows)


@dataclass(frozen=True, eq=False)
class Plan:
    """What to run, in order. ``constants`` are bound values; ``inputs`` the names read from
    the caller; ``mapped`` the names that hold one value per item (empty for ``run``);
    ``rows`` every step with its counter row, nested maps' steps after their parent step."""

    pipeline_name: str
    steps: tuple[Step, ...]
    inputs: tuple[str, ...]
    constants: Mapping[str, Any]
    outputs: tuple[str, ...]
    mapped: frozenset[str]
    rows: tuple[Step, ...] = ()
    width: int = 0
    """Counter rows of the whole plan (``max slot + 1`` over ``rows``)."""
    guarded: bool = False
    """Some step (inner steps included) has retries or a timeout (:mod:`hotpipe._guard`)."""

    @property
    def has_nested(self) -> bool:
        return any(step.nested is not None for step in self.steps)

    def mapped_slots(self) -> list[int]:
        """Counter rows of the work done per item: mapped steps and their inner steps."""
        slots = []
        for step in self.steps:
            if step.mapped:
                slots.append(step.slot)
                if step.nested is not None:
                    slots.extend(step.nested.slots)
        return slots


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
    *,
    prefix: str = "",
    phase: str | None = None,
    slots: Iterator[int] | None = None,
    guards: tuple[int, float | None] | None = None,
) -> Plan:
    """Validate a call shape and build its :class:`Plan`.

    ``prefix``, ``phase`` and ``slots`` are for the plans of nested maps: their steps are
    named ``"<outer step>/<inner step>"``, grouped under the outer step's phase, and numbered
    after the steps of the enclosing plan. ``guards``: the call's default ``(retries,
    timeout)`` for the nodes (inner ones included) that set none of their own.
    """
    where = f" in pipeline {pipe.name!r}" if pipe.name else ""
    flats: list[_Flat] = []
    constants: dict[str, Any] = {}
    _flatten(pipe, "", {}, flats, constants, phase)
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
    kept = [f for f in flats if f.name in needed]
    slots = slots if slots is not None else itertools.count()
    own_slots = [next(slots) for _ in kept]
    steps: list[Step] = []
    rows: list[Step] = []
    mapped_values = set(mapped)
    used_inputs: set[str] = set()
    for flat, slot in zip(kept, own_slots, strict=True):
        nested_over = flat.node.nested is not None and bool(flat.node.nested.over)
        if nested_over:
            # a mapped nested pipeline computes only the outputs someone reads
            flat.outputs = tuple(o for o in flat.outputs if o in consumed)
        args = _call_args(flat, available, where)
        is_mapped = any(v in mapped_values for v in args.values())
        if is_mapped:
            mapped_values.update(flat.outputs)
        used_inputs.update(v for v in args.values() if v in given)
        node = flat.node if guards is None else with_guards(flat.node, guards)
        inner = None
        if nested_over:
            inner = _nested_map(flat, args, mapped_values, prefix + flat.name, slots, guards)
        step = Step(
            name=prefix + flat.name,
            func=guard(node, _adapter(flat, args), slot),
            args=tuple(args.values()),
            outputs=flat.outputs,
            unpack=len(flat.outputs) > 1 if node.nested else node.unpack,
            mapped=is_mapped,
            node=node,
            phase=flat.phase,
            batch=guard(node, _adapter(flat, args, node.batch_func), slot)
            if node.batch_func else None,
            params=tuple(args),
            slot=slot,
            nested=inner,
        )
        steps.append(step)
        rows.append(step)
        if inner is not None:
            rows.extend(inner.pre.rows + inner.body.rows)
    return Plan(
        pipeline_name=pipe.name or "pipeline",
        steps=tuple(steps),
        inputs=tuple(sorted(used_inputs)),
        constants=constants,
        outputs=tuple(outputs),
        mapped=frozenset(mapped_values),
        rows=tuple(rows),
        width=max((r.slot for r in rows), default=-1) + 1,
        guarded=any(r.node.retries or r.node.timeout is not None for r in rows),
    )


def with_guards(node: Node, guards: tuple[int, float | None]) -> Node:
    """``node`` with a call's default retries and timeout where it has none of its own
    (``retries=0``, ``timeout=None``); its ``retry_on`` and ``backoff`` stay. A nested
    map's node is left alone: its inner nodes get the defaults instead."""
    retries, timeout = guards
    if node.nested is not None:
        return node
    changes: dict[str, Any] = {}
    if retries and not node.retries:
        changes["retries"] = retries
    if timeout is not None and node.timeout is None:
        changes["timeout"] = float(timeout)
    return dataclasses.replace(node, **changes) if changes else node


def _nested_map(flat: _Flat, args: dict[str, str], outer_mapped: set[str], name: str,
                slots: Iterator[int],
                guards: tuple[int, float | None] | None = None) -> NestedMap:
    """Compile the inner pipeline of a nested map into its ``pre`` and ``body`` plans."""
    nested = flat.node.nested
    assert nested is not None
    inner_of = dict(nested.inputs)  # outer parameter -> inner input
    inner_args = tuple(inner_of[p] for p in args)
    over = tuple(nested.over)
    missing = [o for o in over if o not in inner_args]
    if missing:
        raise InputError(
            f"nested node {name!r} maps over {missing[0]!r}, but the outer pipeline gives it "
            f"no value. Fix: pass {missing[0]!r} (a list per item) in the inputs."
        )
    per_outer = {inner_of[p] for p, v in args.items() if v in outer_mapped}
    outputs_of = {outer: inner for inner, outer in nested.outputs.items()}
    wanted = tuple(outputs_of[o] for o in flat.outputs)
    full = compile_plan(
        nested.pipeline, frozenset(inner_args) | frozenset(over), wanted,
        frozenset(over) | frozenset(per_outer), prefix=name + "/", phase=flat.phase,
        slots=slots, guards=guards,
    )
    per_inner = set(over)
    body, pre = [], []
    for step in full.steps:
        if any(a in per_inner for a in step.args):
            body.append(step)
            per_inner.update(step.outputs)
        else:
            pre.append(step)
    read = set(wanted).union(*(s.args for s in body))
    pre_out = tuple(o for s in pre for o in s.outputs if o in read)
    pre_mapped = full.mapped - per_inner
    def part(steps: list[Step], outs: tuple[str, ...], mapped: frozenset[str]) -> Plan:
        rows = tuple(r for s in steps for r in
                     (s, *((s.nested.pre.rows + s.nested.body.rows) if s.nested else ())))
        return Plan(full.pipeline_name, tuple(steps), full.inputs, full.constants, outs,
                    mapped, rows, full.width)

    return NestedMap(
        pre=part(pre, pre_out, frozenset(pre_mapped)),
        body=part(body, wanted, full.mapped),
        over=over,
        mode=nested.mode,
        args=inner_args,
        outputs=wanted,
    )


def product_columns(
    values: Mapping[str, list[Any]], over: list[str]
) -> tuple[dict[str, list[Any]], int]:
    """Row-major cartesian product of the mapped columns, in the order ``over`` gives."""
    rows = list(itertools.product(*(values[name] for name in over)))
    cols = {name: [r[i] for r in rows] for i, name in enumerate(over)}
    return cols, len(rows)
