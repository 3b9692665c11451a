"""The content-addressed cache: keys (fingerprints of functions and values) and stores.

``keys`` computes stable fingerprints, ``store`` keeps payloads by key (SQLite + files by
default) and ``Cache`` joins them with pickling and counters. See docs/caching.md.
"""

from hotpipe.cache.keys import UnstableValue, combine, fingerprint, fingerprint_function, register
from hotpipe.cache.store import (
    Cache,
    CacheStats,
    CacheWarning,
    MemoryStore,
    NullStore,
    SQLiteStore,
    Store,
    StoreStats,
)

__all__ = [
    "Cache",
    "CacheStats",
    "CacheWarning",
    "MemoryStore",
    "NullStore",
    "SQLiteStore",
    "Store",
    "StoreStats",
    "UnstableValue",
    "combine",
    "fingerprint",
    "fingerprint_function",
    "register",
]
