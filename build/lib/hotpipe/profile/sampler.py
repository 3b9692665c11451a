"""``profile="functions"``: a sampling profiler of node bodies.

Why sampling and not cProfile: cProfile hooks every Python call, so its cost grows with the
number of calls (small DSL functions called millions of times can run several times slower,
and the measurement distorts what it measures). A sampler looks at the stacks every
``interval`` seconds from a background thread; its cost is fixed per sample, whatever the
code does, and the counts converge on the share of time each function takes.

Attribution needs no hook in the engines: the sampler knows the code objects of the plan's
node functions, and a stack belongs to the outermost node function found on it. Samples
outside any node are counted as framework time.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotpipe.plan import Plan

__all__ = ["FunctionStat", "Sampler", "categorize"]


@dataclass(frozen=True)
class FunctionStat:
    """A function inside a node: samples where it was running (``self``) or on the stack
    (``total``), the matching seconds (share of the node's wall), and its category."""

    function: str
    category: str
    self_samples: int
    total_samples: int
    self_seconds: float
    total_seconds: float


def _function_name(frame: FrameType) -> str:
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{frame.f_code.co_qualname}"


def categorize(function: str, categories: Mapping[str, str | tuple[str, ...]]) -> str:
    """The first category whose prefix (module or ``module.function``) matches, else
    ``"other"``. Longer prefixes win over shorter ones."""
    best, best_len = "other", -1
    for name, prefixes in categories.items():
        for prefix in (prefixes,) if isinstance(prefixes, str) else prefixes:
            if (function == prefix or function.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    return best


def _node_codes(plan: Plan) -> dict[CodeType, str]:
    codes: dict[CodeType, str] = {}
    for step in plan.steps:
        for func in (step.func, step.node.func):
            code = getattr(func, "__code__", None)
            if code is not None:
                codes.setdefault(code, step.name)
    return codes


class Sampler:
    """Samples every thread's stack every ``interval`` seconds while running."""

    def __init__(self, plan: Plan, interval: float = 0.001) -> None:
        self.interval = interval
        self._codes = _node_codes(plan)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._switch: float | None = None
        self.samples: dict[str, int] = {}
        self.self_counts: dict[str, dict[str, int]] = {}
        self.total_counts: dict[str, dict[str, int]] = {}
        self.framework_samples = 0

    def __enter__(self) -> Sampler:
        # a CPU-bound thread hands over the GIL only every switch interval (5 ms by
        # default); shorten it while sampling so samples are taken at ``interval``.
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, self.interval))
        self._thread = threading.Thread(target=self._loop, name="hotpipe-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._switch is not None:
            sys.setswitchinterval(self._switch)

    def _loop(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for tid, frame in sys._current_frames().items():
                if tid != me:
                    self._take(frame)

    def _take(self, leaf: FrameType) -> None:
        stack: list[FrameType] = []
        node = None
        inside = 0
        frame: FrameType | None = leaf
        while frame is not None:
            stack.append(frame)
            name = self._codes.get(frame.f_code)
            if name is not None:
                node = name
                inside = len(stack)
            frame = frame.f_back
        if node is None:
            return
        self.samples[node] = self.samples.get(node, 0) + 1
        within = stack[:inside]
        own = self.self_counts.setdefault(node, {})
        leaf_name = _function_name(within[0])
        own[leaf_name] = own.get(leaf_name, 0) + 1
        total = self.total_counts.setdefault(node, {})
        for fname in {_function_name(f) for f in within}:
            total[fname] = total.get(fname, 0) + 1

    def functions(
        self, node: str, node_wall: float, categories: Mapping[str, str | tuple[str, ...]],
        top: int,
    ) -> list[FunctionStat]:
        """The ``top`` functions of ``node`` by self samples, seconds scaled to its wall."""
        n = self.samples.get(node, 0)
        if not n:
            return []
        own = self.self_counts.get(node, {})
        total = self.total_counts.get(node, {})
        per_sample = node_wall / n
        ranked = sorted(total, key=lambda f: (-own.get(f, 0), -total[f], f))[:top]
        return [
            FunctionStat(f, categorize(f, categories), own.get(f, 0), total[f],
                         own.get(f, 0) * per_sample, total[f] * per_sample)
            for f in ranked
        ]

    def category_shares(
        self, node: str, categories: Mapping[str, str | tuple[str, ...]]
    ) -> dict[str, float]:
        """Percent of ``node``'s samples whose running function falls in each category."""
        n = self.samples.get(node, 0)
        shares: dict[str, float] = {}
        for f, c in self.self_counts.get(node, {}).items():
            cat = categorize(f, categories)
            shares[cat] = shares.get(cat, 0.0) + 100.0 * c / n
        return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
