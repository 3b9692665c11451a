"""Nested maps on ``hotpipe.Daft``: inside the fused UDF, or exploded into a flat query.

A nested map step (``mode="zip"``) runs one of two ways, chosen per step by
:func:`strategies` (``Daft(nested=...)`` / ``pipe.to_daft(..., nested=...)``; default
``"auto"``), and the choice and its reason are in the script's header and the profile:

* ``"inline"``: a helper inside the fused UDF over each run of rows (explode by offsets,
  every inner step once, regroup; :func:`hotpipe.engines._daft_code._nested_helper`). No
  extra query, no shuffle; a run's inner items stay on the worker that runs its outer items.
* ``"explode"``: the map runs as a sequence of Daft queries (:func:`exploded_map`): the steps
  before the nested map as one query, then the nested map in the driver as ``Local`` runs it
  (:func:`hotpipe._nested.run_nested`: its per-outer inner steps as one query over the outer
  items, one explode of every outer item's inner lists into one flat column with the
  offsets as the index, **every inner item as one flat Daft query**, one regroup by the
  offsets that restores the order and keeps an empty list empty), then the steps after it
  as one query. The inner items of a few outer items spread over every worker.

``"auto"`` explodes a nested map when its longest inner list is more than 1.5 times a
core's share of all its inner items (inline, the worker running that list would finish
last; one outer item alone always is, on two cores or more), with at least four inner
items per core, its inner lists being a mapped input whose lengths the driver knows, and,
on the native runner (threads sharing the GIL), with an inner node that can use several
threads (batch, ``vectorize=``, async, a cpus/gpus hint); else inline. Cached maps look
every nested map up in the driver already (:mod:`hotpipe.engines._daft_cache`).
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, Any

from hotpipe._arrays import is_array, take
from hotpipe._state import state_of
from hotpipe._values import FAILED
from hotpipe.errors import InputError, NodeError
from hotpipe.execute import PLAIN, Chunk
from hotpipe.profile.stats import Stats
from hotpipe.schedule import Job, Outcome

if TYPE_CHECKING:
    from hotpipe.plan import Plan, Step

__all__ = ["NESTED", "FlatRunner", "Stage", "exploded_map", "nested_note", "stages",
           "strategies"]

NESTED = ("auto", "inline", "explode")
"""The values of ``Daft(nested=...)`` and ``pipe.to_daft(..., nested=...)``."""


def nested_note(name: str, how: str, why: str) -> str:
    """The profile's ``daft nested:`` note of one nested map."""
    ran = "through hotpipe's column executor" if how == "executor" else how
    return f"daft nested: map {name!r} ran {ran}: {why}"


def check_nested(where: str, nested: str) -> str:
    """``nested`` if it is one of :data:`NESTED`, else an ``InputError`` saying so."""
    if nested not in NESTED:
        raise InputError(f"{where}: nested={nested!r}; choose one of {list(NESTED)} "
                         "(how a nested map runs on Daft: docs/engines.md, 'Nested maps on "
                         "Daft').")
    return nested


def _parallel(inner: list[Step]) -> str | None:
    """Why a nested map's inner steps can use several of Daft's native threads at once
    (they share the GIL): a batch, ``vectorize=`` or async node, or a cpus/gpus hint, the
    kinds of node whose work lets the GIL go (numpy, a model, I/O); None: plain Python
    calls, which one thread runs as fast as several."""
    for s in inner:
        node = s.node
        if node.is_batch or s.batch is not None or node.vectorize or node.is_async:
            return f"inner node {s.name!r} is a batch, vectorize= or async node"
        if node.hints.cpus or node.hints.gpus:
            return f"inner node {s.name!r} has a cpus/gpus hint"
    return None


