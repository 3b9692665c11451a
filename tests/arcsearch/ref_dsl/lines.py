"""Line drawing: rays from cells, connecting aligned cells."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

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


def rays(g: Grid, c: int, dirs: str, stop: bool = False) -> Grid | None:
    """From every cell of colour ``c`` draw lines of ``c`` in the given directions.

    Lines run over background cells to the border; with ``stop`` they end at the
    first non-background cell, otherwise they pass under (skip) other cells.
    """
    bg = background(g)
    src = g == c
    if c == bg or not src.any():
        return None
    free = g == bg
    block = ~free if stop else np.zeros_like(src)
    m = np.zeros_like(src)
    acc = np.logical_or.accumulate
    for dy, dx in RAY_DIRS[dirs]:
        if stop or (dy and dx):
            m |= _ray_mask(src, block, dy, dx)
        elif dy == 1:
            m |= acc(src, axis=0)
        elif dy == -1:
            m |= acc(src[::-1], axis=0)[::-1]
        elif dx == 1:
            m |= acc(src, axis=1)
        else:
            m |= acc(src[:, ::-1], axis=1)[:, ::-1]
    m &= free
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out


def connect(g: Grid, c: int | None = None, diagonal: bool = False) -> Grid | None:
    """Join pairs of equal-coloured cells in the same row/column with a line of that colour.

    Only background cells between them are painted. ``c`` restricts to one colour.
    """
    bg = background(g)
    out = g.copy()
    changed = False
    cols = [c] if c is not None else [k for k in range(10) if k != bg]
    for col in cols:
        ys, xs = np.nonzero(g == col)
        if ys.size < 2 or ys.size > 40:
            continue
        pts = list(zip(ys.tolist(), xs.tolist(), strict=True))
        for a in range(len(pts)):
            for b in range(a + 1, len(pts)):
                (y0, x0), (y1, x1) = pts[a], pts[b]
                if y0 == y1:
                    seg = out[y0, min(x0, x1) + 1 : max(x0, x1)]
                    m = g[y0, min(x0, x1) + 1 : max(x0, x1)] == bg
                elif x0 == x1:
                    seg = out[min(y0, y1) + 1 : max(y0, y1), x0]
                    m = g[min(y0, y1) + 1 : max(y0, y1), x0] == bg
                elif diagonal and abs(y1 - y0) == abs(x1 - x0):
                    n = abs(y1 - y0)
                    sy = 1 if y1 > y0 else -1
                    sx = 1 if x1 > x0 else -1
                    for k in range(1, n):
                        if g[y0 + k * sy, x0 + k * sx] == bg:
                            out[y0 + k * sy, x0 + k * sx] = col
                            changed = True
                    continue
                else:
                    continue
                if m.any():
                    seg[m] = col
                    changed = True
    return out if changed else None


def outline_objects(g: Grid, c: int) -> Grid | None:
    """Paint background cells 8-adjacent to any non-background cell with ``c`` (halo)."""
    bg = background(g)
    fg = g != bg
    p = np.pad(fg, 1)
    h, w = g.shape
    near = np.zeros_like(fg)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near |= p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    m = near & ~fg
    if not m.any():
        return None
    out = g.copy()
    out[m] = c
    return out
