"""Symmetry completion: fill masked cells from their mirror images."""

from __future__ import annotations

import numpy as np

from .grid import Grid, background

KINDS = ("lr", "ud", "both", "diag", "all")


def _mirror_maps(h: int, w: int, kind: str, ay: int, ax: int):
    """Index arrays mapping each cell to its mirror for the axis sums ay (rows), ax (cols).

    A row i mirrors to ay - i; cells whose image is outside the grid map to themselves.
    """
    ii, jj = np.indices((h, w))
    maps = []
    if kind in ("lr", "both", "all"):
        maps.append((ii, ax - jj))
    if kind in ("ud", "both", "all"):
        maps.append((ay - ii, jj))
    if kind in ("both", "all"):
        maps.append((ay - ii, ax - jj))
    if kind in ("diag", "all") and ay == ax:
        maps.append((jj, ii))
        if kind == "all":
            maps.append((ax - jj, ay - ii))
    return maps


def _complete(g: Grid, unknown: np.ndarray, kind: str, ay: int, ax: int) -> Grid | None:
    h, w = g.shape
    out = g.copy()
    known = ~unknown
    for _ in range(3):
        for my, mx in _mirror_maps(h, w, kind, ay, ax):
            ok = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
            sy, sx = np.where(ok, my, 0), np.where(ok, mx, 0)
            src = out[sy, sx]
            src_known = known[sy, sx] & ok
            both = known & src_known
            if (out[both] != src[both]).any():
                return None
            fill = ~known & src_known
            out[fill] = src[fill]
            known = known | fill
    if not known.all():
        return None
    return out


def symmetry_complete(g: Grid, kind: str, mask_colour: int | None = None) -> Grid | None:
    """Fill cells of ``mask_colour`` (default: background) using a mirror symmetry.

    The axis positions are searched (centred first), so off-centre symmetric patterns
    are handled; the first axis consistent with all known cells is used.
    """
    h, w = g.shape
    m = background(g) if mask_colour is None else mask_colour
    unknown = g == m
    if not unknown.any() or unknown.all():
        return None
    ays = sorted(set(range(max(1, h // 2), 2 * h - 2)), key=lambda a: abs(a - (h - 1)))
    axs = sorted(set(range(max(1, w // 2), 2 * w - 2)), key=lambda a: abs(a - (w - 1)))
    if kind == "lr":
        cands = [(h - 1, ax) for ax in axs[:7]]
    elif kind == "ud":
        cands = [(ay, w - 1) for ay in ays[:7]]
    elif kind == "diag":
        cands = [(a, a) for a in ays[:7] if a in axs] if h == w else []
    else:
        cands = [(ay, ax) for ay in ays[:3] for ax in axs[:3]]
    for ay, ax in cands:
        res = _complete(g, unknown, kind, ay, ax)
        if res is not None:
            return res
    return None


def symmetrize_overlay(g: Grid, kind: str) -> Grid:
    """Overlay the grid with its mirror image(s): background cells take the mirror colour."""
    bg = background(g)
    out = g.copy()
    imgs = []
    if kind in ("lr", "both", "all"):
        imgs.append(g[:, ::-1])
    if kind in ("ud", "both", "all"):
        imgs.append(g[::-1, :])
    if kind in ("both", "all"):
        imgs.append(g[::-1, ::-1])
    if kind in ("diag", "all") and g.shape[0] == g.shape[1]:
        imgs.append(g.T)
        imgs.append(g[::-1, ::-1].T)
    for im in imgs:
        m = out == bg
        out[m] = im[m]
    return out
