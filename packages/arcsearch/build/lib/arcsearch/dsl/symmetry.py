"""Symmetry completion: fill masked cells from their mirror images."""

from __future__ import annotations

import functools

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


# Flat mirror indices per (h, w, kind, ay, ax): (source index, in-grid mask) per map. They
# depend on the shape only, so they are kept across tasks (cleared past _MAPS_LIMIT keys).
_FLAT_MAPS: dict[tuple, tuple] = {}
_MAPS_LIMIT = 4096


def _flat_maps(h: int, w: int, kind: str, ay: int, ax: int) -> tuple:
    key = (h, w, kind, ay, ax)
    maps = _FLAT_MAPS.get(key)
    if maps is None:
        if len(_FLAT_MAPS) > _MAPS_LIMIT:
            _FLAT_MAPS.clear()
        maps = []
        for my, mx in _mirror_maps(h, w, kind, ay, ax):
            ok = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
            src = (np.where(ok, my, 0) * w + np.where(ok, mx, 0)).ravel()
            maps.append((src, ok.ravel()))
        maps = _FLAT_MAPS[key] = tuple(maps)
    return maps


def _complete(g: Grid, unknown: np.ndarray, kind: str, ay: int, ax: int) -> Grid | None:
    """Fill unknown cells from their mirror images (three passes over the maps); None on a
    conflict between two known cells or if a cell stays unknown."""
    h, w = g.shape
    out = g.ravel().copy()
    known = ~unknown.ravel()
    for _ in range(3):
        filled = False
        for src, ok in _flat_maps(h, w, kind, ay, ax):
            vals = out[src]
            src_known = known[src] & ok
            if ((out != vals) & known & src_known).any():
                return None
            fill = src_known & ~known
            if fill.any():
                out[fill] = vals[fill]
                known |= fill
                filled = True
        if not filled:  # a pass that fills nothing changes nothing: later passes agree
            break
    if not known.all():
        return None
    return out.reshape(h, w)


_FIRST_MAPS: dict[tuple, tuple] = {}


def _first_maps(h: int, w: int, kind: str, cands: tuple) -> tuple:
    """The first mirror map of every candidate axis, stacked: (sources, in-grid masks)."""
    key = (h, w, kind, cands)
    stacked = _FIRST_MAPS.get(key)
    if stacked is None:
        if len(_FIRST_MAPS) > _MAPS_LIMIT:
            _FIRST_MAPS.clear()
        firsts = [_flat_maps(h, w, kind, ay, ax)[0] for ay, ax in cands]
        stacked = (np.stack([f[0] for f in firsts]), np.stack([f[1] for f in firsts]))
        _FIRST_MAPS[key] = stacked
    return stacked


@functools.lru_cache(maxsize=8192)
def _axis_candidates(h: int, w: int, kind: str) -> tuple:
    """Axis sums to try for a shape, centred first (cached: it depends on the shape only)."""
    ays = sorted(set(range(max(1, h // 2), 2 * h - 2)), key=lambda a: abs(a - (h - 1)))
    axs = sorted(set(range(max(1, w // 2), 2 * w - 2)), key=lambda a: abs(a - (w - 1)))
    if kind == "lr":
        return tuple((h - 1, ax) for ax in axs[:7])
    if kind == "ud":
        return tuple((ay, w - 1) for ay in ays[:7])
    if kind == "diag":
        return tuple((a, a) for a in ays[:7] if a in axs) if h == w else ()
    return tuple((ay, ax) for ay in ays[:3] for ax in axs[:3])


def symmetry_complete(g: Grid, kind: str, mask_colour: int | None = None) -> Grid | None:
    """Fill cells of ``mask_colour`` (default: background) using a mirror symmetry.

    The axis positions are searched (centred first), so off-centre symmetric patterns
    are handled; the first axis consistent with all known cells is used. Axes whose first
    mirror map already contradicts a known cell are rejected together in one step.
    """
    h, w = g.shape
    m = background(g) if mask_colour is None else mask_colour
    unknown = g == m
    if not unknown.any() or unknown.all():
        return None
    cands = _axis_candidates(h, w, kind)
    if not cands or not _flat_maps(h, w, kind, *cands[0]):
        return None
    src, ok = _first_maps(h, w, kind, cands)
    flat = g.ravel()
    known = ~unknown.ravel()
    clash = ((flat[src] != flat) & known[src] & ok & known).any(axis=1)
    for (ay, ax), bad in zip(cands, clash.tolist(), strict=True):
        if bad:
            continue
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
