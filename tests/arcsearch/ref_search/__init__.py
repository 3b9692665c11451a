"""Frozen copy of the search as of commit 3a20a4f (before the speed work), running on
``ref_dsl``. ``test_dsl_equivalence.py`` checks that the current search finds the same
programs with the same candidate counts. Do not edit it."""

from .enumerate import search

__all__ = ["search"]
