"""Every exception hotpipe raises, in one place.

The hierarchy separates misuse (a malformed pipeline, bad arguments to ``run``/``map``),
which is reported before any node runs, from runtime failures (a node raised)::

    HotpipeError                  root: ``except hotpipe.HotpipeError`` catches everything
    ├── DefinitionError           a node or pipeline is malformed (raised at construction)
    │   ├── CycleError            the graph has a cycle; ``.path`` holds it
    │   └── TypeMismatchError     an output's annotated type cannot fit the parameter it feeds
    ├── InputError                bad arguments to run/map/bind/as_node (raised before work starts)
    │   └── CacheKeyError         a value cannot be fingerprinted stably for the cache
    ├── ResourceError             building a declared resource failed; the cause is chained
    └── NodeError                 a node raised; the original exception is ``__cause__``

Every message says what was wrong, which value, and how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CacheKeyError",
    "CycleError",
    "DefinitionError",
    "HotpipeError",
    "InputError",
    "NodeError",
    "ResourceError",
    "TypeMismatchError",
]


class HotpipeError(Exception):
    """Root of every exception raised by hotpipe."""


class DefinitionError(HotpipeError):
    """A node or a pipeline is malformed; raised when it is constructed."""


class CycleError(DefinitionError):
    """The pipeline's graph has a cycle; ``path`` lists the nodes along it."""

    def __init__(self, path: list[str], via: list[str]) -> None:
        self.path = path
        steps = " -> ".join(
            f"{src} --[{name}]" for src, name in zip(path[:-1], via, strict=True)
        )
        super().__init__(
            f"the pipeline has a cycle: {steps}-> {path[-1]}. "
            "Fix: rename one output or parameter so that the data flows one way."
        )


class TypeMismatchError(DefinitionError):
    """An edge's annotated types cannot fit: ``source`` returns ``output_type`` as ``name``,
    but ``target`` takes ``name`` as ``param_type``. ``Pipeline(..., strict=False)`` skips the
    check."""

    def __init__(self, source: str, target: str, name: str, output_type: str,
                 param_type: str, source_detail: str = "", target_detail: str = "",
                 pipeline: str | None = None) -> None:
        self.source = source
        self.target = target
        self.name = name
        self.output_type = output_type
        self.param_type = param_type
        where = f" in pipeline {pipeline!r}" if pipeline else ""
        src = source_detail or f"node {source!r} returns {name!r} as {output_type}"
        dst = target_detail or f"node {target!r} takes {name!r} as {param_type}"
        super().__init__(
            f"type mismatch{where} on {name!r}, from node {source!r} to node {target!r}: "
            f"{src}, but {dst}; a value of type {output_type} never fits {param_type}. Fix: "
            "correct one of the annotations, convert the value in a node between them, or build "
            "with Pipeline(..., strict=False) to skip the type checks."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    exc = Exception.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class InputError(HotpipeError):
    """Bad arguments to ``run``, ``map``, ``bind`` or ``as_node``; raised before any node runs."""


class CacheKeyError(InputError):
    """A value has no stable fingerprint, so caching it could give wrong hits or no hits.

    Raised before the node runs; the message names the node and parameter and the fixes.
    """


class ResourceError(HotpipeError):
    """A :func:`~hotpipe.resource`'s factory raised while building it; ``__cause__`` is why."""


class NodeError(HotpipeError):
    """A node raised an exception; the original one is chained as ``__cause__``.

    Attributes: ``node`` (its name), ``index`` (the item's position in a map, ``None`` in
    ``run``), ``inputs`` (a short repr of the arguments it was called with).
    """

    def __init__(self, node: str, index: int | None, inputs: str, error: BaseException) -> None:
        self.node = node
        self.index = index
        self.inputs = inputs
        self.error = error
        where = f"node {node!r}" if index is None else f"node {node!r} on item {index}"
        hint = "" if index is None else "; map(..., on_error='collect') keeps the other items"
        super().__init__(
            f"{where} raised {type(error).__name__}: {error}; inputs: {inputs}. "
            f"The original traceback is chained above{hint}."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # keeps extra attributes (e.g. a worker's traceback) across processes
        return (type(self), (self.node, self.index, self.inputs, self.error), self.__dict__)
