"""``Pipeline``: an immutable set of nodes, validated once; ``run`` and ``map`` entry points.

Construction checks the graph (duplicate outputs, duplicate names, cycles with their path);
every call shape (which inputs are given, which outputs are wanted, which are mapped) is
compiled once into a plan and cached, so repeated calls pay only the execution.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hotpipe._arrays import as_column
from hotpipe._calls import (
    LOCAL,
    bad_engine,
    cache_of,
    call_guards,
    check_options,
    no_refresh_without_cache,
    outputs_key,
    over_names,
    run_cached,
    sampling,
    stream,
)
from hotpipe._typecheck import check_edges
from hotpipe.engines.base import Engine
from hotpipe.errors import DefinitionError, InputError
from hotpipe.graph import Edge, Graph, GraphNode, topological_order
from hotpipe.node import Nested, Node, make_node
from hotpipe.plan import Plan, compile_plan, nested_function, product_columns, suggest
from hotpipe.profile import Profile
from hotpipe.resources import Resource
from hotpipe.result import Result
from hotpipe.runners import refreshed_steps, runner_for
from hotpipe.stream import Stream, is_stream

if TYPE_CHECKING:
    from hotpipe.cache import Cache

__all__ = ["Pipeline"]

_COMPILE_LOCK = threading.RLock()
_MODES = ("zip", "product")
_ON_ERROR = ("raise", "collect")


class Pipeline:
    """A DAG of nodes wired by parameter names.

    >>> from hotpipe import node
    >>> @node(output="y")
    ... def inc(x):
    ...     return x + 1
    >>> pipe = Pipeline([inc], name="demo")
    >>> pipe.run({"x": 1})
    Result({'y': 2})
    """

    __slots__ = ("_bound", "_inputs", "_name", "_nodes", "_outputs", "_plans", "_producer")

    def __init__(
        self,
        nodes: Sequence[Node | Callable[..., Any]],
        name: str | None = None,
        *,
        strict: bool = True,
    ) -> None:
        if isinstance(nodes, (Node, str)) or not isinstance(nodes, Iterable):
            raise DefinitionError(
                f"Pipeline(nodes) takes a list of nodes, got {type(nodes).__name__}. "
                "Fix: Pipeline([a, b, c])."
            )
        if name is not None and not isinstance(name, str):
            raise DefinitionError(f"Pipeline name={name!r} must be a str or None.")
        if not isinstance(strict, bool):
            raise DefinitionError(
                f"Pipeline(strict={strict!r}): must be True (check typed edges) or False.")
        self._name = name
        self._bound: Mapping[str, Any] = MappingProxyType({})
        self._nodes = self._order([n if isinstance(n, Node) else make_node(n) for n in nodes])
        if strict:  # annotated edges must fit (hotpipe._typecheck); strict=False skips it
            check_edges(self._nodes, name)
        self._producer = {o: n for n in self._nodes for o in n.outputs}
        inputs: dict[str, None] = {}
        for n in self._nodes:
            inputs.update((p, None) for p in n.params if p not in self._producer)
        self._inputs = tuple(inputs)
        self._outputs = tuple(o for n in self._nodes for o in n.outputs)
        self._plans: dict[Any, Plan] = {}

    def _order(self, nodes: list[Node]) -> tuple[Node, ...]:
        """Check names and outputs are unique; return the nodes in topological order."""
        where = f" in pipeline {self._name!r}" if self._name else ""
        if not nodes:
            raise DefinitionError(f"a pipeline needs at least one node{where}.")
        names: dict[str, Node] = {}
        producer: dict[str, Node] = {}
        for n in nodes:
            if n.name in names:
                raise DefinitionError(
                    f"two nodes are named {n.name!r}{where}. "
                    f"Fix: node(func, name='another_name') for one of them."
                )
            names[n.name] = n
            for o in n.outputs:
                if o in producer:
                    raise DefinitionError(
                        f"output {o!r} is produced by two nodes{where}: "
                        f"{producer[o].name!r} and {n.name!r}. Fix: rename one output."
                    )
                producer[o] = n
        deps = {n.name: [producer[p].name for p in n.params if p in producer] for n in nodes}
        via = {(n.name, producer[p].name): p for n in nodes for p in n.params if p in producer}
        order = topological_order(deps, [n.name for n in nodes], via)
        return tuple(names[name] for name in order)

    # ------------------------------------------------------------------ introspection

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The nodes in topological order."""
        return self._nodes

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names the caller may pass: every parameter no node produces, less bound ones."""
        return tuple(i for i in self._inputs if i not in self._bound)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """Inputs that some node needs and has no default for."""
        return tuple(
            i
            for i in self.inputs
            if any(i in n.params and i not in n.defaults for n in self._nodes)
        )

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every name a node produces, in topological order."""
        return self._outputs

    @property
    def bound(self) -> Mapping[str, Any]:
        """Inputs fixed by :meth:`bind`."""
        return self._bound

    @property
    def graph(self) -> Graph:
        """The DAG as plain data (nodes, external inputs, edges)."""
        edges = []
        for n in self._nodes:
            for p in n.params:
                src = self._producer.get(p)
                if src is not None:
                    edges.append(Edge(src.name, n.name, p))
                elif p not in self._bound:
                    edges.append(Edge(f"input:{p}", n.name, p))
        return Graph(
            nodes=tuple(GraphNode(n.name, n.params, n.outputs) for n in self._nodes),
            inputs=self.inputs,
            edges=tuple(edges),
        )

    def visualize(
        self,
        format: str = "mermaid",
        *,
        over: str | Sequence[str] = (),
        cache: bool = False,
        renderer: str = "auto",
        path: str | None = None,
    ) -> str:
        """The graph as text: ``"mermaid"`` (the default), ``"dot"``, ``"svg"`` or ``"html"``.

        Nested pipelines are drawn as clusters around their own nodes; ``over`` marks the
        inputs a map would take item by item, ``cache=True`` the nodes a cached run stores.
        SVG comes from Graphviz where the ``graphviz`` package and the ``dot`` binary are
        installed, else from a built-in layout (``renderer="builtin"`` or ``"graphviz"``
        chooses). With ``path`` the text is also written there.
        """
        from hotpipe._visualize import visualize

        return visualize(self, format, over=over, cache=cache, renderer=renderer, path=path)

    def _repr_html_(self) -> str:
        from hotpipe._visualize import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        head = f"Pipeline({self._name!r})" if self._name else "Pipeline"
        lines = [f"{head}: inputs {list(self.inputs)} -> outputs {list(self._outputs)}"]
        for n in self._nodes:
            params = ", ".join(
                f"{p}={self._bound[p]!r}" if p in self._bound else p for p in n.params
            )
            kind = " [nested]" if n.nested else ""
            lines.append(f"  {n.name}({params}) -> {', '.join(n.outputs)}{kind}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ derived pipelines

    def bind(self, **values: Any) -> Pipeline:
        """A new pipeline with these inputs fixed (they are no longer inputs)."""
        for key in values:
            if key in self._bound:
                raise InputError(
                    f"bind({key}=...): {key!r} is already bound (to {self._bound[key]!r}); a "
                    "bound input is fixed. Fix: call bind() on the pipeline it came from."
                )
            if key not in self.inputs:
                raise InputError(
                    f"bind({key}=...): {key!r} is not an input of this pipeline; inputs are "
                    f"{list(self.inputs)}." + suggest(key, self.inputs)
                )
        new = object.__new__(Pipeline)
        for slot in Pipeline.__slots__:
            object.__setattr__(new, slot, getattr(self, slot))
        new._bound = MappingProxyType({**self._bound, **values})
        new._plans = {}
        return new

    def as_node(
        self,
        name: str | None = None,
        over: str | Sequence[str] | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
        mode: str = "zip",
        phase: str | None = None,
    ) -> Node:
        """This pipeline as one node of another pipeline.

        ``inputs`` maps outer names to this pipeline's input names (others keep their names);
        ``outputs`` maps this pipeline's outputs to outer names (default: the leaf outputs,
        under their own names). With ``over`` (names of this pipeline's inputs) the node takes
        lists for those inputs and returns lists, like :meth:`map`. Outputs the outer pipeline
        never reads are not computed. In the profile its nodes are grouped under ``phase``
        (default: the node's name).
        """
        if name is not None and (not isinstance(name, str) or not name):
            raise InputError(f"as_node(name={name!r}): must be a non-empty str or None.")
        name = name or self._name or "nested"
        where = f"as_node(name={name!r})"
        _check_renames(where, "inputs", inputs, "an outer name to one of this pipeline's "
                       f"inputs {list(self.inputs)}")
        _check_renames(where, "outputs", outputs, "one of this pipeline's outputs "
                       f"{list(self._outputs)} to an outer name")
        if phase is not None and (not isinstance(phase, str) or not phase):
            raise InputError(f"{where}: phase={phase!r} must be a non-empty str or None.")
        inner_of = dict((inputs or {}).items())
        for outer, inner in inner_of.items():
            if inner not in self.inputs:
                raise InputError(
                    f"{where}: inputs={{{outer!r}: {inner!r}}} but {inner!r} is not an input of "
                    f"the nested pipeline; its inputs are {list(self.inputs)}."
                    + suggest(inner, self.inputs)
                )
        if len(set(inner_of.values())) != len(inner_of):
            raise InputError(f"{where}: inputs={inputs!r} maps two names to one input.")
        outer_of = dict(outputs.items()) if outputs else {o: o for o in self._leaf_outputs()}
        for inner in outer_of:
            if inner not in self._outputs:
                raise InputError(
                    f"{where}: outputs={{{inner!r}: ...}} but {inner!r} is not an output of the "
                    f"nested pipeline; its outputs are {list(self._outputs)}."
                    + suggest(inner, self._outputs)
                )
        over_t = over_names(over, self.inputs, where) if over is not None else ()
        if mode not in _MODES:
            raise InputError(f"{where}: mode={mode!r}; choose one of {list(_MODES)}.")
        full_inputs = {inner_to_outer: inner for inner_to_outer, inner in inner_of.items()}
        mapped = set(inner_of.values())
        full_inputs.update({i: i for i in self.inputs if i not in mapped})
        defaults = {}
        for outer, inner in full_inputs.items():
            if inner not in self.required_inputs:
                defaults[outer] = _OPTIONAL
        nested = Nested(self, MappingProxyType(full_inputs), MappingProxyType(outer_of),
                        over_t, mode)
        outs = tuple(outer_of.values())
        if len(set(outs)) != len(outs):
            raise InputError(f"{where}: outputs={outputs!r} maps two outputs to one name.")
        clash = set(outs) & set(full_inputs)
        if clash:
            raise InputError(
                f"{where}: {sorted(clash)[0]!r} would be both an input and an output of the "
                "node. Fix: rename it with inputs= or outputs=."
            )
        return Node(
            func=nested_function(nested),
            name=name,
            outputs=outs,
            params=tuple(full_inputs),
            defaults=MappingProxyType(defaults),
            positional=(),
            unpack=len(outs) > 1,
            phase=phase,
            nested=nested,
        )

    def _leaf_outputs(self) -> list[str]:
        consumed = {p for n in self._nodes for p in n.params}
        return [o for o in self._outputs if o not in consumed]

    # ------------------------------------------------------------------ execution

    def imap(
        self,
        inputs: Mapping[str, Any],
        over: str | Sequence[str],
        outputs: str | Sequence[str] | None = None,
        on_error: str = "raise",
        *,
        engine: Engine | None = None,
        cache: Cache | bool | None = None,
        buffer: int = 4,
        progress: bool | Callable[[int], None] = False,
        refresh: bool | Sequence[str] = False,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> Stream:
        """Like :meth:`map` (``mode="zip"``), but yields one ``dict`` of outputs per item.

        Mapped inputs may be iterators or generators of unknown length; they are read on a
        background thread, ``buffer`` chunks ahead, so loading overlaps compute and memory
        holds a few chunks rather than every item. The returned :class:`~hotpipe.Stream`
        has ``profile`` and ``errors``. ``cache``, ``refresh``, ``retries`` and ``timeout``
        work as in :meth:`map`.
        """
        guards = call_guards("imap", retries, timeout)
        store = cache_of(cache)
        if refresh is not False and store is None:
            no_refresh_without_cache("imap", refresh)
        if not isinstance(inputs, Mapping):
            raise InputError(
                f"imap(inputs) takes a dict of input name -> value, got {type(inputs).__name__}."
            )
        if on_error not in _ON_ERROR:
            raise InputError(f"imap(on_error={on_error!r}): choose one of {list(_ON_ERROR)}.")
        if engine is not None and not isinstance(engine, Engine):
            bad_engine(engine, "imap")
        check_options("imap", progress, buffer)
        names = over_names(over, self.inputs, "imap", self._producer, self._bound)
        for name in names:
            if name not in inputs:
                raise InputError(
                    f"imap(over={name!r}) but no value for {name!r} was given. "
                    f"Fix: pass {{{name!r}: ...}} in the inputs."
                )
        plan = self._plan(frozenset(inputs), outputs_key(outputs, "imap"), frozenset(names),
                          guards)
        steps = refreshed_steps(plan, refresh, "imap") if refresh is not False else frozenset()
        return stream(plan, inputs, names, "zip", on_error, engine, store, buffer,
                      progress, self._name, steps)


    def _plan(self, given: frozenset[str], outputs: tuple[str, ...] | None,
              mapped: frozenset[str] = frozenset(),
              guards: tuple[int, float | None] | None = None) -> Plan:
        # a call's retries/timeout defaults give a plan of their own (its nodes differ)
        key = (given, outputs, mapped) if guards is None else (given, outputs, mapped, guards)
        plan = self._plans.get(key)
        if plan is None:
            with _COMPILE_LOCK:  # threads calling one pipeline share one plan (and tuning)
                plan = self._plans.get(key)
                if plan is None:
                    self._check_names(given)
                    plan = compile_plan(self, given, outputs, mapped, guards=guards)
                    self._plans[key] = plan
        return plan

    def _check_names(self, given: frozenset[str]) -> None:
        where = f" of pipeline {self._name!r}" if self._name else ""
        for key in sorted(given, key=repr):
            if not isinstance(key, str):
                raise InputError(
                    f"input name {key!r}{where} is a {type(key).__name__}; inputs are named "
                    f"by str: {list(self.inputs)}."
                )
            if key in self._bound:
                raise InputError(
                    f"input {key!r} was fixed by bind(); it cannot be passed again. "
                    "Fix: drop it from the inputs, or bind it to another value."
                )
            if key in self._producer:
                raise InputError(
                    f"{key!r} is produced by node {self._producer[key].name!r}, not an "
                    f"input{where}. Fix: drop it from the inputs."
                )
            if key not in self._inputs:
                raise InputError(
                    f"unknown input {key!r}{where}; the inputs are {list(self.inputs)}."
                    + suggest(key, self.inputs)
                )

    def run(
        self,
        inputs: Mapping[str, Any],
        outputs: str | Sequence[str] | None = None,
        *,
        engine: Engine | None = None,
        profile: str | None = None,
        cache: Cache | bool | None = None,
        refresh: bool | Sequence[str] = False,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run once. Returns a :class:`Result` of output name -> value.

        With ``outputs`` only those are returned, and only the nodes they need run.
        ``profile="functions"`` also samples the node bodies (see ``Profile.functions``).
        ``cache=True`` (the store in ``./.hotpipe/cache``) or a :class:`~hotpipe.Cache`
        reuses results computed before for the same code and inputs; ``refresh=True`` (or a
        list of node names) recomputes those nodes, and every node downstream of them, and
        overwrites their entries. ``retries`` and ``timeout`` are defaults for the nodes
        that set none of their own (see :meth:`map`).
        """
        guards = None if retries is None and timeout is None else call_guards(
            "run", retries, timeout)
        if cache is not None and cache is not False:
            return run_cached(self, inputs, outputs, engine, profile, cache, refresh, guards)
        if refresh is not False:
            no_refresh_without_cache("run", refresh)
        outs = outputs if outputs is None else outputs_key(outputs)
        try:
            if guards is not None:
                raise KeyError(guards)  # the plan with the defaults
            plan = self._plans[(frozenset(inputs), outs, _NO_MAP)]
        except (KeyError, TypeError):
            if not isinstance(inputs, Mapping):
                raise InputError(
                    f"run(inputs) takes a dict of input name -> value, got "
                    f"{type(inputs).__name__}. Fix: pipe.run({{'x': 1}})."
                ) from None
            plan = self._plan(frozenset(inputs), outs, _NO_MAP, guards)
        if engine is None:
            engine = LOCAL
        elif not isinstance(engine, Engine):
            bad_engine(engine, "run")
        if profile is None:
            outcome = engine.run_item(plan, inputs)
            return Result(outcome.values, profile_args=(plan, outcome, "run", engine.name))
        with sampling(plan, profile) as sampler:
            outcome = engine.run_item(plan, inputs)
        return Result(outcome.values, Profile(plan, outcome, "run", engine.name, sampler))

    def map(
        self,
        inputs: Mapping[str, Any],
        over: str | Sequence[str],
        mode: str = "zip",
        outputs: str | Sequence[str] | None = None,
        on_error: str = "raise",
        *,
        engine: Engine | None = None,
        progress: bool | Callable[[int], None] = False,
        profile: str | None = None,
        cache: Cache | bool | None = None,
        buffer: int = 4,
        refresh: bool | Sequence[str] = False,
        retries: int | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run once per item of the inputs named in ``over``; broadcast the other inputs.

        ``mode="zip"`` pairs the mapped inputs position by position (equal lengths);
        ``"product"`` runs every combination, row-major in the order of ``over``. Returns a
        :class:`Result` of output name -> list aligned with the items. With
        ``on_error="collect"`` failed items hold ``hotpipe.FAILED`` and ``result.errors``
        lists them. ``progress=True`` shows a progress bar (rich) on the terminal; a callable
        is called with the number of items just finished (about every 0.1 s in this thread).
        ``profile="functions"`` also samples the node bodies (see ``Profile.functions``).
        ``cache`` stores and reuses results per node and item, ``refresh`` recomputes and
        overwrites (see :meth:`run`). A mapped input may be an iterator or generator of
        unknown length: it is read on a background thread ``buffer`` chunks ahead (see
        :meth:`imap`). ``retries`` and ``timeout`` are defaults for the nodes that set none
        of their own (``@node(retries=N)`` with N > 0, ``@node(timeout=s)``; a node's own
        setting wins, its ``retry_on`` and ``backoff`` apply to the default retries).
        """
        guards = None if retries is None and timeout is None else call_guards(
            "map", retries, timeout)
        store = cache_of(cache)
        if refresh is not False and store is None:
            no_refresh_without_cache("map", refresh)
        if not isinstance(inputs, Mapping):
            raise InputError(
                f"map(inputs) takes a dict of input name -> value, got {type(inputs).__name__}."
            )
        if mode not in _MODES:
            raise InputError(f"map(mode={mode!r}): choose one of {list(_MODES)}.")
        if on_error not in _ON_ERROR:
            raise InputError(f"map(on_error={on_error!r}): choose one of {list(_ON_ERROR)}.")
        if engine is None:
            engine = LOCAL
        elif not isinstance(engine, Engine):
            bad_engine(engine, "map")
        check_options("map", progress, buffer)
        names = over_names(over, self.inputs, "map", self._producer, self._bound)
        given = frozenset(inputs)
        for name in names:
            if name not in given:
                raise InputError(
                    f"map(over={name!r}) but no value for {name!r} was given. "
                    f"Fix: pass {{{name!r}: [...]}} in the inputs."
                )
        plan = self._plan(given, outputs_key(outputs, "map"), frozenset(names), guards)
        steps = refreshed_steps(plan, refresh, "map") if refresh is not False else frozenset()
        if any(is_stream(inputs[name]) for name in names):
            flow = stream(plan, inputs, names, mode, on_error, engine, store, buffer, progress,
                          self._name, steps)
            values: dict[str, list[Any]] = {name: [] for name in plan.outputs}
            for cols in flow.chunks():
                for name, col in values.items():
                    col.extend(cols[name])
            return Result(values, flow.profile, flow.errors)
        mapped = {name: as_column(name, inputs[name]) for name in names}  # arrays stay
        for name, col in mapped.items():
            if len(col) and type(col[0]) is Resource:
                raise InputError(
                    f"map(over={name!r}): the items are resources; a resource is one shared "
                    "object, passed as a broadcast input (not in over). Fix: pass a single "
                    "resource outside over, or map over plain values."
                )
        if mode == "product":
            columns, n = product_columns(mapped, list(names))
        else:
            lengths = {name: len(col) for name, col in mapped.items()}
            if len(set(lengths.values())) > 1:
                raise InputError(
                    f"map(mode='zip') needs mapped inputs of equal length, got {lengths}. "
                    "Fix: make them equal, or use mode='product' for every combination."
                )
            columns, n = mapped, next(iter(lengths.values()))
        scalars = {k: v for k, v in inputs.items() if k not in mapped and k in plan.inputs}
        scalars.update(plan.constants)
        columns = {k: v for k, v in columns.items() if k in plan.inputs}
        runner = runner_for(store, steps)
        with sampling(plan, profile) as sampler:
            if progress is True:
                from hotpipe.progress import progress_bar

                with progress_bar(f"{self._name or 'map'}", n) as advance:
                    outcome = engine.run_map(plan, columns, scalars, n, on_error, advance,
                                             runner)
            else:
                callback = progress if callable(progress) else None
                outcome = engine.run_map(plan, columns, scalars, n, on_error, callback,
                                         runner)
        prof = Profile(plan, outcome, "map", engine.name, sampler)
        return Result(outcome.values, prof, outcome.stats.errors)

    def to_daft(self, inputs: Mapping[str, Any], outputs: str | Sequence[str] | None = None,
                over: str | Sequence[str] = (), nested: str = "auto") -> str:
        """This pipeline mapped ``over`` the inputs, as a standalone Daft script (the
        functions' own source, the fused batch UDF, an analysis header); ``nested``: how its
        nested maps run, as ``hotpipe.Daft(nested=...)`` (``"auto"``, ``"inline"``,
        ``"explode"``); see docs/engines.md, "Daft"."""
        from hotpipe.advise.plan_rules import plan_findings
        from hotpipe.engines._daft_code import to_daft

        return to_daft(self, inputs, outputs, over, plan_findings, nested)


def _check_renames(where: str, arg: str, value: Any, what: str) -> None:
    """``inputs=``/``outputs=`` of as_node: None or a dict of str -> str."""
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError(
            f"{where}: {arg}={value!r} must be a dict mapping {what} (str -> str), or None."
        )


class _Optional:
    def __repr__(self) -> str:
        return "<optional>"


_OPTIONAL = _Optional()
_NO_MAP: frozenset[str] = frozenset()