def strategies(plan: Plan, columns: dict[str, Any], n: int, workers: int,
               nested: str = "auto", runner: str = "native") -> dict[int, tuple[str, str]]:
    """Per top-level nested map step of ``plan`` (by index), ``(strategy, why)``:
    "inline", "explode", or "executor" for a nested map the fused text does not run
    (``mode="product"``, inner steps run once per map, ...: hotpipe's column executor runs
    it inside the query, whatever ``nested`` asks)."""
    from hotpipe.engines._daft_code import _not_fused, _not_written

    found: dict[int, tuple[str, str]] = {}
    for k, step in enumerate(plan.steps):
        nm = step.nested
        if nm is None or not step.mapped:
            continue
        inner = [step, *nm.pre.steps, *nm.body.steps]
        why = next((f"node {s.name!r} is {w}" for s in inner
                    if (w := _not_written(s) or _not_fused(s))), None)
        if why is not None:
            asked = "" if nested == "auto" else f" (nested={nested!r} does not apply)"
            found[k] = "executor", f"hotpipe's column executor runs it in the query: {why}{asked}"
            continue
        outer_arg = dict(zip(nm.args, step.args, strict=True))[nm.over[0]]
        lists = columns.get(outer_arg)
        if lists is None and nested != "inline":
            # the engine could explode them, but no script could write that query: its
            # size is known only inside the query, and the script must be what runs
            asked = "nested='explode' was asked for, but " if nested == "explode" else ""
            found[k] = "inline", (f"{asked}its lists {nm.over[0]!r} are made by an earlier "
                                  "step, so their lengths are not known before the query")
            continue
        if nested != "auto":
            found[k] = nested, f"nested={nested!r} was asked for"
            continue
        assert lists is not None
        try:
            sizes = list(map(len, lists))
        except TypeError:
            found[k] = "inline", f"the values of {outer_arg!r} are not all sized lists"
            continue
        total, longest = sum(sizes), max(sizes, default=0)
        share = total / max(1, workers)
        if total < 4 * max(1, workers):
            found[k] = "inline", (
                f"its {total:,} inner items are too few to spread (under 4 per core, "
                f"{workers} core(s)): the fused UDF runs them with their outer items")
        elif longest > 1.5 * share and runner == "native" and not _parallel(inner[1:]):
            found[k] = "inline", (
                f"its longest inner list ({longest:,} items) is more than 1.5 times a "
                f"core's share of its {total:,} inner items, but its inner steps are plain "
                "Python calls, which Daft's native threads run one at a time (the GIL): "
                "spreading them gains nothing here (on Ray it does: processes)")
        elif longest > 1.5 * share:
            why = _parallel(inner[1:])
            found[k] = "explode", (
                f"its longest inner list ({longest:,} items) is more than 1.5 times a "
                f"core's share of its {total:,} inner items ({share:,.0f}, {workers} "
                "core(s)): inline, the worker running that list would finish last; one flat "
                "query spreads the inner items over every worker"
                + (f" ({why}: its work can run on several threads)" if why and
                   runner == "native" else " (Ray: worker processes)"))
        else:
            found[k] = "inline", (
                f"its {total:,} inner items are spread evenly enough over its {n:,} outer "
                f"items (the longest list, {longest:,}, is at most 1.5 times a core's share, "
                f"{share:,.0f}): the fused UDF runs them with their outer items, no extra "
                "query")
    return found


@dataclasses.dataclass
class Stage:
    """One query of an exploded map, in order: a run of the map's steps (``kind="steps"``,
    ``ks``), or a nested map ``step``'s per-outer inner steps (``"pre"``) or its inner
    steps over every inner item (``"body"``); ``plan`` is what its fused text runs,
    ``suffix`` its names' suffix (``query_1``, ...)."""

    kind: str
    plan: Plan
    suffix: str
    ks: list[int]
    step: Step | None = None
    columns: tuple[str, ...] = ()  # "pre"/"body": the flat columns, in run_nested's order


def stages(plan: Plan, explode: set[int]) -> list[Stage]:
    """The queries of ``plan`` with the nested map steps ``explode`` exploded, in the order
    :func:`exploded_map` runs them (and the script writes them)."""
    from hotpipe.engines._daft_cache import sub_plan

    found: list[Stage] = []
    run: list[int] = []
    rows = [k for k, s in enumerate(plan.steps) if s.mapped]
    for k in [*rows, None]:
        if k is not None and k not in explode:
            run.append(k)
            continue
        if run:
            found.append(Stage("steps", sub_plan(plan, run), f"_{len(found) + 1}", run))
        run = []
        if k is None:
            continue
        step = plan.steps[k]
        nm = step.nested
        assert nm is not None
        per_outer = [inner for outer, inner in zip(step.args, nm.args, strict=True)
                     if outer in plan.mapped or inner in nm.over]
        if any(s.mapped for s in nm.pre.steps):
            pre_cols = tuple(name for name in per_outer if name in nm.pre.mapped)
            found.append(Stage("pre", flat_plan(nm.pre, pre_cols), f"_{len(found) + 1}",
                               [k], step, pre_cols))
            per_outer += [o for o in nm.pre.outputs if o in nm.pre.mapped
                          and o not in per_outer]
        need = set(nm.outputs).union(*(s.args for s in nm.body.steps))
        cols = (*nm.over, *(name for name in per_outer
                            if name in need and name not in nm.over))
        found.append(Stage("body", flat_plan(nm.body, cols), f"_{len(found) + 1}", [k],
                           step, cols))
    return found


