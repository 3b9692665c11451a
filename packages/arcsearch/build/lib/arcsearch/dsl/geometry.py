"""Geometry: rotations, flips, transposes (all return contiguous copies)."""

from __future__ import annotations

import numpy as np

from .grid import Grid


def rot90(g: Grid) -> Grid:
    """Rotate 90 degrees clockwise."""
    return np.ascontiguousarray(np.rot90(g, -1))


def rot180(g: Grid) -> Grid:
    return np.ascontiguousarray(g[::-1, ::-1])


def rot270(g: Grid) -> Grid:
    """Rotate 90 degrees counter-clockwise."""
    return np.ascontiguousarray(np.rot90(g, 1))


def flip_h(g: Grid) -> Grid:
    """Mirror left-right."""
    return np.ascontiguousarray(g[:, ::-1])


def flip_v(g: Grid) -> Grid:
    """Mirror top-bottom."""
    return np.ascontiguousarray(g[::-1, :])


def transpose(g: Grid) -> Grid:
    return np.ascontiguousarray(g.T)


def antitranspose(g: Grid) -> Grid:
    return np.ascontiguousarray(g[::-1, ::-1].T)
