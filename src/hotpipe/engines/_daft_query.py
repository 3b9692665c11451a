"""The Daft query around ``fused_steps``, generated as text, compiled and executed.

:func:`query_source` writes the query of one map: the ``@daft.cls`` batch UDF with its
options (the nodes' hints, the batch size, the return type), the index column, the
partitions on Ray, the collect. Its UDF hands each batch's runs of rows to
``run_rows(fused_steps, payload, runs)``. ``hotpipe.Daft`` compiles this text after
``fused_steps`` (:func:`hotpipe.engines._daft_code.engine_text`) with
:func:`compile_query`, in a namespace holding the node functions by name and hotpipe's glue
(``run_rows``: the fused steps, a failing run again through hotpipe's column executor for
the item-indexed errors; ``unbox``, ``row_runs``, ``index_column``, on native ``sink``);
``pipe.to_daft()`` writes the same text after its own definitions of those names. The text
is in the profile's notes: what users read there is what ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["FILENAME", "compile_query", "hints_of", "query_source", "suffixed"]

FILENAME = "<hotpipe Daft query>"
INDEX, OUT, BLOCK = "__hotpipe_index", "__hotpipe_out", "__hotpipe_items"


def hints_of(plan: Any) -> dict[str, Any]:
    """The nodes' ``cpus``/``gpus`` hints as Daft's UDF options (the largest of the mapped
    steps, inner steps of nested maps included: they run fused in one UDF).

    ``memory`` is not passed: Daft 0.7.26's ``@daft.cls`` has no memory option, and it
    refuses ``ray_options={"memory": ...}`` (its error asks for a ``memory_bytes`` argument
    that this release does not have)."""
    from hotpipe.engines._daft_code import _all_steps

    steps = [s for s in plan.steps if s.mapped]
    steps += [s for step in steps if step.nested is not None
              for s in _all_steps(step.nested.pre) + _all_steps(step.nested.body)]
    options: dict[str, Any] = {}
    for key in ("cpus", "gpus"):
        values = [getattr(s.node.hints, key) or 0 for s in steps]
        if values and max(values) > 0:
            options[key] = max(values)
    return options


MORSEL = 131_072
"""Rows per batch that Daft's native runner chooses by itself (measured with Daft 0.7.26: a
map of 1,000,000 rows ran in 8 batches); a map under ``2 * cores`` of them would be one or
a few batches, run on one or a few of Daft's threads."""


