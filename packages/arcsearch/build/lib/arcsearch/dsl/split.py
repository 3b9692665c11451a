"""Splitting grids along separators and overlaying the parts."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, colour_counts, memo_grid

SPLITS = ("sep", "h2", "v2", "h3", "v3")
OPS = ("and", "or", "xor", "nor", "left_only", "right_only")


@memo_grid
def separator_lines(g: Grid) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Rows and columns that are entirely one non-background-like colour.

    Returns (rows, cols, colour); colour is -1 when there are none. Colours are tried in
    increasing order; only colours of some uniform row or column can qualify.
    """
    h, w = g.shape
    bg = background(g)
    row_uni = (g == g[:, :1]).all(axis=1)
    col_uni = (g == g[:1, :]).all(axis=0)
    row_col = np.where(row_uni, g[:, 0], 255)
    col_col = np.where(col_uni, g[0, :], 255)
    counts = colour_counts(g)
    for c in sorted(set(row_col.tolist()) | set(col_col.tolist())):
        if c == bg or c == 255:
            continue
        rows = np.flatnonzero(row_col == c)
        cols = np.flatnonzero(col_col == c)
        if len(rows) == h or len(cols) == w:
            continue
        # every cell of c lies on a separator line
        n_lines = len(rows) * w + len(cols) * h - len(rows) * len(cols)
        if n_lines == counts[c]:
            return tuple(rows.tolist()), tuple(cols.tolist()), c
    return (), (), -1


def _runs(n: int, cuts: tuple[int, ...]) -> list[tuple[int, int]]:
    out, start = [], 0
    for k in (*cuts, n):
        if k > start:
            out.append((start, k))
        start = k + 1
    return out


@memo_grid
def split_grid(g: Grid, how: str) -> tuple[Grid, ...] | None:
    """Split into parts: 'sep' along separator lines, 'h2'/'h3' side by side, 'v2'/'v3' stacked."""
    h, w = g.shape
    if how == "sep":
        rows, cols, c = separator_lines(g)
        if c < 0:
            return None
        parts = [g[r0:r1, c0:c1] for r0, r1 in _runs(h, rows) for c0, c1 in _runs(w, cols)]
    elif how in ("h2", "h3"):
        n = int(how[1])
        if w % n:
            return None
        k = w // n
        parts = [g[:, i * k : (i + 1) * k] for i in range(n)]
    elif how in ("v2", "v3"):
        n = int(how[1])
        if h % n:
            return None
        k = h // n
        parts = [g[i * k : (i + 1) * k] for i in range(n)]
    else:
        raise ValueError(how)
    if len(parts) < 2:
        return None
    return tuple(np.ascontiguousarray(p) for p in parts)


def overlay_parts(g: Grid, how: str, op: str) -> Grid | None:
    """Combine equally-shaped parts cell-wise as boolean masks (non-background = True).

    The result has colour 1 where the op is true and 0 elsewhere; a learned colour map
    then recolours it. 'and'/'or' fold over all parts; the others need exactly two.
    """
    parts = split_grid(g, how)
    if parts is None or len({p.shape for p in parts}) != 1:
        return None
    masks = [p != _part_bg(g, p) for p in parts]
    if op == "and":
        m = np.logical_and.reduce(masks)
    elif op == "or":
        m = np.logical_or.reduce(masks)
    else:
        if len(masks) != 2:
            return None
        a, b = masks
        if op == "xor":
            m = a ^ b
        elif op == "nor":
            m = ~(a | b)
        elif op == "left_only":
            m = a & ~b
        elif op == "right_only":
            m = b & ~a
        else:
            raise ValueError(op)
    return m.astype(np.uint8)


def _part_bg(g: Grid, p: Grid) -> int:
    return background(g) if background(g) != separator_lines(g)[2] else 0


def stack_parts(g: Grid, how: str, reverse: bool = False) -> Grid | None:
    """Paint parts on top of each other (later parts over earlier ones, background transparent)."""
    parts = split_grid(g, how)
    if parts is None or len({p.shape for p in parts}) != 1:
        return None
    seq = parts[::-1] if reverse else parts
    out = seq[0].copy()
    for p in seq[1:]:
        bg = _part_bg(g, p)
        m = p != bg
        out[m] = p[m]
    return out


PART_PICKS = ("first", "last", "most_fg", "least_fg", "unique", "most_colours")


def pick_part(g: Grid, how: str, pick: str) -> Grid | None:
    """Select one part of a split grid."""
    parts = split_grid(g, how)
    if parts is None:
        return None
    if pick == "first":
        return parts[0]
    if pick == "last":
        return parts[-1]
    bg = background(g)
    if pick in ("most_fg", "least_fg"):
        vals = [int((p != bg).sum()) for p in parts]
        best = max(vals) if pick == "most_fg" else min(vals)
    elif pick == "most_colours":
        vals = [len(np.unique(p)) for p in parts]
        best = max(vals)
    elif pick == "unique":
        vals = [p.tobytes() + bytes(p.shape) for p in parts]
        uniq = [v for v in vals if vals.count(v) == 1]
        if len(uniq) != 1:
            return None
        best = uniq[0]
    else:
        raise ValueError(pick)
    idx = [i for i, v in enumerate(vals) if v == best]
    return parts[idx[0]] if len(idx) == 1 else None
