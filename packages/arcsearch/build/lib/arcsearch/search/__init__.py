"""Program search: typed operator inventory, enumeration with observational-equivalence pruning."""

from .enumerate import SearchResult, search
from .ops import Op, TaskContext, build_ops

__all__ = ["Op", "SearchResult", "TaskContext", "build_ops", "search"]
