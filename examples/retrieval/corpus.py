"""The corpus: the Python standard library's own docstrings, read offline from its source.

Every public function, class and method of the standard library's pure-Python modules whose
docstring has a summary line and a body of 80+ characters gives one pair: the summary is the
query, the body its one relevant passage. The source is parsed with :mod:`ast`, never
imported (no side effects, no optional C modules needed), so the pairs depend only on the
Python version. The pydoc topics (``pydoc_data.topics``: the language reference's sections)
are added as distractor passages that no query asks for.

Selection is deterministic: files in sorted order, definitions in source order, a summary or
a body seen before is skipped (overrides that repeat their parent's docstring would be two
relevant passages for one query), and the pairs kept are those whose key's BLAKE2 digest is
smallest: a spread over the whole library that does not change with the order of the files.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Corpus", "Pair", "load_corpus", "stdlib_pairs", "topic_passages"]

MIN_BODY = 80
"""A body shorter than this (characters) says too little to be a passage."""

MAX_BODY = 1_500
"""Longer bodies are cut here (the model reads 256 tokens: about 1,000 characters)."""

SKIP = frozenset({"test", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip",
                  "site-packages", "dist-packages", "__pycache__", "pydoc_data", "venv"})
"""Top-level folders of the standard library that are tests, tools or vendored code."""


@dataclass(frozen=True)
class Pair:
    """One query and its one relevant passage, from ``module.qualname``'s docstring."""

    key: str
    query: str
    passage: str


@dataclass(frozen=True)
class Corpus:
    """``queries[i]``'s one relevant passage is ``passages[i]``; passages after
    ``len(queries)`` are distractors (pydoc topics)."""

    queries: list[str]
    passages: list[str]
    keys: list[str]

    def __len__(self) -> int:
        return len(self.queries)


def _source_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if SKIP.isdisjoint(parts) and not any(p.startswith(("_", "test")) for p in parts):
            files.append(path)
    return files


def _split(doc: str) -> tuple[str, str] | None:
    """``(summary, body)`` of a cleaned docstring: the first paragraph when it is one line,
    the rest joined; None when there is no such split."""
    head, sep, rest = doc.partition("\n\n")
    if not sep or "\n" in head.strip():
        return None
    summary, body = head.strip(), " ".join(rest.split())
    if len(summary) < 10 or len(body) < MIN_BODY:
        return None
    return summary, body[:MAX_BODY]


def _definitions(tree: ast.Module, module: str):
    """``(qualname, node)`` for every public class, function and method, in source order."""
    stack = [(module, tree)]
    while stack:
        prefix, parent = stack.pop()
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                if child.name.startswith("_"):
                    continue
                name = f"{prefix}.{child.name}"
                yield name, child
                if isinstance(child, ast.ClassDef):
                    stack.append((name, child))


def stdlib_pairs(root: str | Path | None = None) -> list[Pair]:
    """Every (summary, body) pair of the standard library under ``root`` (default: this
    Python's), summaries and bodies each unique, in file and source order."""
    return list(_pairs(str(root or sysconfig.get_paths()["stdlib"])))


@functools.cache
def _pairs(root: str) -> tuple[Pair, ...]:  # parsing the library takes a second or two
    base = Path(root)
    pairs: list[Pair] = []
    seen: set[str] = set()
    for path in _source_files(base):
        module = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
        try:
            tree = ast.parse(path.read_bytes(), str(path))
        except (SyntaxError, ValueError):  # a file for another Python version
            continue
        for name, definition in _definitions(tree, module):
            doc = ast.get_docstring(definition)
            split = _split(inspect.cleandoc(doc)) if doc else None
            if split is None or split[0].lower() in seen or split[1] in seen:
                continue
            seen.update((split[0].lower(), split[1]))
            pairs.append(Pair(name, *split))
    return tuple(pairs)


def topic_passages() -> list[str]:
    """The pydoc topics (the language reference's sections), cut like the bodies."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # pragma: no cover - some distributions strip pydoc_data
        return []
    return [" ".join(topics[k].split())[:MAX_BODY] for k in sorted(topics)]


def _rank(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=8).digest()


def load_corpus(size: int | None = 1200, *, distractors: bool = True) -> Corpus:
    """``size`` pairs (all of them when None), chosen by the smallest digests of their keys
    and kept in library order, plus the pydoc topics as distractors when ``distractors``."""
    pairs = stdlib_pairs()
    if size is not None:
        chosen = set(sorted(range(len(pairs)), key=lambda i: _rank(pairs[i].key))[:size])
        pairs = [p for i, p in enumerate(pairs) if i in chosen]
    extra = topic_passages() if distractors else []
    return Corpus([p.query for p in pairs], [p.passage for p in pairs] + extra,
                  [p.key for p in pairs])
