"""Connected-component labelling in numpy (no Python loop over cells)."""

from __future__ import annotations

import numpy as np

from .grid import Grid

_SHAPES: dict[tuple[int, int], tuple] = {}


def shape_arrays(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat index, column != 0, column != w - 1) for an h x w grid (cached per shape)."""
    m = _SHAPES.get((h, w))
    if m is None:
        col = np.arange(h * w) % w
        m = _SHAPES[(h, w)] = (np.arange(h * w), col != 0, col != w - 1)
    return m


def label_cells(g: Grid, fg: np.ndarray, conn: int, multicolour: bool) -> np.ndarray:
    """Flat array: each ``fg`` cell's component root, the component's smallest flat index
    (other cells hold arbitrary valid indices). Neighbours join when both are ``fg`` and,
    unless ``multicolour``, of equal colour; ``conn`` is 4 or 8.

    Horizontal runs are resolved first with one scan (each cell points to its run's start);
    the joins between rows then go through a vectorised union-find: hook every edge's
    larger root under the smaller one, compress paths fully by pointer jumping, repeat
    until every edge joins equal roots.
    """
    h, w = g.shape
    n = h * w
    ar, not_first, not_last = shape_arrays(h, w)
    f = g.ravel()
    F = fg.ravel()
    # horizontal runs: each cell's run start
    join = F[1:] & F[:-1] & not_first[1:]
    if not multicolour:
        join &= f[1:] == f[:-1]
    start = np.ones(n, dtype=bool)
    start[1:] = ~join
    lab = np.maximum.accumulate(np.where(start, ar, 0))
    if h == 1:
        return lab
    # vertical (and diagonal) joins between rows
    ok = F[:-w] & F[w:]
    if not multicolour:
        ok &= f[:-w] == f[w:]
    parts_a = [np.flatnonzero(ok)]
    parts_b = [parts_a[0] + w]
    if conn == 8:
        ok = F[: n - w - 1] & F[w + 1 :] & not_last[: n - w - 1]
        if not multicolour:
            ok &= f[: n - w - 1] == f[w + 1 :]
        a = np.flatnonzero(ok)
        parts_a.append(a)
        parts_b.append(a + w + 1)
        ok = F[1 : n - w + 1] & F[w:] & not_first[1 : n - w + 1]
        if not multicolour:
            ok &= f[1 : n - w + 1] == f[w:]
        a = np.flatnonzero(ok) + 1
        parts_a.append(a)
        parts_b.append(a + w - 1)
        a, b = np.concatenate(parts_a), np.concatenate(parts_b)
    else:
        a, b = parts_a[0], parts_b[0]
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
