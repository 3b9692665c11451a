"""Typed edges: where both ends of an edge are annotated, the output must fit the parameter.

``Pipeline(...)`` calls :func:`check_edges` once, at construction (``strict=False`` skips it).
The check is deliberately lenient: an edge is rejected only when **no** value of the output's
type could be accepted by the parameter (``str`` into ``int``, ``list[str]`` into
``list[int]``, ``float`` into ``int``). Anything it cannot decide passes: a missing or
unresolvable annotation, ``Any``, ``object``, an unbound ``TypeVar``, a protocol that is not
runtime-checkable, a callable's signature. Unions pass when one member fits
(``int | None`` may feed ``int``: the ``None`` may never happen), a parent class may feed a
child class (the value may be one), and ``int`` fits ``float`` and ``complex`` (PEP 484's
numeric tower; also any type registered as ``numbers.Integral``/``Real``/``Complex``, such as
numpy's scalars). Generic arguments are compared element by element (``list[int]`` feeds
``Sequence[float]``; ``tuple[int, str]`` does not feed ``tuple[int, int]``).

Batch nodes (``@node(batch=True)``) take and return lists: their item types are the element
types of ``list[T]`` annotations. A nested pipeline (``as_node``) exposes the types of the
inner nodes behind its inputs and outputs (wrapped in ``list[...]`` for inputs it maps over).
"""

from __future__ import annotations

import collections.abc as cabc
import numbers
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hotpipe.errors import TypeMismatchError

if TYPE_CHECKING:
    from hotpipe.node import Node

__all__ = ["check_edges", "fits", "type_name"]

UNKNOWN: Any = object()
"""No annotation, or one that could not be resolved: the edge is not checked."""


@dataclass(frozen=True)
class _End:
    """One typed end of an edge: the annotated type, who declared it (``node 'f'``) and a
    note for the message (where inside a nested pipeline, which tuple element)."""

    type: Any
    who: str = ""
    note: str = ""


# ----------------------------------------------------------------------------- entry point


def check_edges(nodes: Sequence[Node], pipeline: str | None = None) -> None:
    """Raise :class:`TypeMismatchError` for the first edge whose types cannot fit."""
    outputs: dict[str, _End] = {}
    producer: dict[str, Node] = {}
    for n in nodes:
        outputs.update(output_types(n))
        producer.update((o, n) for o in n.outputs)
    for n in nodes:
        for name, ends in param_types(n).items():
            src = outputs.get(name)
            if src is None or src.type is UNKNOWN:
                continue
            for dst in ends:
                if dst.type is not UNKNOWN and fits(src.type, dst.type) is False:
                    out, par = type_name(src.type), type_name(dst.type)
                    raise TypeMismatchError(
                        source=producer[name].name, target=n.name, name=name,
                        output_type=out, param_type=par, pipeline=pipeline,
                        source_detail=f"{src.who} returns {name!r} as {out}{src.note}",
                        target_detail=f"{dst.who} takes {name!r} as {par}{dst.note}",
                    )


# ----------------------------------------------------------------------------- node types


def output_types(node: Node) -> dict[str, _End]:
    """Output name -> the type of one item's value (``UNKNOWN`` when not annotated)."""
    if node.nested is not None:
        return _nested_outputs(node)
    ret = _hints(node.func).get("return", UNKNOWN)
    if node.is_batch:
        ret = _element(ret)
    who = f"node {node.name!r}"
    if len(node.outputs) == 1 and not node.unpack:
        return {node.outputs[0]: _End(ret, who)}
    parts = _tuple_parts(ret, len(node.outputs))
    return {o: _End(t, who, f" (element {i} of its tuple)")
            for i, (o, t) in enumerate(zip(node.outputs, parts, strict=True))}


def param_types(node: Node) -> dict[str, list[_End]]:
    """Parameter name -> the types one item's value must fit (a nested pipeline may feed one
    input to several inner nodes: one entry each)."""
    if node.nested is not None:
        return _nested_params(node)
    hints = _hints(node.func)
    result = {}
    for p in node.params:
        t = hints.get(p, UNKNOWN)
        if node.is_batch:
            t = _element(t)
        result[p] = [_End(t, f"node {node.name!r}")]
    return result


