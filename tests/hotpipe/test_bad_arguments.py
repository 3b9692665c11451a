"""Every bad argument to the public API is a hotpipe error (issue 11), raised before any work
starts, naming the argument and saying what it may be. Before, 11 of 74 such arguments tried
raised Python's own TypeError/AttributeError from deep inside (``engine="local"``,
``outputs=5``, ``over=5``, ...) and a few were accepted silently (``Cache(sign=5)``).

One table: (call, the error class, fragments the message must contain: the argument as
written and the valid choices)."""

from __future__ import annotations

import pytest

from hotpipe import (
    DefinitionError,
    HotpipeError,
    InputError,
    Local,
    Pipeline,
    Processes,
    Threads,
    node,
)
from hotpipe.cache import Cache

CALLS: list[int] = []


@node(output="y")
def inc(x):
    CALLS.append(x)
    return x + 1


@node(output="z")
def dbl(y, k=2):
    return y * k


def f(x):
    return x


P = Pipeline([inc, dbl], name="p")
X = {"x": [1, 2]}


def _cache(tmp, **kw):
    return Cache(tmp / "c", **kw)


# (id, call taking tmp_path, error class, fragments of the message)
CASES = [
    # Pipeline(...)
    ("pipeline-nodes-int", lambda t: Pipeline(5), DefinitionError, ["Pipeline(nodes)", "list"]),
    ("pipeline-nodes-str", lambda t: Pipeline("ab"), DefinitionError, ["Pipeline(nodes)"]),
    ("pipeline-node-int", lambda t: Pipeline([5]), DefinitionError, ["function", "int"]),
    ("pipeline-empty", lambda t: Pipeline([]), DefinitionError, ["at least one node"]),
    ("pipeline-name", lambda t: Pipeline([inc], name=5), DefinitionError, ["name=5", "str"]),
    ("pipeline-strict", lambda t: Pipeline([inc], strict="x"), DefinitionError,
     ["strict='x'", "True", "False"]),
    # node(...)
    ("node-func", lambda t: node(5), DefinitionError, ["function", "int"]),
    ("node-output-int", lambda t: node(f, output=5), DefinitionError, ["output=5", "output='y'"]),
    ("node-output-list-int", lambda t: node(f, output=[5]), DefinitionError, ["output name 5"]),
    ("node-output-space", lambda t: node(f, output="a b"), DefinitionError, ["'a b'"]),
    ("node-name", lambda t: node(f, name=5), DefinitionError, ["name=5", "str"]),
    ("node-cache", lambda t: node(f, cache="yes"), DefinitionError,
     ["cache='yes'", "True or False"]),
    ("node-batch", lambda t: node(f, batch="x"), DefinitionError, ["batch='x'", "True or False"]),
    ("node-version", lambda t: node(f, version=3), DefinitionError, ["version=3", "str"]),
    ("node-phase", lambda t: node(f, phase=3), DefinitionError, ["phase=3", "str"]),
    ("node-batch-size", lambda t: node(f, batch=True, batch_size=0), DefinitionError,
     ["batch_size=0", "int >= 1"]),
    ("node-max-concurrency", lambda t: node(f, max_concurrency="a"), DefinitionError,
     ["max_concurrency='a'", "int >= 1"]),
    ("node-cpus", lambda t: node(f, cpus=-1), DefinitionError, ["cpus=-1", ">= 0"]),
    ("node-gpus", lambda t: node(f, gpus="a"), DefinitionError, ["gpus='a'", ">= 0"]),
    ("node-memory-str", lambda t: node(f, memory="lots"), DefinitionError, ["memory='lots'", "GB"]),
    ("node-memory-list", lambda t: node(f, memory=[1]), DefinitionError, ["memory=[1]", "'4GB'"]),
    ("node-depends-on", lambda t: node(f, depends_on=5), DefinitionError,
     ["depends_on", "module", "path"]),
    # run
    ("run-inputs", lambda t: P.run(5), InputError, ["run(inputs)", "dict"]),
    ("run-input-name", lambda t: P.run({5: 1}), InputError, ["input name 5", "['x', 'k']"]),
    ("run-unknown-input", lambda t: P.run({"q": 1}), InputError, ["'q'", "['x', 'k']"]),
    ("run-outputs-int", lambda t: P.run({"x": 1}, outputs=5), InputError,
     ["outputs=5", "output name"]),
    ("run-outputs-list-int", lambda t: P.run({"x": 1}, outputs=[5]), InputError,
     ["outputs=[5]", "output name"]),
    ("run-outputs-unknown", lambda t: P.run({"x": 1}, outputs="q"), InputError,
     ["'q'", "['y', 'z']"]),
    ("run-engine-str", lambda t: P.run({"x": 1}, engine="local"), InputError,
     ["engine='local'", "hotpipe.Local()"]),
    ("run-engine-class", lambda t: P.run({"x": 1}, engine=Local), InputError,
     ["engine=", "Local()"]),
    ("run-engine-int", lambda t: P.run({"x": 1}, engine=5), InputError,
     ["engine=5", "hotpipe.Threads()", "hotpipe.Processes()"]),
    ("run-cached-engine-str", lambda t: P.run({"x": 1}, engine="threads", cache=_cache(t)),
     InputError, ["engine='threads'", "hotpipe.Threads()"]),
    ("run-cached-outputs", lambda t: P.run({"x": 1}, outputs=5, cache=_cache(t)), InputError,
     ["outputs=5"]),
    ("run-profile", lambda t: P.run({"x": 1}, profile="all"), InputError,
     ["profile='all'", "'functions'"]),
    ("run-cache", lambda t: P.run({"x": 1}, cache="yes"), InputError,
     ["cache='yes'", "hotpipe.Cache(path)"]),
    # map
    ("map-inputs", lambda t: P.map(5, over="x"), InputError, ["map(inputs)", "dict"]),
    ("map-over-int", lambda t: P.map(X, over=5), InputError, ["over=5", "['x', 'k']"]),
    ("map-over-none", lambda t: P.map(X, over=None), InputError, ["over=None", "input name"]),
    ("map-over-list-int", lambda t: P.map(X, over=["x", 5]), InputError, ["over=['x', 5]"]),
    ("map-over-unknown", lambda t: P.map(X, over="q"), InputError, ["over='q'", "['x', 'k']"]),
    ("map-over-value", lambda t: P.map({"x": 5}, over="x"), InputError, ["'x'", "list"]),
    ("map-mode", lambda t: P.map(X, over="x", mode="cross"), InputError,
     ["mode='cross'", "'zip'", "'product'"]),
    ("map-outputs", lambda t: P.map(X, over="x", outputs=5), InputError, ["outputs=5"]),
    ("map-on-error", lambda t: P.map(X, over="x", on_error="skip"), InputError,
     ["on_error='skip'", "'raise'", "'collect'"]),
    ("map-engine-str", lambda t: P.map(X, over="x", engine="processes"), InputError,
     ["engine='processes'", "hotpipe.Processes()"]),
    ("map-engine-class", lambda t: P.map(X, over="x", engine=Threads), InputError,
     ["engine=", "Threads()"]),
    ("map-progress", lambda t: P.map(X, over="x", progress=5), InputError,
     ["progress=5", "True", "callable"]),
    ("map-buffer", lambda t: P.map(X, over="x", buffer=0), InputError, ["buffer=0", "int >= 1"]),
    ("map-profile", lambda t: P.map(X, over="x", profile="x"), InputError, ["profile='x'"]),
    ("map-cache", lambda t: P.map(X, over="x", cache=5), InputError, ["cache=5", "True"]),
    ("map-cached-engine", lambda t: P.map(X, over="x", engine="local", cache=_cache(t)),
     InputError, ["engine='local'"]),
    # imap
    ("imap-inputs", lambda t: P.imap(5, over="x"), InputError, ["imap(inputs)", "dict"]),
    ("imap-over", lambda t: P.imap(X, over=5), InputError, ["over=5", "['x', 'k']"]),
    ("imap-outputs", lambda t: P.imap(X, over="x", outputs=5), InputError, ["outputs=5"]),
    ("imap-engine", lambda t: P.imap(X, over="x", engine="local"), InputError,
     ["engine='local'", "hotpipe.Local()"]),
    ("imap-on-error", lambda t: P.imap(X, over="x", on_error="x"), InputError,
     ["on_error='x'", "'collect'"]),
    ("imap-buffer", lambda t: P.imap(X, over="x", buffer="a"), InputError,
     ["buffer='a'", "int >= 1"]),
    ("imap-progress", lambda t: P.imap(X, over="x", progress="yes"), InputError,
     ["progress='yes'", "callable"]),
    ("imap-cache", lambda t: P.imap(X, over="x", cache="a"), InputError, ["cache='a'"]),
    # bind
    ("bind-unknown", lambda t: P.bind(q=1), InputError, ["bind(q=...)", "['x', 'k']"]),
    ("bind-output", lambda t: P.bind(y=1), InputError, ["bind(y=...)", "['x', 'k']"]),
    ("bind-twice", lambda t: P.bind(k=1).bind(k=2), InputError, ["bind(k=...)", "already"]),
    # as_node
    ("as-node-name", lambda t: P.as_node(name=5), InputError, ["name=5", "str"]),
    ("as-node-over-int", lambda t: P.as_node(over=5), InputError, ["over=5", "['x', 'k']"]),
    ("as-node-over-unknown", lambda t: P.as_node(over="q"), InputError, ["over='q'"]),
    ("as-node-inputs-int", lambda t: P.as_node(inputs=5), InputError,
     ["inputs=5", "dict", "['x', 'k']"]),
    ("as-node-inputs-list", lambda t: P.as_node(inputs=["x"]), InputError, ["inputs=['x']"]),
    ("as-node-inputs-value", lambda t: P.as_node(inputs={"a": 5}), InputError,
     ["inputs={'a': 5}"]),
    ("as-node-inputs-unknown", lambda t: P.as_node(inputs={"a": "q"}), InputError,
     ["'q'", "['x', 'k']"]),
    ("as-node-outputs-int", lambda t: P.as_node(outputs=5), InputError,
     ["outputs=5", "['y', 'z']"]),
    ("as-node-outputs-value", lambda t: P.as_node(outputs={"z": 5}), InputError,
     ["outputs={'z': 5}"]),
    ("as-node-outputs-unknown", lambda t: P.as_node(outputs={"q": "w"}), InputError,
     ["'q'", "['y', 'z']"]),
    ("as-node-mode", lambda t: P.as_node(over="x", mode="cross"), InputError,
     ["mode='cross'", "'zip'"]),
    ("as-node-phase", lambda t: P.as_node(phase=5), InputError, ["phase=5", "str"]),
    # Cache(...)
    ("cache-empty", lambda t: Cache(""), HotpipeError, ["empty", "'.hotpipe/cache'"]),
    ("cache-path-int", lambda t: Cache(5), InputError, ["path=5", "directory", "None"]),
    ("cache-sign-str", lambda t: _cache(t, sign="x"), InputError, ["sign='x'", "bytes"]),
    ("cache-sign-int", lambda t: _cache(t, sign=5), InputError, ["sign=5", "True"]),
    ("cache-sign-empty", lambda t: _cache(t, sign=b""), InputError, ["sign=b''", "non-empty"]),
    ("cache-store", lambda t: Cache(store=5), InputError, ["store=5", "MemoryStore"]),
    ("cache-read-only", lambda t: _cache(t, read_only="x"), InputError,
     ["read_only='x'", "None"]),
    ("cache-trusted", lambda t: _cache(t, trusted="x"), InputError,
     ["trusted='x'", "True or False"]),
    # engines
    ("threads-workers-0", lambda t: Threads(0), InputError, ["workers=0", "int >= 1"]),
    ("threads-workers-str", lambda t: Threads("a"), InputError, ["workers='a'", "int >= 1"]),
    ("threads-workers-float", lambda t: Threads(2.5), InputError, ["workers=2.5"]),
    ("threads-workers-bool", lambda t: Threads(True), InputError, ["workers=True"]),
    ("threads-chunk-size", lambda t: Threads(chunk_size=0), InputError, ["chunk_size=0"]),
    ("processes-workers", lambda t: Processes(0), InputError, ["workers=0", "int >= 1"]),
    ("processes-workers-bool", lambda t: Processes(False), InputError, ["workers=False"]),
    ("processes-chunk-size", lambda t: Processes(chunk_size=1.5), InputError,
     ["chunk_size=1.5", "int >= 1"]),
    ("local-chunk-size", lambda t: Local(0), InputError, ["chunk_size=0", "int >= 1"]),
    ("local-chunk-size-bool", lambda t: Local(True), InputError, ["chunk_size=True"]),
]


@pytest.mark.parametrize(("call", "error", "fragments"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_argument_is_a_hotpipe_error_naming_it(call, error, fragments, tmp_path):
    CALLS.clear()
    with pytest.raises(HotpipeError) as info:
        result = call(tmp_path)
        if hasattr(result, "__next__"):
            next(result)
    assert isinstance(info.value, error), f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert CALLS == [], "the error must come before any node runs"


def test_the_table_is_broad():
    assert len(CASES) >= 74
    surfaces = {c[0].split("-")[0] for c in CASES}
    assert {"pipeline", "node", "run", "map", "imap", "bind", "as", "cache", "threads",
            "processes", "local"} <= surfaces
