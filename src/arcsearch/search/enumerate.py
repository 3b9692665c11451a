"""Bottom-up enumeration of operator chains with observational-equivalence pruning.

A depth-d candidate is one :class:`Op` applied to a stored depth-(d-1) value, where a
value is the tuple of grids a program produces on all task inputs (demo inputs followed
by test inputs). Each candidate therefore costs one primitive call per input grid. Two
programs producing identical tuples are the same value; only the first (cheapest, in the
fixed enumeration order) is kept.

Every new value is checked against the demo outputs three ways, each with a size cost:
exact (cost = depth), after a learned colour map (depth + 1), after a learned local rule
(depth + 2, only for shallow values). Programs are ranked by (cost, discovery order).

Determinism: the enumeration order is fixed, so for a given ``max_candidates`` the result
is identical on every run. ``budget_s`` is a wall-clock safety net; if it fires before the
candidate budget the result is flagged ``timed_out`` and may depend on machine speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import dsl
from ..dsl.compose import AUGMENTATIONS
from ..dsl.grid import MAX_SIDE, Grid
from ..dsl.stamp import STAMP_KEYS, STAMP_RADII
from .ops import EXPENSIVE, SAME_SHAPE, SWAPPED_SHAPE, Op, TaskContext, build_ops
from .shapes import LE, shape_rule
from .stack import Layers

LOCAL_KINDS = ("n4", "rays", "n8", "rowcol")
# Capabilities that can be switched off one by one (ablation, and the reference mode: with
# none of them the search is the frozen ``tests/arcsearch/ref_search`` one).
FEATURES = ("shape", "objects", "stack", "augment", "objrule", "reshape", "cropmark", "deeper",
            "lookup", "local", "attract", "stamp", "stampkey", "join")
STACK_COST = 5  # above any single program (depth 3 + a colour map = 4)
LOOKUP_COST = 3  # a table of whole demo outputs: after the exact programs of depth <= 2
STAMP_LIMIT = 100  # values (depth <= 1) a stamp is learned on, per search


@dataclass
class Found:
    cost: int
    order: int
    steps: tuple  # ((name, params), ...)
    test_preds: tuple  # one grid per test input


@dataclass
class SearchResult:
    found: list[Found] = field(default_factory=list)
    candidates: int = 0
    values: int = 0
    elapsed_s: float = 0.0
    timed_out: bool = False
    exhausted_budget: bool = False
    depth: int = 0


def _fit_stamp(pairs, test, radius: int, key: str):
    """``(entries, test predictions)`` of the stamp of ``key`` and ``radius`` learned on
    the demo pairs, or None when it does not reproduce every demo output or fails on a
    test grid."""
    entries = dsl.learn_stamp(pairs, radius, key)
    if entries is None:
        return None
    for g, t in pairs:
        p = dsl.apply_stamp(g, entries, key)
        if p is None or not np.array_equal(p, t):
            return None
    preds = [dsl.apply_stamp(g, entries, key) for g in test]
    if any(p is None for p in preds):
        return None
    return entries, preds


def _colour_map(vals: list[Grid], targets: list[Grid]) -> dict[int, int] | None:
    """A colour map f with f(vals[i]) == targets[i] for all i, or None."""
    m = np.zeros(256, dtype=np.int64)
    for a, b in zip(vals, targets, strict=True):
        m += np.bincount((a * 16 + b).ravel(), minlength=256)
    table = m[:160].reshape(10, 16) > 0
    if (table.sum(axis=1) > 1).any():
        return None
    mapping = {}
    for a in np.flatnonzero(table.any(axis=1)).tolist():
        b = int(np.flatnonzero(table[a])[0])
        if a != b:
            mapping[a] = b
    return mapping


def _shape_kind(name: str) -> str:
    if name in SAME_SHAPE:
        return "same"
    return "swapped" if name in SWAPPED_SHAPE else ""


class _Searcher:
    def __init__(self, pairs, test_inputs, budget_s, max_candidates, max_depth, local_limit,
                 features=FEATURES):
        self.features = frozenset(features)
        self.pairs = pairs
        self.n_demo = len(pairs)
        self.targets = [y for _, y in pairs]
        self.tshapes = [y.shape for y in self.targets]
        self.inputs = tuple(x for x, _ in pairs) + tuple(test_inputs)
        self.ctx = TaskContext.from_pairs(pairs, test_inputs)
        self.ops: list[Op] = build_ops(self.ctx, self.features)
        self.cheap_ops = [op for op in self.ops if op.name not in EXPENSIVE]
        self.shape_pruning = "shape" in self.features
        self.layers = Layers(self.targets) if "stack" in self.features else None
        self._viable_memo: dict = {}
        self.budget_s = budget_s
        self.max_candidates = max_candidates
        self.max_depth = max_depth
        self.local_limit = local_limit
        self.local_tries = 0
        self.objrule_tries = 0 if "objrule" in self.features else local_limit
        self.stamp_tries = 0 if "stamp" in self.features else STAMP_LIMIT
        self.stamp_keys = STAMP_KEYS if "stampkey" in self.features else STAMP_KEYS[:1]
        self.marks = self._marks() if "cropmark" in self.features else ()
        self.in_shapes = tuple(x.shape for x, _ in pairs)
        self.deeper = "deeper" in self.features
        self.covered_local = "local" in self.features
        self.local_kinds = LOCAL_KINDS + (("nbrsets",) if self.covered_local else ())
        self.res = SearchResult()
        self.t0 = time.perf_counter()
        self.stop = False

    # -- checking -------------------------------------------------------------------------
    def _add(self, cost, steps, test_vals):
        self.res.found.append(Found(cost, self.res.candidates, steps, tuple(test_vals)))

    def check(self, vals, steps, depth):
        n = self.n_demo
        for i in range(n):
            if vals[i].shape != self.tshapes[i]:
                return
        demo, test = vals[:n], vals[n:]
        if all(np.array_equal(a, b) for a, b in zip(demo, self.targets, strict=True)):
            self._add(depth, steps, test)
            return
        if self.layers is not None:
            self.layers.offer(demo, test, steps, depth)
        mapping = _colour_map(demo, self.targets)
        if mapping is not None:
            st = (*steps, ("recolor", (mapping,)))
            self._add(depth + 1, st, [dsl.recolor(g, mapping) for g in test])
            return
        if depth <= 1 and self.objrule_tries < self.local_limit:
            self.objrule_tries += 1
            rule = dsl.learn_object_rule(list(zip(demo, self.targets, strict=True)), test)
            if rule is not None:
                preds = [dsl.apply_object_rule(g, *rule) for g in test]
                if all(p is not None for p in preds):
                    self._add(depth + 2, (*steps, ("apply_object_rule", rule)), preds)
                    return
        if depth <= 1 and self.stamp_tries < STAMP_LIMIT and self._stamp(demo, test, steps,
                                                                         depth):
            return
        if depth <= 1 and self.local_tries < self.local_limit:
            self._local_rules(demo, test, steps, depth)

    def _stamp(self, demo, test, steps, depth) -> bool:
        """A learned stamp (``dsl/stamp.py``, cost depth + 2): the first key (with
        "stampkey": the colour, then the object size, then the side neighbours; else the
        colour only) and smallest radius whose stamp reproduces every demo output, kept
        only when the test grids have no colour (key) the demos never showed. It comes
        before the local rules (which see the same pictures from the painted cell and
        guess where two patterns meet)."""
        self.stamp_tries += 1
        pairs = list(zip(demo, self.targets, strict=True))
        for key in self.stamp_keys:
            if not dsl.stamp_covers(demo, test, key):
                continue
            for radius in STAMP_RADII:
                preds = _fit_stamp(pairs, test, radius, key)
                if preds is not None:
                    params = (preds[0],) if key == "colour" else (preds[0], key)
                    self._add(depth + 2, (*steps, ("apply_stamp", params)), preds[1])
                    return True
        return False

    def _local_rules(self, demo, test, steps, depth) -> None:
        """A learned local rule (cost depth + 2): the first kind that fits; with "local",
        the kinds whose features on the test grids were all seen on the demos come
        first (a rule that has to leave unseen cells unchanged is guessing), and only
        the best-ranked one is kept: a second rule would be a second distinct prediction
        from the same value, which stops the search (and the augmented searches) before
        a better program is found."""
        fits = []
        pairs = list(zip(demo, self.targets, strict=True))
        for kind in self.local_kinds:
            self.local_tries += 1
            table = dsl.learn_local_rule(pairs, kind)
            if table is None:
                continue
            if not self.covered_local:
                fits.append((kind, table))
                break
            seen = set(np.concatenate([dsl.local_features(g, kind).ravel() for g in demo]))
            covered = all(set(dsl.local_features(g, kind).ravel()) <= seen for g in test)
            fits.append((not covered, len(fits), kind, table))
        if self.covered_local:
            fits = [f[2:] for f in sorted(fits)[:1]]
        for kind, table in fits:
            st = (*steps, ("apply_local_rule", (table, kind)))
            self._add(depth + 2, st, [dsl.apply_local_rule(g, table, kind) for g in test])

    def _marks(self) -> tuple[tuple[int, tuple], ...]:
        """Colours c whose cells' bounding box in every demo input has the demo output's
        shape (and is present in every test input), with the test inputs' boxes: the
        output may be that region of a transformed input (``dsl.crop_marked``)."""
        out = []
        tests = self.inputs[self.n_demo :]
        for c in range(10):
            boxes = [dsl.marked_region(x, c) for x, _ in self.pairs]
            if any(b is None or (b[1] - b[0], b[3] - b[2]) != y.shape or x.shape == y.shape
                   for b, (x, y) in zip(boxes, self.pairs, strict=True)):
                continue
            test_boxes = [dsl.marked_region(t, c) for t in tests]
            if all(b is not None for b in test_boxes):
                out.append((c, tuple(boxes + test_boxes)))
        return tuple(out)

    def check_marked(self, vals, steps, depth) -> None:
        """A value of the inputs' shapes, cropped to a marked region (``_marks``)."""
        n = self.n_demo
        if any(vals[i].shape != self.in_shapes[i] for i in range(n)):
            return
        for c, boxes in self.marks:
            crops = [v[b[0] : b[1], b[2] : b[3]] for v, b in zip(vals, boxes, strict=True)]
            if all(np.array_equal(a, t) for a, t in zip(crops[:n], self.targets, strict=True)):
                if all(v.shape == t.shape for v, t in zip(vals[n:], self.inputs[n:],
                                                          strict=True)):
                    st = (("crop_marked", (steps, c)),)
                    self._add(depth + 1, st, [np.ascontiguousarray(g) for g in crops[n:]])
                return

    def _stack(self) -> None:
        """Overlay partial fits (``stack.py``); ranked after every single program."""
        picked = self.layers.cover()
        if picked is None or picked[1] is None:
            return
        chosen, preds = picked
        programs = tuple(self.layers.entries[i][0] for i in chosen)
        steps = (("stack_layers", (programs, self.layers.transparent)),)
        self._add(STACK_COST + len(chosen), steps, preds)

    def _wrong_shape_kinds(self, vals) -> tuple[str, ...]:
        """Shape kinds ("same", "swapped") whose outputs cannot match a demo output shape."""
        demo = vals[: self.n_demo]
        same = all(g.shape == t for g, t in zip(demo, self.tshapes, strict=True))
        swapped = all(g.shape[::-1] == t for g, t in zip(demo, self.tshapes, strict=True))
        return tuple(k for k, ok in (("same", same), ("swapped", swapped)) if not ok)

    def _ops_at(self, depth: int) -> list[Op]:
        return self.ops if depth < 3 else self.cheap_ops

    def viable(self, depth: int, shapes: tuple) -> list[tuple]:
        """The calls at ``depth`` that can still lead to the demo outputs' shapes from a
        value whose demo grids have ``shapes`` (memoised per shape tuple).

        An op whose output shape follows from its input's (``shapes.shape_rule``) is kept
        when its output has the target shapes, or when a later depth can still reach them
        from there; at the last depth an op that only crops ("le") needs targets that fit
        in its input. Ops of unknown output shape are always kept. Pruned calls are not
        run and not counted as candidates: the budget goes to programs that can match.
        """
        key = (depth, shapes)
        calls = self._viable_memo.get(key)
        if calls is not None:
            return calls
        tshapes = tuple(self.tshapes)
        last = depth >= self.max_depth
        calls = []
        for op in self._ops_at(depth):
            rule = shape_rule(op.name, op.params)
            if rule is LE:
                ok = not last or all(t[0] <= s[0] and t[1] <= s[1]
                                     for s, t in zip(shapes, tshapes, strict=True))
            elif rule is None:
                ok = True
            else:
                out = tuple(rule(*s) for s in shapes)
                ok = out == tshapes or (not last and bool(self.viable(depth + 1, out)))
            if ok:
                calls.append((op.fn, op.params, op.name, ""))
        self._viable_memo[key] = calls
        return calls

    def n_distinct(self, max_cost=None) -> int:
        keys = {
            tuple(g.tobytes() + bytes(g.shape) for g in f.test_preds)
            for f in self.res.found
            if max_cost is None or f.cost <= max_cost
        }
        return len(keys)

    # -- enumeration ----------------------------------------------------------------------
    def run(self) -> SearchResult:
        """Breadth-first over depths; see the module docstring.

        At the last depth values are not stored, only checked, and a value whose demo
        grid has the wrong shape fails the check. So evaluation stops at the first demo
        grid of the wrong shape, and an op whose output shape follows from its input's
        (``SAME_SHAPE``, ``SWAPPED_SHAPE``) is not called when that shape is wrong. The
        candidate still counts; the result is the same (such a value adds nothing; a later
        duplicate of it would fail the same way, so leaving it out of ``seen`` changes
        nothing).
        """
        seen = {tuple((g.shape, g.tobytes()) for g in self.inputs)}
        level = [(self.inputs, ())]
        self.check(self.inputs, (), 0)
        if "lookup" in self.features:
            rule = dsl.learn_lookup(self.pairs, self.inputs[self.n_demo :])
            if rule is not None:
                self._add(LOOKUP_COST, (("lookup_output", rule),),
                          [dsl.lookup_output(g, *rule) for g in self.inputs[self.n_demo :]])
        res = self.res
        n_in = len(self.inputs)
        n_demo, tshapes = self.n_demo, self.tshapes
        for depth in range(1, self.max_depth + 1):
            # "deeper": found programs of a higher cost (learned rules) can still be
            # outranked by an exact program of this depth, so only cheaper ones stop it
            if self.n_distinct(depth if self.deeper else None) >= 2 or self.stop:
                break
            res.depth = depth
            keep = depth < self.max_depth
            nxt = []
            all_calls = [(op.fn, op.params, op.name, _shape_kind(op.name))
                         for op in self._ops_at(depth)]
            for vals, steps in level:
                if self.shape_pruning:
                    calls = self.viable(depth, tuple(g.shape for g in vals[:n_demo]))
                    wrong = ()
                else:
                    calls = all_calls
                    # last depth: which shape kinds can still give the demo outputs' shapes
                    wrong = () if keep else self._wrong_shape_kinds(vals)
                for fn, params, name, kind in calls:
                    res.candidates += 1
                    if res.candidates & 255 == 0:
                        if time.perf_counter() - self.t0 > self.budget_s:
                            res.timed_out = True
                            self.stop = True
                        if res.candidates >= self.max_candidates:
                            res.exhausted_budget = True
                            self.stop = True
                        if self.stop:
                            break
                    if kind in wrong:
                        continue
                    out = []
                    try:
                        for g in vals:
                            r = fn(g, *params)
                            if r is None or r.ndim != 2:
                                break
                            h, w = r.shape
                            if h == 0 or w == 0 or h > MAX_SIDE or w > MAX_SIDE:
                                break
                            if not keep and len(out) < n_demo and r.shape != tshapes[len(out)]:
                                break  # last depth: a wrong demo shape cannot match (see run)
                            out.append(r)
                    except (ValueError, IndexError, KeyError, ZeroDivisionError):
                        continue
                    if len(out) != n_in:
                        continue
                    key = tuple([(r.shape, r.tobytes()) for r in out])
                    if key in seen:
                        continue
                    seen.add(key)
                    st = (*steps, (name, params))
                    if keep and (not self.shape_pruning or self.viable(
                            depth + 1, tuple(g.shape for g in out[:n_demo]))):
                        nxt.append((out, st))
                    self.check(out, st, depth)
                    if keep and self.marks:
                        self.check_marked(out, st, depth)
                    if self.n_distinct(depth) >= 2:
                        self.stop = True
                        break
                if self.stop:
                    break
            res.values += len(nxt)
            level = nxt
        if self.layers is not None and self.n_distinct() < 2:
            self._stack()
        res.elapsed_s = time.perf_counter() - self.t0
        res.found.sort(key=lambda f: (f.cost, f.order))
        return res


