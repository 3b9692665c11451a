"""A cached map on ``hotpipe.Daft``: hits looked up in the driver, only misses go to Daft.

The driver runs the cached runner's own demand (:class:`hotpipe.cache.run.PlannedDemand`)
over the map in ``Local``'s chunks (``IN_PROCESS_CHUNK`` items, so both engines write and
read the same packs): input fingerprints, Merkle keys, packs, per-item entries,
``refresh=``. Where the cached runner would compute a step, the demand records the items.
The items are then grouped by the set of steps they miss, and each group runs as one Daft
query of the *plain* runner over those steps only (the fused text, as uncached maps run it),
with the values loaded from the cache as input columns and every output of those steps
coming back. So a warm rerun runs no query, a cold run one query of the whole plan, new
items one query over them, an edited node one query of it and the steps after it. The
results are recorded by the demand in the driver (the same keys, packs, per-item seconds:
each step's mean over the query, from the query's clock) and stored in one transaction per
chunk.

A step whose outputs are keyed by value (``cache=False``, read by a cached step) must be
known before the keys after it: it runs at once, one query of that step alone.

Every stored value is the value as its node returned it, as on ``Local`` (docs/caching.md,
"Mutation"): a query's results come back when all its steps ran, so a step's output that
a later step of the query reads is kept in the query the moment the step is done
(``kept``: the column itself when its values are immutable, else a copy); the map still
returns the live value (what the later step did to it), as an uncached map does. Where the
query runs hotpipe's executor instead of the fused text, :class:`KeptRunner` runs it
step by step and keeps the same values.
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from time import perf_counter
from typing import TYPE_CHECKING, Any

from hotpipe._arrays import append_column, finish_column, is_array, take
from hotpipe._state import state_of
from hotpipe._values import FAILED
from hotpipe._vectorize import vector_notes
from hotpipe.errors import ItemError, NodeError, WorkerDied
from hotpipe.execute import PLAIN
from hotpipe.profile.stats import Stats
from hotpipe.schedule import IN_PROCESS_CHUNK, Job, Outcome

if TYPE_CHECKING:
    from hotpipe.cache.run import PlannedDemand
    from hotpipe.plan import Plan, Step

__all__ = ["DriverRunner", "KeptRunner", "cached_map", "moved", "moved_errors"]

_SUBPLANS: weakref.WeakKeyDictionary[Plan, dict[int, Plan]] = weakref.WeakKeyDictionary()


class _Queries:
    """The Daft queries of one cached map, for the profile note."""

    def __init__(self) -> None:
        self.done: list[tuple[list[str], int, float]] = []  # steps, items, seconds
        # the live values of kept outputs the map returns: (demand, name, items, values)
        self.live: list[tuple[Any, str, list[int], list[Any]]] = []

    def note(self, hits: int, lookups: float) -> str:
        if not self.done:
            ran = "no Daft query ran (every requested value was a hit)"
        else:
            ran = f"{len(self.done)} Daft quer{'y' if len(self.done) == 1 else 'ies'} ran " \
                  "for the misses: " + "; ".join(
                      f"{items:,} item(s) of {steps} ({seconds * 1e3:.3g} ms)"
                      for steps, items, seconds in self.done)
        stored = "; their results were stored from the driver" if self.done else ""
        return (f"daft cache: keys and lookups in the driver ({lookups * 1e3:.3g} ms, "
                f"{hits:,} hit(s)); {ran}{stored}")


def cached_map(engine: Any, daft: Any, plan: Plan, columns: dict[str, Any],
               scalars: dict[str, Any], n: int, on_error: str, on_progress: Any,
               runner: Any, broadcast: Any, offset: int) -> Outcome:
    """The map through the cache, its misses on Daft (see the module docstring)."""
    t0 = perf_counter()
    stats = Stats.empty(plan.width)
    bc = broadcast or runner.broadcast(plan, scalars, n, on_error, stats)
    tuning = state_of(plan).tuning
    queries = _Queries()
    driver = DriverRunner(engine, daft, runner, queries)
    demands = []
    for s in range(0, n, IN_PROCESS_CHUNK):
        e = min(s + IN_PROCESS_CHUNK, n)
        chunk = columns if s == 0 and e == n else {k: v[s:e] for k, v in columns.items()}
        demands.append(driver.demand(plan, chunk, bc, e - s, offset + s, on_error, stats,
                                     None, tuning))
    lookups = perf_counter() - t0
    values = _computed(engine, daft, plan, bc, on_error, stats, demands, queries)
    if on_progress is not None:
        on_progress(n)
    stats.errors.sort(key=lambda err: err.path or (err.index,))
    outcome = Outcome(values, perf_counter() - t0, n, t0, stats=stats)
    outcome.notes.append(queries.note(sum(stats.hits), lookups))
    outcome.notes.extend(vector_notes(plan, stats))
    return outcome


class DriverRunner:
    """The cached runner of a map on ``hotpipe.Daft`` whose hits are looked up in the
    driver, for the demands of its chunks and for the inner plans of its nested maps.

    A nested map step runs in the driver, as the cached runner runs it
    (:func:`hotpipe._nested.run_nested`: explode, inner plan, regroup), with this runner:
    its inner plan's items are one more demand, looked up here, their misses sent to Daft as
    flat queries of the inner steps, so inner nodes are cached per inner item in the
    driver's cache on every runner (on Ray: not in a worker's). ``broadcast`` is the cached
    runner's (once-per-map steps run in the driver either way)."""

    cached = True

    def __init__(self, engine: Any, daft: Any, runner: Any, queries: _Queries) -> None:
        self.engine, self.daft, self.runner, self.queries = engine, daft, runner, queries
        self.cache, self.refresh = runner.cache, runner.refresh

    def broadcast(self, *args: Any, **kwargs: Any) -> Any:
        return self.runner.broadcast(*args, **kwargs)

    def demand(self, plan: Plan, columns: dict[str, Any], bc: Any, n: int, offset: int,
               on_error: str, stats: Stats, paths: Any, tuning: Any) -> PlannedDemand:
        """One chunk's demand, its keys computed and its hits loaded: what it misses is in
        its ``todo``."""
        from hotpipe.cache.run import PlannedDemand

        def run_now(demand: PlannedDemand, k: int, step: Step, items: list[int]) -> Any:
            out = _run_steps(self.engine, self.daft, plan, bc, on_error, stats, [k],
                             [(demand, items)], self.queries)
            results, failed = out[(0, k)]
            return results, out["seconds"][k], failed

        demand = PlannedDemand(plan, columns, bc, n, offset, on_error, stats, self.cache,
                               self, paths, tuning, run_now=run_now)
        demand.key_pass()
        demand.request()
        return demand

    def columns(self, plan: Plan, columns: dict[str, Any], bc: Any, n: int, offset: int,
                on_error: str, stats: Stats, paths: Any = None, tuning: Any = None
                ) -> dict[str, Any]:
        """An inner plan's items (one chunk, as the cached runner runs it: the same packs)
        through the cache, the misses on Daft; raises the failure (``on_error="raise"``)
        after storing what was computed."""
        demand = self.demand(plan, columns, bc, n, offset, on_error, stats, paths,
                             tuning or state_of(plan).tuning)
        return _computed(self.engine, self.daft, plan, bc, on_error, stats, [demand],
                         self.queries)


