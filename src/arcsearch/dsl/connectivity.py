"""Connected-component labelling in numpy (no Python loop over cells)."""

from __future__ import annotations

import numpy as np

from .grid import Grid


def _edges(g: Grid, fg: np.ndarray, conn: int, multicolour: bool):
    """Flat index pairs (a, b), a < b, of joined neighbouring cells."""
    h, w = g.shape
    idx = np.arange(h * w).reshape(h, w)
    full = slice(None)
    shifts = [((full, slice(0, -1)), (full, slice(1, None)), 1),
              ((slice(0, -1), full), (slice(1, None), full), w)]
    if conn == 8:
        shifts += [((slice(0, -1), slice(0, -1)), (slice(1, None), slice(1, None)), w + 1),
                   ((slice(0, -1), slice(1, None)), (slice(1, None), slice(0, -1)), w - 1)]
    ea, eb = [], []
    for sa, sb, off in shifts:
        ok = fg[sa] & fg[sb]
        if not multicolour:
            ok &= g[sa] == g[sb]
        a = idx[sa][ok]
        ea.append(a)
        eb.append(a + off)
    return np.concatenate(ea), np.concatenate(eb)


def label_cells(g: Grid, fg: np.ndarray, conn: int, multicolour: bool) -> np.ndarray:
    """Flat array: each cell's component root, the component's smallest flat index.

    Vectorised union-find: hook every edge's larger root under the smaller one, then
    compress paths fully by pointer jumping; repeat until every edge joins equal roots.
    """
    a, b = _edges(g, fg, conn, multicolour)
    lab = np.arange(g.size)
    while a.size:
        la, lb = lab[a], lab[b]
        diff = la != lb
        if not diff.any():
            break
        a, b, la, lb = a[diff], b[diff], la[diff], lb[diff]
        np.minimum.at(lab, la, lb)
        np.minimum.at(lab, lb, la)
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt
    return lab
