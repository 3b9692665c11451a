"""The numbers and names the docs quote match the code: a constant changed without its docs
(or a doc edited without the code) fails here, naming the file, the sentence and both values."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import hotpipe
from hotpipe.cache.run import PACK_LIMIT
from hotpipe.cache.store import INLINE_LIMIT
from hotpipe.profile import stats
from hotpipe.schedule import GROW_TARGET

ROOT = Path(__file__).resolve().parents[1]
LOCAL_CHUNK = inspect.signature(hotpipe.Local).parameters["chunk_size"].default

# (file, a sentence with one number captured, the value in the code)
CLAIMS = [
    ("docs/profiling.md", r"the first\s+(\d+) items of every map", stats.SAMPLE_ITEMS),
    ("docs/profiling.md", r"sampled mean is at least\s+(\d+) us",
     stats.TIME_EVERY_ITEM_ABOVE * 1e6),
    ("docs/profiling.md", r"The threshold is now (\d+) us", stats.TIME_EVERY_ITEM_ABOVE * 1e6),
    ("docs/profiling.md", r"(\d+) buckets per octave", stats._BUCKETS_PER_OCTAVE),
    ("docs/profiling.md", r"keeps its (\d+) slowest", stats.TOP_K),
    ("docs/architecture.md", r"the first (\d+) items of every map", stats.SAMPLE_ITEMS),
    ("docs/profiling.md", r"the first (\d+) one by one", stats.SAMPLE_SINGLE),
    ("docs/profiling.md", r"if their mean is under\s+(\d+) us", stats.CHEAP_ITEM * 1e6),
    ("docs/architecture.md", r"\(the\s+first (\d+) one by one", stats.SAMPLE_SINGLE),
    ("docs/architecture.md", r"when those are under\s+(\d+) us each", stats.CHEAP_ITEM * 1e6),
    ("docs/architecture.md", r"to take ~(\d+) ms \(at most", GROW_TARGET * 1e3),
    ("docs/architecture.md", r"a node\s+slower than (\d+) us per item",
     stats.TIME_EVERY_ITEM_ABOVE * 1e6),
    ("docs/architecture.md", r"chunk of items \(default (\d+)\)", LOCAL_CHUNK),
    ("docs/engines.md", r"`Local\(chunk_size=(\d+)\)`", LOCAL_CHUNK),
    ("docs/engines.md", r"\((\d+) items for `Local`\)", LOCAL_CHUNK),
    ("docs/caching.md", r"values up to (\d+) KiB live", INLINE_LIMIT / 1024),
    ("docs/caching.md", r"at most (\d+) MiB \(`hotpipe\.cache\.run\.PACK_LIMIT`\)",
     PACK_LIMIT / 2**20),
    ("docs/caching.md", r"`chunk_size`, (\d+) by default", LOCAL_CHUNK),
]


@pytest.mark.parametrize(("file", "pattern", "value"), CLAIMS,
                         ids=[f"{f}:{p[:30]}" for f, p, _ in CLAIMS])
def test_quoted_numbers_match_the_constants(file, pattern, value):
    text = (ROOT / file).read_text(encoding="utf-8")
    found = [float(m) for m in re.findall(pattern, text)]
    assert found, f"{file} no longer says {pattern!r}: update this test with the docs"
    for quoted in found:
        assert quoted == value, f"{file} says {quoted:g} where the code has {value:g}"


def test_html_report_note_quotes_the_constants():
    from hotpipe.profile.html import _node_table

    source = inspect.getsource(_node_table)
    assert "SAMPLE_ITEMS" in source and "TIME_EVERY_ITEM_ABOVE" in source
    assert not re.search(r"faster than \d", source)


def _doc_texts():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        yield path, path.read_text(encoding="utf-8")


def test_dotted_names_in_the_docs_exist():
    """Every `hotpipe.x.y` the docs quote imports and resolves."""
    missing = []
    for path, text in _doc_texts():
        for name in sorted(set(re.findall(r"`(hotpipe(?:\.\w+)+)`", text))):
            parts = name.split(".")
            for cut in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                try:
                    for attr in parts[cut:]:
                        obj = getattr(obj, attr)
                except AttributeError:
                    missing.append(f"{path.name}: {name}")
                break
    assert not missing, missing


def test_no_engine_is_named_that_does_not_exist():
    engines = {"local", "threads", "processes"}
    for path, text in _doc_texts():
        for word in re.findall(r"the (\w+) engine", text):
            assert word.lower() in engines | {"process", "thread", "same", "default", "local"}, (
                f"{path.name} mentions 'the {word} engine', which hotpipe does not have"
            )


def test_untimed_threshold_is_not_quoted_wrong():
    for path, text in _doc_texts():
        assert not re.search(r"under 10 us run untimed|faster than 10 (us|µs)", text), path.name