def _computed(engine: Any, daft: Any, plan: Plan, bc: Any, on_error: str, stats: Stats,
              demands: list[PlannedDemand], queries: _Queries) -> dict[str, Any]:
    """The demands' misses run (:func:`_run_groups`) and everything stored; the output
    columns. The failure (``on_error="raise"``) is raised after storing what was computed;
    a worker's death too (the runs that came back are stored all the same)."""
    try:
        failure = _run_groups(engine, daft, plan, bc, on_error, stats, demands, queries)
    except Exception:
        _saved(plan, demands, stats, queries)
        raise
    values = _saved(plan, demands, stats, queries)
    if failure is not None:
        raise failure
    return values


def _where(demand: PlannedDemand, i: int) -> tuple[int, ...]:
    """The index path of a demand's item ``i`` (an inner item's: outer index first)."""
    return tuple(demand.paths[i]) if demand.paths is not None else (demand.offset + i,)


def _run_groups(engine: Any, daft: Any, plan: Plan, bc: Any, on_error: str, stats: Stats,
                demands: list[PlannedDemand], queries: _Queries) -> NodeError | None:
    """The missing items, group by group in the order of their first items; the failure at
    the lowest item (``on_error="raise"``), as a loop over the items reports it: a group
    starting after a failure found cannot hold a lower one.

    A group's steps run as one Daft query, or, where they include nested map steps, as a
    query per run of steps between them and each nested step in the driver
    (:class:`DriverRunner`)."""
    failure: NodeError | None = None
    for ks, parts in _groups(demands):
        if failure is not None and _where(*_first(parts))[0] > (failure.index or 0):
            break
        try:
            _run_segments(engine, daft, plan, bc, on_error, stats, ks, parts, queries)
        except NodeError as exc:
            if failure is None or _path(exc) < _path(failure):
                failure = exc
    return failure


