"""Every exception hotpipe raises, in one place.

The hierarchy separates misuse (a malformed pipeline, bad arguments to ``run``/``map``),
which is reported before any node runs, from runtime failures (a node raised)::

    HotpipeError                  root: ``except hotpipe.HotpipeError`` catches everything
    ├── DefinitionError           a node or pipeline is malformed (raised at construction)
    │   └── CycleError            the graph has a cycle; ``.path`` holds it
    ├── InputError                bad arguments to run/map/bind/as_node (raised before work starts)
    │   └── CacheKeyError         a value cannot be fingerprinted stably for the cache
    ├── ResourceError             building a declared resource failed; the cause is chained
    ├── BenchError                a benchmark was refused: outputs differ, a bad case or file
    └── NodeError                 a node raised; the original exception is ``__cause__``

Every message says what was wrong, which value, and how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BenchError",
    "CacheKeyError",
    "CycleError",
    "DefinitionError",
    "HotpipeError",
    "InputError",
    "NodeError",
    "ResourceError",
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


class InputError(HotpipeError):
    """Bad arguments to ``run``, ``map``, ``bind`` or ``as_node``; raised before any node runs."""


class CacheKeyError(InputError):
    """A value has no stable fingerprint, so caching it could give wrong hits or no hits.

    Raised before the node runs; the message names the node and parameter and the fixes.
    """


class ResourceError(HotpipeError):
    """A :func:`~hotpipe.resource`'s factory raised while building it; ``__cause__`` is why."""


class BenchError(HotpipeError):
    """``hotpipe.bench`` refused to time something: the cases compute different results,
    a case is malformed, or a benchmark file or report cannot be used. Raised before timing."""


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
