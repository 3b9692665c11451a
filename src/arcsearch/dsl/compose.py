"""Programs over two or more sub-programs: overlays of transformed grids."""

from __future__ import annotations

import importlib

import numpy as np

from .grid import Grid


def run_steps(g: Grid, steps) -> Grid | None:
    """Apply ``steps`` ((name, params), ...) of DSL primitives to ``g``; None if one fails."""
    dsl = importlib.import_module("arcsearch.dsl")
    for name, params in steps:
        g = getattr(dsl, name)(g, *params)
        if g is None:
            return None
    return g


def stack_layers(g: Grid, programs, transparent: int) -> Grid | None:
    """Run each program on ``g`` and overlay the results, the first program on top;
    cells of colour ``transparent`` show the layers below (a grid of ``transparent`` at
    the bottom). All results must have one shape."""
    layers = [run_steps(g, p) for p in programs]
    if any(x is None for x in layers) or len({x.shape for x in layers}) != 1:
        return None
    out = np.full(layers[0].shape, transparent, dtype=np.uint8)
    for x in reversed(layers):
        painted = x != transparent
        out[painted] = x[painted]
    return out
