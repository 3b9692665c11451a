"""The pipeline's DAG as plain, frozen data, and the graph algorithms on it.

A :class:`Graph` holds node names with what each consumes and produces, the external inputs,
and the edges; nothing in it executes. ``Pipeline.graph`` returns one; the planner uses the
functions here for ordering, cycle detection and pruning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from hotpipe.errors import CycleError

__all__ = ["Edge", "Graph", "GraphNode", "ancestors", "find_cycle", "topological_order"]


@dataclass(frozen=True)
class GraphNode:
    """A node as data: its name, the names it consumes and the names it produces."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Edge:
    """``source`` (a node name, or ``"input:<name>"`` for an external input) feeds
    ``target`` the value called ``name``."""

    source: str
    target: str
    name: str


@dataclass(frozen=True)
class Graph:
    """Plain data: nodes in topological order, external inputs, and edges."""

    nodes: tuple[GraphNode, ...]
    inputs: tuple[str, ...]
    edges: tuple[Edge, ...]

    def to_dict(self) -> dict:
        """JSON-ready form of the graph."""
        return {
            "nodes": [
                {"name": n.name, "inputs": list(n.inputs), "outputs": list(n.outputs)}
                for n in self.nodes
            ],
            "inputs": list(self.inputs),
            "edges": [[e.source, e.target, e.name] for e in self.edges],
        }

    def to_mermaid(self) -> str:
        """Mermaid flowchart text (renders on GitHub, in notebooks, at mermaid.live)."""
        from hotpipe._visualize import mermaid_text as text  # escapes " < & # for Mermaid

        ids = {n.name: f"n{i}" for i, n in enumerate(self.nodes)}
        lines = ["flowchart TD"]
        for i, name in enumerate(self.inputs):
            ids[f"input:{name}"] = f"i{i}"
            lines.append(f'    i{i}[/"{text(name)}"/]')
        for n in self.nodes:
            outs = ", ".join(n.outputs)
            lines.append(f'    {ids[n.name]}["{text(n.name)}<br/>→ {text(outs)}"]')
        for e in self.edges:
            lines.append(f"    {ids[e.source]} -->|{e.name}| {ids[e.target]}")
        return "\n".join(lines) + "\n"


def topological_order(
    deps: Mapping[str, Iterable[str]],
    order: Sequence[str],
    via: Mapping[tuple[str, str], str] | None = None,
) -> list[str]:
    """Kahn's algorithm, stable: ties keep the order the nodes were given in.

    ``deps[name]`` are the names ``name`` depends on; raises :class:`CycleError` on a cycle.
    """
    pending = {n: set(deps[n]) for n in order}
    users: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for d in pending[n]:
            users[d].append(n)
    rank = {n: i for i, n in enumerate(order)}
    ready = [n for n in order if not pending[n]]
    result: list[str] = []
    while ready:
        ready.sort(key=rank.__getitem__, reverse=True)
        n = ready.pop()
        result.append(n)
        for u in users[n]:
            pending[u].discard(n)
            if not pending[u]:
                ready.append(u)
    if len(result) != len(order):
        done = set(result)
        raise find_cycle(deps, [n for n in order if n not in done], via)
    return result


def find_cycle(
    deps: Mapping[str, Iterable[str]],
    candidates: Sequence[str],
    via: Mapping[tuple[str, str], str] | None = None,
) -> CycleError:
    """A :class:`CycleError` whose path is one cycle among ``candidates`` (depth-first)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(deps[n]):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for start in candidates:
        if start not in state and (path := visit(start)):
            # deps point from consumer to producer; show the data flow forwards
            path.reverse()
            names = [(via or {}).get((b, a), "?") for a, b in pairwise(path)]
            return CycleError(path, names)
    raise AssertionError("find_cycle called on an acyclic graph")  # pragma: no cover


def ancestors(deps: Mapping[str, Iterable[str]], targets: Iterable[str]) -> set[str]:
    """``targets`` and every name they depend on, transitively."""
    seen: set[str] = set()
    todo = list(targets)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(deps.get(n, ()))
    return seen
