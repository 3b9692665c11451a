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


def _explode(nm: NestedMap, lists: dict[str, list[Any]], j: int,
             where: str) -> list[tuple[Any, ...]]:
    """The inner items of outer item ``j``: one tuple of ``over`` values per inner item."""
    values = [as_list(name, lists[name][j], where) for name in nm.over]
    if nm.mode == "product":
        return list(itertools.product(*values))
    lengths = {name: len(v) for name, v in zip(nm.over, values, strict=True)}
    if len(set(lengths.values())) > 1:
        raise InputError(
            f"{where}(over={list(nm.over)}, mode='zip') needs lists of equal length in each "
            f"item, got {lengths}. Fix: make them equal, or use mode='product'."
        )
    return list(zip(*values, strict=True))


def run_nested(step: Step, cols: dict[str, list[Any]], scalars: dict[str, Any], n: int,
               ctx: Chunk) -> tuple[list[list[Any]], float, float]:
    """Run a nested map step over ``n`` outer items (``ctx.failed`` ones skipped).

    Returns one column per output of ``step`` (a list per outer item, FAILED for failed
    ones) and the wall and CPU seconds its inner steps recorded.
    """
    nm = step.nested
    assert nm is not None
    stats, runner = ctx.stats, ctx.runner
    slots = nm.slots
    wall0 = sum(stats.wall[s] for s in slots)
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
    outs: list[list[Any]] = [[FAILED] * n for _ in step.outputs]
    if pre_bc.broken:  # a once-per-map inner step failed (collect): every outer item fails
        name, exc = pre_bc.failure
        for i in live:
            ctx.stats.errors.append(ItemError(ctx.item(i), name, exc, ctx.path(i)))
            ctx.failed.add(i)
        return outs, 0.0, 0.0
    paths = [ctx.path(i) for i in live]
    if any(s.mapped for s in nm.pre.steps):
        pre_cols = {k: v for k, v in per_outer.items() if k in nm.pre.mapped}
        produced = runner.columns(nm.pre, pre_cols, pre_bc, len(live), 0, ctx.on_error,
                                  stats, paths, ctx.tuning)
        per_outer.update((k, v) for k, v in produced.items() if k in nm.pre.mapped)
        bad = {j for v in produced.values() for j, x in enumerate(v) if x is FAILED}
        for j in bad:  # failed in pre (recorded there): the outer item fails
            ctx.failed.add(live[j])
        if bad:
            keep = [j for j in range(len(live)) if j not in bad]
            live = [live[j] for j in keep]
            paths = [paths[j] for j in keep]
            per_outer = {k: [v[j] for j in keep] for k, v in per_outer.items()}
    need = set(nm.outputs).union(*(s.args for s in nm.body.steps))
    repeat_names = [k for k in per_outer if k in need and k not in nm.over]
    flat: dict[str, list[Any]] = {k: [] for k in (*nm.over, *repeat_names)}
    flat_paths: list[tuple[int, ...]] = []
    spans: list[tuple[int, int, int]] = []  # (outer position, start, stop) in the flat column
    where = f"nested node {step.name!r}: map"
    for j, i in enumerate(live):
        try:
            rows = _explode(nm, per_outer, j, where)
        except InputError as exc:
            ctx.fail(step, i, tuple(cols[a][i] if a in cols else scalars[a]
                                    for a in step.args), exc)
            continue
        start = len(flat_paths)
        for r, name in enumerate(nm.over):
            flat[name].extend(row[r] for row in rows)
        for name in repeat_names:
            flat[name].extend(itertools.repeat(per_outer[name][j], len(rows)))
        base = paths[j]
        flat_paths.extend(base + (t,) for t in range(len(rows)))
        spans.append((i, start, len(flat_paths)))
    total = len(flat_paths)
    if total:
        body = runner.columns(nm.body, flat, body_bc, total, 0, ctx.on_error, stats,
                              flat_paths, ctx.tuning)
    else:
        body = {name: [] for name in nm.outputs}
    results = [body[name] for name in nm.outputs]
    for i, a, b in spans:
        parts = [col[a:b] for col in results]
        if any(FAILED in part for part in parts):
            ctx.failed.add(i)  # an inner item failed: recorded under the inner node
            continue
        for out, part in zip(outs, parts, strict=True):
            out[i] = part
    stats.chunks = chunks0
    return (outs, sum(stats.wall[s] for s in slots) - wall0,
            sum(stats.cpu[s] for s in slots) - cpu0)


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
    stats.calls[k] += 1
    stats.items[k] += 1
    stats.wall[k] += t1 - t0 - inner_wall
    stats.cpu[k] += thread_time() - c0 - inner_cpu
    stats.event(k, t0, t1, 1)
    return tuple(out[0] for out in outs)
