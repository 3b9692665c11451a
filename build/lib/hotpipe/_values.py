"""Small value helpers shared by the executors: the FAILED sentinel and short reprs."""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.plan import Step

__all__ = ["FAILED", "describe_inputs", "short_repr"]

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


def describe_inputs(step: Step, values: tuple[Any, ...]) -> str:
    """``x=1, y='a'``: a short repr of a node's arguments for messages and profiles."""
    names = [a.rsplit(".", 1)[-1] for a in step.args]
    return ", ".join(f"{n}={short_repr(v)}" for n, v in zip(names, values, strict=False)) or "-"



def short_repr(value: Any) -> str:
    """A repr cut to ~60 characters and 4 elements per container."""
    return _short.repr(value)
