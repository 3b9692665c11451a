"""What ``run``, ``map`` and ``imap`` do with their arguments before an engine runs them.

Checking and shaping the call (``over`` names, mapped values, ``outputs``, ``cache=``,
``profile=``), the cached single run, and streaming maps; :mod:`hotpipe.pipeline` keeps the
pipeline itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hotpipe._values import as_list
from hotpipe.engines.base import Engine
from hotpipe.engines.local import Local
from hotpipe.errors import InputError, NodeError
from hotpipe.plan import Plan, suggest
from hotpipe.profile import Profile
from hotpipe.resources import Resource
from hotpipe.result import Result
from hotpipe.runners import refreshed_steps, runner_for
from hotpipe.stream import Stream, is_stream

if TYPE_CHECKING:
    from hotpipe.cache import Cache
    from hotpipe.node import Node
    from hotpipe.pipeline import Pipeline
    from hotpipe.profile.sampler import Sampler

__all__ = [
    "LOCAL",
    "as_list",
    "bad_engine",
    "cache_of",
    "check_options",
    "no_refresh_without_cache",
    "outputs_key",
    "over_names",
    "run_cached",
    "sampling",
    "stream",
]

LOCAL = Local()
_CACHES: dict[str, Any] = {}
_CACHES_LOCK = threading.Lock()
_CACHES: dict[str, Any] = {}


def stream(plan: Plan, inputs: Mapping[str, Any], names: Sequence[str],
           mode: str, on_error: str, engine: Engine | None, store: Cache | None, buffer: int,
           progress: Any, label: str | None,
           refresh: frozenset[str] = frozenset()) -> Stream:
    """A streaming map (an iterator among the mapped inputs): see :class:`Stream`;
    ``refresh``: the steps a cached stream recomputes (:func:`refreshed_steps`)."""
    for name in names:
        value = inputs[name]
        if not is_stream(value) and (isinstance(value, (str, bytes, Mapping))
                                     or not hasattr(value, "__iter__")):
            as_list(name, value)  # raises the usual message
    if mode != "zip":
        raise InputError(
            f"map(mode={mode!r}) needs sized inputs to combine; an iterator can only be "
            "mapped with mode='zip'. Fix: pass lists, e.g. list(iterator)."
        )
    engine = LOCAL if engine is None else engine
    sources = {n: inputs[n] for n in names if n in plan.inputs or n in plan.mapped}
    if not sources:
        sources = {names[0]: inputs[names[0]]}
    scalars = {k: v for k, v in inputs.items() if k not in names and k in plan.inputs}
    scalars.update(plan.constants)
    return Stream(plan, engine, sources, scalars, on_error, store, engine.stream_chunk, buffer,
                  progress, label or "map", refresh)


def call_guards(where: str, retries: Any, timeout: Any) -> tuple[int, float | None] | None:
    """A call's default ``(retries, timeout)`` for its nodes (see :func:`with_guards`), or
    None when neither is given (the plan of the plain call)."""
    if retries is None and timeout is None:
        return None
    if retries is not None and (type(retries) is not int or retries < 0):
        raise InputError(f"{where}(retries={retries!r}): must be an int >= 0 (extra attempts "
                         "for the nodes that set no retries of their own), or None.")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(
            timeout, int | float) or not 0 < timeout < float("inf")):
        raise InputError(f"{where}(timeout={timeout!r}): must be seconds > 0 (for the nodes "
                         "that set no timeout of their own), or None.")
    if not retries and timeout is None:
        return None
    return (retries or 0, None if timeout is None else float(timeout))


def no_refresh_without_cache(where: str, refresh: Any) -> None:
    """``refresh=`` was given without ``cache=``: say so (there is nothing to refresh)."""
    raise InputError(f"{where}(refresh={refresh!r}) needs a cache: refresh recomputes cached "
                     f"nodes and overwrites their entries. Fix: {where}(..., cache=True, "
                     "refresh=...) or drop refresh.")


def run_cached(pipe: Pipeline, inputs: Mapping[str, Any], outputs: Any,
               engine: Engine | None, profile: str | None, cache: Any,
               refresh: Any = False,
               guards: tuple[int, float | None] | None = None) -> Result:
    """``run`` with a cache runs the per-item path over one item: it is demand-driven, so
    when the requested outputs are cached nothing upstream is loaded or computed."""
    store = cache_of(cache)
    if not isinstance(inputs, Mapping):
        raise InputError(
            f"run(inputs) takes a dict of input name -> value, got {type(inputs).__name__}."
        )
    if engine is not None and not isinstance(engine, Engine):
        bad_engine(engine, "run")
    given = frozenset(inputs)
    # a resource is a broadcast value, as in a map: the cached executors build it (once per
    # process) where they assemble a step's arguments; as a one-item column it would reach
    # the node unbuilt
    shared = frozenset(k for k, v in inputs.items() if type(v) is Resource)
    plan = pipe._plan(given, outputs_key(outputs), given - shared, guards)
    columns = {k: [inputs[k]] for k in plan.inputs if k not in shared}
    scalars = dict(plan.constants)
    scalars.update((k, inputs[k]) for k in plan.inputs if k in shared)
    engine = LOCAL if engine is None else engine
    try:
        with sampling(plan, profile) as sampler:
            outcome = engine.run_map(plan, columns, scalars, 1, "raise", None, runner_for(
                store, refreshed_steps(plan, refresh, "run") if refresh is not False
                else frozenset()))
    except NodeError as err:  # one item, not a map: no index, no map-only hint
        raise NodeError(err.node, None, err.inputs, err.error, err.path[1:]) from err.error
    values = {k: v[0] for k, v in outcome.values.items()}
    return Result(values, Profile(plan, outcome, "run", engine.name, sampler))


def cache_of(cache: Any) -> Cache | None:
    """``None``/``False``: no cache; ``True``: the default store; a ``Cache``: itself."""
    if cache is None or cache is False:
        return None
    from hotpipe.cache import Cache

    if cache is True:
        import os

        path = os.path.abspath(".hotpipe/cache")
        with _CACHES_LOCK:
            if path not in _CACHES:
                _CACHES[path] = Cache(path)
            return _CACHES[path]
    if isinstance(cache, Cache):
        return cache
    raise InputError(
        f"cache={cache!r}: pass True (the store in ./.hotpipe/cache), a hotpipe.Cache(path), "
        "or None."
    )


@contextmanager
def sampling(plan: Plan, profile: str | None) -> Iterator[Sampler | None]:
    """Run the body under the function sampler when ``profile="functions"``."""
    if profile is None or profile == "nodes":
        yield None
        return
    if profile != "functions":
        raise InputError(
            f"profile={profile!r}: choose None (always-on node profile) or 'functions' "
            "(also sample the functions inside the nodes)."
        )
    from hotpipe.profile.sampler import Sampler

    with Sampler(plan) as sampler:
        yield sampler


def outputs_key(outputs: str | Sequence[str] | None,
                where: str = "run") -> tuple[str, ...] | None:
    """``outputs=`` as a tuple of names (None: every output)."""
    if outputs is None:
        return None
    if isinstance(outputs, str):
        return (outputs,)
    try:
        names = tuple(outputs)
    except TypeError:
        names = None
    if names is None or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"{where}(outputs={outputs!r}): give an output name or a list of output names "
            "(str), or None for every output. Fix: outputs='y' or outputs=['y', 'z']."
        ) from None
    return names


def bad_engine(engine: Any, where: str) -> None:
    """Raise the error for ``engine=`` that is not an engine object (a str, a class, ...)."""
    choices = "hotpipe.Local(), hotpipe.Threads(), hotpipe.Processes() or hotpipe.Daft()"
    if isinstance(engine, type) and issubclass(engine, Engine):
        fix = f"pass an instance: engine={engine.__name__}()"
    elif isinstance(engine, str):
        known = {"local": "Local", "threads": "Threads", "processes": "Processes",
                 "daft": "Daft"}
        name = known.get(engine.strip().lower())
        fix = (f"pass the engine object: engine=hotpipe.{name}()" if name
               else f"pass one of {choices}")
    else:
        fix = f"pass one of {choices}, or None for Local"
    raise InputError(
        f"{where}(engine={engine!r}): not an engine ({type(engine).__name__}). Fix: {fix}."
    )


def check_options(where: str, progress: Any, buffer: Any) -> None:
    """``progress=`` and ``buffer=`` of map and imap (cheap: a few identity tests)."""
    if progress is not False and progress is not True and not callable(progress):
        raise InputError(
            f"{where}(progress={progress!r}): choose True (a progress bar), False, or a "
            "callable taking the number of items finished."
        )
    if type(buffer) is not int or buffer < 1:
        raise InputError(
            f"{where}(buffer={buffer!r}): must be an int >= 1 (chunks read ahead of an "
            "iterator input)."
        )


def over_names(
    over: str | Sequence[str],
    inputs: tuple[str, ...],
    where: str,
    producer: Mapping[str, Node] | None = None,
    bound: Mapping[str, Any] | None = None,
) -> tuple[str, ...]:
    try:
        names = (over,) if isinstance(over, str) else tuple(over)
    except TypeError:
        names = ()
    if not names or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"{where}(over={over!r}): give an input name or a list of input names (str); "
            f"the inputs are {list(inputs)}."
        ) from None
    if len(set(names)) != len(names):
        raise InputError(f"{where}(over={over!r}) repeats a name.")
    for name in names:
        if name in inputs:
            continue
        if producer and name in producer:
            why = f"it is produced by node {producer[name].name!r}"
        elif bound and name in bound:
            why = "it was fixed by bind()"
        else:
            why = f"the inputs are {list(inputs)}." + suggest(name, inputs)
            raise InputError(f"{where}(over={name!r}): {name!r} is not an input; {why}")
        raise InputError(f"{where}(over={name!r}): {name!r} is not an input; {why}.")
    return names


