"""The retrieval pipeline, written once; the natural form and the advised one differ only in
the hotpipe features they use.

*Natural* (what a first version looks like, as seed 000 had it): one ``run`` over the two
lists, a node that loads the encoder, and two nested maps, ``encode_passages`` (the singular
``encode_passage`` over every passage) and ``search`` (``encode_query`` then ``retrieve`` over
every query)::

    load_encoder -> encode_passages[encode_passage over passage] -> build_index
                 -> search[encode_query, retrieve over query] -> hits

*Advised* (the changes ``hotpipe.advise`` names on the natural run, applied with hotpipe
features, the node functions untouched): the encoder a ``hotpipe.resource`` (built once per
process and kept between calls, never pickled), a batch implementation attached with
``node.batch`` where the advisor measured that it pays (the queries on a CPU; the passages
too on a GPU), and the two nested maps mapped at the top level (``inner.map(..., over=...)``)
so that any engine can spread their items: ``Local``, ``Processes``, ``Daft``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from examples.retrieval.model import load_model

import hotpipe
from hotpipe import Pipeline, node

__all__ = [
    "BATCH_SIZE",
    "K",
    "advised",
    "build_index",
    "encode_passage",
    "encode_passage_batch",
    "encode_query",
    "encode_query_batch",
    "encoder",
    "load_encoder",
    "natural",
    "natural_pipeline",
    "passage_pipeline",
    "query_pipeline",
    "retrieve",
]

K = 10
"""Passages retrieved per query (recall@10 reads all of them)."""

BATCH_SIZE = 32
"""Texts per forward pass in the batch implementations (sentence-transformers' default)."""


# --------------------------------------------------------------------------- the nodes


@node(output="model")
def load_encoder(threads: int | None = None) -> Any:
    """The natural way to get the model into a pipeline: a node that loads it."""
    return load_model(threads)


@node(output="passage_embedding")
def encode_passage(passage: str, model: Any) -> np.ndarray:
    return model.encode(passage, normalize_embeddings=True)


def encode_passage_batch(passage: list[str], model: Any) -> np.ndarray:
    """``encode_passage`` for a list of passages: one ``model.encode`` call, batches of 32."""
    return _one(model).encode(passage, batch_size=BATCH_SIZE, normalize_embeddings=True)


def _one(model: Any) -> Any:
    """A batch function receives a resource built, and a plain value as a list of repeats."""
    return model[0] if isinstance(model, list) else model


@node(output="index")
def build_index(passage_embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """A dense index: the normalised embeddings stacked, one row per passage (a dot product
    is the cosine similarity; 1,230 x 384 floats need no ANN library)."""
    return np.vstack(passage_embeddings).astype(np.float32, copy=False)


@node(output="query_embedding")
def encode_query(query: str, model: Any) -> np.ndarray:
    return model.encode(query, normalize_embeddings=True)


def encode_query_batch(query: list[str], model: Any) -> np.ndarray:
    return _one(model).encode(query, batch_size=BATCH_SIZE, normalize_embeddings=True)


@node(output="hits")
def retrieve(query_embedding: np.ndarray, index: np.ndarray, k: int = K) -> list[int]:
    """The ``k`` passages most similar to the query, best first (ties by passage order)."""
    scores = index @ query_embedding
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    return [int(i) for i in top[np.lexsort((top, -scores[top]))]]


# --------------------------------------------------------------------------- natural


def natural_pipeline() -> Pipeline:
    """The pipeline as a first version writes it: the model from a node, nested maps."""
    passages = Pipeline([encode_passage], name="passages").as_node(
        name="encode_passages", over="passage", inputs={"passages": "passage"},
        outputs={"passage_embedding": "passage_embeddings"})
    search = Pipeline([encode_query, retrieve], name="search").as_node(
        name="search", over="query", inputs={"queries": "query"}, outputs={"hits": "hits"})
    return Pipeline([load_encoder, passages, build_index, search], name="retrieval")


def natural(passages: list[str], queries: list[str], *, threads: int | None = None,
            engine: hotpipe.Engine | None = None) -> hotpipe.Result:
    """One ``run`` of the natural pipeline: ``result["hits"][i]`` ranks passages for query i."""
    inputs: dict[str, Any] = {"passages": passages, "queries": queries}
    if threads is not None:
        inputs["threads"] = threads
    return natural_pipeline().run(inputs, engine=engine)


# --------------------------------------------------------------------------- advised


def encoder(threads: int | None = None) -> hotpipe.Resource:
    """The model as a resource: declared here, built once per process where a node needs it
    (kept while the declaration lives), never pickled."""
    return hotpipe.resource(load_model, threads)


def passage_pipeline(batch: bool = False) -> Pipeline:
    """``encode_passage``, with its batch implementation attached when ``batch`` (``map``
    then calls it with lists). Off by default: on a CPU the advisor measures no gain for
    passages (docs/retrieval.md: their lengths vary, and a batch pads every passage to its
    longest), so it does not name this change."""
    step = encode_passage.batch(encode_passage_batch) if batch else encode_passage
    return Pipeline([step], name="passages")


def query_pipeline(batch: bool = True) -> Pipeline:
    """``encode_query`` (with its batch implementation when ``batch``: the advisor measured
    3x on the short queries) and ``retrieve``."""
    step = encode_query.batch(encode_query_batch) if batch else encode_query
    return Pipeline([step, retrieve], name="search")


def advised(passages: list[str], queries: list[str], model: hotpipe.Resource, *,
            engine: hotpipe.Engine | None = None, batch_passages: bool = False,
            batch_queries: bool = True) -> dict[str, Any]:
    """The natural pipeline with the advisor's changes: the encoder a resource, the batch
    implementations it measured a gain for, the nested maps mapped at the top level on
    ``engine``. Returns the hits and the two maps' results (their profiles)."""
    encoded = passage_pipeline(batch_passages).map(
        {"passage": passages, "model": model}, over="passage", engine=engine)
    index = build_index(encoded["passage_embedding"])
    searched = query_pipeline(batch_queries).map(
        {"query": queries, "model": model, "index": index}, over="query", engine=engine)
    return {"hits": searched["hits"], "passages": encoded, "queries": searched}