def _first(parts: list[tuple[Any, list[int]]]) -> tuple[Any, int]:
    return parts[0][0], parts[0][1][0]


def _path(exc: NodeError) -> tuple[int, ...]:
    return tuple(exc.path) if exc.path else (exc.index or 0,)


def _run_segments(engine: Any, daft: Any, plan: Plan, bc: Any, on_error: str, stats: Stats,
                  ks: list[int], parts: list[tuple[Any, list[int]]], queries: _Queries
                  ) -> None:
    """Steps ``ks`` over the items ``parts``: each run of steps without a nested map as one
    Daft query, each nested map step in the driver, demand by demand (its inner misses on
    Daft). After a nested step, the items it failed (``on_error="collect"``) fail the
    steps after it without running."""
    run: list[int] = []
    after_nested = False
    for k in [*ks, None]:
        if k is not None and plan.steps[k].nested is None:
            run.append(k)
            continue
        if run:
            live = _alive(plan, run, parts) if after_nested else parts
            if live:
                _run_steps(engine, daft, plan, bc, on_error, stats, run, live, queries)
            run = []
        if k is not None:
            step = plan.steps[k]
            for demand, items in parts:
                demand.compute_here(k, step, items)
            after_nested = True


def _alive(plan: Plan, ks: list[int], parts: list[tuple[Any, list[int]]]
           ) -> list[tuple[Any, list[int]]]:
    """The items of ``parts`` whose inputs to steps ``ks`` did not fail; the others' outputs
    of those steps are FAILED (as the cached runner skips an item whose argument failed)."""
    sub = sub_plan(plan, ks)
    names = [a for a in sub.inputs if a in sub.mapped]
    outputs = [o for k in ks for o in plan.steps[k].outputs]
    out = []
    for demand, items in parts:
        cols = [demand.vals[a] for a in names if a in demand.vals]
        live = [i for i in items if not any(c[i] is FAILED for c in cols)]
        if len(live) < len(items):
            dead = set(items).difference(live)
            for name in outputs:
                col = demand.column(name)
                for i in dead:
                    col[i] = FAILED
        if live:
            out.append((demand, live))
    return out


def _saved(plan: Plan, demands: list[PlannedDemand], stats: Stats, queries: _Queries
           ) -> dict[str, Any]:
    """Store every chunk's results (one transaction each, the values as produced); the
    map's output columns, with the live values where a later step mutated them."""
    values: dict[str, Any] = {name: [] for name in plan.outputs}
    live: dict[int, list[tuple[str, list[int], list[Any]]]] = {}
    for demand, name, items, got in queries.live:
        live.setdefault(id(demand), []).append((name, items, got))
    for demand in demands:
        produced = demand.save()
        stats.chunks += 1
        for name, items, got in live.get(id(demand), ()):
            col = produced[name]
            if type(col) is list:  # (an array column is built anew from the items)
                for i, v in zip(items, got, strict=True):
                    if col[i] is not FAILED:
                        col[i] = v
        for name, col in values.items():
            values[name] = append_column(col, produced[name])
    return {name: finish_column(col) for name, col in values.items()}


def _groups(demands: list[PlannedDemand]) -> list[tuple[list[int], list[tuple[Any, list[int]]]]]:
    """The items to compute, grouped by the set of steps each misses: per group, the
    steps (in plan order) and the items as ``(demand, local items)`` in map order."""
    found: dict[int, list[tuple[Any, list[int]]]] = {}
    for demand in demands:
        if not demand.todo:
            continue
        masks = [0] * demand.n
        for k, items in demand.todo.items():
            bit = 1 << k
            for i in items:
                masks[i] |= bit
        mine: dict[int, list[int]] = {}
        for i, mask in enumerate(masks):
            if mask:
                mine.setdefault(mask, []).append(i)
        for mask, items in mine.items():
            found.setdefault(mask, []).append((demand, items))
    out = []
    for mask, parts in found.items():
        ks = [k for k in range(mask.bit_length()) if mask >> k & 1]
        out.append((ks, parts))
    out.sort(key=lambda group: group[1][0][0].offset + group[1][0][1][0])
    return out