class FlatRunner:
    """The runner of an exploded map's inner plans in the driver: ``columns`` runs the
    plan's items as one Daft query of the plain runner (the fused text), its failures
    named by their index path."""

    cached = False

    def __init__(self, engine: Any, daft: Any, queries: list[tuple[str, str]],
                 suffixes: dict[int, str] | None = None) -> None:
        self.engine, self.daft, self.queries = engine, daft, queries
        self.suffixes = suffixes or {}  # id(inner plan) -> its query's suffix

    def broadcast(self, *args: Any, **kwargs: Any) -> Any:
        return PLAIN.broadcast(*args, **kwargs)

    def columns(self, plan: Plan, columns: dict[str, Any], bc: Any, n: int, offset: int,
                on_error: str, stats: Stats, paths: Any = None, tuning: Any = None
                ) -> dict[str, Any]:
        suffix = self.suffixes.get(id(plan), "")
        plan = flat_plan(plan, tuple(columns))
        return _query(self.engine, self.daft, plan, columns, bc, n, offset, on_error, stats,
                      self.queries, lambda q: tuple(paths[q]) if paths is not None
                      else (offset + q,), suffix)


_FLAT: weakref.WeakKeyDictionary[Plan, dict[tuple[str, ...], Plan]] = \
    weakref.WeakKeyDictionary()


def flat_plan(plan: Plan, columns: tuple[str, ...]) -> Plan:
    """An inner plan of a nested map whose mapped inputs are ``columns`` (the flat columns
    ``run_nested`` gives it: the inner items, the per-outer values it reads repeated, the
    per-outer inner steps' outputs), so that the fused text takes exactly those."""
    by_plan = _FLAT.setdefault(plan, {})
    found = by_plan.get(columns)
    if found is None:
        rest = tuple(i for i in plan.inputs if i not in columns and i not in plan.mapped)
        found = by_plan[columns] = dataclasses.replace(plan, inputs=(*columns, *rest))
    return found


def _query(engine: Any, daft: Any, plan: Plan, columns: dict[str, Any], bc: Any, n: int,
           offset: int, on_error: str, stats: Stats, queries: list[tuple[str, str]],
           where: Any, suffix: str = "") -> dict[str, Any]:
    """One Daft query of ``plan`` over ``n`` items; ``where(q)``: the index path of the
    query's item ``q`` in the whole map (its failures are named by it)."""
    from hotpipe.engines._daft_cache import moved, moved_errors

    job = Job(plan, columns, bc, n, on_error, Stats.empty(plan.width), PLAIN, 0)
    try:
        produced, qstats = engine._query(daft, job, 0, n, suffix=suffix)
        last = engine._last
        body = "fused text" if last["body"].startswith("the fused text") else "executor"
        queries.append((f"{[s.name for s in plan.steps if s.mapped]} over {n:,} item(s) "
                        f"({body}, {last['reruns']} rerun(s))", last["text"]))
    except NodeError as exc:
        found = moved(exc, where, n)
        if found is exc:
            raise
        raise found from exc.error
    moved_errors(qstats.errors, where)
    stats.merge(qstats)
    return produced


