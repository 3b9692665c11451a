"""Program search: typed operator inventory, enumeration with observational-equivalence pruning."""

from .enumerate import FEATURES, SearchResult, search
from .ops import Op, TaskContext, build_ops

__all__ = ["FEATURES", "Op", "SearchResult", "TaskContext", "build_ops", "search"]