def sub_plan(plan: Plan, ks: list[int]) -> Plan:
    """The plan of steps ``ks`` alone: their arguments made elsewhere are its inputs
    (mapped ones as columns), and every output of theirs is returned (to be stored)."""
    by_plan = _SUBPLANS.setdefault(plan, {})
    mask = sum(1 << k for k in ks)
    sub = by_plan.get(mask)
    if sub is None:
        chosen = tuple(plan.steps[k] for k in ks)
        made = [o for step in chosen for o in step.outputs]
        inputs: list[str] = []
        for step in chosen:
            inputs += [a for a in step.args if a not in made and a not in inputs]
        mapped = frozenset(a for a in inputs if a in plan.mapped) | frozenset(made)
        sub = by_plan[mask] = dataclasses.replace(
            plan, steps=chosen, inputs=tuple(inputs), outputs=tuple(made), mapped=mapped,
            rows=chosen)
    return sub


def _run_steps(engine: Any, daft: Any, plan: Plan, bc: Any, on_error: str, stats: Stats,
               ks: list[int], parts: list[tuple[Any, list[int]]], queries: _Queries
               ) -> dict[Any, Any]:
    """One Daft query of steps ``ks`` over the items ``parts`` (``(demand, local items)``);
    each demand records each step's results. Returns ``{(part, k): (results, failed),
    "seconds": {k: seconds per item}}``. A failure is raised with its index in the map."""
    sub = sub_plan(plan, ks)
    where = _Where(parts)
    cols = {}
    for name in sub.inputs:
        if name not in sub.mapped:
            continue
        col: Any = []
        for demand, items in parts:
            col = append_column(col, take(demand.vals[name], items,
                                          name in demand.arrays))
        cols[name] = finish_column(col)
    m = where.size
    job = Job(sub, cols, bc, m, on_error, Stats.empty(plan.width), PLAIN, 0)
    t0 = perf_counter()
    try:
        produced, qstats = engine._query(
            daft, job, 0, m, live=frozenset(plan.outputs) if len(ks) > 1 else None)
    except NodeError as exc:
        raise moved(exc, where.__getitem__, where.size) from exc.error
    except WorkerDied as exc:
        kept = getattr(exc, "kept", None)
        if kept:  # the runs that finished before the workers died are stored all the same
            _record_runs(plan, ks, parts, kept, queries)
        deaths = getattr(exc, "deaths", None)
        if not deaths:
            raise
        from hotpipe.engines.daft import _worker_died

        raise _worker_died(sub, 0, deaths, where.indices()) from exc  # indices in the map
    queries.done.append(([plan.steps[k].name for k in ks], m, perf_counter() - t0))
    moved_errors(qstats.errors, where.__getitem__)
    stats.merge(qstats)
    seconds = {k: (qstats.wall[plan.steps[k].slot] / qstats.items[plan.steps[k].slot]
                   if qstats.items[plan.steps[k].slot] else 0.0) for k in ks}
    return _record(plan, ks, parts, produced, seconds, queries, bool(qstats.errors))


def _record(plan: Plan, ks: list[int], parts: list[tuple[Any, list[int]]],
            produced: dict[str, Any], seconds: dict[int, float], queries: _Queries,
            failures: bool = True) -> dict[Any, Any]:
    """Hand each demand its items' results of each step ``ks`` (``produced``: the query's
    columns, items in the order of ``parts``; an output's live column, where it has one,
    under ``name + LIVE``, kept for the map's result); ``failures``: some item may hold
    FAILED."""
    from hotpipe.engines.daft import LIVE

    out: dict[Any, Any] = {"seconds": seconds}
    lists = {name: list(col) if is_array(col) else col for name, col in produced.items()}
    for name in plan.outputs:
        if name + LIVE in lists:
            a = 0
            for demand, items in parts:
                queries.live.append((demand, name, items, lists[name + LIVE][a:a + len(items)]))
                a += len(items)
    for k in ks:
        step = plan.steps[k]
        outs = [lists[name] for name in step.outputs]
        a = 0
        for p, (demand, items) in enumerate(parts):
            b = a + len(items)
            results = list(zip(*(col[a:b] for col in outs), strict=True)) if step.unpack \
                else outs[0][a:b]
            failed = {j for j, v in enumerate(results)  # identity only: no __eq__ of arrays
                      if v is FAILED or (step.unpack and any(x is FAILED for x in v))
                      } if failures else set()
            demand.record(k, step, items, results, seconds[k], failed)
            out[(p, k)] = (results, failed)
            a = b
    return out


