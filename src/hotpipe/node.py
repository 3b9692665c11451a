"""``@node``: turn a function of one item into a pipeline step.

A node is the function plus what the planner needs to wire it: the names it consumes
(its parameters), the names it produces (``output``), and options. Nodes are frozen values;
the user's function is never modified, and a node stays callable like the function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hotpipe.errors import DefinitionError

if TYPE_CHECKING:
    from hotpipe.pipeline import Pipeline

__all__ = ["Hints", "Nested", "Node", "node"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class Nested:
    """How a nested pipeline sits inside its parent (see ``Pipeline.as_node``).

    ``inputs`` maps outer names to inner input names, ``outputs`` inner output names to outer
    names, ``over`` the inner inputs mapped item by item (empty: the inner pipeline runs once
    per call and is inlined into the parent's plan).
    """

    pipeline: Pipeline
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    over: tuple[str, ...] = ()
    mode: str = "zip"


@dataclass(frozen=True)
class Hints:
    """What a node needs to run: CPU cores, GPUs, memory in bytes. Engines honour what they
    can (``Processes`` runs a map whose nodes need a GPU on threads in the parent)."""

    cpus: float | None = None
    gpus: float | None = None
    memory: int | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """A function wired into a pipeline by its parameter names.

    ``params`` are the names it consumes, in signature order; ``defaults`` holds the ones that
    are optional inputs; ``outputs`` the names it produces. With ``unpack`` the function
    returns a tuple whose elements are the outputs in order.
    """

    func: Callable[..., Any]
    name: str
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    positional: tuple[str, ...] = ()
    unpack: bool = False
    cache: bool = True
    version: str | None = None
    phase: str | None = None
    nested: Nested | None = None
    is_async: bool = False
    max_concurrency: int | None = None
    batch_func: Callable[..., Any] | None = None
    batch_size: int | None = None
    hints: Hints = field(default_factory=lambda: Hints())
    depends_on: tuple[Any, ...] = ()
    retries: int = 0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    backoff: float | Callable[[int], float] = 0.0
    timeout: float | None = None
    vectorize: str | None = None
    """``"numpy"`` or ``"jax"``: a map calls the function once per batch of items
    (:mod:`hotpipe._vectorize`); None: once per item."""
    prefetch: int | None = None
    """Batches prepared ahead on a helper thread while one computes (None: 1 with
    ``vectorize="jax"``, else 0)."""

    @property
    def is_batch(self) -> bool:
        """The node's own function takes lists (``@node(batch=True)``)."""
        return self.batch_func is self.func

    def batch(self, func: Callable[..., Any]) -> Node:
        """Attach a batch implementation: ``map`` calls it with lists, ``run`` ignores it.

        Use it as a decorator under the same name, like ``property.setter``::

            @node(output="y")
            def square(x):
                return x * x

            @square.batch
            def square(x):          # x is a list of items here
                return [v * v for v in x]
        """
        if self.vectorize is not None:
            raise DefinitionError(
                f"node {self.name!r} has vectorize={self.vectorize!r}: hotpipe already calls "
                "it on whole batches. Fix: drop vectorize= to attach a batch version."
            )
        if self.is_batch or self.nested is not None:
            raise DefinitionError(
                f"node {self.name!r} already takes batches (or is a nested pipeline); "
                ".batch attaches a batch version to a node that takes single items."
            )
        params, _, _ = _signature(func, f"batch implementation of node {self.name!r}")
        if params != self.params:
            raise DefinitionError(
                f"the batch implementation of node {self.name!r} has parameters "
                f"{list(params)}, but the node has {list(self.params)}. Fix: use the same "
                "parameter names (each receives a list)."
            )
        if inspect.iscoroutinefunction(func):
            raise DefinitionError(f"node {self.name!r}: an async batch implementation is not "
                                  "supported. Fix: make the batch function a plain def.")
        return replace(self, batch_func=func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.func

    @property
    def required(self) -> tuple[str, ...]:
        """Parameters without a default value."""
        return tuple(p for p in self.params if p not in self.defaults)


    def __repr__(self) -> str:
        params = ", ".join(f"{p}=…" if p in self.defaults else p for p in self.params)
        outs = ", ".join(self.outputs)
        return f"node {self.name}({params}) -> {outs}"


def _signature(func: Callable[..., Any], where: str) -> tuple[tuple[str, ...], dict, tuple]:
    """Parameter names, defaults and the names that can be passed positionally."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            f"{where}: cannot read the signature of {func!r} ({exc}). "
            "Fix: wrap it in a def with named parameters."
        ) from None
    params: list[str] = []
    defaults: dict[str, Any] = {}
    positional: list[str] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(
                f"{where}: parameter {p.name!r} is *args/**kwargs, but nodes are wired by "
                "parameter names. Fix: list the inputs as named parameters."
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise DefinitionError(
                f"{where}: parameter {p.name!r} is positional-only, but nodes are wired by "
                "name. Fix: remove the '/' from the signature."
            )
        params.append(p.name)
        if p.default is not p.empty:
            defaults[p.name] = p.default
        if p.kind is p.POSITIONAL_OR_KEYWORD:
            positional.append(p.name)
    return tuple(params), defaults, tuple(positional)


def _output_names(output: str | tuple[str, ...] | list[str] | None, name: str, where: str):
    if output is None:
        return (name,), False
    if isinstance(output, str):
        names, unpack = (output,), False
    elif isinstance(output, (tuple, list)) and output:
        names, unpack = tuple(output), True
    else:
        raise DefinitionError(
            f"{where}: output={output!r} is not a name or a non-empty tuple of names. "
            "Fix: output='y' or output=('a', 'b')."
        )
    for out in names:
        if not isinstance(out, str) or not out.isidentifier():
            raise DefinitionError(
                f"{where}: output name {out!r} is not a Python identifier; outputs are wired "
                "to parameters of the same name. Fix: use a name like 'result'."
            )
    if len(set(names)) != len(names):
        raise DefinitionError(f"{where}: output={output!r} repeats a name. Fix: use unique names.")
    return names, unpack


def make_node(
    func: Callable[..., Any],
    *,
    output: str | tuple[str, ...] | list[str] | None = None,
    name: str | None = None,
    cache: bool = True,
    version: str | None = None,
    phase: str | None = None,
    batch: bool = False,
    batch_size: int | None = None,
    max_concurrency: int | None = None,
    cpus: float | None = None,
    gpus: float | None = None,
    memory: int | str | None = None,
    depends_on: Any = (),
    retries: int = 0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float | Callable[[int], float] = 0.0,
    timeout: float | None = None,
    vectorize: str | None = None,
    prefetch: int | None = None,
) -> Node:
    """Build a :class:`Node` from a function (or re-option an existing node)."""
    batch_func = None
    if isinstance(func, Node):
        if func.nested is not None:
            raise DefinitionError(
                f"node {func.name!r} is a nested pipeline; set its options with "
                "Pipeline.as_node(...) instead of node()."
            )
        batch_func = None if func.is_batch else func.batch_func
        func = func.func
    if not callable(func):
        raise DefinitionError(f"node() needs a function, got {type(func).__name__}: {func!r}.")
    if name is not None and (not isinstance(name, str) or not name):
        raise DefinitionError(
            f"node(name={name!r}): must be a non-empty str, or None for the function's name.")
    for opt, val in (("cache", cache), ("batch", batch)):
        if not isinstance(val, bool):
            raise DefinitionError(f"node({opt}={val!r}): must be True or False.")
    name = name or getattr(func, "__name__", None) or type(func).__name__
    if name == "<lambda>":
        if output is None:
            raise DefinitionError(
                "a lambda has no name to use as its output. "
                "Fix: node(lambda ..., output='y') or use a def."
            )
        name = output if isinstance(output, str) else "_".join(map(str, output))
    where = f"node {name!r}"
    if version is not None and not isinstance(version, str):
        raise DefinitionError(f"{where}: version={version!r} must be a str or None.")
    if phase is not None and (not isinstance(phase, str) or not phase):
        raise DefinitionError(f"{where}: phase={phase!r} must be a non-empty str or None.")
    for opt, val in (("batch_size", batch_size), ("max_concurrency", max_concurrency)):
        if val is not None and (not isinstance(val, int) or isinstance(val, bool) or val < 1):
            raise DefinitionError(f"{where}: {opt}={val!r} must be an int >= 1 or None.")
    is_async = inspect.iscoroutinefunction(func)
    if batch and is_async:
        raise DefinitionError(f"{where}: batch=True with an async function is not supported. "
                              "Fix: make the batch function a plain def.")
    _check_vectorize(where, vectorize, prefetch, batch or batch_func is not None, is_async)
    if batch_size is not None and not batch and vectorize is None:
        raise DefinitionError(f"{where}: batch_size needs batch=True or vectorize=.")
    if max_concurrency is not None and not is_async:
        raise DefinitionError(f"{where}: max_concurrency applies to async def nodes only.")
    retry_on = _retry_options(where, retries, retry_on, backoff, timeout)
    if depends_on:  # code the fingerprint cannot see (names looked up at run time)
        from hotpipe.cache._depends import declare, resolve

        if not isinstance(depends_on, list | tuple):
            depends_on = (depends_on,)
        try:
            declare(func, resolve(depends_on, func))
        except ValueError as exc:
            raise DefinitionError(f"{where}: depends_on: {exc}.") from None
    params, defaults, positional = _signature(func, where)
    outputs, unpack = _output_names(output, name, where)
    clash = sorted(set(outputs) & set(params))
    if clash:
        raise DefinitionError(
            f"{where}: output {clash[0]!r} is also one of its own parameters "
            f"{list(params)}, which would be a cycle. Fix: rename the output or the parameter."
        )
    return Node(
        func=func,
        name=name,
        outputs=outputs,
        params=params,
        defaults=MappingProxyType(defaults) if defaults else _EMPTY,
        positional=positional,
        unpack=unpack,
        cache=bool(cache),
        version=version,
        phase=phase,
        is_async=is_async,
        max_concurrency=max_concurrency,
        batch_func=func if batch else batch_func,
        batch_size=batch_size,
        hints=_hints(where, cpus, gpus, memory),
        depends_on=tuple(depends_on or ()),
        retries=retries,
        retry_on=retry_on,
        backoff=backoff,
        timeout=None if timeout is None else float(timeout),
        vectorize=vectorize,
        prefetch=prefetch,
    )


def _retry_options(where: str, retries: Any, retry_on: Any, backoff: Any,
                   timeout: Any) -> tuple[type[BaseException], ...]:
    """Check ``retries``/``retry_on``/``backoff``/``timeout``; ``retry_on`` as a tuple."""
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise DefinitionError(f"{where}: retries={retries!r} must be an int >= 0 (the number "
                              "of extra attempts after a failure).")
    kinds = retry_on if isinstance(retry_on, tuple) else (retry_on,)
    if not kinds or not all(isinstance(k, type) and issubclass(k, BaseException)
                            for k in kinds):
        raise DefinitionError(f"{where}: retry_on={retry_on!r} must be an exception class or "
                              "a tuple of them, e.g. retry_on=(ConnectionError, TimeoutError).")
    if not callable(backoff) and (not isinstance(backoff, int | float)
                                  or isinstance(backoff, bool) or backoff < 0):
        raise DefinitionError(f"{where}: backoff={backoff!r} must be seconds >= 0 (doubled "
                              "after each attempt) or a function attempt -> seconds.")
    if timeout is not None and (not isinstance(timeout, int | float)
                                or isinstance(timeout, bool) or not timeout > 0):
        raise DefinitionError(f"{where}: timeout={timeout!r} must be seconds > 0 or None.")
    return kinds


VECTORIZE = ("numpy", "jax")


def _check_vectorize(where: str, vectorize: Any, prefetch: Any, batch: bool,
                     is_async: bool) -> None:
    """``vectorize=`` and ``prefetch=``: valid values, no conflict, the library installed."""
    if prefetch is not None and (not isinstance(prefetch, int) or isinstance(prefetch, bool)
                                 or prefetch < 0):
        raise DefinitionError(f"{where}: prefetch={prefetch!r} must be an int >= 0 or None.")
    if vectorize is None:
        if prefetch:
            raise DefinitionError(f"{where}: prefetch= needs vectorize='numpy' or 'jax'.")
        return
    if vectorize not in VECTORIZE:
        raise DefinitionError(
            f"{where}: vectorize={vectorize!r} is not one of {list(VECTORIZE)} (or None). "
            "Fix: vectorize='numpy' calls the function once on numpy arrays; "
            "vectorize='jax' compiles it with jax.jit(jax.vmap(f))."
        )
    if batch or is_async:
        what = "batch=True (or a .batch version)" if batch else "an async function"
        raise DefinitionError(
            f"{where}: vectorize={vectorize!r} with {what} is not supported: vectorize "
            "turns a plain function of one item into a batch call. Fix: drop one of them."
        )
    import importlib.util

    if importlib.util.find_spec(vectorize) is None:
        extra = "pip install 'hotpipe[jax]'" if vectorize == "jax" else "pip install numpy"
        raise DefinitionError(
            f"{where}: vectorize={vectorize!r} needs {vectorize}, which is not installed. "
            f"Fix: {extra}."
        )


def _hints(where: str, cpus: float | None, gpus: float | None,
           memory: int | str | None) -> Hints:
    for opt, val in (("cpus", cpus), ("gpus", gpus)):
        if val is not None and (not isinstance(val, (int, float)) or val < 0):
            raise DefinitionError(f"{where}: {opt}={val!r} must be a number >= 0 or None.")
    if isinstance(memory, str):
        from hotpipe._units import parse_size

        try:
            memory = parse_size(memory)
        except ValueError as exc:
            raise DefinitionError(f"{where}: memory={memory!r}: {exc}") from None
    elif memory is not None and (not isinstance(memory, int) or memory < 0):
        raise DefinitionError(f"{where}: memory={memory!r} must be bytes (int) or '4GB'.")
    return Hints(cpus, gpus, memory)


def node(
    func: Callable[..., Any] | None = None,
    /,
    *,
    output: str | tuple[str, ...] | list[str] | None = None,
    name: str | None = None,
    cache: bool = True,
    version: str | None = None,
    phase: str | None = None,
    batch: bool = False,
    batch_size: int | None = None,
    max_concurrency: int | None = None,
    cpus: float | None = None,
    gpus: float | None = None,
    memory: int | str | None = None,
    depends_on: Any = (),
    retries: int = 0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float | Callable[[int], float] = 0.0,
    timeout: float | None = None,
    vectorize: str | None = None,
    prefetch: int | None = None,
) -> Any:
    """Declare a pipeline step: ``@node``, ``@node(output="y")`` or ``node(f, output=...)``.

    Inputs are the function's parameter names; a parameter with a default is an optional
    input. ``output`` names the result (default: the function's name); a tuple of names means
    the function returns a tuple, one element per name. The function itself is left untouched
    and the node can still be called.

    Options: ``cache``/``version`` for the cache; ``phase`` groups nodes in the profile;
    ``batch=True`` means the function takes lists (one entry per item) and returns a list,
    with ``batch_size`` items per call (default: chosen by measuring throughput);
    ``max_concurrency`` caps how many items of an ``async def`` node run at once;
    ``cpus``/``gpus``/``memory`` declare what the node needs; ``depends_on`` lists modules,
    files and directories whose source the cache key covers (code reached by a computed
    name, data files; see docs/caching.md). ``retries`` extra attempts after an exception of
    ``retry_on``, waiting ``backoff`` seconds (doubled each time) between them; ``timeout``
    fails a call that takes longer (seconds; docs/concepts.md says what can be interrupted).
    ``vectorize="numpy"`` calls a function of one
    item once on a whole batch of numpy arrays (checked on a sample first, else per item
    with a ``VectorizeWarning``); ``vectorize="jax"`` runs ``jax.jit(jax.vmap(f))`` over
    batches padded to a few sizes; ``prefetch`` batches are prepared ahead meanwhile
    (docs/engines.md, "Vectorised nodes").

    >>> @node(output="y")
    ... def inc(x):
    ...     return x + 1
    >>> inc
    node inc(x) -> y
    >>> inc(1)
    2
    """
    options = {
        "output": output, "name": name, "cache": cache, "version": version, "phase": phase,
        "batch": batch, "batch_size": batch_size, "max_concurrency": max_concurrency,
        "cpus": cpus, "gpus": gpus, "memory": memory, "depends_on": depends_on,
        "retries": retries, "retry_on": retry_on, "backoff": backoff, "timeout": timeout,
        "vectorize": vectorize, "prefetch": prefetch,
    }
    if func is None:
        return lambda f: make_node(f, **options)
    return make_node(func, **options)