def search(
    pairs: list[tuple[Grid, Grid]],
    test_inputs: list[Grid],
    budget_s: float = 4.5,
    max_candidates: int = 80_000,
    max_depth: int = 3,
    local_limit: int = 400,
    features=FEATURES,
) -> SearchResult:
    """Enumerate programs for one task; see the module docstring for the rules.

    ``features`` names the capabilities switched on (default: all of :data:`FEATURES`).
    With ``"augment"``, a task left with fewer than two distinct predictions is searched
    again transposed and with colours renamed by frequency (:func:`augmented`), each with a
    quarter of ``max_candidates``.
    """
    res = _search(pairs, test_inputs, budget_s, max_candidates, max_depth, local_limit,
                  features)
    if "augment" in features and _n_distinct(res.found) < 2:
        inner = tuple(f for f in features if f != "augment")
        for aug in AUGMENTATIONS:
            left = budget_s - res.elapsed_s
            if left <= 0:
                break
            augmented(res, aug, pairs, test_inputs, left, max_candidates // 4, max_depth,
                      local_limit, inner)
        res.found.sort(key=lambda f: (f.cost, f.order))
    return res


def augmented(res: SearchResult, aug: str, pairs, test_inputs, budget_s: float,
              max_candidates: int, max_depth: int, local_limit: int, features) -> None:
    """Search the task under an augmentation and add its programs to ``res``, mapped back
    (``dsl.under``): one cost step more, and after every program of the plain search."""
    a_pairs = [(dsl.augment(x, aug), dsl.augment(y, aug, x)) for x, y in pairs]
    a_tests = [dsl.augment(t, aug) for t in test_inputs]
    r = _search(a_pairs, a_tests, budget_s, max_candidates, max_depth, local_limit, features)
    offset = res.candidates
    for f in r.found:
        preds = tuple(dsl.restore(p, aug, t) for p, t in zip(f.test_preds, test_inputs,
                                                             strict=True))
        res.found.append(Found(f.cost + 1, offset + f.order, (("under", (aug, f.steps)),),
                               preds))
    res.candidates += r.candidates
    res.values += r.values
    res.elapsed_s += r.elapsed_s
    res.timed_out |= r.timed_out


def _n_distinct(found: list[Found]) -> int:
    return len({tuple(g.tobytes() + bytes(g.shape) for g in f.test_preds) for f in found})


def _search(pairs, test_inputs, budget_s, max_candidates, max_depth, local_limit, features):
    dsl.clear_memo()
    try:
        return _Searcher(pairs, test_inputs, budget_s, max_candidates, max_depth,
                         local_limit, features).run()
    finally:
        dsl.clear_memo()
