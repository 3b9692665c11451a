"""``resource``: a stateful object (a model, an encoder, a client) declared, not built.

A :class:`Resource` holds a factory and its arguments. It is built lazily, once per process,
under a lock (never twice, even when threads race), shared by the threads of that process,
and never pickled with its built object: a worker process receives the declaration and builds
its own. The cache fingerprints it by its declaration (factory, arguments, ``version``)
without building it. Pass it like any input: ``pipe.map({"text": xs, "encoder": enc}, ...)``.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from time import perf_counter
from typing import Any

from hotpipe import _oneoff
from hotpipe.errors import InputError, ResourceError

__all__ = ["Resource", "resolve", "resource"]

# built objects by declaration token, while some copy of the declaration is alive in this
# process (a worker unpickles a new copy per map; they share one built object)
_BUILT: dict[str, Any] = {}
_LOCKS: dict[str, threading.Lock] = {}
_COPIES: dict[str, int] = {}
_GLOBAL = threading.Lock()


def _hold(resource: Resource) -> None:
    with _GLOBAL:
        _COPIES[resource.token] = _COPIES.get(resource.token, 0) + 1
    weakref.finalize(resource, _drop, resource.token)


def _drop(token: str) -> None:
    """The last copy of a declaration is gone: free its built object."""
    with _GLOBAL:
        left = _COPIES.get(token, 1) - 1
        if left > 0:
            _COPIES[token] = left
            return
        _COPIES.pop(token, None)
        _LOCKS.pop(token, None)
        _BUILT.pop(token, None)


class Resource:
    """A declared object, built on first use in each process (see :func:`resource`)."""

    __slots__ = ("__weakref__", "args", "factory", "kwargs", "token", "version")

    def __init__(self, factory: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], version: str | None) -> None:
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        self.version = version
        # one identity per declaration, kept through pickling: the same declaration is
        # built once per process however many maps or tasks carry it
        self.token = uuid.uuid4().hex
        _hold(self)

    def get(self) -> Any:
        """The built object for this process (built now if it is not yet)."""
        try:
            return _BUILT[self.token]
        except KeyError:
            pass
        # the build is a one-off cost (hotpipe._oneoff), and so is the wait of a thread
        # that finds another one building: neither is the time of the item that asked
        t0 = perf_counter()
        with _GLOBAL:
            lock = _LOCKS.setdefault(self.token, threading.Lock())
        with lock:
            built = self.token not in _BUILT
            if built:
                try:
                    _BUILT[self.token] = self.factory(*self.args, **self.kwargs)
                except Exception as exc:
                    raise ResourceError(
                        f"building {self!r} failed with {type(exc).__name__}: {exc}. The "
                        "factory's traceback is chained above; it will be tried again on "
                        "next use."
                    ) from exc
            seconds = perf_counter() - t0
            if built or seconds > _oneoff.WAIT_NOTED:
                _oneoff.note(_oneoff.RESOURCE if built else _oneoff.RESOURCE_WAIT, self.name,
                             seconds)
            return _BUILT[self.token]

    @property
    def name(self) -> str:
        """The factory's name, as profiles show the resource."""
        return getattr(self.factory, "__qualname__", repr(self.factory))

    @property
    def built(self) -> bool:
        """Whether this process has built it already."""
        return self.token in _BUILT

    def release(self) -> None:
        """Drop this process's built object (it is rebuilt on next use)."""
        _BUILT.pop(self.token, None)

    def __cache_key__(self) -> tuple[Any, ...]:
        """Fingerprinted by its declaration, never by the built object."""
        return ("hotpipe.resource", self.factory, self.args, self.kwargs, self.version)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.factory, self.args, self.kwargs, self.version, self.token)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.factory, self.args, self.kwargs, self.version, self.token = state
        _hold(self)

    def __repr__(self) -> str:
        name = self.name
        args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        state = "built" if self.built else "not built"
        return f"resource({name}({', '.join(args)}), {state})"


def resource(factory: Callable[..., Any], /, *args: Any, version: str | None = None,
             **kwargs: Any) -> Resource:
    """Declare a resource built as ``factory(*args, **kwargs)`` once per process.

    >>> enc = resource(dict, size=3)
    >>> enc.get() is enc.get()
    True
    """
    if not callable(factory):
        raise InputError(
            f"resource(factory, ...) needs a class or function that builds the object, got "
            f"{type(factory).__name__}. Fix: resource(MyModel, 'weights.bin')."
        )
    if version is not None and not isinstance(version, str):
        raise InputError(f"resource(version={version!r}): must be a str or None.")
    return Resource(factory, args, kwargs, version)


def resolve(value: Any) -> Any:
    """The built object if ``value`` is a :class:`Resource`, else ``value`` itself."""
    return value.get() if type(value) is Resource else value
