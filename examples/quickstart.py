"""Quickstart: sentence statistics over real text, with a nested map and the profile.

The documents are the docstrings of a few standard-library modules (real text, no download).
Per document: split into sentences, then a nested pipeline maps over the sentences (tokenize,
count), and the outer pipeline averages. ``pipe.map`` runs it over every document.
"""

from __future__ import annotations

import importlib
import re

from rich.console import Console
from rich.table import Table

from hotpipe import Pipeline, node

MODULES = ["json", "csv", "argparse", "statistics", "heapq", "itertools", "subprocess", "unittest"]


@node(output="sentences")
def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return [p for p in parts if p]


@node(output="words")
def tokenize(sentence: str) -> list[str]:
    return re.findall(r"[a-z']+", sentence.lower())


@node(output="n_words")
def count(words: list[str]) -> int:
    return len(words)


per_sentence = Pipeline([tokenize, count], name="sentence").as_node(
    name="per_sentence",
    over="sentence",
    inputs={"sentences": "sentence"},
    outputs={"n_words": "words_per_sentence"},
)


@node(output=("mean_words", "longest"))
def summarize(words_per_sentence: list[int]) -> tuple[float, int]:
    n = len(words_per_sentence)
    return (sum(words_per_sentence) / n if n else 0.0, max(words_per_sentence, default=0))


stats = Pipeline([split_sentences, per_sentence, summarize], name="sentence_stats")


def main() -> None:
    texts = [importlib.import_module(m).__doc__ or "" for m in MODULES]
    result = stats.map({"text": texts}, over="text")

    console = Console()
    console.print(stats)
    table = Table(title="Sentence statistics of standard-library docstrings")
    for col in ("module", "sentences", "mean words", "longest"):
        table.add_column(col, justify="right" if col != "module" else "left")
    for i, module in enumerate(MODULES):
        table.add_row(
            module,
            str(len(result["sentences"][i])),
            f"{result['mean_words'][i]:.1f}",
            str(result["longest"][i]),
        )
    console.print(table)
    console.print(result.profile)


if __name__ == "__main__":
    main()
