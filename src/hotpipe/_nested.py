"""Nested maps run column-wise: one explode and one regroup per chunk, never a map per item.

For a chunk of outer items, a nested map step (:class:`~hotpipe.plan.NestedMap`):

1. runs its ``pre`` steps (those that read no ``over`` value) once per map when they read
   broadcast values only, else over the chunk's outer items;
2. **explodes** each outer item's ``over`` lists (zipped, or every combination with
   ``mode="product"``) into one flat column of inner items, per-outer values repeated;
3. runs the ``body`` steps over that column with the same runner as the outer plan (plain
   or cached, so inner nodes are cached per inner item), the index path of every inner item
   known for messages and ``on_error``;
4. **regroups** the results by outer item, in order: an outer item whose inner item failed
   fails (its error was recorded under the inner node, with the path).

The counters of the inner steps have their own rows; the nested step's own row holds the
explode/regroup time only.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from itertools import chain
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, Any

from hotpipe._values import FAILED, as_list
from hotpipe.errors import InputError, ItemError

if TYPE_CHECKING:
    from hotpipe._state import Tuning
    from hotpipe.execute import Broadcast, Chunk
    from hotpipe.plan import NestedMap, Step
    from hotpipe.profile.stats import Stats

__all__ = ["run_nested", "run_nested_once"]


def _inner_broadcasts(step: Step, inner_scalars: dict[str, Any], ctx: Chunk) -> tuple[Any, Any]:
    """The broadcast values of the inner ``pre`` and ``body`` plans, once per map."""
    bc = ctx.bc
    memo = bc.inner.get(step.slot) if bc is not None else None
    if memo is None:
        nm = step.nested
        assert nm is not None
        runner, stats = ctx.runner, ctx.stats
        scalars = {**nm.pre.constants, **inner_scalars}
        pre_bc = runner.broadcast(nm.pre, scalars, 0, ctx.on_error, stats, ctx.tuning)
        # n=2: a cached body asks once which of its steps have entries at all
        body_bc = runner.broadcast(nm.body, dict(pre_bc.values), 2, ctx.on_error, stats,
                                   ctx.tuning)
        memo = (pre_bc, body_bc)
        if bc is not None:
            bc.inner[step.slot] = memo
    return memo


class _Paths:
    """The index paths of a flat column of inner items, computed only when asked (for an
    error): inner item ``q`` is item ``q - starts[j]`` of outer item ``live[j]``."""

    __slots__ = ("ctx", "live", "starts")

    def __init__(self, ctx: Chunk, live: list[int], starts: list[int]) -> None:
        self.ctx, self.live, self.starts = ctx, live, starts

    def __getitem__(self, q: int) -> tuple[int, ...]:
        j = bisect_right(self.starts, q) - 1
        return (*self.ctx.path(self.live[j]), q - self.starts[j])


def _inner_lists(nm: NestedMap, per_outer: dict[str, list[Any]], live: list[int],
                 where: str) -> tuple[dict[str, list[list[Any]]], dict[int, InputError]]:
    """Each outer item's ``over`` values as lists (product: every combination, one list per
    name); ``bad`` maps a position of ``live`` to why its values are not lists of items."""
    bad: dict[int, InputError] = {}
    lists: dict[str, list[list[Any]]] = {}
    for name in nm.over:
        src = per_outer[name]
        if all(type(v) is list for v in src):
            lists[name] = src
            continue
        converted: list[list[Any]] = []
        for j, v in enumerate(src):
            try:
                converted.append(as_list(name, v, where))
            except InputError as exc:
                bad.setdefault(j, exc)
                converted.append([])
        lists[name] = converted
    if nm.mode == "product":
        combos = [list(itertools.product(*vals)) for vals in zip(*lists.values(), strict=True)]
        lists = {name: [[row[r] for row in rows] for rows in combos]
                 for r, name in enumerate(nm.over)}
        return lists, bad
    sizes = list(map(len, lists[nm.over[0]]))
    for name in nm.over[1:]:
        if list(map(len, lists[name])) != sizes:
            for j, vals in enumerate(zip(*lists.values(), strict=True)):
                lengths = {o: len(v) for o, v in zip(nm.over, vals, strict=True)}
                if len(set(lengths.values())) > 1:
                    bad.setdefault(j, InputError(
                        f"{where}(over={list(nm.over)}, mode='zip') needs lists of equal "
                        f"length in each item, got {lengths}. Fix: make them equal, or use "
                        "mode='product'."))
            break
    return lists, bad


def _failed_in(parts: list[list[Any]]) -> bool:
    return any(v is FAILED for part in parts for v in part)


def run_nested(step: Step, cols: dict[str, list[Any]], scalars: dict[str, Any], n: int,
               ctx: Chunk) -> tuple[list[list[Any]], float, float]:
    """Run a nested map step over ``n`` outer items (``ctx.failed`` ones skipped).

    Returns one column per output of ``step`` (a list per outer item, FAILED for failed
    ones) and the wall and CPU seconds its inner steps recorded (the wall with the cache's
    time for them, so the nested step's own share counts neither).
    """
    nm = step.nested
    assert nm is not None
    stats, runner = ctx.stats, ctx.runner
    slots = nm.slots
    # the inner steps' time, and the cache's for them: the nested step's own share is the rest
    wall0 = sum(stats.wall[s] for s in slots) + stats.cache_spent()
    cpu0 = sum(stats.cpu[s] for s in slots)
    chunks0 = stats.chunks
    live = [i for i in range(n) if i not in ctx.failed]
    per_outer: dict[str, list[Any]] = {}
    inner_scalars: dict[str, Any] = {}
    for a, inner in zip(step.args, nm.args, strict=True):
        if a in cols:
            col = cols[a]
            per_outer[inner] = col if len(live) == n else [col[i] for i in live]
        elif inner in nm.over:
            per_outer[inner] = [scalars[a]] * len(live)
        else:
            inner_scalars[inner] = scalars[a]
    pre_bc, body_bc = _inner_broadcasts(step, inner_scalars, ctx)
    if pre_bc.broken:  # a once-per-map inner step failed (collect): every outer item fails
        name, exc = pre_bc.failure
        for i in live:
            ctx.stats.failed(ItemError(ctx.item(i), name, exc, ctx.path(i)))
            ctx.failed.add(i)
        return [[FAILED] * n for _ in step.outputs], 0.0, 0.0
    if any(s.mapped for s in nm.pre.steps):
        errors0 = len(stats.errors)
        pre_cols = {k: v for k, v in per_outer.items() if k in nm.pre.mapped}
        pre_paths = _Paths(ctx, live, list(range(len(live))))
        produced = runner.columns(nm.pre, pre_cols, pre_bc, len(live), 0, ctx.on_error,
                                  stats, pre_paths, ctx.tuning)  # type: ignore[arg-type]
        per_outer.update((k, v) for k, v in produced.items() if k in nm.pre.mapped)
        if len(stats.errors) > errors0:  # failed in pre (recorded there): the items fail
            bad = {j for v in produced.values() for j, x in enumerate(v) if x is FAILED}
            live, per_outer = _drop(live, per_outer, bad, ctx)
    where = f"nested node {step.name!r}: map"
    lists, bad_lists = _inner_lists(nm, per_outer, live, where)
    if bad_lists:
        for j, exc in sorted(bad_lists.items()):
            i = live[j]
            ctx.fail(step, i, tuple(cols[a][i] if a in cols else scalars[a]
                                    for a in step.args), exc)
        keep = [j for j in range(len(live)) if j not in bad_lists]
        live = [live[j] for j in keep]
        lists = {k: [v[j] for j in keep] for k, v in lists.items()}
        per_outer = {k: [v[j] for j in keep] for k, v in per_outer.items()}
    sizes = list(map(len, lists[nm.over[0]]))
    starts = list(itertools.accumulate(sizes, initial=0))
    total = starts[-1]
    need = set(nm.outputs).union(*(s.args for s in nm.body.steps))
    flat = {name: list(chain.from_iterable(lists[name])) for name in nm.over}
    for name, vals in per_outer.items():
        if name in need and name not in nm.over:
            flat[name] = list(chain.from_iterable(map(itertools.repeat, vals, sizes)))
    errors0 = len(stats.errors)
    if total:
        body = runner.columns(nm.body, flat, body_bc, total, 0, ctx.on_error, stats,
                              _Paths(ctx, live, starts[:-1]), ctx.tuning)  # type: ignore[arg-type]
    else:
        body = {name: [] for name in nm.outputs}
    bounds = list(itertools.pairwise(starts))
    grouped = [[col[a:b] for a, b in bounds] for col in (body[name] for name in nm.outputs)]
    if len(stats.errors) > errors0:  # an inner item failed (recorded): its outer item fails
        for j, i in enumerate(live):
            if _failed_in([g[j] for g in grouped]):
                ctx.failed.add(i)
                for g in grouped:
                    g[j] = FAILED
    if len(live) == n:
        outs = grouped
    else:
        outs = [[FAILED] * n for _ in step.outputs]
        for out, g in zip(outs, grouped, strict=True):
            for i, v in zip(live, g, strict=True):
                out[i] = v
    stats.chunks = chunks0
    return (outs, sum(stats.wall[s] for s in slots) + stats.cache_spent() - wall0,
            sum(stats.cpu[s] for s in slots) - cpu0)


def _drop(live: list[int], per_outer: dict[str, list[Any]], bad: set[int],
          ctx: Chunk) -> tuple[list[int], dict[str, list[Any]]]:
    """Remove the outer items at positions ``bad`` of ``live`` (they failed)."""
    for j in bad:
        ctx.failed.add(live[j])
    keep = [j for j in range(len(live)) if j not in bad]
    return [live[j] for j in keep], {k: [v[j] for j in keep] for k, v in per_outer.items()}


def run_nested_once(step: Step, raw: tuple[Any, ...], stats: Stats, runner: Any,
                    bc: Broadcast, tuning: Tuning | None) -> tuple[Any, ...]:
    """A nested map step that reads broadcast values only (or any in ``run``): its inner
    items run once for the whole call. Raises the inner node's NodeError on failure."""
    from hotpipe.execute import Chunk

    k = step.slot
    t0, c0 = perf_counter(), thread_time()
    ctx = Chunk(0, "raise", stats, set(), None, [(-1,)], runner, bc, tuning)
    outs, inner_wall, inner_cpu = run_nested(step, {}, dict(zip(step.args, raw, strict=True)),
                                             1, ctx)
    t1 = perf_counter()
    stats.step_done(k, 1, 1, t0, t1, thread_time() - c0 - inner_cpu, t1 - t0 - inner_wall)
    return tuple(out[0] for out in outs)
