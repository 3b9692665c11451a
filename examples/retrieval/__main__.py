"""``python -m examples.retrieval``: the natural pipeline, the advisor on it, the advised
pipeline on an engine, and recall@1, recall@10 and MRR for the model and for BM25."""

from __future__ import annotations

import argparse
import time

from examples.retrieval import pipeline as P
from examples.retrieval.corpus import load_corpus
from examples.retrieval.metrics import bm25_hits, scores
from rich.console import Console
from rich.table import Table

import hotpipe

ENGINES = {"local": lambda: hotpipe.Local(), "processes": lambda: hotpipe.Processes(2),
           "daft": lambda: hotpipe.Daft()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.retrieval", description=__doc__)
    parser.add_argument("--size", type=int, default=None,
                        help="pairs of the corpus (default: all, about 1,150)")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="local",
                        help="engine of the advised pipeline (default: local)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per process (default 1: one core per worker)")
    parser.add_argument("--no-advice", action="store_true", help="skip the natural run")
    args = parser.parse_args(argv)
    console = Console()

    corpus = load_corpus(args.size)
    console.print(f"corpus: {len(corpus):,} queries (docstring summaries), "
                  f"{len(corpus.passages):,} passages (their bodies, plus "
                  f"{len(corpus.passages) - len(corpus):,} pydoc topics)")
    rows = [("BM25 (bm25s)", scores(bm25_hits(corpus.passages, corpus.queries)), None)]
    if not args.no_advice:
        t0 = time.perf_counter()
        natural = P.natural(corpus.passages, corpus.queries, threads=args.threads)
        rows.append(("MiniLM, natural run", scores(natural["hits"]), time.perf_counter() - t0))
        console.print(natural.profile)
        console.print("[bold]advice[/bold] on the natural run (measure=True)")
        console.print(natural.advise(
            measure=True, inputs={"passages": corpus.passages, "queries": corpus.queries},
            batches={"encode_passage": P.encode_passage_batch,
                     "encode_query": P.encode_query_batch}))
    engine = ENGINES[args.engine]()
    model = P.encoder(args.threads)
    t0 = time.perf_counter()
    out = P.advised(corpus.passages, corpus.queries, model, engine=engine)
    rows.append((f"MiniLM, advised on {args.engine}", scores(out["hits"]),
                 time.perf_counter() - t0))
    console.print(out["passages"].profile)

    table = Table(title="retrieval: query = a docstring's summary, its body the one relevant "
                  "passage", title_justify="left")
    for col in ("ranker", "recall@1", "recall@10", "MRR", "seconds"):
        table.add_column(col, justify="left" if col == "ranker" else "right")
    for name, s, seconds in rows:
        table.add_row(name, f"{s['recall@1']:.3f}", f"{s['recall@10']:.3f}", f"{s['mrr']:.3f}",
                      "-" if seconds is None else f"{seconds:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
