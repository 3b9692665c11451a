"""hotpipe: pipelines of plain functions, close to a hand-written loop, with a profile always on.

The public surface is stated here and nowhere else; every other module is an implementation
detail.
"""

from hotpipe._values import FAILED
from hotpipe.engines import Engine, Local, Processes, Threads, WorkerDied
from hotpipe.errors import (
    BenchError,
    CacheKeyError,
    CycleError,
    DefinitionError,
    HotpipeError,
    InputError,
    NodeError,
    NodeTimeout,
    RemoteError,
    ResourceError,
    TypeMismatchError,
    VectorizeWarning,
)
from hotpipe.graph import Edge, Graph, GraphNode
from hotpipe.node import Hints, Node, node
from hotpipe.pipeline import Pipeline
from hotpipe.profile import NodeProfile, Profile
from hotpipe.profile.stats import ItemError
from hotpipe.resources import Resource, resource
from hotpipe.result import Result
from hotpipe.stream import Stream

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # the cache (xxhash, sqlite3) loads on first use: `import hotpipe` stays fast
    if name == "Cache":
        from hotpipe.cache import Cache

        return Cache
    if name == "bench":  # the benchmark harness, a subpackage loaded on first use
        import hotpipe.bench

        return hotpipe.bench
    if name == "Finding":  # the advisor loads when asked for
        from hotpipe.advise import Finding

        return Finding
    if name == "Daft":  # hotpipe.engines.daft imports daft itself only when a map runs
        from hotpipe.engines.daft import Daft

        return Daft
    raise AttributeError(f"module 'hotpipe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Cache", "Daft", "Finding"})

__all__ = [
    "FAILED",
    "BenchError",
    "Cache",
    "CacheKeyError",
    "CycleError",
    "Daft",
    "DefinitionError",
    "Edge",
    "Engine",
    "Finding",
    "Graph",
    "GraphNode",
    "Hints",
    "HotpipeError",
    "InputError",
    "ItemError",
    "Local",
    "Node",
    "NodeError",
    "NodeProfile",
    "NodeTimeout",
    "Pipeline",
    "Processes",
    "Profile",
    "RemoteError",
    "Resource",
    "ResourceError",
    "Result",
    "Stream",
    "Threads",
    "TypeMismatchError",
    "VectorizeWarning",
    "WorkerDied",
    "__version__",
    "node",
    "resource",
]
