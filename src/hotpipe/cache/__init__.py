"""The content-addressed cache: keys (fingerprints of functions and values) and stores.

``keys`` computes stable fingerprints; ``store`` is the store interface and registry, with
one module per store (``sqlite``: SQLite + files, the default; ``memory``); ``facade.Cache``
joins them with pickling and counters. See docs/caching.md.
"""

from hotpipe.cache.facade import Cache, CacheStats
from hotpipe.cache.keys import UnstableValue, combine, fingerprint, fingerprint_function, register
from hotpipe.cache.memory import MemoryStore
from hotpipe.cache.sqlite import SQLiteStore
from hotpipe.cache.store import (
    STORES,
    CacheWarning,
    NullStore,
    PrefixStats,
    Store,
    StoreKind,
    StoreStats,
    open_store,
    register_store,
)

__all__ = [
    "STORES",
    "Cache",
    "CacheStats",
    "CacheWarning",
    "MemoryStore",
    "NullStore",
    "PrefixStats",
    "SQLiteStore",
    "Store",
    "StoreKind",
    "StoreStats",
    "UnstableValue",
    "combine",
    "fingerprint",
    "fingerprint_function",
    "open_store",
    "register",
    "register_store",
]
