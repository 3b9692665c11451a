"""Partial fits stacked greedily (icecuber style).

A *layer* is a candidate value with the demo outputs' shapes whose painted cells (those
not of the transparent colour, the most common colour of the demo outputs) are all right
on every demo, as they are or (values of depth <= 1) after a colour map learned on
those cells: it gets part of
each output right and nothing wrong. Layers overlaid on a
grid of the transparent colour can never make a wrong cell, so a set of layers whose
painted cells cover every non-transparent cell of the demo outputs reproduces them. The
cover is built greedily (the layer adding the most uncovered cells first; ties to the
earlier, i.e. simpler, candidate), at most :data:`MAX_LAYERS` layers.

The result is a program ``stack_layers(g, programs, transparent)`` (``dsl/compose.py``)
that runs each layer's own program on the grid and paints them, the first on top.
"""

from __future__ import annotations

import numpy as np

MAX_LAYERS = 4
MAX_KEPT = 4_000


class Layers:
    """Collects layers during the search; :meth:`cover` picks a stack at the end."""

    def __init__(self, targets: list[np.ndarray]):
        counts = sum(np.bincount(t.ravel(), minlength=10) for t in targets)
        self.transparent = int(np.argmax(counts))
        self.targets = targets
        self.flat_target = np.concatenate([t.ravel() for t in targets])
        self.need = self.flat_target != self.transparent
        self.covers: list[np.ndarray] = []
        self.entries: list[tuple] = []  # (steps, test_vals, depth)
        self._seen: set[bytes] = set()

    def offer(self, demo: list[np.ndarray], test: list[np.ndarray], steps: tuple,
              depth: int) -> None:
        """Keep the value as a layer when it paints only right cells (and some)."""
        if len(self.covers) >= MAX_KEPT:
            return
        tr = self.transparent
        exact = True
        for g, t in zip(demo, self.targets, strict=True):  # most values fail on one demo
            if ((g != t) & (g != tr)).any():
                exact = False
                break
        if not exact and depth > 1:
            return  # colour-mapped layers only from values of depth <= 1 (cost)
        flat = np.concatenate([g.ravel() for g in demo])
        painted = flat != self.transparent
        if not painted.any():
            return
        if (flat[painted] != self.flat_target[painted]).any():
            mapping = self._colour_map(flat[painted], self.flat_target[painted])
            if mapping is None:
                return
            lut = np.arange(256, dtype=np.uint8)
            for a, b in mapping.items():
                lut[a] = b
            painted = lut[flat] != self.transparent
            if not painted.any():
                return
            steps = (*steps, ("recolor", (mapping,)))
            test = [lut[g] for g in test]
        key = np.packbits(painted).tobytes()
        if key in self._seen:  # the same cells as an earlier (simpler) layer
            return
        self._seen.add(key)
        self.covers.append(painted)
        self.entries.append((steps, tuple(test), depth))

    @staticmethod
    def _colour_map(vals: np.ndarray, targets: np.ndarray) -> dict[int, int] | None:
        """A colour map sending each painted colour to one target colour, or None."""
        table = np.bincount(vals.astype(np.int64) * 16 + targets, minlength=256)[:160]
        table = table.reshape(10, 16) > 0
        if (table.sum(axis=1) > 1).any():
            return None
        return {int(a): int(np.flatnonzero(table[a])[0])
                for a in np.flatnonzero(table.any(axis=1)).tolist()
                if np.flatnonzero(table[a])[0] != a}

    def cover(self) -> tuple[list[int], list[np.ndarray]] | None:
        """Greedy cover of the demo outputs: (layer indices, test predictions) or None."""
        if not self.covers or not self.need.any():
            return None
        m = np.stack(self.covers)
        left = self.need.copy()
        chosen: list[int] = []
        while left.any() and len(chosen) < MAX_LAYERS:
            gain = m[:, left].sum(axis=1)
            best = int(np.argmax(gain))
            if gain[best] == 0:
                return None
            chosen.append(best)
            left &= ~m[best]
        if left.any() or len(chosen) < 2:
            return None  # one layer alone would be an exact match, found already
        return chosen, self._predict(chosen)

    def _predict(self, chosen: list[int]) -> list[np.ndarray] | None:
        tests = [self.entries[i][1] for i in chosen]
        preds = []
        for k in range(len(tests[0])):
            grids = [t[k] for t in tests]
            if len({g.shape for g in grids}) != 1:
                return None
            out = np.full(grids[0].shape, self.transparent, dtype=np.uint8)
            for g in reversed(grids):
                p = g != self.transparent
                out[p] = g[p]
            preds.append(out)
        return preds