def spread_batch(n: int) -> int | None:
    """The native runner's batch size for ``n`` rows when none is given (and no async node
    caps its items in flight: its cap holds per batch): about two batches per core, so that
    a node that releases the GIL (numpy, torch, I/O, ``time.sleep``) runs on every core (16
    items of 50 ms: 0.82 s as one batch, 0.42 s as four, 2 cores), while a cheap chain costs
    the same (100,000 items: 0.048 s as one batch, 0.041 s as four). A map of
    ``2 * cores * MORSEL`` rows or more keeps Daft's own size (None)."""
    parts = 2 * (os.cpu_count() or 1)
    if n >= parts * MORSEL:
        return None
    return max(1, -(-n // parts))


def query_source(*, runner: str, n: int, names: Sequence[str], hints: dict[str, Any],
                 batch_size: int | None, block: int | None, partitions: int | None,
                 fused: bool = True) -> str:
    """The query over ``n`` items on ``runner`` (``"native"`` or ``"ray"``; on Ray a row is
    a block of ``block`` items and the DataFrame has ``partitions`` partitions); ``fused``:
    whether ``fused_steps`` is the fused text (else None: hotpipe's executor runs them)."""
    remote = runner == "ray"
    rows = n if block is None else -(-n // block)
    options = [f"{k}={v!r}" for k, v in hints.items()]
    if not remote:  # in this process: Daft would otherwise run a class in a subprocess
        options.append("use_process=False")
    method = ["return_dtype=DataType.python()" if remote else "return_dtype=DataType.int64()"]
    size = 1 if remote else batch_size
    if size is not None:
        method.append(f"batch_size={size}")
    lines = [
        f"# hotpipe.Daft query (generated; this text is compiled and run): {n:,} items on "
        f"the {runner} runner",
        f"# every per-item step fused in ONE batch UDF: {list(names)}, "
        + ("by `fused_steps` above;" if fused else "by hotpipe's column executor;"),
        "# in hotpipe.Daft a run of rows that raises goes on from the failing item through",
        "# hotpipe's column executor, which names it (NodeError) or collects it (on_error)",
        f"@daft.cls({', '.join(options)})",
        "class HotpipePlan:",
        "    # Daft builds the class once per worker and keeps it for every batch there: the",
        "    # resources in the map's payload are built once per worker process",
        "    def __init__(self, box):",
        "        self.payload = unbox(box)",
        "",
        f"    @daft.method.batch({', '.join(method)})",
        "    def __call__(self, index: Series) -> Series:",
    ]
    if remote:
        lines[-1] = "    def __call__(self, index: Series, items: Series) -> Series:"
        lines += [
            f"        # a row is a block of {block} items, carried in the row (so only to the "
            "worker",
            "        # that runs it); one Python object per block comes back",
            f"        runs = [(k * {block}, min({n}, k * {block} + {block})) "
            "for k in index.to_pylist()]",
            "        blocks = items.to_pylist()",
            "        return Series.from_pylist(run_rows(fused_steps, self.payload, runs, blocks), "
            "dtype=DataType.python())",
        ]
    else:
        lines += [
            "        for run in run_rows(fused_steps, self.payload, row_runs(index)):",
            "            sink[run[0]] = run  # the results stay in this process, arrays as arrays",
            "        return index  # Daft needs a column of the batch's length: this one is free",
        ]
    lines += [
        "",
        "",
        "def query(box, blocks):" if remote else "def query(box):",
        "    # the index column carries the item order (Ray returns rows in any order)",
    ]
    if remote:
        lines += [
            "    # each row's items, pickled in the driver: a partition gets its own rows' items",
            f"    df = daft.from_pydict({{{INDEX!r}: index_column({rows}), {BLOCK!r}: blocks}})",
            f"    df = df.into_partitions({max(1, min(rows, partitions or 1))})",
            f"    df = df.select(HotpipePlan(box)(df[{INDEX!r}], df[{BLOCK!r}]).alias({OUT!r}))",
        ]
    else:
        lines += [
            f"    df = daft.from_pydict({{{INDEX!r}: index_column({rows})}})",
            f"    df = df.select(HotpipePlan(box)(df[{INDEX!r}]).alias({OUT!r}))",
        ]
    if remote:
        lines.append(f"    return df.to_pydict()[{OUT!r}]")
    else:
        lines += ["    df.to_arrow()  # runs the query; the results are in `sink`",
                  "    return []"]
    return "\n".join(lines) + "\n"


def compile_query(text: str, namespace: dict[str, Any], suffix: str = "") -> Any:
    """Compile and execute ``text`` in ``namespace``; returns its ``query`` function
    (``query`` + ``suffix``: one query of an exploded map, see :func:`suffixed`).

    The namespace's module name is not importable, so on Ray cloudpickle sends the class by
    value with the names it reads (hotpipe's functions travel by reference)."""
    import itertools

    import daft
    from daft import DataType, Series

    scope = {"__name__": "hotpipe_daft_query", "daft": daft, "DataType": DataType,
             "Series": Series, "itertools": itertools, **namespace}
    exec(compile(text, FILENAME, "exec"), scope)  # the generated query, nothing else
    return scope["query" + suffix]


def suffixed(text: str, suffix: str) -> str:
    """The text with its names ``fused_steps``, ``HotpipePlan`` and ``query`` suffixed (an
    exploded map's script holds several queries: ``query_1``, ``query_2``, ...)."""
    if not suffix:
        return text
    text = re.sub(r"\bfused_steps\b", "fused_steps" + suffix, text)
    text = re.sub(r"\bHotpipePlan\b", "HotpipePlan" + suffix, text)
    return text.replace("def query(", f"def query{suffix}(")
