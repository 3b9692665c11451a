"""Values to payload bytes and back: pickle protocol 5 behind a one-byte format tag.

The tag leaves room for other formats later (raw buffers, Arrow) without breaking old caches;
a payload with an unknown tag is reported like a corrupt one, as a miss.

>>> loads(dumps({"a": [1, None]}))
{'a': [1, None]}
"""

from __future__ import annotations

import io
import pickle
from typing import Any

__all__ = ["dumps", "loads"]

_PICKLE5 = b"\x01"


def dumps(value: Any) -> bytes:
    """The payload of a value; raises whatever pickle raises for an unpicklable value."""
    buffer = io.BytesIO()
    buffer.write(_PICKLE5)
    pickle.Pickler(buffer, protocol=5).dump(value)
    return buffer.getvalue()


def loads(payload: bytes | memoryview) -> Any:
    """The value of a payload; raises ``ValueError`` for an unknown format tag."""
    view = memoryview(payload)
    if view[0] != 1:
        raise ValueError(f"unknown cache payload format {bytes(view[:1])!r}")
    return pickle.loads(view[1:])
