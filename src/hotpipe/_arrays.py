"""Array columns: a mapped numpy array stays an array through the batch steps of a map.

A map's columns are lists, except that a mapped input given as a numpy array (one
dimension or more, any dtype but ``object``) is kept as that array, and an Arrow array of
numbers without nulls is read as one (:mod:`hotpipe._arrow`). The values that stay
arrays are fixed by the plan and by which inputs are arrays (:func:`array_names`): such an
input, and the output of a single-output batch step (``batch=True``, ``.batch`` or
``vectorize=``) that reads one of them. Batch steps receive slices of those columns (arrays,
no copy), and an array result stays an array in the column: no list is built between two
batch steps. A singular node still receives one item at a time, exactly the values
``list(array)`` gives (numpy scalars, rows of a 2-D array), converted once per column and
chunk and only when a singular node reads it.

An output that may be an array is one when its items allow it (:func:`from_items`: numpy
scalars of one type, or arrays of one dtype and shape), whatever computed it: the batch
function's arrays are concatenated as they are, and the cached runner rebuilds the same
array from the items it stored one by one, so a cached map returns what an uncached one
does. Anything else (a failed item, Python objects) leaves the column a list, as before.

numpy is never imported here: a column can only be an array when the caller imported it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hotpipe._arrow import arrow_column
from hotpipe._values import as_list

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from hotpipe.plan import Plan, Step

__all__ = ["NO_ARRAYS", "Parts", "append_column", "array_chunk", "array_names", "as_column",
           "finish_column", "from_items", "is_array", "is_vector_step", "items_of", "take"]

NO_ARRAYS: frozenset[str] = frozenset()


def is_array(value: Any) -> bool:
    """``value`` is a plain ``numpy.ndarray`` (not a subclass: masked arrays, matrices and
    record arrays keep the list path)."""
    np = sys.modules.get("numpy")
    return np is not None and type(value) is np.ndarray


def as_column(name: str, values: Any, where: str = "map") -> Any:
    """A mapped input as a column: a numpy array of one dimension or more (not ``object``
    dtype) as it is, an Arrow array as :func:`hotpipe._arrow.arrow_column` reads it (numbers
    as numpy, the rest as a list), anything else as :func:`~hotpipe._values.as_list` makes
    it."""
    if type(values) is not list:
        if is_array(values):
            if values.ndim >= 1 and values.dtype.kind != "O":
                return values
        else:
            column = arrow_column(values)
            if column is not None:
                return column
    return as_list(name, values, where)


def is_vector_step(step: Step) -> bool:
    """The step is called with whole columns: a batch implementation or ``vectorize=``."""
    return step.batch is not None or step.node.vectorize is not None


def array_names(plan: Plan, columns: Mapping[str, Any]) -> frozenset[str]:
    """The values of ``plan`` that may be arrays in a chunk with these ``columns``: the
    array inputs, and the outputs of single-output batch steps reading one of them.

    Empty (and computed in a loop over the columns) when no column is an array: the usual
    map of lists pays one type check per column and chunk.
    """
    arrays = [name for name, col in columns.items() if type(col) is not list and is_array(col)]
    if not arrays:
        return NO_ARRAYS
    from hotpipe._state import state_of

    key = frozenset(arrays)
    known = state_of(plan).arrays
    names = known.get(key)
    if names is None:
        found = set(key)
        for step in plan.steps:
            if (step.mapped and step.nested is None and not step.unpack
                    and is_vector_step(step) and any(a in found for a in step.args)):
                found.update(step.outputs)
        names = known[key] = frozenset(found)
    return names


def array_chunk(engine: Any, plan: Plan, columns: Mapping[str, Any]) -> int | None:
    """The engine's chunk size for maps whose batch steps read arrays (``Local``'s
    ``array_chunk`` when no ``chunk_size`` was given), or None: its usual choice."""
    size = getattr(engine, "array_chunk", None)
    if size is None:
        return None
    arrays = array_names(plan, columns)
    if arrays and any(s.mapped and is_vector_step(s) and any(a in arrays for a in s.args)
                      for s in plan.steps):
        return size
    return None


def items_of(cols: dict[str, Any], step: Step, memo: dict[str, list[Any]]) -> dict[str, Any]:
    """``cols`` with the array columns that ``step`` reads as lists of items (what
    ``list(array)`` gives), each converted once per chunk (``memo``)."""
    out = cols
    for a in step.args:
        col = cols.get(a)
        if col is not None and type(col) is not list and is_array(col):
            listed = memo.get(a)
            if listed is None:
                listed = memo[a] = list(col)
            if out is cols:
                out = dict(cols)
            out[a] = listed
    return out


def from_items(values: Any) -> Any:
    """An array of the items when they allow one, else ``values`` unchanged: numpy
    scalars all of one type (one array of them), or arrays all of one dtype and shape
    (stacked). Python objects, a ``FAILED`` item, or mixed types keep the list."""
    if type(values) is not list or not values:
        return values
    np = sys.modules.get("numpy")
    if np is None:
        return values
    first = values[0]
    kind = type(first)
    if kind is np.ndarray:
        dtype, shape = first.dtype, first.shape
        if dtype.kind == "O" or not all(
                type(v) is np.ndarray and v.dtype == dtype and v.shape == shape for v in values):
            return values
        return np.stack(values)
    if not isinstance(first, np.generic) or isinstance(first, np.object_):
        return values
    if not all(type(v) is kind for v in values):
        return values
    return np.array(values)


def take(col: Any, idx: Sequence[int], eligible: bool) -> Any:
    """The items ``idx`` (ascending) of a column: an array stays an array (a view when
    ``idx`` is all of it), a list that may be an array becomes one when its items allow."""
    if type(col) is not list and is_array(col):
        return col if len(idx) == len(col) else col[list(idx)]
    sub = [col[i] for i in idx]
    return from_items(sub) if eligible else sub


# ----------------------------------------------------------------------------- merging


class Parts(list):
    """The chunks of one output column while a map's chunks are merged: concatenated once,
    at the end, by :func:`finish_column` (not once per chunk)."""


def append_column(col: Any, part: Any) -> Any:
    """Add a chunk's column ``part`` to the merged ``col``; returns the new ``col``."""
    if type(col) is Parts:
        col.append(part)
        return col
    if not col and type(part) is not list and is_array(part):
        return Parts([part])
    col.extend(part)
    return col


def finish_column(col: Any) -> Any:
    """The merged column: the chunks' arrays concatenated when they agree in dtype and item
    shape, else one list of every item."""
    if type(col) is not Parts:
        return col
    import numpy as np

    first = col[0]
    if all(type(p) is np.ndarray and p.dtype == first.dtype and p.shape[1:] == first.shape[1:]
           for p in col):
        return first if len(col) == 1 else np.concatenate(col)
    items: list[Any] = []
    for part in col:
        items.extend(part)
    return from_items(items)
