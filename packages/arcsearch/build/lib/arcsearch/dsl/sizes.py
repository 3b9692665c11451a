"""Output-size inference from demonstration pairs."""

from __future__ import annotations

from fractions import Fraction

from .grid import Grid


def infer_output_shape(pairs: list[tuple[Grid, Grid]]) -> tuple:
    """Describe how output shape follows from input shape.

    Returns one of ('same',), ('transpose',), ('const', h, w), ('scale', fy, fx) with
    Fractions, ('unknown',).
    """
    ins = [x.shape for x, _ in pairs]
    outs = [y.shape for _, y in pairs]
    if ins == outs:
        return ("same",)
    if all(o == (i[1], i[0]) for i, o in zip(ins, outs, strict=True)):
        return ("transpose",)
    if len(set(outs)) == 1 and len(pairs) > 1:
        return ("const", *outs[0])
    fy = {Fraction(o[0], i[0]) for i, o in zip(ins, outs, strict=True)}
    fx = {Fraction(o[1], i[1]) for i, o in zip(ins, outs, strict=True)}
    if len(fy) == 1 and len(fx) == 1:
        return ("scale", fy.pop(), fx.pop())
    if len(set(outs)) == 1:
        return ("const", *outs[0])
    return ("unknown",)


def predict_shape(rule: tuple, in_shape: tuple[int, int]) -> tuple[int, int] | None:
    """Apply an inferred size rule to an input shape (None if unknown / not integral)."""
    kind = rule[0]
    if kind == "same":
        return in_shape
    if kind == "transpose":
        return (in_shape[1], in_shape[0])
    if kind == "const":
        return (rule[1], rule[2])
    if kind == "scale":
        h, w = rule[1] * in_shape[0], rule[2] * in_shape[1]
        if h.denominator != 1 or w.denominator != 1:
            return None
        return (int(h), int(w))
    return None


Factors = set[tuple[int, int]]


def scale_factors(pairs: list[tuple[Grid, Grid]]) -> tuple[Factors, Factors]:
    """Integer (up, down) factor pairs (ky, kx) seen between input and output shapes."""
    up, down = set(), set()
    for x, y in pairs:
        (hi, wi), (ho, wo) = x.shape, y.shape
        if ho % hi == 0 and wo % wi == 0 and (ho > hi or wo > wi):
            up.add((ho // hi, wo // wi))
        if hi % ho == 0 and wi % wo == 0 and (hi > ho or wi > wo):
            down.add((hi // ho, wi // wo))
    return up, down
