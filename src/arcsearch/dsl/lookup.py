"""Classification tasks: the output is one of the demo outputs, chosen by a property of
the input (its number of colours, its objects, a symmetry, ...).

``learn_lookup(pairs, test_inputs)`` returns ``(feature, table)`` with ``table`` mapping a
value of one property of :data:`INPUT_FEATURES` (simplest first) to a demo output, when
that property separates the demos consistently, some output repeats (so the table is more
than a list of the demos), and every test input has a value the demos saw.
``lookup_output(g, feature, table)`` answers with the table's grid.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid, background, colour_counts
from .objects import components

INPUT_FEATURES = (
    "n_colours", "symmetric", "colour_set", "majority_colour", "minority_colour",
    "n_objects4", "n_objects8", "n_objects8_multi", "n_fg_cells",
)


def _fg_counts(g: Grid) -> np.ndarray:
    cnt = colour_counts(g).copy()
    cnt[background(g)] = 0
    return cnt


def input_feature(g: Grid, feature: str):
    """One property of a whole grid (an int or a tuple of ints)."""
    if feature == "n_colours":
        return int((colour_counts(g) > 0).sum())
    if feature == "colour_set":
        return tuple(int(c) for c in np.flatnonzero(_fg_counts(g)))
    if feature in ("majority_colour", "minority_colour"):
        cnt = _fg_counts(g)
        if not cnt.any():
            return -1
        if feature == "majority_colour":
            return int(cnt.argmax())
        return int(np.where(cnt > 0, cnt, 10**6).argmin())
    if feature == "n_objects4":
        return len(components(g, 4, False))
    if feature == "n_objects8":
        return len(components(g, 8, False))
    if feature == "n_objects8_multi":
        return len(components(g, 8, True))
    if feature == "n_fg_cells":
        return int(_fg_counts(g).sum())
    if feature == "symmetric":
        return (int(np.array_equal(g, g[:, ::-1])), int(np.array_equal(g, g[::-1])))
    raise ValueError(f"unknown input feature {feature!r}; choose from {INPUT_FEATURES}")


def _key(g: Grid) -> tuple:
    return tuple(tuple(int(v) for v in row) for row in g)


def learn_lookup(pairs: list[tuple[Grid, Grid]], test_inputs: list[Grid]) -> tuple | None:
    """``(feature, table)`` for :func:`lookup_output`, or None (module docstring)."""
    outs = [_key(y) for _, y in pairs]
    if len(set(outs)) >= len(outs) or len(set(outs)) < 2:
        return None
    for feature in INPUT_FEATURES:
        table: dict = {}
        consistent = all(table.setdefault(input_feature(x, feature), o) == o
                         for (x, _), o in zip(pairs, outs, strict=True))
        if consistent and all(input_feature(t, feature) in table for t in test_inputs):
            return feature, table
    return None


def lookup_output(g: Grid, feature: str, table: dict) -> Grid | None:
    """The grid ``table`` holds for ``g``'s value of ``feature`` (None when absent)."""
    out = table.get(input_feature(g, feature))
    return None if out is None else np.array(out, dtype=np.uint8)
