"""Sizes written for people: ``"500MB"``, ``"1.5GiB"``, ``"4GB"``."""

from __future__ import annotations

import re

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional unit (KB, MB, GB, TB decimal; KiB, MiB,
    GiB, TiB binary), case-insensitive.

    >>> parse_size("1.5GiB")
    1610612736
    >>> parse_size("500MB")
    500000000
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(
            f"invalid size {text!r}: use a number and an optional unit, one of B, KB, MB, GB, "
            "TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 500MB or 1.5GiB"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_size(n: float) -> str:
    """``1536`` -> ``"1.5 KB"`` (powers of 1000, like the units ``parse_size`` reads)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
