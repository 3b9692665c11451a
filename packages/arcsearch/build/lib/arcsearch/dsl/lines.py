"""Line drawing: rays from cells, connecting aligned cells."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, colour_counts, memo_grid

RAY_DIRS = {
    "up": ((-1, 0),),
    "down": ((1, 0),),
    "left": ((0, -1),),
    "right": ((0, 1),),
    "vertical": ((-1, 0), (1, 0)),
    "horizontal": ((0, -1), (0, 1)),
    "cross": ((-1, 0), (1, 0), (0, -1), (0, 1)),
    "diagonal": ((-1, -1), (-1, 1), (1, -1), (1, 1)),
    "star": ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)),
}


def _ray_mask(src: np.ndarray, block: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Cells reached by rays from ``src`` moving (dy, dx); rays stop at ``block`` cells."""
    h, w = src.shape
    reach = np.zeros_like(src)
    cur = src.copy()
    for _ in range(max(h, w)):
        nxt = np.zeros_like(cur)
        ys = slice(max(dy, 0), h + min(dy, 0))
        yd = slice(max(-dy, 0), h + min(-dy, 0))
        xs = slice(max(dx, 0), w + min(dx, 0))
        xd = slice(max(-dx, 0), w + min(-dx, 0))
        nxt[ys, xs] = cur[yd, xd]
        nxt &= ~block
        if not nxt.any():
            break
        reach |= nxt
        cur = nxt
    return reach


def _down_mask(src: np.ndarray, block: np.ndarray | None) -> np.ndarray:
    """Cells reached by rays moving down from ``src`` (same as ``_ray_mask`` with (1, 0)).

    A cell is reached when some source lies above it with no ``block`` cell between them
    (the cell itself included): the nearest source above must lie at or below the last
    block cell at or above the cell.
    """
    h = src.shape[0]
    rows = np.arange(h)[:, None]
    last_src = np.maximum.accumulate(np.where(src, rows, -1), axis=0)
    above = np.empty_like(last_src)
    above[0] = -1
    above[1:] = last_src[:-1]
    if block is None:
        return above >= 0
    last_block = np.maximum.accumulate(np.where(block, rows, -1), axis=0)
    return (above >= 0) & (last_block <= above)


_DIAG_INDEX: dict[tuple[int, int], np.ndarray] = {}


def _diag_index(h: int, w: int) -> np.ndarray:
    """Flat positions of the cells in an (h, h + w - 1) skewed array where cell (i, j)
    sits at column j - i + h - 1: each down-right diagonal becomes a column."""
    idx = _DIAG_INDEX.get((h, w))
    if idx is None:
        ii, jj = np.indices((h, w))
        idx = _DIAG_INDEX[(h, w)] = (ii * (h + w - 1) + jj - ii + h - 1).ravel()
    return idx


def _down_right_mask(src: np.ndarray) -> np.ndarray:
    """Cells reached by unblocked rays moving (1, 1) from ``src`` (skew, then go down)."""
    h, w = src.shape
    idx = _diag_index(h, w)
    skew = np.zeros(h * (h + w - 1), dtype=bool)
    skew[idx] = src.ravel()
    reach = _down_mask(skew.reshape(h, h + w - 1), None)
    return reach.ravel()[idx].reshape(h, w)


def _dir_mask(src: np.ndarray, block: np.ndarray | None, dy: int, dx: int) -> np.ndarray:
    """``_ray_mask`` for a cardinal direction, or a diagonal without blocks, vectorised by
    flipping / transposing the direction to down (or down-right)."""
    if dy and dx:
        view = (slice(None, None, dy), slice(None, None, dx))
        return _down_right_mask(src[view])[view]
    if dx:
        t = _dir_mask(src.T, None if block is None else block.T, dx, 0)
        return t.T
    if dy < 0:
        return _down_mask(src[::-1], None if block is None else block[::-1])[::-1]
    return _down_mask(src, block)


@memo_grid
def _ray_dir(g: Grid, c: int, dy: int, dx: int, stop: bool) -> np.ndarray:
    """Mask of cells reached from cells of ``c`` in one direction (memoised: the direction
    sets of ``rays`` share their directions)."""
    src = g == c
    if stop:
        block = g != background(g)
        if dy and dx:
            return _ray_mask(src, block, dy, dx)
        return _dir_mask(src, block, dy, dx)
    acc = np.logical_or.accumulate
    if dy and dx:
        return _dir_mask(src, None, dy, dx)
    if dy == 1:
        return acc(src, axis=0)
    if dy == -1:
        return acc(src[::-1], axis=0)[::-1]
    if dx == 1:
        return acc(src, axis=1)
    return acc(src[:, ::-1], axis=1)[:, ::-1]


def rays(g: Grid, c: int, dirs: str, stop: bool = False) -> Grid | None:
    """From every cell of colour ``c`` draw lines of ``c`` in the given directions.

    Lines run over background cells to the border; with ``stop`` they end at the
    first non-background cell, otherwise they pass under (skip) other cells.
    """
    bg = background(g)
    if c == bg or not colour_counts(g)[c]:
        return None
    dirs_ = RAY_DIRS[dirs]
    m = _ray_dir(g, c, *dirs_[0], stop)
    for dy, dx in dirs_[1:]:
        m = m | _ray_dir(g, c, dy, dx, stop)
    m = m & (g == bg)
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out


def _between(m: np.ndarray) -> np.ndarray:
    """Cells with a True cell strictly before and strictly after them in their row."""
    acc = np.logical_or.accumulate
    before = np.zeros_like(m)
    before[:, 1:] = acc(m, axis=1)[:, :-1]
    after = np.zeros_like(m)
    after[:, :-1] = acc(m[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return before & after


def _between_diagonal(m: np.ndarray) -> np.ndarray:
    """``_between`` along down-right diagonals (skewed so that they become rows)."""
    h, w = m.shape
    idx = _diag_index(h, w)
    skew = np.zeros(h * (h + w - 1), dtype=bool)
    skew[idx] = m.ravel()
    sk = skew.reshape(h, h + w - 1).T
    return _between(sk).T.ravel()[idx].reshape(h, w)


def connect(g: Grid, c: int | None = None, diagonal: bool = False) -> Grid | None:
    """Join pairs of equal-coloured cells in the same row/column with a line of that colour.

    Only background cells between them are painted. ``c`` restricts to one colour.
    Colours are painted in increasing order (a later colour wins a cell). The union of
    the segments between all pairs of a row is the span between its first and last cell
    of the colour, so each colour takes a few array scans.
    """
    bg = background(g)
    free = g == bg
    out = None
    cols = [c] if c is not None else [k for k in range(10) if k != bg]
    counts = colour_counts(g)
    for col in cols:
        n = counts[col] if 0 <= col < counts.size else 0
        if n < 2 or n > 40:
            continue
        m = g == col
        paint = _between(m) | _between(m.T).T
        if diagonal:
            paint |= _between_diagonal(m) | _between_diagonal(m[:, ::-1])[:, ::-1]
        paint &= free
        if paint.any():
            if out is None:
                out = g.copy()
            out[paint] = col
    return out


def outline_objects(g: Grid, c: int) -> Grid | None:
    """Paint background cells 8-adjacent to any non-background cell with ``c`` (halo)."""
    bg = background(g)
    fg = g != bg
    h, w = fg.shape
    p = np.zeros((h + 2, w + 2), dtype=bool)
    p[1:-1, 1:-1] = fg
    rows = p[:, :-2] | p[:, 1:-1] | p[:, 2:]  # 3x3 dilation, separably
    near = rows[:-2] | rows[1:-1] | rows[2:]
    m = near & ~fg
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out
