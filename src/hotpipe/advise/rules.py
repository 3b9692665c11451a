"""The advisor's rules: small objects with one method, ``check(ctx) -> findings``.

Each rule reads this run's numbers from the :class:`~hotpipe.advise._context.Context` (the
plan, the profile, and the values when known) and predicts its gain from them only; none
carries a speed-up ratio of its own. Register a new rule with :func:`register`.
"""

from __future__ import annotations

import functools
import os
import pickle
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from hotpipe.advise._context import Context
from hotpipe.advise._finding import Finding, severity_of
from hotpipe.profile.format import fmt_s

__all__ = ["RULES", "Rule", "register"]

MIN_SHARE = 0.2
"""A node or phase below this share of the time spent is not worth advice."""


class Rule(Protocol):
    id: str

    def check(self, ctx: Context) -> Iterable[Finding]: ...


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the registry (by its ``id``; a later one with the same id replaces it)."""
    RULES[rule.id] = rule
    return rule


def _finding(ctx: Context, rule: str, node: str | None, title: str, evidence: dict[str, Any],
             change: str, gain_s: float | None, assumption: str,
             measured: bool = False) -> Finding:
    pct = None if gain_s is None else ctx.pct(gain_s)
    return Finding(rule, severity_of(pct), node, title, evidence, change.strip("\n"), gain_s,
                   pct, assumption, measured)


def _best_of(func: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


# ----------------------------------------------------------------------------- 1 batch


class BatchRule:
    """A row-wise node dominates a map: a batch implementation would pay its per-call cost
    once per batch. The gain comes from timing the node's batch implementation (its own, or
    one offered with ``advise(batches={name: func})``) on the run's own items against the
    same items one by one (``measure=True``); without a timed batch the rule stays silent
    rather than guess a ratio."""

    id = "batch"
    sample = 32

    def check(self, ctx: Context) -> Iterator[Finding]:
        for step, n, cols in _row_wise(ctx):
            if (step.batch is not None or n.items < self.sample or n.calls < n.items
                    or ctx.share(n) < MIN_SHARE):
                continue
            batch = ctx.batches.get(step.name.rpartition("/")[2]) or ctx.batches.get(step.name)
            speedup = self._measure(cols, step, batch) if ctx.measure and batch else None
            if speedup is None:
                continue  # a batch gain is only predicted from a timed batch, never guessed
            seconds = ctx.run_seconds(n.wall)
            gain = seconds * max(0.0, 1 - 1 / speedup)
            evidence = {"calls": n.calls, "mean": n.mean, "share": ctx.share(n)}
            evidence["batch_speedup"] = speedup
            params = ", ".join(step.params)
            short = step.node.name
            change = (f"@{short}.batch\ndef {short}_batch({params}):\n"
                      f"    # each parameter receives a list: return one result per item\n"
                      f"    return [...]")
            if speedup < 1.1:
                continue  # measured: batching does not pay here
            assumption = (f"every item gains what one batch of {self.sample} of this run's "
                          f"items measured against the same items one by one ({speedup:.2g}x)")
            yield _finding(ctx, self.id, step.name,
                           f"{step.name} is {100 * ctx.share(n):.0f} % of the time and runs "
                           f"once per item ({n.calls:,} calls of {fmt_s(n.mean)})",
                           evidence, change, gain, assumption, measured=True)

    def _measure(self, cols: list[Any] | None, step: Any, batch: Any) -> float | None:
        if cols is None or any(c is None for c in cols):
            return None
        from hotpipe.resources import Resource

        m = min([self.sample, *(len(c) for c in cols if isinstance(c, list))])
        lists = [c[:m] if isinstance(c, list) else c.get() if type(c) is Resource
                 else [c] * m for c in cols]  # what a batch call receives (hotpipe._batch)
        rows = list(zip(*lists, strict=True))
        one = _best_of(lambda: [step.func(*r) for r in rows])
        many = _best_of(lambda: batch(*lists))
        return one / many if many > 0 else None


def _row_wise(ctx: Context) -> Iterator[tuple[Any, Any, list[Any] | None]]:
    """The steps that run once per item, with their profile rows and this run's values of
    their arguments (a column per mapped value; None where unknown): a map's own mapped
    steps, and the inner steps of nested maps (in ``run`` too, where a nested map is the
    only per-item work)."""
    rows = {n.name: n for n in ctx.profile.nodes}
    for step, n in ctx.top_level():
        if step.nested is not None:
            for inner in step.nested.body.steps:
                if inner.name in rows and inner.nested is None:
                    yield inner, rows[inner.name], _inner_values(ctx, step, inner)
        elif step.mapped and ctx.profile.mode == "map":
            cols = [ctx.column(a) for a in step.args]
            yield step, n, [c if c is not None else ctx.values.get(a)
                            for c, a in zip(cols, step.args, strict=True)]


def _inner_values(ctx: Context, outer: Any, inner: Any) -> list[Any] | None:
    """This run's values of an inner step's arguments: a mapped (``over``) input as the flat
    column of inner items, a broadcast one as its value; None when an argument is made by
    another inner step or is not known."""
    nm = outer.nested
    out = []
    for name in inner.args:
        if name not in nm.args:
            return None
        source = outer.args[nm.args.index(name)]
        column = ctx.column(source) if ctx.profile.mode == "map" else None
        value = column if column is not None else ctx.values.get(source)
        if value is None or (column is not None and name not in nm.over):
            return None  # unknown, or a per-outer-item value repeated over its inner items
        if name in nm.over:
            lists = column if column is not None else [value]
            value = [v for vs in lists for v in vs]
        out.append(value)
    return out


# ----------------------------------------------------------------------------- 2 resource


class ResourceRule:
    """A large or stateful input travels to worker processes: pickled once per map and sent
    with every chunk (broadcast), or pickled, sent and unpickled per chunk (a column repeating
    one object). Suggests ``hotpipe.resource``, which sends a small declaration instead.

    The cost is read off this run's timeline: between two chunks a worker waits while the
    next chunk's payload goes through the pool's queue (the parent's feeder thread, the pipe,
    the worker's unpickling, all competing for the cores); that wait, per chunk, times the
    chunks each worker ran, is what the payload costs, less the share of it that the chunk's
    own columns account for (by pickled bytes). The value's pickling (timed here) is paid
    before the first chunk leaves."""

    id = "resource"
    min_bytes = 100_000

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.profile.engine != "processes" or ctx.workers < 2:
            return
        from hotpipe.resources import Resource

        events, _ = ctx.pool_events()
        chunks, waits = _chunk_waits(events)
        n_chunks = sum(chunks.values())
        if not n_chunks:
            return
        per_chunk_items = ctx.profile.items / n_chunks
        for name in ctx.plan.inputs:
            value = ctx.values.get(name)
            col = ctx.column(name)
            if col is not None:
                value = col[0]
                if not all(v is value for v in col[:: max(1, len(col) // 16)]):
                    continue
            if value is None or isinstance(value, Resource | int | float | str):
                continue
            dumps, loads, size = _round_trip(value)
            if size < self.min_bytes:
                continue
            other = _other_bytes(ctx, name, per_chunk_items)
            share = size / (size + other)
            per_worker = n_chunks / len(chunks)
            if waits:  # measured: the mean wait between two chunks of a worker
                wait = sum(waits) / len(waits)
                basis = (f"the {len(waits)} waits between chunks measured in this run's "
                         f"timeline (mean {fmt_s(wait)})")
            else:  # one chunk per worker: nothing to read; the transfer timed here
                wait = _transfer(size) + (loads if col is not None else 0.0)
                basis = "a pipe transfer timed here (no worker ran two chunks: a lower bound)"
            shipped = per_worker * wait * share
            # a broadcast is unpickled once per worker, a column once per chunk (in the
            # wait); the resource is built once per worker instead, assumed to cost a load
            cost = dumps + shipped + (loads if col is None else 0.0)
            gain = max(0.0, min(cost - loads, ctx.profile.wall))
            how = (f"with each of {n_chunks} chunks" if col is None
                   else f"and unpickled with each of {n_chunks} chunks")
            yield _finding(
                ctx, self.id, None,
                f"input {name!r} ({size / 1e6:.3g} MB pickled) is sent to the workers {how}",
                {"bytes": size, "chunks": n_chunks, "workers": len(chunks),
                 "wait_per_chunk_s": wait, "payload_share": share, "dumps_s": dumps,
                 "loads_s": loads},
                f"{name} = hotpipe.resource(load_{name})  # built once in each worker\n"
                f"pipe.map({{..., {name!r}: {name}}}, ...)",
                gain, f"each worker's wait for a chunk is the payload's ({100 * share:.0f} % of "
                f"its bytes are {name!r}), from {basis}; pickling it ({fmt_s(dumps)}) goes "
                "away; building the resource once per worker costs what unpickling it does "
                "(once per process: later maps with the same declaration save that too)")


def _chunk_waits(events: list[Any]) -> tuple[dict[tuple[int, int], int], list[float]]:
    """Chunks per worker, and the waits between consecutive chunks of a worker: from the
    end of one chunk's last step to the start of the next chunk's first step (a chunk
    starts with an event of the plan's first mapped step)."""
    first = min((e.step for e in events), default=0)
    by_worker: dict[tuple[int, int], list[Any]] = {}
    for e in events:
        by_worker.setdefault((e.pid, e.tid), []).append(e)
    chunks: dict[tuple[int, int], int] = {}
    waits: list[float] = []
    for key, evs in by_worker.items():
        evs.sort(key=lambda e: (e.start, e.step))
        chunks[key] = sum(1 for e in evs if e.step == first)
        end = None
        for e in evs:
            if e.step == first and end is not None:
                waits.append(max(0.0, e.start - end))
            end = e.end if end is None else max(end, e.end)
    return chunks, waits


def _other_bytes(ctx: Context, skip: str, items: float) -> float:
    """Pickled bytes per chunk of the mapped values other than ``skip`` (inputs going, outputs
    coming back), from a sample of up to 64 items of each column known."""
    total = 0.0
    for name in ctx.values:
        col = ctx.column(name)
        if name == skip or col is None:
            continue
        sample = col[:64]
        try:
            total += len(pickle.dumps(sample, protocol=5)) / len(sample) * items
        except Exception:  # a value that does not pickle here is not counted
            continue
    return total


def _round_trip(value: Any) -> tuple[float, float, int]:
    try:
        import cloudpickle as pickler
    except ImportError:  # pragma: no cover - a dependency of Processes
        pickler = pickle
    data = pickler.dumps(value)
    dumps = _best_of(lambda: pickler.dumps(value), 2)
    loads = _best_of(lambda: pickle.loads(data), 2)
    return dumps, loads, len(data)


def _transfer(nbytes: int) -> float:
    """Seconds to send ``nbytes`` to another process as a task argument: pickled into the
    task, through an OS pipe, unpickled (what a pool does with a chunk's payload)."""
    import os
    import threading

    payload = bytes(nbytes)

    def once() -> None:
        r, w = os.pipe()
        got: list[bytes] = []

        def read() -> None:
            with os.fdopen(r, "rb") as f:
                got.append(pickle.loads(f.read()))

        t = threading.Thread(target=read)
        t.start()
        with os.fdopen(w, "wb") as f:
            f.write(pickle.dumps(payload, protocol=5))
        t.join()

    return _best_of(once, 2)


# ----------------------------------------------------------------------------- 3 nested


class NestedRule:
    """A nested map whose machinery (explode the lists, run the inner nodes over the flat
    column, regroup) costs more than a list-valued node that calls the inner function in a
    plain Python loop, once per outer item. Decided by a quick experiment only
    (``measure=True``): both forms are mapped over up to ``sample`` of this run's outer
    items, best of 5 each, and the rule fires when the nested map takes at least ``ratio``
    times the list-valued node in two such experiments (the smaller gain counts). Without
    the experiment it stays silent: the profile's own row for a nested map is a few tens of
    milliseconds that a garbage collection landing in it can double, so it cannot say which
    form is faster (issue 17)."""

    id = "nested"
    ratio = 1.5
    sample = 20_000

    def check(self, ctx: Context) -> Iterator[Finding]:
        if not ctx.measure or ctx.profile.mode != "map":
            return
        rows = {n.name: n for n in ctx.profile.nodes}
        for step in ctx.plan.steps:
            if step.nested is None or step.name not in rows:
                continue
            own = rows[step.name]
            inner = [rows[s.name] for s in step.nested.pre.rows + step.nested.body.rows
                     if s.name in rows]
            inner_wall = sum(n.wall for n in inner)
            if ctx.share(own) + sum(ctx.share(n) for n in inner) < MIN_SHARE:
                continue
            timed = _time_both(ctx, step, self.sample)
            if timed is None or timed[0] < self.ratio * timed[1]:
                continue
            again = _time_both(ctx, step, self.sample)  # confirmed, or a preemption
            if again is None or again[0] < self.ratio * again[1]:
                continue
            nested_s, flat_s, scale = min(timed, again, key=lambda t: t[0] - t[1])
            gain = (nested_s - flat_s) * scale
            body = step.nested.body.steps[0]
            call = body.node.name
            over = step.nested.over[0]
            lists = step.params[step.nested.args.index(over)]
            params = ", ".join(step.params)
            kw = "".join(f", {p}={p}" for p, a in zip(body.params, body.args, strict=True)
                         if a != over)
            change = (f"@node(output={step.outputs[0]!r})\n"
                      f"def {step.name}_flat({params}):\n"
                      f"    return [{call}.func({over}{kw}) for {over} in {lists}]  "
                      f"# instead of the nested map {step.name}")
            yield _finding(
                ctx, self.id, step.name,
                f"nested map {step.name} costs {nested_s / flat_s:.2g}x what a list-valued "
                f"node costs on this run's lists ({fmt_s(inner_wall)} of the run in its "
                f"inner nodes, {fmt_s(own.wall)} exploding and regrouping)",
                {"nested_s": nested_s, "list_node_s": flat_s, "sampled_items":
                 round(own.items / scale), "outer_items": own.items, "nested_wall": own.wall,
                 "inner_wall": inner_wall},
                change, gain,
                f"both forms timed on {round(own.items / scale):,} of this run's outer items "
                "(best of 5, through Pipeline.map) and scaled to its "
                f"{own.items:,}; the list-valued node calls the plain function",
                measured=True)


def _time_both(ctx: Context, step: Any, sample: int) -> tuple[float, float, float] | None:
    """Seconds to map the nested step itself and the list-valued node over up to ``sample``
    of this run's outer items, and the factor to this run's items; None when the nested
    map is not one inner step over one ``over`` list whose other inputs are broadcast, or
    when its lists are not among the values."""
    nm = step.nested
    body = nm.body.steps
    if len(body) != 1 or nm.pre.steps or len(nm.over) != 1 or len(step.outputs) != 1:
        return None
    over = nm.over[0]
    if over not in body[0].args or over not in nm.args:
        return None
    inputs: dict[str, Any] = {}
    for param, outer, inner in zip(step.params, step.args, nm.args, strict=True):
        column = ctx.column(outer) if ctx.profile.mode == "map" else None
        if inner == over:
            if column is None:
                return None
            lists_param, lists = param, column[:sample]
        elif outer in ctx.plan.mapped or outer not in ctx.values:
            return None  # a per-outer-item value: the loop below would not see it
        else:
            inputs[param] = ctx.values[outer]
    from hotpipe import Pipeline
    from hotpipe.node import node as make

    nested = Pipeline([step.node])
    flat = Pipeline([make(_list_valued(body[0], over, nm.args, step.params),
                          output=step.outputs[0], name=f"{step.name}_flat")])
    bound = {"lists": lists, "rest": {a: inputs[p] for p, a in zip(step.params, nm.args,
                                                                    strict=True)
                                      if p in inputs}}
    full = {**inputs, lists_param: lists}
    nested.map({**inputs, lists_param: lists[:8]}, over=lists_param)  # prepares the plans
    flat.map({**bound, "lists": lists[:8]}, over="lists")
    t_nested = _best_of(lambda: nested.map(full, over=lists_param), 5)
    t_flat = _best_of(lambda: flat.map(bound, over="lists"), 5)
    return t_nested, t_flat, ctx.profile.items / max(1, len(lists))


def _list_valued(inner: Any, over: str, names: tuple[str, ...],
                 params: tuple[str, ...]) -> Any:
    """``lists, rest -> [func(v, **rest) for v in lists]``: the list-valued node the change
    suggests, over the inner step's plain function (its broadcast inputs by keyword)."""
    func = inner.func
    keyword = [(p, a) for p, a in zip(inner.params, inner.args, strict=True) if a != over]
    first = inner.args[0] == over

    def list_valued(lists: list[Any], rest: dict[str, Any]) -> list[Any]:
        f = functools.partial(func, **{p: rest[a] for p, a in keyword}) if keyword else func
        if first:
            return [f(v) for v in lists]
        name = inner.params[inner.args.index(over)]
        return [f(**{name: v}) for v in lists]

    return list_valued


class FlattenRule:
    """A ``run`` whose time goes into nested maps: a run is one item, so no engine can
    spread the nested map's inner items over its workers. Mapping the inner pipeline at the
    top level (``inner.map(..., over=...)``) lets ``Processes`` do it (not ``Daft``'s
    native runner: measured in benchmarks/retrieval.py, it ran such a map's fused UDF on one
    core, docs/performance.md section 7). The gain
    is the inner time times ``1 - 1/speedup``, where the speed-up of one process per core is
    capped by the cores the load average of other work leaves free (as the engine rule
    counts them: on a shared machine a second process does not get a busy core's time)."""

    id = "flatten"

    def check(self, ctx: Context) -> Iterator[Finding]:
        p = ctx.profile
        cores = os.cpu_count() or 1
        if p.mode != "run" or cores < 2:
            return
        others = _other_load(p.parallelism or 1.0)
        free = max(0.0, cores - others)
        speedup = min(float(cores), free) / min(1.0, free) if free > 0 else 1.0
        for step, _ in ctx.top_level():
            if step.nested is None:
                continue
            inner = [r for r in p.nodes if r.name.startswith(f"{step.name}/")]
            wall = sum(r.wall for r in inner)
            items = max((r.items for r in inner), default=0)
            if items < 2 * cores or wall < MIN_SHARE * ctx.spent or speedup < 1.1:
                continue
            gain = ctx.run_seconds(wall) * (1 - 1 / speedup)
            yield _finding(
                ctx, self.id, step.name,
                f"{step.name} maps {items:,} items inside a run ({100 * wall / ctx.spent:.0f} "
                "% of the time): a run is one item, so no engine spreads them",
                {"items": items, "inner_wall_s": wall, "cores": cores,
                 "other_load": others, "cores_free": free, "speedup": speedup},
                _flatten_change(ctx, step, cores), gain,
                f"the {items:,} items spread evenly over {cores} processes, which get the "
                f"{free:.1f} cores the load of other work ({others:.1f}, 1-minute average) "
                "leaves free; a resource's build in each worker is paid once per worker, "
                "not counted")


def _other_load(own: float) -> float:
    """The 1-minute load average that is not this call's own work."""
    try:
        return max(0.0, os.getloadavg()[0] - own)
    except OSError:  # pragma: no cover - no load average on this platform
        return 0.0


def _flatten_change(ctx: Context, step: Any, cores: int) -> str:
    """The top-level map in the pipeline's names; an object that a once-per-call node makes
    from settings alone (plain values: a model from its name) and that the inner steps read
    becomes a resource (built in each worker, never pickled)."""
    nm = step.nested
    makers = {o: s for s in ctx.plan.steps if not s.mapped and s.nested is None
              for o in s.outputs}
    lines, args = [], []
    for outer, inner in zip(step.args, nm.args, strict=True):
        maker = makers.get(outer)
        if (inner not in nm.over and maker is not None and not _plain(ctx.values.get(outer))
                and all(_plain(ctx.values.get(a)) for a in maker.args)):  # from settings
            given = "".join(f", {p}={a}" for p, a in zip(maker.params, maker.args, strict=True))
            lines.append(f"{outer} = hotpipe.resource({maker.node.func.__name__}{given})  "
                         f"# not the node {maker.name}: built once per worker")
        args.append(f"{inner!r}: {outer}")
    over = ", ".join(repr(o) for o in nm.over)
    lines.append(f"{step.name}.nested.pipeline.map({{{', '.join(args)}}}, over=[{over}],\n"
                 f"    engine=hotpipe.Processes({cores}))")
    return "\n".join(lines)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, int | float | str | bytes | bool)


# ----------------------------------------------------------------------------- 4 cache


class CacheRule:
    """A cached node that is cheaper to recompute than to load, or whose hit rate is low in a
    run that found earlier entries (keys that change between runs)."""

    id = "cache"

    def check(self, ctx: Context) -> Iterator[Finding]:
        for n in ctx.profile.nodes:
            lookups = n.hits + n.misses
            if not lookups:
                continue
            load = n.cache_wall  # measured: its keys, lookups, reads and unpickling
            timed = self._recompute(ctx, n.name, n.hits) if ctx.measure and n.hits else None
            compute = n.saved if timed is None else timed
            if n.hits and load > 1.2 * compute and load - compute > 0.01 * ctx.profile.wall:
                yield _finding(
                    ctx, self.id, n.name,
                    f"loading {n.name}'s results takes longer than computing them",
                    {"hits": n.hits, "saved_s": n.saved, "recompute_s": compute,
                     "load_s": load, "bytes_read": n.bytes_read},
                    f"@node(cache=False)  # on {n.name}: recompute instead of loading",
                    load - compute,
                    "loading costs the cache time measured for the node (keys, lookups, "
                    "reads, unpickling); recomputing costs "
                    + ("what a quick run of the node on this run's inputs took"
                       if timed is not None else "what the hits took when they were computed "
                       "(measure=True times it again: a first computation is often slower)"),
                    measured=timed is not None)
            elif n.hits and n.hits < 0.5 * lookups:
                yield _finding(
                    ctx, self.id, n.name,
                    f"{n.name} hit the cache for {n.hits} of {lookups} items: most keys "
                    "changed since the entries were written",
                    {"hits": n.hits, "misses": n.misses, "mean": n.mean},
                    f"# give {n.name}'s inputs stable fingerprints (__cache_key__), or pin "
                    f"its code with @node(version=...)",
                    ctx.run_seconds(n.wall),
                    "every miss would hit with stable keys")


    @staticmethod
    def _recompute(ctx: Context, name: str, hits: int) -> float | None:
        """Seconds to compute ``hits`` items again: the node timed on up to 32 of this run's
        inputs (None when its inputs are not known)."""
        step = ctx.step(name)
        cols = [ctx.column(a) if ctx.column(a) is not None else ctx.values.get(a)
                for a in step.args]
        if any(c is None for c in cols) or step.batch is not None:
            return None
        m = min(32, ctx.profile.items)
        rows = list(zip(*(c[:m] if isinstance(c, list) and len(c) == ctx.profile.items
                          else [c] * m for c in cols), strict=True))
        return _best_of(lambda: [step.func(*r) for r in rows]) / m * hits


# ----------------------------------------------------------------------------- 5 parallel


class ParallelRule:
    """On several workers, idle time at the end (stragglers: a few chunks hold most of the
    time) wastes the pool: measured as each worker's idle tail after its last chunk; the gain
    is the span down to the even spread of the busy time (never below the longest item)."""

    id = "parallel"
    tail = 0.25

    def check(self, ctx: Context) -> Iterator[Finding]:
        events = ctx.profile.stats.events
        if ctx.workers < 2 or not events:
            return
        end = max(e.end for e in events)
        start = min(e.start for e in events)
        span = end - start
        pool, workers = ctx.pool_events()
        if len(workers) < 2:
            return
        pool_start = min(e.start for e in pool)
        last: dict[tuple[int, int], float] = {}
        for e in pool:
            last[(e.pid, e.tid)] = max(last.get((e.pid, e.tid), 0.0), e.end)
        idle = sum(end - t for t in last.values()) / len(last)
        busy = sum(e.end - e.start for e in pool)
        longest = sum(n.max or 0.0 for n in ctx.profile.nodes if n.per_item)
        ideal = max(longest, busy / len(last))
        gain = max(0.0, (end - pool_start) - ideal)
        if span <= 0 or idle < self.tail * span or gain < 0.1 * ctx.profile.wall:
            return
        worst = max(ctx.profile.nodes, key=lambda n: n.wall)
        yield _finding(
            ctx, self.id, worst.name,
            f"workers sat idle {100 * idle / span:.0f} % of the map at its end: a few chunks "
            f"of {worst.name} hold most of its time",
            {"workers": len(last), "idle_tail_s": idle, "span_s": span, "busy_s": busy,
             "longest_item_s": longest},
            "engine = Threads(chunk_size=1)  # or Processes(chunk_size=1): one item per chunk "
            "balances the slow items",
            gain, "the work could be spread evenly over the workers, down to the longest "
            "single item (busy time / workers, or the longest item if larger)")


# ----------------------------------------------------------------------------- 6 engine


class EngineRule:
    """The engine does not fit the work: a waiting node on Processes (Threads wait as well
    and start at no cost), a CPU-bound Python node on Threads (the GIL runs one at a time),
    a map on a pool where pool overhead is most of the time (Local)."""

    id = "engine"

    def check(self, ctx: Context) -> Iterator[Finding]:
        p = ctx.profile
        if p.mode != "map" or p.engine not in ("threads", "processes"):
            return
        spent = ctx.spent
        if ctx.workers > 1 and p.framework_wall > 0.5 * p.wall and p.wall > 0.02:
            seq = p.node_wall
            yield _finding(
                ctx, self.id, None,
                f"the pool's overhead is {100 * p.framework_wall / p.wall:.0f} % of the "
                f"call: {p.items:,} items are too little work for {ctx.workers} workers",
                {"framework_s": p.framework_wall, "node_wall_s": seq, "wall_s": p.wall,
                 "workers": ctx.workers},
                "engine = hotpipe.Local()  # the nodes' own time, without the pool",
                max(0.0, p.wall - seq), "on Local the call costs the nodes' summed time")
            return
        for step, n in ctx.top_level():
            if not step.mapped or n.cpu is None or n.wall < 0.3 * spent or n.wall <= 0:
                continue
            busy = n.cpu / n.wall
            if p.engine == "processes" and busy < 0.3:
                threads = 4 * ctx.workers
                seconds = ctx.run_seconds(n.wall)
                yield _finding(
                    ctx, self.id, n.name,
                    f"{n.name} waits {100 * (1 - busy):.0f} % of its time on a process pool",
                    {"cpu_over_wall": busy, "wall": n.wall, "workers": ctx.workers},
                    f"engine = hotpipe.Threads({threads})  # {n.name} waits, it does not compute",
                    seconds * (1 - ctx.workers / threads),
                    f"waiting overlaps on {threads} threads as it did on {ctx.workers} "
                    "processes")
            elif (p.engine == "threads" and (p.parallelism or 0) < 1.3
                  and n.cpu >= 0.3 * ctx.run_seconds(n.wall)):
                # on threads a GIL-bound node's own wall counts the wait for the GIL: its CPU
                # against the elapsed time it accounts for shows it computes
                finding = _on_processes(ctx, step, n)
                if finding is not None:
                    yield finding


def _on_processes(ctx: Context, step: Any, n: Any) -> Finding | None:
    """The finding for a CPU-bound node on threads. With ``measure=True`` and the node's
    inputs known, a quick experiment settles the gain: a slice of this run's items (about
    0.3 s of work) mapped on ``Threads(k)`` and on ``Processes(k)`` as the change writes them,
    best of 2 each after a warm-up, scaled to the run; it counts what the machine gives a
    second process now and what the pool costs per item, whatever the load average says.
    Without it, the gain assumes one process per core that the 1-minute load average of
    other work leaves free (silent when none is)."""
    p = ctx.profile
    k = ctx.workers
    seconds = ctx.run_seconds(n.wall)
    timed = _time_engines(ctx, step, n, k) if ctx.measure else None
    if timed is not None:
        t_threads, t_procs, scale = timed
        gain = (t_threads - t_procs) * scale
        if gain <= 0.1 * seconds:
            return None  # measured: a process pool does not pay here now
        cores = k
        assumption = (f"a slice of {round(n.items / scale):,} of this run's items took "
                      f"{fmt_s(t_threads)} on Threads({k}) and {fmt_s(t_procs)} on "
                      f"Processes({k}) just now (best of 2, pool warm), scaled to the run's "
                      f"{n.items:,} items")
        evidence = {"cpu_s": n.cpu, "wall_s": seconds, "parallelism": p.parallelism,
                    "threads_slice_s": t_threads, "processes_slice_s": t_procs}
    else:
        cores = _free_cores(p.parallelism or 1.0, k)
        if cores < 2:
            return None  # no idle core for a second process by the load average
        gain = seconds * (1 - 1 / cores)
        assumption = (f"{cores} cores are free (cores minus the load average of other "
                      f"work) and pickling the items costs little next to {fmt_s(n.mean)} "
                      "per item; advise(measure=True) times both engines instead")
        evidence = {"cpu_s": n.cpu, "wall_s": seconds, "parallelism": p.parallelism,
                    "cores_free": cores}
    return _finding(
        ctx, "engine", n.name,
        f"{n.name} computes in Python on threads: the GIL runs one at a time "
        f"(parallelism {p.parallelism:.2f} on {k} workers)",
        evidence, f"engine = hotpipe.Processes({cores})  # {n.name} is CPU-bound Python",
        gain, assumption, measured=timed is not None)


def _time_engines(ctx: Context, step: Any, n: Any, k: int) -> tuple[float, float, float] | None:
    """Seconds for a slice of this run's items of ``step`` on ``Threads(k)`` and on
    ``Processes(k)`` (each sizing its chunks as it would for the change), and the factor to
    the run's items; None when an input is not known."""
    from hotpipe import Pipeline, Processes, Threads

    m = min(n.items, max(2 * k, int(0.3 / max(n.mean, 1e-6))))
    inputs: dict[str, Any] = {}
    over = []
    for param, arg in zip(step.params, step.args, strict=True):
        col = ctx.column(arg)
        if col is not None:
            inputs[param], _ = col[:m], over.append(param)
        elif arg in ctx.values and arg not in ctx.plan.mapped:
            inputs[param] = ctx.values[arg]
        else:
            return None
    if not over:
        return None
    from hotpipe.engines import processes

    pipe = Pipeline([step.node])
    threads, procs = Threads(k), Processes(k)  # as the change writes them: chunks sized
    running = processes._POOL["started"]  # a pool this process had: left running
    try:
        pipe.map(inputs, over=over, engine=procs)  # starts the pool, sends the plan
        t_procs = _best_of(lambda: pipe.map(inputs, over=over, engine=procs), 2)
        t_threads = _best_of(lambda: pipe.map(inputs, over=over, engine=threads), 2)
    except Exception:  # an input that does not travel to processes: no experiment
        return None
    finally:
        if not running:
            procs.close()
    return t_threads, t_procs, n.items / m


def _free_cores(own_parallelism: float, workers: int) -> int:
    """Cores another process could use now: the machine's, minus the 1-minute load average
    that is not this call's own (what other programs keep busy), capped at ``workers``."""
    import os

    cores = os.cpu_count() or 1
    try:
        others = max(0.0, os.getloadavg()[0] - own_parallelism)
    except OSError:  # pragma: no cover - no load average on this platform
        others = 0.0
    return max(1, min(workers, int(cores - others + 0.5)))


# ----------------------------------------------------------------------------- 7 duplicates


class DuplicatesRule:
    """An expensive node called again on inputs it already saw in this map: the duplicates,
    counted on the values, cost the node's mean each."""

    id = "duplicates"
    min_fraction = 0.1

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.profile.mode != "map":
            return
        for step, n in ctx.top_level():
            if (not step.mapped or not step.node.cache or step.nested is not None
                    or ctx.share(n) < MIN_SHARE):
                continue
            cols = [ctx.column(a) for a in step.args]
            known = all(c is not None or a in ctx.values for c, a in zip(cols, step.args,
                                                                         strict=True))
            mapped = [c for c in cols if c is not None]
            if not known or not mapped:
                continue  # without the values the duplicates cannot be counted
            keys = Counter(_key(row) for row in zip(*mapped, strict=True))
            dupes = n.items - len(keys)
            if dupes < self.min_fraction * n.items:
                continue
            gain = ctx.run_seconds(n.mean * dupes)
            yield _finding(
                ctx, self.id, step.name,
                f"{step.name} ran {n.items:,} times on {len(keys):,} distinct inputs",
                {"items": n.items, "distinct": len(keys), "duplicates": dupes,
                 "mean": n.mean},
                f"{_decorator(step.node)}\n@functools.cache  # {step.name} is pure: compute "
                f"each input once\ndef {step.node.func.__name__}({', '.join(step.params)}):"
                "\n    ...",
                gain, "duplicates cost the node's mean item; a memo lookup costs nothing "
                "(on Processes each worker keeps its own memo)")


def _decorator(n: Any) -> str:
    """The node's own ``@node(...)`` line, as the user would have written it."""
    out = n.outputs[0] if len(n.outputs) == 1 else n.outputs
    parts = [f"output={out!r}"]
    if n.name != getattr(n.func, "__name__", n.name):
        parts.append(f"name={n.name!r}")
    if n.phase:
        parts.append(f"phase={n.phase!r}")
    return f"@node({', '.join(parts)})"


def _key(row: tuple[Any, ...]) -> Any:
    try:
        hash(row)
        return row
    except TypeError:
        return repr(row)


# ----------------------------------------------------------------------------- 8 scaling


class ScalingRule:
    """A phase that scales with the items and comes to dominate: the projection to 10x the
    items says where the time will go, which this run's shares hide."""

    id = "scaling"
    factor = 10
    rise = 10.0

    def check(self, ctx: Context) -> Iterator[Finding]:
        p = ctx.profile
        if p.mode != "map" or len(p.phases) < 2 or p.items < 2:
            return
        target = p.items * self.factor
        proj = p.project(target)
        total = sum(v for k, v in proj.phases.items() if k != "(framework)") or 1e-300
        now = {ph.name: ph.percent for ph in p.phases}
        for name, seconds in proj.phases.items():
            if name == "(framework)" or name not in now:
                continue
            later = 100 * seconds / total
            if later < 50 or later - now[name] < self.rise:
                continue
            top = max((n for n in p.nodes if n.phase == name), key=lambda n: n.wall)
            yield Finding(
                self.id, "info", top.name,
                f"phase {name} is {now[name]:.0f} % now; at {target:,} items it is "
                f"{later:.0f} % ({fmt_s(seconds)} of {fmt_s(proj.total)})",
                {"items": p.items, "share_now": now[name], "projected_items": target,
                 "projected_share": later, "projected_total_s": proj.total},
                f"# optimise phase {name!r} first (its largest node: {top.name}); "
                f"profile.project(items={target}) shows it",
                None, None,
                "the linear model of profile.project: new items cost what these did; "
                "once-per-call nodes do not grow",
                extra={"projected_phase_s": seconds, "projected_total_s": proj.total})


for _rule in (BatchRule(), ResourceRule(), NestedRule(), FlattenRule(), CacheRule(),
              ParallelRule(), EngineRule(), DuplicatesRule(), ScalingRule()):
    register(_rule)