def _record_runs(plan: Plan, ks: list[int], parts: list[tuple[Any, list[int]]],
                 kept: list[tuple[int, dict[str, Any]]], queries: _Queries) -> None:
    """Record the rows of the runs that came back from a query that then failed (a Ray
    worker died on other rows): what was computed is stored, as the cached runner in the
    workers stored it run by run. Their seconds are unknown (0)."""
    flat = [(demand, i) for demand, items in parts for i in items]
    for first, produced in kept:
        size = len(next(iter(produced.values())))
        chosen: dict[int, tuple[Any, list[int]]] = {}
        for demand, i in flat[first:first + size]:
            chosen.setdefault(id(demand), (demand, []))[1].append(i)
        _record(plan, ks, list(chosen.values()), produced, dict.fromkeys(ks, 0.0), queries)


class _Where:
    """The index paths of a query's items (``parts`` flattened), built when asked (for an
    error): a top-level item's is ``(index in the map,)``, an inner item's starts with its
    outer item's index."""

    def __init__(self, parts: list[tuple[Any, list[int]]]) -> None:
        self.parts = parts
        self.size = sum(len(items) for _, items in parts)

    @property
    def flat(self) -> list[tuple[Any, int]]:
        return [(demand, i) for demand, items in self.parts for i in items]

    def __getitem__(self, q: int) -> tuple[int, ...]:
        for demand, items in self.parts:
            if q < len(items):
                return _where(demand, items[q])
            q -= len(items)
        raise IndexError(q)

    def indices(self) -> list[int]:
        return [_where(demand, i)[0] for demand, i in self.flat]


def moved(exc: NodeError, where: Any, size: int) -> NodeError:
    """A query's failure with the item's index (and path) in the whole map: ``where(q)``
    is the index path of the query's item ``q`` (of ``size``)."""
    if exc.index is None or not 0 <= exc.index < size:
        return exc
    path = (*where(exc.index), *exc.path[1:])
    found = NodeError(exc.node, path[0], exc.inputs, exc.error, path)
    for note in getattr(exc, "__notes__", ()):
        found.add_note(note)
    return found


def moved_errors(errors: list[ItemError], where: Any) -> None:
    """A query's collected failures (in place), with their index paths in the whole map."""
    for j, e in enumerate(errors):
        path = (*where(e.index), *e.path[1:])
        errors[j] = ItemError(path[0], e.node, e.exception, path)


class KeptRunner:
    """The plain runner's column executor for a cached map's sub-query, step by step: each
    output a later step reads is kept as produced (``kept``) before that step runs, as the
    fused text keeps it; the live columns of ``live`` come back too (``name + LIVE``).

    Used inside the query where the fused text does not run (a plan it does not write, an
    array input) or raised on a run of rows (its items are run again here)."""

    cached = False

    def __init__(self, runner: Any, live: frozenset[str]) -> None:
        self.runner, self.live = runner, live

    def broadcast(self, *args: Any, **kwargs: Any) -> Any:
        return self.runner.broadcast(*args, **kwargs)

    def columns(self, plan: Plan, columns: dict[str, Any], bc: Any, n: int, offset: int,
                on_error: str, stats: Stats, *rest: Any) -> dict[str, Any]:
        from hotpipe.engines._daft_code import read_later
        from hotpipe.engines.daft import LIVE, kept

        later = read_later(plan)
        if not later:
            return self.runner.columns(plan, columns, bc, n, offset, on_error, stats, *rest)
        cols, snapshots = dict(columns), {}
        checked = copy.copy(bc)
        checked.broken = True  # an earlier step's FAILED items are skipped, not called
        steps = [k for k, s in enumerate(plan.steps) if s.mapped]
        for k in steps:
            one = sub_plan(plan, [k])
            cols.update(self.runner.columns(
                one, {a: cols[a] for a in one.inputs if a in cols}, checked, n, offset,
                on_error, stats, *rest))
            snapshots.update((name, kept(cols[name])) for name in plan.steps[k].outputs
                             if name in later)  # before the next step runs
        stats.chunks -= len(steps) - 1  # one chunk, as the executor counts it
        result = {name: snapshots.get(name, cols[name]) if name in cols
                  else [bc.values[name]] * n for name in plan.outputs}
        result.update((name + LIVE, cols[name]) for name in self.live
                      if snapshots[name] is not cols[name])  # else the same values
        return result
