"""What benchmarks/daft.py and benchmarks/daft_peer.py share: the timing (interleaved rounds
after a warm-up, medians) and the hand-written Daft floors. No hotpipe import: the peer
benchmark runs in a separate venv that holds the peer and the Daft version it needs."""

from __future__ import annotations

import statistics
import time
from typing import Any


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def race(contenders: dict[str, Any], rounds: int) -> dict[str, float]:
    """Medians over interleaved rounds (A B C, A B C, ...) after one warm-up each."""
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            times[name].append(timed(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def chain_floor(xs: list[int]) -> list[str]:
    """(a) ``str((x + 1) * 2)`` as an expert writes it: one fused batch UDF over
    ``to_pylist()``."""
    import daft
    from daft import DataType, Series

    @daft.func.batch(return_dtype=DataType.string())
    def fused(x: Series) -> list:
        return [str((v + 1) * 2) for v in x.to_pylist()]

    df = daft.from_pydict({"x": xs})
    return df.select(fused(df["x"])).to_pydict()["x"]


def nested_floor(data: list[list[int]]) -> list[int]:
    """(d) per outer item, ``v + 1`` over its inner list, then the sum: explode -> batch UDF
    -> groupby/list_agg, sorted back into the outer order."""
    import daft
    from daft import DataType, Series, col

    @daft.func.batch(return_dtype=DataType.int64())
    def plus_b(v: Series) -> list:
        # an empty inner list explodes to one null row: it stays null
        return [None if x is None else x + 1 for x in v.to_pylist()]

    df = daft.from_pydict({"i": list(range(len(data))), "vs": data})
    df = df.explode("vs").with_column("w", plus_b(col("vs")))
    df = df.groupby("i").agg(col("w").list_agg().alias("ws")).sort("i")
    # lists that were empty explode to one null row: back to empty lists
    ws = [[x for x in row if x is not None] for row in df.to_pydict()["ws"]]
    return [sum(w) for w in ws]


def uneven_floor(docs: list[list[int]], per_item: float) -> list[list[int]]:
    """(g) a model-like batch UDF (``per_item`` seconds of GIL-free work per item, then
    ``x * 2``) over every chunk of uneven documents: explode (with a position column) ->
    batch UDF -> groupby/list_agg, each list put back in order by position, the documents
    sorted back into their order."""
    import daft
    from daft import DataType, Series, col

    @daft.func.batch(return_dtype=DataType.int64())
    def embed_b(v: Series) -> list:
        items = v.to_pylist()
        time.sleep(per_item * len(items))
        return [None if x is None else x * 2 for x in items]

    pairs = [[(j, x) for j, x in enumerate(doc)] for doc in docs]
    df = daft.from_pydict({"i": list(range(len(docs))), "pos": [[j for j, _ in p] for p in pairs],
                           "chunk": docs})
    df = df.explode("pos", "chunk").with_column("e", embed_b(col("chunk")))
    df = df.groupby("i").agg(col("e").list_agg().alias("es"),
                             col("pos").list_agg().alias("ps")).sort("i")
    out = df.to_pydict()  # a group's rows in any order: put them back by position
    return [[e for _, e in sorted((p, e) for p, e in zip(ps, es, strict=True) if p is not None)]
            for es, ps in zip(out["es"], out["ps"], strict=True)]
