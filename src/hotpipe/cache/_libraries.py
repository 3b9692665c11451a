"""Fingerprints of library types, registered without importing the libraries.

numpy by qualified name (its class names are stable), pandas by one classifier for every class
whose module starts with ``pandas`` (pandas 3 moved its public classes to ``pandas.Series``
and friends; ``isinstance`` against the imported classes matches both 2 and 3), pyarrow and
pydantic by name. Each token covers what equality and behaviour depend on: an ndarray
subclass's class and metadata, a masked array's mask and fill value, a pandas object's index,
names, dtypes, missing values and ``attrs``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from hotpipe.cache.keys import register, register_package

__all__: list[str] = []

# --- numpy -----------------------------------------------------------------------------------


def _buffer(a: Any) -> Any:
    import numpy as np

    if a.dtype.hasobject:
        return np.asarray(a).tolist()
    flat = np.ascontiguousarray(a).reshape(-1)  # copies only if not C-contiguous already
    return memoryview(flat.view(np.uint8))


@register("numpy.ndarray")
def _numpy_array(a: Any) -> Any:
    import numpy as np

    body = (a.dtype.descr, a.shape, _buffer(a))
    cls = type(a)
    if cls is np.ndarray or isinstance(a, np.memmap):  # a memmap is its content
        return body
    # a subclass: its class (the code of a user's class) and what it keeps in __dict__
    # (an astropy-like unit, a label): the state its behaviour depends on
    return (*body, cls, dict(getattr(a, "__dict__", None) or {}))


@register("numpy.generic")
def _numpy_scalar(v: Any) -> Any:
    return (v.dtype.descr, v.tobytes()) if not v.dtype.hasobject else (v.item(),)


@register("numpy.dtype")
def _numpy_dtype(d: Any) -> Any:
    return d.descr


def _numpy_masked(a: Any) -> Any:
    import numpy as np

    data = np.asarray(a.data)
    mask = np.ma.getmaskarray(a)  # nomask and an all-False mask behave the same
    return (type(a), data.dtype.descr, data.shape, _buffer(data), _buffer(mask),
            _buffer(np.asarray(a.fill_value)), bool(a.hardmask))


for _name in ("numpy.ma.core.MaskedArray", "numpy.ma.MaskedArray"):  # numpy 1 and 2 names
    register(_name)(_numpy_masked)


# --- pandas ----------------------------------------------------------------------------------


def _pandas_array(values: Any) -> Any:
    """An array's content with its dtype: numpy arrays as they are; extension arrays by
    their parts (categories and codes, int64 ticks and timezone, data and mask) or, for the
    others, element by element (missing values are pd.NA/NaT/None tokens)."""
    import numpy as np
    import pandas as pd

    dtype = str(values.dtype)
    if isinstance(values, np.ndarray):
        return (dtype, values)
    if isinstance(values, pd.Categorical):
        return (dtype, values.ordered, _pandas_index(values.categories), np.asarray(values.codes))
    asi8 = getattr(values, "asi8", None)
    if asi8 is not None:  # datetimes, timedeltas, periods: ticks (NaT is the minimum)
        return (dtype, np.asarray(asi8))
    mask = getattr(values, "_mask", None)
    data = getattr(values, "_data", None)
    if isinstance(mask, np.ndarray) and isinstance(data, np.ndarray):  # Int64, boolean, ...
        return (dtype, np.where(mask, np.zeros_like(data), data), mask)
    return (dtype, [_pandas_scalar_or(v) for v in np.asarray(values, dtype=object).tolist()])


def _pandas_scalar_or(v: Any) -> Any:
    import pandas as pd

    if v is pd.NA:
        return ("pandas.NA",)
    if v is pd.NaT:
        return ("pandas.NaT",)
    return v


def _pandas_index(index: Any) -> Any:
    import pandas as pd

    kind = type(index).__name__
    if isinstance(index, pd.RangeIndex):
        return (kind, list(index.names), index.start, index.stop, index.step)
    if isinstance(index, pd.MultiIndex):
        levels = [_pandas_index(level) for level in index.levels]
        return (kind, list(index.names), levels, [list(c) for c in index.codes])
    return (kind, list(index.names), _pandas_array(index.array))


def _pandas_series(s: Any) -> Any:
    return (s.name, _pandas_index(s.index), _pandas_array(s.array), dict(s.attrs),
            s.flags.allows_duplicate_labels)


def _pandas_frame(df: Any) -> Any:
    columns = [_pandas_array(df.iloc[:, i].array) for i in range(df.shape[1])]
    return (_pandas_index(df.columns), _pandas_index(df.index), columns, dict(df.attrs),
            df.flags.allows_duplicate_labels)


def _pandas_timestamp(t: Any) -> Any:
    return (t.value, getattr(t, "unit", "ns"), str(t.tz))


def _pandas_period(p: Any) -> Any:
    return (p.ordinal, p.freqstr)


def _pandas_interval(i: Any) -> Any:
    return (i.left, i.right, i.closed)


@register_package("pandas")
def _pandas(cls: type) -> Callable[[Any], Any] | None:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    rules: list[tuple[Any, Callable[[Any], Any]]] = [
        (pd.DataFrame, _pandas_frame),
        (pd.Series, _pandas_series),
        (pd.Index, _pandas_index),
        (pd.api.extensions.ExtensionArray, _pandas_array),
        (pd.Timestamp, _pandas_timestamp),
        (pd.Timedelta, lambda t: (t.value, getattr(t, "unit", "ns"))),
        (pd.Period, _pandas_period),
        (pd.Interval, _pandas_interval),
        (type(pd.NA), lambda v: "NA"),
        (type(pd.NaT), lambda v: "NaT"),
    ]
    return next((token for base, token in rules if issubclass(cls, base)), None)


# --- pyarrow, pydantic -----------------------------------------------------------------------


def _arrow_ipc(table: Any) -> memoryview:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


@register("pyarrow.lib.Table")
def _arrow_table(table: Any) -> Any:
    return _arrow_ipc(table.combine_chunks())


@register("pyarrow.lib.RecordBatch")
def _arrow_batch(batch: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.Table.from_batches([batch]))


@register("pyarrow.lib.Array")
def _arrow_array(array: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.table({"_": array}))


@register("pyarrow.lib.ChunkedArray")
def _arrow_chunked(array: Any) -> Any:
    import pyarrow as pa

    return _arrow_ipc(pa.table({"_": array}).combine_chunks())


@register("pydantic.main.BaseModel")
def _pydantic_model(model: Any) -> Any:
    fields = getattr(type(model), "model_fields", None) or getattr(model, "__fields__", {})
    extra = getattr(model, "__pydantic_extra__", None) or {}
    return (type(model), [(name, getattr(model, name)) for name in fields], extra)
