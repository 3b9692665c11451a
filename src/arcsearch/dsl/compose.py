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


AUGMENTATIONS = ("transpose", "colours")


def colour_order(g: Grid) -> np.ndarray:
    """A colour permutation (a 256-entry lookup table) ranking ``g``'s colours by count,
    most frequent first (ties: lower colour first), then the absent colours in order."""
    counts = np.bincount(g.ravel(), minlength=10)[:10]
    present = sorted((c for c in range(10) if counts[c]), key=lambda c: (-counts[c], c))
    order = present + [c for c in range(10) if not counts[c]]
    lut = np.arange(256, dtype=np.uint8)
    lut[order] = np.arange(10, dtype=np.uint8)
    return lut


def augment(g: Grid, aug: str, ref: Grid | None = None) -> Grid:
    """The grid in the augmented task: transposed, or with colours renamed by the
    frequency order of ``ref`` (the pair's input; ``g`` itself by default)."""
    if aug == "transpose":
        return np.ascontiguousarray(g.T)
    if aug == "colours":
        return colour_order(g if ref is None else ref)[g]
    raise ValueError(f"unknown augmentation {aug!r}; choose from {AUGMENTATIONS}")


def restore(out: Grid, aug: str, ref: Grid) -> Grid:
    """Map a result of the augmented task back (``ref``: the original input)."""
    if aug == "transpose":
        return np.ascontiguousarray(out.T)
    inv = np.argsort(colour_order(ref)[:10]).astype(np.uint8)
    lut = np.arange(256, dtype=np.uint8)
    lut[:10] = inv
    return lut[out]


def under(g: Grid, aug: str, steps) -> Grid | None:
    """Run ``steps`` on the augmented grid and map the result back."""
    out = run_steps(augment(g, aug), steps)
    return None if out is None else restore(out, aug, g)
