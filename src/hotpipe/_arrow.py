"""Arrow arrays as mapped inputs: numbers become numpy array columns, the rest Python lists.

A map over a ``pyarrow.Array`` or ``pyarrow.ChunkedArray`` reads it once, by its type:

* **integers, floats or booleans without nulls**: the numpy array of the same values and
  dtype, without a copy where Arrow's memory is numpy's (a numeric ``Array``, or a
  ``ChunkedArray`` of one chunk: a read-only view). A ``ChunkedArray`` of several chunks is
  joined, and booleans (bits in Arrow, bytes in numpy) unpacked, in one copy. From then on it
  is an array column like a numpy input (:mod:`hotpipe._arrays`): batch nodes receive numpy
  slices, the results of batch steps are numpy arrays, singular nodes see the items
  ``list(array)`` gives (numpy scalars);
* **anything else** (nulls, strings, dates and times, decimals, nested or dictionary types):
  the list ``to_pylist()`` gives, Python values with ``None`` for a null, mapped as a list
  input is. numpy has no null, and a float NaN or a sentinel would change the values.

Nested maps receive each outer item's values as a list, so an Arrow array there is always
``to_pylist()``'s Python values.

pyarrow is never imported here: a value can only be an Arrow array when the caller imported
it, so ``import hotpipe`` does not pay for it.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["arrow_column", "arrow_list"]


def _arrow(values: Any) -> Any:
    """The pyarrow module when ``values`` is an Arrow array or chunked array, else None."""
    pa = sys.modules.get("pyarrow")
    if pa is None or not isinstance(values, (pa.Array, pa.ChunkedArray)):
        return None
    return pa


def _numeric(pa: Any, values: Any) -> bool:
    kind = values.type
    return values.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                                       or pa.types.is_boolean(kind))


def arrow_column(values: Any) -> Any:
    """``values`` as a map column when it is an Arrow array (a numpy array or a list, by
    the rule of this module), else None."""
    pa = _arrow(values)
    if pa is None:
        return None
    if not _numeric(pa, values):
        return values.to_pylist()
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks != 1:
            return values.to_numpy()  # joins the chunks (or an empty array of the dtype)
        values = values.chunk(0)
    return values.to_numpy(zero_copy_only=not pa.types.is_boolean(values.type))


def arrow_list(values: Any) -> list[Any] | None:
    """The Python values of an Arrow array (``to_pylist()``), else None."""
    return values.to_pylist() if _arrow(values) is not None else None
