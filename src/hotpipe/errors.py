"""Every exception hotpipe raises, in one place.

The hierarchy separates misuse (a malformed pipeline, bad arguments to ``run``/``map``),
which is reported before any node runs, from runtime failures (a node raised)::

    HotpipeError                  root: ``except hotpipe.HotpipeError`` catches everything
    ├── DefinitionError           a node or pipeline is malformed (raised at construction)
    │   ├── CycleError            the graph has a cycle; ``.path`` holds it
    │   └── TypeMismatchError     an output's annotated type cannot fit the parameter it feeds
    ├── InputError                bad arguments to run/map/bind/as_node (raised before work starts)
    │   ├── CacheKeyError         a value cannot be fingerprinted stably for the cache
    │   └── CacheDirectoryError   a cache directory hotpipe did not create, or does not trust
    ├── ResourceError             building a declared resource failed; the cause is chained
    ├── BenchError                a benchmark was refused: outputs differ, a bad case or file
    ├── NodeError                 a node raised; the original exception is ``__cause__``
    ├── NodeTimeout               a call outlived its node's ``timeout=`` (chained under a
    │                             NodeError; also a ``TimeoutError``)
    ├── RemoteError               a worker's exception that could not travel back as itself:
    │                             its type name, message and traceback text (under a NodeError)
    └── WorkerDied                a worker process exited abruptly (chained under a NodeError)

    ItemError                     not an exception: one failed item of a map with
                                  ``on_error="collect"`` (index, node, exception, path)
    CacheWarning                  a warning (UserWarning): an entry could not be read or written
    VectorizeWarning              a warning (UserWarning): a vectorize= node runs per item

Every message says what was wrong, which value, and how to fix it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "BenchError",
    "CacheDirectoryError",
    "CacheKeyError",
    "CacheWarning",
    "CycleError",
    "DefinitionError",
    "HotpipeError",
    "InputError",
    "ItemError",
    "NodeError",
    "NodeTimeout",
    "RemoteError",
    "ResourceError",
    "TypeMismatchError",
    "VectorizeWarning",
    "WorkerDied",
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


class CacheDirectoryError(InputError):
    """A cache path hotpipe refuses: not created by hotpipe, owned by another user, writable
    by every user, or empty. Raised before anything in it is read, written or deleted."""


class ResourceError(HotpipeError):
    """A :func:`~hotpipe.resource`'s factory raised while building it; ``__cause__`` is why."""


class BenchError(HotpipeError):
    """``hotpipe.bench`` refused to time something: the cases compute different results,
    a case is malformed, or a benchmark file or report cannot be used. Raised before timing."""


class NodeError(HotpipeError):
    """A node raised an exception; the original one is chained as ``__cause__``.

    Attributes: ``node`` (its name; a node of a nested pipeline mapped with ``over`` is
    ``"<outer node>/<inner node>"``), ``index`` (the item's position in a map, ``None`` in
    ``run``), ``path`` (the index at every nesting level, outermost first: ``(3, 7)`` is inner
    item 7 of map item 3; ``()`` in ``run`` outside nested maps), ``inputs`` (a short repr of
    the arguments it was called with).
    """

    def __init__(self, node: str, index: int | None, inputs: str, error: BaseException,
                 path: tuple[int, ...] | None = None) -> None:
        self.node = node
        self.index = index
        self.path = path if path is not None else (() if index is None else (index,))
        self.inputs = inputs
        self.error = error
        super().__init__(
            f"{where_item(node, index, self.path)} raised {type_name(error)}: "
            f"{safe_str(error)}; "
            f"inputs: {inputs}. The original traceback is chained above"
            + ("" if index is None else "; map(..., on_error='collect') keeps the other items")
            + "."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # keeps extra attributes (e.g. a worker's traceback) across processes
        return (type(self), (self.node, self.index, self.inputs, self.error, self.path),
                self.__dict__)


def type_name(error: BaseException) -> str:
    """The exception's class name (for a :class:`RemoteError`, the original one's)."""
    if isinstance(error, RemoteError):
        return error.type_name.rpartition(".")[2]
    return type(error).__name__


def safe_str(error: BaseException) -> str:
    """``str(error)``, or a placeholder when the exception's own ``__str__`` raises (the
    NodeError must still be raised, naming the node)."""
    try:
        return str(error)
    except Exception as exc:
        return f"<str() of this {type(error).__name__} raised {type(exc).__name__}>"


def where_item(node: str, index: int | None, path: tuple[int, ...]) -> str:
    """``node 'x' on item 3``, or with nesting ``node 'per/enc' on item 3, inner item 7``."""
    where = f"node {node!r}"
    inner = path[1:] if index is not None else path
    if index is not None:
        where += f" on item {index}"
    if inner:
        where += (", " if index is not None else " on ") + "inner item " + " > ".join(
            str(i) for i in inner)
    return where


class RemoteError(HotpipeError):
    """An exception raised in a worker process that cannot travel back as itself: it cannot
    be pickled, or not re-created from its pickle here (an ``__init__`` taking other
    arguments, a ``__reduce__`` that raises, an attribute holding a lock). It stands in for
    it as the :class:`NodeError`'s ``error`` and ``__cause__``, with ``type_name``
    (``"module.QualName"``), ``message`` and the worker's ``traceback`` text."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        super().__init__(
            f"{message} [a {type_name} raised in a worker process; it could not be sent back "
            "as itself (not picklable, or not re-creatable from its pickle), so this carries "
            "its type name, message and traceback text]"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.type_name, self.message, self.traceback), self.__dict__)


class WorkerDied(HotpipeError, RuntimeError):
    """The worker process running an item exited abruptly (the item is named in the
    :class:`NodeError` that carries this)."""


class NodeTimeout(HotpipeError, TimeoutError):
    """A call of a node with ``@node(timeout=seconds)`` did not finish in time. The
    :class:`NodeError` that carries it names the node and the item; ``seconds`` is the limit."""

    def __init__(self, node: str, seconds: float, detail: str = "") -> None:
        self.node = node
        self.seconds = seconds
        self.detail = detail
        super().__init__(
            f"node {node!r} did not finish within its timeout of {seconds:g} s{detail}. "
            f"Fix: raise the limit (@node(timeout=...)), or let it retry "
            f"(@node(retries=N)) if the delay is transient"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.node, self.seconds, self.detail), self.__dict__)


class ItemError(NamedTuple):
    """One failed item of a map: its index, the node that raised, and the exception.
    ``path`` is the index at every nesting level (``(index,)`` outside nested maps)."""

    index: int
    node: str
    exception: BaseException
    path: tuple[int, ...] = ()


class CacheWarning(UserWarning):
    """The cache could not read or write an entry; the value is computed instead."""


class VectorizeWarning(UserWarning):
    """A ``@node(vectorize=...)`` node is called per item: one call on arrays did not give
    the per-item results on a sample (the message says how); the results are right."""
