"""Recall@k and MRR of a ranking, and the BM25 baseline (``bm25s``) beside the model."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["bm25_hits", "scores"]


def scores(hits: Sequence[Sequence[int]], ks: tuple[int, ...] = (1, 10)) -> dict[str, float]:
    """``recall@k`` for each k and ``mrr`` (over the ranks returned; a relevant passage
    ranked below them counts 0), where query i's one relevant passage is passage i."""
    n = len(hits) or 1
    out = {f"recall@{k}": sum(i in h[:k] for i, h in enumerate(hits)) / n for k in ks}
    out["mrr"] = sum(1 / (list(h).index(i) + 1) for i, h in enumerate(hits) if i in h) / n
    return out


def bm25_hits(passages: list[str], queries: list[str], k: int = 10) -> list[list[int]]:
    """The ``k`` best passages per query by BM25 (bm25s: Lucene's variant, English
    stopwords), best first."""
    from examples.retrieval.model import require_bm25

    bm25s = require_bm25()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(passages, stopwords="en", show_progress=False),
                    show_progress=False)
    tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False)
    found, _ = retriever.retrieve(tokens, k=min(k, len(passages)), show_progress=False,
                                  n_threads=1)
    return [[int(i) for i in row] for row in found]
