"""Values to payload bytes and back: pickle protocol 5.

A protocol-5 pickle starts with the bytes ``80 05``, which serve as the format tag: other
formats later (raw buffers, Arrow) start with another byte, without breaking old caches. A
payload with an unknown tag is reported like a corrupt one, as a miss.

>>> loads(dumps({"a": [1, None]}))
{'a': [1, None]}
>>> dumps(None)[:2]
b'\\x80\\x05'
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["dumps", "loads"]

_PICKLE5 = b"\x80\x05"


def dumps(value: Any) -> bytes:
    """The payload of a value; raises whatever pickle raises for an unpicklable value."""
    return pickle.dumps(value, protocol=5)


def loads(payload: bytes | memoryview) -> Any:
    """The value of a payload; raises ``ValueError`` for an unknown format tag."""
    if payload[:2] != _PICKLE5:
        raise ValueError(f"unknown cache payload format {bytes(payload[:2])!r}")
    return pickle.loads(payload)