def exploded_map(engine: Any, daft: Any, plan: Plan, columns: dict[str, Any],
                 scalars: dict[str, Any], n: int, on_error: str, on_progress: Any,
                 runner: Any, broadcast: Any, offset: int, chosen: dict[int, tuple[str, str]]
                 ) -> Outcome:
    """The map as a sequence of Daft queries, the nested map steps ``chosen`` to explode
    run in the driver with :class:`FlatRunner` (see the module docstring)."""
    from hotpipe._nested import run_nested

    t0 = perf_counter()
    stats = Stats.empty(plan.width)
    # (a failed broadcast step, on_error="collect": each query runs the executor, which
    # fails the items that read its outputs)
    bc = broadcast or (runner or PLAIN).broadcast(plan, scalars, n, on_error, stats)
    tuning = state_of(plan).tuning
    queries: list[tuple[str, str]] = []
    explode = {k for k, (how, _) in chosen.items() if how == "explode"}
    order = stages(plan, explode)
    flat = FlatRunner(engine, daft, queries, {id(st.step.nested.pre if st.kind == "pre"
                                                 else st.step.nested.body): st.suffix
                                              for st in order if st.step is not None})
    vals: dict[str, Any] = dict(columns)
    for st in order:
        if st.kind == "steps":
            names = [a for a in st.plan.inputs if a in st.plan.mapped]
            cols = {a: vals[a] for a in names}
            qbc = bc
            if stats.errors and _any_failed(cols.values()):  # (an item failed before)
                # as Local: a step skips the items whose arguments failed, the other steps
                # of the stage run them; the executor does that (a broken broadcast)
                qbc = copy.copy(bc)
                qbc.broken = True
            produced = _query(engine, daft, st.plan, cols, qbc, n, offset, on_error, stats,
                              queries, lambda q: (offset + q,), st.suffix)
            vals.update((o, produced[o]) for o in st.plan.outputs)
        elif st.kind == "body":  # (its "pre" stage, if any, runs inside run_nested)
            assert st.step is not None
            args = [vals[a] for a in st.step.args if a in vals]
            live = [i for i in range(n) if not any(c[i] is FAILED for c in args
                                                   if type(c) is list)]
            _nested_step(st.step, vals, live, n, bc, stats, flat, offset, on_error, tuning,
                         run_nested)
    values = {name: vals[name] if name in vals else [bc.values[name]] * n
              for name in plan.outputs}
    if on_progress is not None:
        on_progress(n)
    stats.errors.sort(key=lambda err: err.path or (err.index,))
    outcome = Outcome(values, perf_counter() - t0, n, t0, stats=stats)
    for k, (how, why) in chosen.items():
        outcome.notes.append(nested_note(plan.steps[k].name, how, why))
    outcome.notes.append(f"daft queries: {len(queries)} ran, in order: "
                         + "; ".join(line for line, _ in queries))
    if queries:  # the profile's `daft plan:` note holds every query's text, in order
        engine._last["text"] = "\n\n".join(text for _, text in queries)
    return outcome


def _any_failed(columns: Any) -> bool:
    return any(v is FAILED for col in columns if type(col) is list for v in col)


def _store(vals: dict[str, Any], produced: dict[str, Any], names: tuple[str, ...],
           live: list[int], n: int) -> None:
    """Output columns over the items ``live`` as the map's columns: FAILED for the others."""
    for name in names:
        col = produced[name]
        if len(live) == n:
            vals[name] = col
            continue
        out: list[Any] = [FAILED] * n
        for i, v in zip(live, col, strict=True):
            out[i] = v
        vals[name] = out


def _nested_step(step: Step, vals: dict[str, Any], live: list[int], n: int, bc: Any,
                 stats: Stats, flat: FlatRunner, offset: int, on_error: str, tuning: Any,
                 run_nested: Any) -> None:
    """A nested map step over the items ``live``, in the driver, as the cached runner and
    ``Local`` run it (its inner plans as flat queries of ``flat``)."""
    t0, c0 = perf_counter(), thread_time()
    sub = {a: take(vals[a], live, False) if not is_array(vals[a]) else
           [vals[a][i] for i in live] for a in step.args if a in vals}
    ctx = Chunk(offset, on_error, stats, set(), live, None, flat, bc, tuning)
    outs, inner_wall, inner_cpu = run_nested(step, sub, bc.values, len(live), ctx)
    t1 = perf_counter()
    done = len(live) - len(ctx.failed)
    stats.step_done(step.slot, done, done, t0, t1, thread_time() - c0 - inner_cpu,
                    t1 - t0 - inner_wall)
    _store(vals, dict(zip(step.outputs, outs, strict=True)), step.outputs, live, n)