def _nested_outputs(node: Node) -> dict[str, _End]:
    nested = node.nested
    assert nested is not None
    inner = {o: e for n in nested.pipeline.nodes for o, e in output_types(n).items()}
    result = {}
    for inner_name, outer_name in nested.outputs.items():
        end = inner.get(inner_name, _End(UNKNOWN))
        t = end.type
        if nested.over and t is not UNKNOWN:
            t = list[t]  # type: ignore[valid-type]
        note = f" (its {end.who} returns {inner_name!r}{end.note})"
        result[outer_name] = _End(t, f"nested pipeline {node.name!r}", note)
    return result


def _nested_params(node: Node) -> dict[str, list[_End]]:
    nested = node.nested
    assert nested is not None
    by_inner: dict[str, list[_End]] = {}
    for n in nested.pipeline.nodes:
        for p, ends in param_types(n).items():
            if p not in nested.pipeline.outputs:
                by_inner.setdefault(p, []).extend(ends)
    result = {}
    for outer_name, inner_name in nested.inputs.items():
        ends = []
        for end in by_inner.get(inner_name, []):
            t = end.type
            mapped = inner_name in nested.over and t is not UNKNOWN
            if mapped:
                t = list[t]  # type: ignore[valid-type]
            note = (f" (its {end.who} takes {inner_name!r}{end.note}"
                    f"{', one item at a time' if mapped else ''})")
            ends.append(_End(t, f"nested pipeline {node.name!r}", note))
        result[outer_name] = ends
    return result


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations of ``func`` (a class: its ``__init__``'s, returning the class; a
    callable object: its ``__call__``'s). String annotations that cannot be resolved (a name
    defined later, or in a function body) are ``UNKNOWN``, the others are kept."""
    if isinstance(func, type):
        return {**_resolve(func.__init__), "return": func}
    if isinstance(func, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return _resolve(func)
    call = getattr(type(func), "__call__", None)  # noqa: B004 - the hints live on __call__
    return _resolve(call) if isinstance(call, types.FunctionType) else {}


def _resolve(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    raw = getattr(target, "__annotations__", None)
    if not isinstance(raw, dict):
        return {}
    glob = getattr(target, "__globals__", {})
    result = {}
    for name, ann in raw.items():
        if isinstance(ann, str):
            try:
                ann = eval(ann, glob)  # what get_type_hints does, one name at a time
            except Exception:
                ann = UNKNOWN
        result[name] = ann
    return result


def _element(t: Any) -> Any:
    """The item type of a batch node's ``list[T]`` (``UNKNOWN`` for anything else)."""
    if t is UNKNOWN:
        return t
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if isinstance(origin, type) and issubclass(origin, cabc.Iterable) and len(args) == 1:
        return args[0]
    return UNKNOWN


def _tuple_parts(t: Any, n: int) -> list[Any]:
    if typing.get_origin(t) is tuple:
        args = typing.get_args(t)
        if len(args) == n and Ellipsis not in args:
            return list(args)
        if len(args) == 2 and args[1] is Ellipsis:
            return [args[0]] * n
    return [UNKNOWN] * n


# ----------------------------------------------------------------------------- fitting

_NUMERIC = {int: (float, complex), float: (complex,), bool: (float, complex)}
# numpy's scalars and other number types register with these ABCs: an np.int64 fits ``int``
_NUMBER_ABC = {int: numbers.Integral, float: numbers.Real, complex: numbers.Complex}


def fits(out: Any, param: Any) -> bool | None:
    """Can a value of type ``out`` be accepted by a parameter of type ``param``?

    ``True`` yes, ``False`` certainly not, ``None`` undecided (treated as yes).

    >>> fits(int, float), fits(str, int), fits(list[int], typing.Sequence[float])
    (True, False, True)
    >>> fits(int | None, int), fits(typing.Optional[str], int), fits(typing.Any, int)
    (True, False, True)
    """
    out, param = _strip(out), _strip(param)
    if out is UNKNOWN or param is UNKNOWN or out is Any or param is Any or param is object:
        return True
    if isinstance(param, typing.TypeVar):
        return _fits_typevar(out, param)
    if isinstance(out, typing.TypeVar):
        return True
    if _is_union(param):
        results = [fits(out, p) for p in typing.get_args(param)]
        return _any(results)
    if _is_union(out):
        return _any([fits(o, param) for o in typing.get_args(out)])
    if typing.get_origin(param) is typing.Literal or typing.get_origin(out) is typing.Literal:
        return _fits_literal(out, param)
    return _fits_class(out, param)


