"""Local rules: output colour of a cell as a function of a small neighbourhood feature.

``learn_local_rule`` builds a lookup table from demonstration pairs of equal shape;
``apply_local_rule`` applies it (cells with unseen features keep their colour).
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

FEATURES = ("n4", "n8", "rays", "rowcol", "nbrsets")
_OUT = 10  # pseudo-colour for outside the grid


def _pad(g: Grid) -> np.ndarray:
    return np.pad(g.astype(np.int16), 1, constant_values=_OUT)


def features(g: Grid, kind: str) -> np.ndarray:
    """Per-cell integer feature codes, shape (h, w)."""
    h, w = g.shape
    if kind in ("n4", "n8"):
        p = _pad(g)
        offs = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
        if kind == "n8":
            offs = (*offs, (-1, -1), (-1, 1), (1, -1), (1, 1))
        code = np.zeros((h, w), dtype=np.int64)
        for dy, dx in offs:
            code = code * 11 + p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        return code
    if kind == "rays":
        return _ray_features(g)
    if kind == "nbrsets":
        return _neighbour_sets(g)
    bg = background(g)
    if kind == "rowcol":
        # cell colour + colour set of its row + colour set of its column (bitmasks)
        bits = (1 << g.astype(np.int64)) & ~(1 << bg)
        rows = np.bitwise_or.reduce(bits, axis=1)[:, None]
        cols = np.bitwise_or.reduce(bits, axis=0)[None, :]
        return (g.astype(np.int64) * 1024 + rows) * 1024 + cols
    raise ValueError(kind)


def _neighbour_sets(g: Grid) -> np.ndarray:
    """Cell colour, the set of its 4 side neighbours' colours and the set of its 4
    diagonal neighbours' colours (outside counts as a colour), as bitmasks: a rule on
    which colours touch a cell, wherever they are around it."""
    h, w = g.shape
    p = _pad(g)
    sides = np.zeros((h, w), dtype=np.int64)
    diags = np.zeros((h, w), dtype=np.int64)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        sides |= 1 << p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w].astype(np.int64)
    for dy, dx in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        diags |= 1 << p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w].astype(np.int64)
    return (g.astype(np.int64) << 22) | (sides << 11) | diags


def _ray_features(g: Grid) -> np.ndarray:
    bg = background(g)
    h, w = g.shape
    code = g.astype(np.int64)
    for direction in range(4):
        first = np.full((h, w), _OUT, dtype=np.int64)
        if direction == 0:  # looking up
            cur = np.full(w, _OUT, dtype=np.int64)
            for i in range(h):
                first[i] = cur
                cur = np.where(g[i] != bg, g[i], cur)
        elif direction == 1:  # looking down
            cur = np.full(w, _OUT, dtype=np.int64)
            for i in range(h - 1, -1, -1):
                first[i] = cur
                cur = np.where(g[i] != bg, g[i], cur)
        elif direction == 2:  # looking left
            cur = np.full(h, _OUT, dtype=np.int64)
            for j in range(w):
                first[:, j] = cur
                cur = np.where(g[:, j] != bg, g[:, j], cur)
        else:  # looking right
            cur = np.full(h, _OUT, dtype=np.int64)
            for j in range(w - 1, -1, -1):
                first[:, j] = cur
                cur = np.where(g[:, j] != bg, g[:, j], cur)
        code = code * 11 + first
    return code


feature_codes = features


def learn_local_rule(pairs: list[tuple[Grid, Grid]], kind: str) -> dict[int, int] | None:
    """Table feature -> output colour consistent with all pairs, or None.

    Only entries that change the cell are stored. Returns None if inconsistent or if
    nothing changes.
    """
    table: dict[int, int] = {}
    seen: dict[int, int] = {}
    for x, y in pairs:
        if x.shape != y.shape:
            return None
        f = feature_codes(x, kind).ravel()
        yv = y.ravel()
        keys = f * 16 + yv
        uk = np.unique(keys)
        feats = uk // 16
        if len(np.unique(feats)) != len(feats):
            return None
        for k, v in zip(feats.tolist(), (uk % 16).tolist(), strict=True):
            if seen.setdefault(k, v) != v:
                return None
    xs = {}
    for x, _ in pairs:
        f = feature_codes(x, kind).ravel()
        for k, v in zip(f.tolist(), x.ravel().tolist(), strict=True):
            xs[k] = v
    for k, v in seen.items():
        if xs[k] != v:
            table[k] = v
    return table or None


def apply_local_rule(g: Grid, table: dict[int, int], kind: str) -> Grid:
    """Apply a learned table; unseen features keep the cell's colour."""
    f = feature_codes(g, kind)
    out = g.copy()
    if not table:
        return out
    keys = np.fromiter(table.keys(), dtype=np.int64)
    vals = np.fromiter(table.values(), dtype=np.uint8)
    order = np.argsort(keys)
    keys, vals = keys[order], vals[order]
    pos = np.searchsorted(keys, f)
    pos = np.clip(pos, 0, len(keys) - 1)
    hit = keys[pos] == f
    out[hit] = vals[pos[hit]]
    return out
