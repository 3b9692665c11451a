"""Scaling, tiling and mirror-tiling."""

from __future__ import annotations

import numpy as np

from .grid import MAX_SIDE, Grid, background


def _fits(h: int, w: int) -> bool:
    return 0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE


def upscale(g: Grid, ky: int, kx: int) -> Grid | None:
    """Each cell becomes a ``ky`` x ``kx`` block."""
    if not _fits(g.shape[0] * ky, g.shape[1] * kx):
        return None
    return np.ascontiguousarray(np.repeat(np.repeat(g, ky, axis=0), kx, axis=1))


def downscale(g: Grid, ky: int, kx: int) -> Grid | None:
    """Inverse of upscale: keep the top-left cell of each block (sizes must divide)."""
    h, w = g.shape
    if h % ky or w % kx or (ky == 1 and kx == 1):
        return None
    return np.ascontiguousarray(g[::ky, ::kx])


def downscale_any(g: Grid, ky: int, kx: int) -> Grid | None:
    """Block reduce: a block becomes its most frequent non-background colour (else bg)."""
    h, w = g.shape
    if h % ky or w % kx or (ky == 1 and kx == 1):
        return None
    bg = background(g)
    nb = (h // ky) * (w // kx)
    blocks = g.reshape(h // ky, ky, w // kx, kx).transpose(0, 2, 1, 3).reshape(nb, -1)
    block_id = np.repeat(np.arange(nb), ky * kx)
    cnt = np.bincount(block_id * 10 + blocks.ravel(), minlength=nb * 10).reshape(nb, 10)
    cnt[:, bg] = 0
    out = np.where(cnt.any(axis=1), cnt.argmax(axis=1), bg).astype(np.uint8)
    return out.reshape(h // ky, w // kx)


def tile(g: Grid, ny: int, nx: int) -> Grid | None:
    """Repeat the grid ``ny`` times down and ``nx`` times across."""
    if not _fits(g.shape[0] * ny, g.shape[1] * nx):
        return None
    return np.ascontiguousarray(np.tile(g, (ny, nx)))


def mirror_tile(g: Grid, kind: str) -> Grid | None:
    """Concatenate with mirrored copies.

    kind: 'h' [g | flip], 'hr' [flip | g], 'v' [g / flip], 'vr' [flip / g],
    'quad' 2x2 with g top-left, 'quad_br' 2x2 with g bottom-right.
    """
    lr = g[:, ::-1]
    ud = g[::-1, :]
    if kind == "h":
        out = np.hstack([g, lr])
    elif kind == "hr":
        out = np.hstack([lr, g])
    elif kind == "v":
        out = np.vstack([g, ud])
    elif kind == "vr":
        out = np.vstack([ud, g])
    elif kind == "quad":
        top = np.hstack([g, lr])
        out = np.vstack([top, top[::-1]])
    elif kind == "quad_br":
        top = np.hstack([g[::-1, ::-1], ud])
        out = np.vstack([top, np.hstack([lr, g])])
    else:
        raise ValueError(kind)
    if not _fits(*out.shape):
        return None
    return np.ascontiguousarray(out)


def kron_self(g: Grid, inverse: bool = False) -> Grid | None:
    """Fractal tiling: block (i, j) is a copy of g where g[i, j] is non-background.

    With ``inverse`` the copy goes where g[i, j] is background.
    """
    h, w = g.shape
    if not _fits(h * h, w * w):
        return None
    bg = background(g)
    mask = (g == bg) if inverse else (g != bg)
    out = np.full((h * h, w * w), bg, dtype=np.uint8)
    for i, j in zip(*np.nonzero(mask), strict=True):
        out[i * h : (i + 1) * h, j * w : (j + 1) * w] = g
    return out