def _strip(t: Any) -> Any:
    """Annotated -> its type; NewType -> its supertype; None -> NoneType; forward refs left
    unresolved -> UNKNOWN."""
    while True:
        if t is None:
            return type(None)
        if typing.get_origin(t) is typing.Annotated:
            t = typing.get_args(t)[0]
        elif isinstance(t, typing.NewType):
            t = t.__supertype__
        elif isinstance(t, (str, typing.ForwardRef)) or t is typing.NoReturn or t is typing.Never:
            return UNKNOWN
        else:
            return t


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _any(results: Iterable[bool | None]) -> bool | None:
    results = list(results)
    if any(r is True for r in results):
        return True
    if any(r is None for r in results):
        return None
    return False


def _fits_typevar(out: Any, var: typing.TypeVar) -> bool | None:
    if var.__constraints__:
        return _any([fits(out, c) for c in var.__constraints__])
    if var.__bound__ is not None:
        return fits(out, var.__bound__)
    return True


def _fits_literal(out: Any, param: Any) -> bool | None:
    if typing.get_origin(out) is typing.Literal:
        values = typing.get_args(out)
        if typing.get_origin(param) is typing.Literal:
            return any(v in typing.get_args(param) for v in values)
        return _any([fits(type(v), param) for v in values])
    # a class into a Literal parameter: possible when some literal value is of that class
    return _any([fits(type(v), out) for v in typing.get_args(param)])


def _fits_class(out: Any, param: Any) -> bool | None:
    o_origin, p_origin = _origin(out), _origin(param)
    if not isinstance(o_origin, type) or not isinstance(p_origin, type):
        return None
    try:
        down = (issubclass(o_origin, p_origin) or p_origin in _NUMERIC.get(o_origin, ())
                or (p_origin in _NUMBER_ABC and issubclass(o_origin, _NUMBER_ABC[p_origin])))
        up = issubclass(p_origin, o_origin)
    except TypeError:  # a protocol that is not runtime-checkable, an odd metaclass
        return None
    if not (down or up):
        return False
    return _fits_args(out, param, o_origin, p_origin)


def _origin(t: Any) -> Any:
    origin = typing.get_origin(t)
    if origin is None:
        return t
    return {typing.Callable: cabc.Callable}.get(origin, origin)


def _fits_args(out: Any, param: Any, o_origin: type, p_origin: type) -> bool | None:
    o_args, p_args = typing.get_args(out), typing.get_args(param)
    if not o_args or not p_args or issubclass(o_origin, cabc.Callable) or (
        issubclass(p_origin, cabc.Callable)
    ):
        return True
    if o_origin is tuple:
        return _fits_tuple(o_args, param, p_origin, p_args)
    if p_origin is tuple:
        return True  # a sequence into a tuple parameter: its length is unknown
    if len(o_args) != len(p_args):
        return None
    return _all([fits(o, p) for o, p in zip(o_args, p_args, strict=True)])


def _fits_tuple(o_args: tuple, param: Any, p_origin: type, p_args: tuple) -> bool | None:
    o_items = [o_args[0]] if len(o_args) == 2 and o_args[1] is Ellipsis else list(o_args)
    if p_origin is tuple:
        if len(p_args) == 2 and p_args[1] is Ellipsis:
            return _all([fits(o, p_args[0]) for o in o_items])
        if len(o_args) == 2 and o_args[1] is Ellipsis:
            return _all([fits(o_items[0], p) for p in p_args])
        if len(o_items) != len(p_args):
            return False
        return _all([fits(o, p) for o, p in zip(o_items, p_args, strict=True)])
    if len(p_args) == 1:  # tuple[int, str] into Sequence[T] / Iterable[T]
        return _all([fits(o, p_args[0]) for o in o_items])
    return None


def _all(results: list[bool | None]) -> bool | None:
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True


def type_name(t: Any) -> str:
    """A readable name: ``int``, ``list[str]``, ``int | None``, ``mymodule.Model``.

    >>> type_name(list[int]), type_name(typing.Optional[str]), type_name(type(None))
    ('list[int]', 'str | None', 'None')
    """
    t = _strip(t) if t is not None else type(None)
    if t is type(None):
        return "None"
    if _is_union(t):
        return " | ".join(type_name(a) for a in typing.get_args(t))
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is not None and args:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{type_name(origin)}[{inner}]"
    if isinstance(t, type):
        if t.__module__ in ("builtins", "collections.abc", "typing"):
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return repr(t).replace("typing.", "")
