"""Frozen copy of the DSL as of commit 3a20a4f (before the speed work).

The equivalence tests (``test_dsl_equivalence.py``) compare every primitive of the
current DSL with this reference on grids from ARC-AGI-1 training tasks. Do not edit it.
"""
