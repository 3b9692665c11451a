"""Small value helpers shared by the executors: the FAILED sentinel and short reprs."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hotpipe._arrow import arrow_list
from hotpipe.errors import InputError

if TYPE_CHECKING:
    from hotpipe.plan import Step

__all__ = ["FAILED", "IMMUTABLE", "as_list", "describe_inputs", "frozen", "short_repr"]

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4
_short.maxlevel = 2


IMMUTABLE = frozenset({type(None), bool, int, float, complex, str, bytes})
"""The builtin types whose values no node can mutate (the cache skips copying them)."""


def frozen(value: Any) -> bool:
    """Whether nothing can mutate ``value``: an :data:`IMMUTABLE` value, or a tuple or
    frozenset of frozen values."""
    kind = type(value)
    if kind is tuple or kind is frozenset:
        return all(map(frozen, value))
    return kind in IMMUTABLE


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


def describe_inputs(step: Step, values: tuple[Any, ...]) -> str:
    """``x=1, y='a'``: a short repr of a node's arguments for messages and profiles."""
    names = [a.rsplit(".", 1)[-1] for a in step.args]
    return ", ".join(f"{n}={short_repr(v)}" for n, v in zip(names, values, strict=False)) or "-"


_PLAIN_REPR = frozenset({int, float, bool, type(None)})


def short_repr(value: Any) -> str:
    """A repr cut to ~60 characters and 4 elements per container."""
    kind = type(value)
    if kind in _PLAIN_REPR and (kind is not int or -10**18 < value < 10**18):
        return repr(value)  # what reprlib gives for these, without its dispatch
    if kind is str and len(value) <= 40:
        return repr(value)
    return _short.repr(value)


def as_list(name: str, values: Any, where: str = "map") -> list[Any]:
    """The items of a mapped input as a list, or an InputError saying what to pass."""
    if isinstance(values, list):
        return values
    if isinstance(values, (set, frozenset)):
        raise InputError(
            f"{where}(over={name!r}): a {type(values).__name__} has no order, so results "
            "could not be matched to items. Fix: pass sorted(...) or a list."
        )
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
        raise InputError(
            f"{where}(over={name!r}): the value for {name!r} must be a sequence of items "
            f"(list, tuple, range, numpy array) or an iterator, got {type(values).__name__}. "
            "Fix: pass a list (a string or a dict is one value, not items)."
        )
    listed = arrow_list(values)  # Arrow items as Python values, not Arrow scalars
    return list(values) if listed is None else listed
