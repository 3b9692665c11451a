"""Running a plan through the cache: Merkle keys per item, values loaded only on demand.

For each item, a step's key is ``combine(step fingerprint, keys of its arguments)``; root
inputs are fingerprinted once (per item when mapped, once when broadcast). Keys flow forward
without touching values, so when the requested outputs are cached, nothing upstream is loaded
or computed: evaluation is demand-driven, from the requested outputs backwards.

A node with ``cache=False`` is not stored, and its inputs need no fingerprint: its outputs
are keyed by their *values* (fingerprinted after it runs), so what depends on it is cached
correctly even when the node reads changing state.

Each stored entry is ``(result, seconds it took)``, so a hit knows the time it saved. A
stored key is the first 8 bytes of the step's fingerprint followed by the item's key, so the
entries of one step are neighbours in the index: one query tells whether a step has any
entry at all (a cold run then skips its lookups).

A chunk of a map also stores a **pack** per step: one entry holding the results of all its
items, keyed by the step and every item key of the chunk in order. The same map run again
(the common case: a pipeline rerun on the same data) reads a step's results with one lookup
and one unpickling instead of one per item; any other mix of items falls back to the
per-item entries. Packs only hold small results (up to ``PACK_LIMIT`` bytes per pack).

The time the cache itself takes (keys, lookups, reads, writes) is reported to the profile's
collector (``Stats.cache_op``) apart from the nodes' compute time; every write also labels
each step's key prefix with the node's name (``hotpipe cache stats`` groups by it).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, Any

import xxhash

from hotpipe._arrays import array_names, from_items, take
from hotpipe._batch import batch_columns
from hotpipe._state import Tuning, state_of
from hotpipe._values import FAILED, IMMUTABLE
from hotpipe.cache import serialize
from hotpipe.cache.keys import UnstableValue, combine, fingerprint, fingerprint_function
from hotpipe.cache.store import HEAD
from hotpipe.errors import CacheKeyError
from hotpipe.execute import (
    Broadcast,
    Chunk,
    call_once,
    once_failed,
    resolved_columns,
    run_step,
    split_outputs,
)
from hotpipe.profile.stats import CACHE_INPUTS, CACHE_MAP, CACHE_WRITE, Stats

if TYPE_CHECKING:
    from hotpipe.cache.store import Cache
    from hotpipe.pipeline import Pipeline
    from hotpipe.plan import Plan, Step

__all__ = ["PENDING", "KeyedBroadcast", "PlannedDemand", "cached_broadcast", "cached_columns",
           "step_fingerprints"]


@dataclass
class KeyedBroadcast(Broadcast):
    """The broadcast values of a cached map, with what the cache needs per map: the keys of
    the broadcast values, the step fingerprints, and the key prefixes of the steps that had
    stored entries at the start (None: look everything up)."""

    keys: dict[str, bytes | None] = field(default_factory=dict)
    fps: list[bytes | None] | None = None
    present: frozenset[bytes] | None = None

_UNKNOWN = object()
_digest = xxhash.xxh3_128_digest
_VERSION = b"hotpipe.step/1"
PACK_LIMIT = 1 << 20  # bytes: the results of a chunk's step are packed when no larger
_PREFIX = HEAD  # bytes of the step fingerprint that start each of its stored keys


# ----------------------------------------------------------------------------- fingerprints


def _node_identity(node: Any) -> bytes:
    """A node's code (and batch code, or nested pipeline) with the options that change
    its results: version, outputs, whether it unpacks a tuple, and ``vectorize=`` (numpy
    or JAX on whole batches may round floats, or keep float32, where per-item calls do
    not). A node without ``vectorize=`` keeps the key it had before that option existed."""
    options: tuple[Any, ...] = (node.version, node.outputs, node.unpack, node.params)
    if node.vectorize is not None:
        options += (("vectorize", node.vectorize),)
    return combine(node_fingerprint(node), fingerprint(options))


def pipeline_fingerprint(pipe: Pipeline) -> bytes:
    """A nested pipeline's identity: its nodes, their wiring and options, its bound values."""
    parts = [b"hotpipe.pipeline/1", *(_node_identity(n) for n in pipe.nodes)]
    parts.append(fingerprint(dict(pipe.bound)))
    return combine(*parts)


def node_fingerprint(node: Any) -> bytes:
    if node.nested is not None:
        nested = node.nested
        body = pipeline_fingerprint(nested.pipeline)
        wiring = fingerprint((dict(nested.inputs), dict(nested.outputs), nested.over,
                              nested.mode))
        return combine(b"nested", body, wiring)
    parts = [fingerprint_function(node.func)]
    if node.batch_func is not None and node.batch_func is not node.func:
        parts.append(fingerprint_function(node.batch_func))
    return combine(*parts)


def step_fingerprints(plan: Plan) -> list[bytes | None]:
    """Per step: its node's identity and which parameters it is given; None for a node with
    ``cache=False`` (its outputs are keyed by value).

    Computed at the start of every cached call: the function fingerprints behind it are
    remembered per function and only re-checked, so a helper redefined since the last call
    (a notebook cell run again) changes the keys at once.
    """
    fps: list[bytes | None] = []
    for step in plan.steps:
        if not step.node.cache:
            fps.append(None)
            continue
        try:
            # the step's own outputs: a nested pipeline's step computes only those read
            fps.append(combine(_VERSION, _node_identity(step.node), fingerprint(step.params),
                               fingerprint((step.outputs, step.unpack))))
        except UnstableValue as exc:
            raise CacheKeyError(
                f"node {step.name!r}: its function cannot be fingerprinted for the cache "
                f"({exc}). Fix one of: (1) @node(cache=False) on {step.name!r}; (2) make that "
                "value plain data, or give its class a __cache_key__(); (3) pass it to the "
                "node as an input or a hotpipe.resource(...) instead of capturing it."
            ) from None
    return fps


def _labels(plan: Plan, fps: list[bytes | None]) -> dict[bytes, tuple[str, str]]:
    """Per stored step's key prefix: (node name, pipeline name), written with the entries."""
    name = plan.pipeline_name or ""
    return {fp[:_PREFIX]: (step.name, name) for fp, step in zip(fps, plan.steps, strict=True)
            if fp is not None and step.nested is None}


def keyed_names(plan: Plan) -> set[str]:
    """The values whose keys some cached step needs (the others are never fingerprinted)."""
    return {a for step in plan.steps if step.node.cache for a in step.args}


def _unstable(plan: Plan, name: str, exc: UnstableValue) -> CacheKeyError:
    step = next(s for s in plan.steps if s.node.cache and name in s.args)
    param = step.params[step.args.index(name)]
    producer = next((s for s in plan.steps if name in s.outputs), None)
    what = (f"parameter {param!r}" if producer is None else
            f"parameter {param!r} (the output {name!r} of node {producer.name!r})")
    return CacheKeyError(
        f"node {step.name!r}: the value of {what} cannot be fingerprinted for the cache "
        f"({exc}). Fix one of: (1) @node(cache=False) on {step.name!r}; (2) give the "
        "value's class a __cache_key__() returning what identifies it; (3) pass it as a "
        "resource: hotpipe.resource(factory, *args), fingerprinted by its declaration."
    )


def _value_key(plan: Plan, name: str, value: Any) -> bytes:
    try:
        return fingerprint(value)
    except UnstableValue as exc:
        raise _unstable(plan, name, exc) from None


def _output_keys(step: Step, key: bytes | None) -> list[bytes | None]:
    if key is None:
        return [None] * len(step.outputs)
    if len(step.outputs) == 1:
        return [key]
    return [combine(key, name.encode()) for name in step.outputs]


def merkle_keys(fp: bytes, parts: list[Any], n: int) -> list[bytes | None]:
    """Per item: ``xxh3_128(fp + key of each argument)``, or None where an argument has no
    key (it failed upstream). Every part is a 16-byte digest, so plain concatenation is
    unambiguous; ``parts`` holds per-item lists or one key shared by all items."""
    cols = [p if isinstance(p, list) else repeat(p, n) for p in parts]
    if not any(p is None or (isinstance(p, list) and None in p) for p in parts):
        if len(cols) == 1:
            return [_digest(fp + a) for a in cols[0]]
        return [_digest(fp + b"".join(ks)) for ks in zip(*cols, strict=False)]
    return [
        None if None in ks else _digest(fp + b"".join(ks))
        for ks in zip(*cols, strict=False)
    ]


# ----------------------------------------------------------------------------- broadcast


def cached_broadcast(plan: Plan, scalars: dict[str, Any], n: int, on_error: str,
                     stats: Stats, cache: Cache, runner: Any = None,
                     tuning: Tuning | None = None) -> KeyedBroadcast:
    """Keys of the broadcast inputs, then the once-per-map steps: loaded or computed.

    A nested map step is never stored as a whole: its inner steps are cached per inner item
    (through ``runner``); its outputs still get Merkle keys, so what reads them is cached.
    """
    t0 = perf_counter()
    refresh = getattr(runner, "refresh", frozenset())
    fps = step_fingerprints(plan)
    keyed = keyed_names(plan)
    values = dict(scalars)
    keys: dict[str, bytes | None] = {
        name: _value_key(plan, name, value) for name, value in scalars.items() if name in keyed
    }
    labels = _labels(plan, fps)
    stats.cache_op(CACHE_MAP, t0, perf_counter())
    bc = KeyedBroadcast(values, keys=keys, fps=fps)
    tuning = tuning or state_of(plan).tuning
    payloads: dict[bytes, bytes] = {}
    put_step: dict[bytes, int] = {}
    for k, step in enumerate(plan.steps):
        if step.mapped:
            continue
        slot = step.slot
        raw = tuple(values[a] for a in step.args)
        if any(v is FAILED for v in raw):
            values.update(dict.fromkeys(step.outputs, FAILED))
            continue
        key = stored = None
        fp = fps[k]
        t0 = perf_counter()
        if fp is not None:
            arg_keys = [keys.get(a) for a in step.args]
            if all(ak is not None for ak in arg_keys):
                key = _digest(fp + b"".join(arg_keys))  # type: ignore[arg-type]
                if step.nested is None:
                    stored = fp[:_PREFIX] + key
        if stored is not None and step.name in refresh:
            stats.cache_read(slot, misses=1)  # refresh=: recomputed, the entry overwritten
        elif stored is not None:
            found, nbytes = cache.load([stored])
            entry = _entry(found.get(stored), _width(step))
            if entry is not None:
                result, seconds = entry
                _set_outputs(step, values, result)
                keys.update(zip(step.outputs, _output_keys(step, key), strict=True))
                stats.cache_read(slot, hits=1, saved=seconds, nbytes=nbytes)
                stats.cache_op(slot, t0, perf_counter())
                continue
            stats.cache_read(slot, misses=1)
        if fp is not None:
            stats.cache_op(slot, t0, perf_counter())
        t0 = perf_counter()
        try:
            results = call_once(step, raw, stats, runner, bc, tuning)
        except Exception as exc:
            values.update(zip(step.outputs, once_failed(step, raw, exc, on_error, n, stats),
                              strict=True))
            bc.failure = bc.failure or (step.name, exc)
            continue
        values.update(zip(step.outputs, results, strict=True))
        if key is not None:
            keys.update(zip(step.outputs, _output_keys(step, key), strict=True))
        if stored is not None:  # serialised now, before a later step can mutate it
            t1 = perf_counter()
            payloads.update(cache.encode(
                {stored: (results if step.unpack else results[0], t1 - t0)}))
            put_step[stored] = slot
            stats.cache_op(slot, t1, perf_counter())
        if key is None and keyed.intersection(step.outputs):
            t0 = perf_counter()
            for name in step.outputs:
                if name in keyed:
                    keys[name] = _value_key(plan, name, values[name])
            stats.cache_op(slot, t0, perf_counter())
    _save(cache, payloads, put_step, stats, labels=labels)
    bc.broken = bc.failure is not None
    # which mapped steps have any entry, asked once per map of 2+ items: a step with none
    # (new code, or a new cache) is computed without per-item lookups in every chunk (an
    # item repeated in a later chunk of the same map is then computed again: rare, and
    # still correct). A single item (run) or a stream (n = 0: its length is unknown, and a
    # long stream should find what it wrote itself) looks everything up.
    if n >= 2:
        t0 = perf_counter()
        bc.present = frozenset(cache.prefixes_present(
            fp[:_PREFIX] for fp, step in zip(fps, plan.steps, strict=True)
            if fp is not None and step.mapped and step.nested is None))
        stats.cache_op(CACHE_MAP, t0, perf_counter())
    return bc


def _save(cache: Cache, payloads: dict[bytes, bytes], step_of: dict[bytes, int],
          stats: Stats, packed: dict[bytes, bytes] | None = None,
          pack_step: dict[bytes, int] | None = None,
          labels: dict[bytes, tuple[str, str]] | None = None) -> None:
    """Store the encoded results and packs in one transaction (with the steps' ``labels``);
    count the bytes and the time per step.

    Payloads are encoded when their step produces them (see :class:`_Demand`), so what is
    stored is the value as the node returned it, whatever later steps do to the object."""
    if not payloads and not packed:
        return
    t0 = perf_counter()
    pack_step = pack_step or {}
    shares = dict.fromkeys([*set(step_of.values()), *set(pack_step.values())], 0)
    try:
        if not cache.write(payloads, packed, labels):
            return
        for key, payload in payloads.items():
            stats.cache_written(step_of[key], len(payload))
            shares[step_of[key]] += len(payload)
        for key, payload in (packed or {}).items():
            stats.cache_written(pack_step[key], len(payload))
            shares[pack_step[key]] += len(payload)
    finally:
        stats.cache_op(CACHE_WRITE, t0, perf_counter(), shares)


def _entry(entry: Any, width: int) -> tuple[Any, float] | None:
    """A loaded entry as (result, seconds), or None: missing, damaged or foreign (a miss).
    ``width``: the number of outputs of a tuple-output step (0 for one output)."""
    if not (type(entry) is tuple and len(entry) == 2 and type(entry[1]) is float):
        return None
    if width and not (type(entry[0]) in (tuple, list) and len(entry[0]) == width):
        return None
    return entry


def _width(step: Step) -> int:
    return len(step.outputs) if step.unpack else 0


def _pack_entry(entry: Any, n: int, width: int) -> tuple[list[Any], list[float]] | None:
    """A loaded pack as (values, seconds) if it has the shape written for this chunk (``n``
    items; tuples of ``width`` values for a tuple-output step), else None: a damaged or
    foreign entry is a miss, never an error in the map."""
    try:
        values, seconds = entry
        if not (type(values) is list and type(seconds) is list
                and len(values) == n and len(seconds) == n):
            return None
        saved = [float(t) for t in seconds]
        if width and not all(type(v) is tuple and len(v) == width for v in values):
            return None
    except Exception:  # anything a foreign payload can raise (OverflowError, ...)
        return None
    return values, saved


def _set_outputs(step: Step, values: dict[str, Any], result: Any) -> None:
    if step.unpack:
        values.update(zip(step.outputs, tuple(result), strict=True))
    else:
        values[step.outputs[0]] = result


# ----------------------------------------------------------------------------- columns


class _Demand:
    """Demand-driven evaluation of one chunk's per-item steps through the cache."""

    def __init__(self, plan: Plan, columns: dict[str, list[Any]], bc: KeyedBroadcast, n: int,
                 offset: int, on_error: str, stats: Stats, cache: Cache, runner: Any,
                 paths: Sequence[tuple[int, ...]] | None, tuning: Tuning) -> None:
        self.plan, self.n, self.offset, self.on_error = plan, n, offset, on_error
        self.stats, self.cache, self.bc = stats, cache, bc
        self.runner, self.paths, self.tuning = runner, paths, tuning
        self.refresh: frozenset[str] = getattr(runner, "refresh", frozenset())
        self.slot = [step.slot for step in plan.steps]
        self.fps = bc.fps if bc.fps is not None else step_fingerprints(plan)
        self.keyed = keyed_names(plan)
        self.producer = {o: k for k, s in enumerate(plan.steps) if s.mapped for o in s.outputs}
        self.vals: dict[str, list[Any]] = dict(columns)
        self.arrays = array_names(plan, columns)  # values that may be arrays (_arrays)
        self.keys: dict[str, list[bytes | None]] = {}
        self.step_keys: dict[int, list[bytes | None]] = {}
        # encoded when produced, before a later step sees (and could mutate) the value
        self.payloads: dict[bytes, bytes] = {}
        self.put_step: dict[bytes, int] = {}
        self.packed: dict[bytes, bytes] = {}
        self.pack_step: dict[bytes, int] = {}
        self.dropped: set[int] = set()  # steps with a result that could not be pickled
        # prefixes of the steps with stored entries; None: not known, look everything up
        self.present: Set[bytes] | None = bc.present
        self.tried: set[int] = set()  # steps whose pack was looked up
        self.unpacked: dict[int, bytes] = {}  # steps whose pack missed: its key
        self.seconds: dict[int, list[float]] = {}
        self.loaded_bytes: dict[int, int] = {}  # per step: payload bytes of items read
        self.computed_keys: dict[int, list[bytes]] = {}  # per step: keys of items computed
        t0 = perf_counter()
        for name, col in columns.items():
            if name in self.keyed:
                try:
                    self.keys[name] = [fingerprint(v) for v in col]
                except UnstableValue as exc:
                    raise _unstable(plan, name, exc) from None
        self.labels = _labels(plan, self.fps)
        stats.cache_op(CACHE_INPUTS, t0, perf_counter())

    def arg_keys(self, name: str) -> list[bytes | None] | bytes | None:
        if name in self.keys:
            return self.keys[name]
        return (self.bc.keys or {}).get(name)

    def key_pass(self) -> None:
        """Keys of every per-item step, forward; value-keyed steps are computed here."""
        for k, step in enumerate(self.plan.steps):
            if not step.mapped:
                continue
            if not step.node.cache:
                # keyed by value, and only when a cached step reads it
                for name in step.outputs:
                    if name in self.keyed:
                        self.need(name, list(range(self.n)))
                        t0 = perf_counter()
                        self.keys[name] = [
                            None if v is FAILED else _value_key(self.plan, name, v)
                            for v in self.vals[name]
                        ]
                        self.stats.cache_op(self.slot[k], t0, perf_counter())
                continue
            t0 = perf_counter()
            parts = [self.arg_keys(a) for a in step.args]
            keys = merkle_keys(self.fps[k], parts, self.n)  # type: ignore[arg-type]
            self.step_keys[k] = keys
            if len(step.outputs) == 1:
                self.keys[step.outputs[0]] = keys
            else:
                outs = [_output_keys(step, key) for key in keys]
                for j, name in enumerate(step.outputs):
                    self.keys[name] = [o[j] for o in outs]
            self.stats.cache_op(self.slot[k], t0, perf_counter())

    def prefix(self, k: int) -> bytes:
        return self.fps[k][:_PREFIX]  # type: ignore[index]

    def column(self, name: str) -> list[Any]:
        col = self.vals.get(name)
        if col is None:
            col = self.vals[name] = [_UNKNOWN] * self.n
        return col

    def need(self, name: str, idx: list[int]) -> None:
        """Make sure the value ``name`` is known for the items ``idx``."""
        k = self.producer.get(name)
        if k is None:
            return  # a mapped input or a broadcast value: always known
        col = self.column(name)
        missing = [i for i in idx if col[i] is _UNKNOWN]
        if not missing:
            return
        step = self.plan.steps[k]
        misses = missing
        if step.node.cache and k in self.step_keys and step.nested is None:
            misses = self.load(k, step, missing)
        if misses:
            self.compute(k, step, misses)
        if k in self.unpacked:
            self.pack(k, step, len(missing) == self.n)

    def load(self, k: int, step: Step, missing: list[int]) -> list[int]:
        """Load the cached results among ``missing``; return the items still to compute."""
        t0 = perf_counter()
        try:
            return self._load(k, step, missing)
        finally:
            self.stats.cache_op(self.slot[k], t0, perf_counter())

    def _load(self, k: int, step: Step, missing: list[int]) -> list[int]:
        keys = self.step_keys[k]
        prefix = self.prefix(k)
        slot = self.slot[k]
        if step.name in self.refresh or (self.present is not None
                                         and prefix not in self.present):
            self.stats.cache_read(slot, misses=len(missing))
            self.want_pack(k, keys)
            return missing  # nothing of this step is stored: no lookups
        if k not in self.tried:
            self.tried.add(k)
            if self.load_pack(k, step, keys, missing):
                return []
        wanted = [i for i in missing if keys[i] is not None]
        stored = [prefix + keys[i] for i in wanted]  # type: ignore[operator]
        sizes: dict[bytes, int] = {}
        found, nbytes = self.cache.load(stored, sizes) if wanted else ({}, 0)
        self.stats.cache_read(slot, nbytes=nbytes)
        misses = [i for i in missing if keys[i] is None]
        hits, saved, loaded = 0, 0.0, 0
        single = None if step.unpack else self.column(step.outputs[0])
        times = self.seconds.get(k)
        width = _width(step)
        # an item repeated in the chunk gets its own copy, as an uncached run computes one
        # object per item (a later node mutating one must not change the other)
        seen: set[bytes] | None = set() if len(set(stored)) < len(stored) else None
        for i, skey in zip(wanted, stored, strict=True):
            entry = _entry(found.get(skey), width)
            if entry is None:
                misses.append(i)
                continue
            if seen is not None:
                if skey in seen:
                    entry = serialize.loads(serialize.dumps(entry))
                seen.add(skey)
            loaded += sizes.get(skey, 0)  # per item: a repeated item counts each time
            result, seconds = entry
            if single is not None:
                single[i] = result
            else:
                self.store_result(step, i, result)
            if times is not None:
                times[i] = seconds
            saved += seconds
            hits += 1
        self.stats.cache_read(slot, hits=hits, misses=len(misses), saved=saved)
        self.loaded_bytes[k] = self.loaded_bytes.get(k, 0) + loaded
        return sorted(misses)

    def pack_key(self, k: int, keys: list[bytes | None]) -> bytes | None:
        if self.n < 2 or None in keys:
            return None  # one item has its entry; a failed argument has no key
        return self.prefix(k) + _digest(b"pack" + b"".join(keys))  # type: ignore[arg-type]

    def want_pack(self, k: int, keys: list[bytes | None]) -> None:
        """Remember to write the chunk's pack for step ``k`` once its results are known."""
        if k in self.unpacked:
            return
        key = self.pack_key(k, keys)
        if key is not None:
            self.unpacked[k] = key
            self.seconds[k] = [0.0] * self.n

    def load_pack(self, k: int, step: Step, keys: list[bytes | None],
                  missing: list[int]) -> bool:
        """Fill the results of the items ``missing`` from the chunk's pack; False when there
        is none (and then remember its key, to write the pack at the end of the chunk)."""
        key = self.pack_key(k, keys)
        if key is None:
            return False
        prefix = self.prefix(k)
        # when the pack's access time is refreshed, its items' are too: pruning by last
        # access must not drop the entries of the data read through packs
        found, nbytes = self.cache.load(
            [key], members=lambda _: [prefix + ik for ik in keys])  # type: ignore[operator]
        entry = _pack_entry(found.get(key), self.n, _width(step))
        if entry is None:
            self.want_pack(k, keys)
            return False
        values, seconds = entry
        n = self.n
        if len(missing) == n:  # the usual case: every item, so whole columns
            if step.unpack:
                columns = map(list, zip(*values, strict=True))
                self.vals.update(zip(step.outputs, columns, strict=True))
            else:
                self.vals[step.outputs[0]] = values
            filled, saved = n, sum(seconds)
        else:  # only the items asked for: the others are counted when (if) they are needed
            cols = [self.column(name) for name in step.outputs]
            filled, saved = len(missing), 0.0
            for i in missing:
                if step.unpack:
                    for col, v in zip(cols, values[i], strict=True):
                        col[i] = v
                else:
                    cols[0][i] = values[i]
                saved += seconds[i]
        stats, slot = self.stats, self.slot[k]
        stats.cache_read(slot, hits=filled, saved=saved, nbytes=nbytes)
        return True

    def store_result(self, step: Step, i: int, result: Any) -> None:
        if step.unpack:
            for name, v in zip(step.outputs, result, strict=True):
                self.column(name)[i] = v
        else:
            self.column(step.outputs[0])[i] = result

    def live(self, step: Step, idx: list[int]) -> list[int]:
        """Make the arguments of ``step`` known for the items ``idx``; the items whose
        arguments did not fail (the others' outputs are FAILED)."""
        for a in step.args:
            self.need(a, idx)
        scalars = self.bc.values
        if any(a not in self.vals and scalars.get(a) is FAILED for a in step.args):
            live = []  # a broadcast argument failed: so does every item of this step
        else:
            cols = [self.vals[a] for a in step.args if a in self.vals]
            live = [i for i in idx if not any(c[i] is FAILED for c in cols)]
        if len(live) < len(idx):
            live_set = set(live)
            for i in idx:
                if i not in live_set:
                    for name in step.outputs:
                        self.column(name)[i] = FAILED
        return live

    def compute(self, k: int, step: Step, idx: list[int]) -> None:
        """Run step ``k`` here on the items ``idx`` and record (and encode) its results."""
        live = self.live(step, idx)
        if not live:
            return
        scalars = self.bc.values
        t0, c0 = perf_counter(), thread_time()
        sub = {a: take(self.vals[a], live, a in self.arrays)
               for a in step.args if a in self.vals}
        ctx = Chunk(self.offset, self.on_error, self.stats, set(), live, self.paths,
                    self.runner, self.bc, self.tuning, self.arrays)
        inner_wall = inner_cpu = 0.0
        argcols = None
        if step.nested is not None:
            from hotpipe._nested import run_nested

            outs, inner_wall, inner_cpu = run_nested(step, sub, scalars, len(live), ctx)
            calls = len(live) - len(ctx.failed)
            out = list(zip(*outs, strict=True)) if step.unpack else outs[0]
        else:
            argcols = resolved_columns(step, sub, scalars, len(live), ctx)
            if argcols is None:
                out, calls = [FAILED] * len(live), 0
            else:
                out, calls = run_step(step, self.slot[k], argcols, len(live), ctx,
                                      partial(batch_columns, step, sub, scalars))
        t1 = perf_counter()
        results = out
        if step.unpack and step.nested is None:
            cols = split_outputs(step, out, ctx, argcols)
            results = list(zip(*cols, strict=True)) if cols else []
        self.record(k, step, live, results, (t1 - t0) / len(live), ctx.failed)
        stats, slot = self.stats, self.slot[k]
        stats.step_done(slot, calls, len(live) - len(ctx.failed), t0, t1,
                        thread_time() - c0 - inner_cpu, t1 - t0 - inner_wall)

    def record(self, k: int, step: Step, live: list[int], results: Sequence[Any],
               per_item: float, failed: Set[int]) -> None:
        """Step ``k``'s ``results`` for the items ``live`` (a tuple per item for a tuple
        step; ``failed``: positions in ``live`` that failed, not stored): set as its output
        values, encoded for the store with ``per_item`` seconds each, tracked for the pack.
        Called once per computation of a step, wherever it ran (here, or on Daft)."""
        keys = self.step_keys.get(k) if step.node.cache and step.nested is None else None
        prefix = self.prefix(k) if keys is not None else b""
        times = self.seconds.get(k)
        computed = self.computed_keys.setdefault(k, []) if times is not None else None
        puts = {}
        for j, i in enumerate(live):
            value = results[j]
            if j in failed:
                for name in step.outputs:
                    self.column(name)[i] = FAILED
                continue
            self.store_result(step, i, value)
            if keys is not None and keys[i] is not None:
                stored = prefix + keys[i]
                puts[stored] = (value, per_item)
                if computed is not None:  # a pack is wanted: track its items
                    times[i] = per_item  # type: ignore[index]
                    computed.append(stored)
        if puts:  # serialised now: no later step has seen these values yet
            te = perf_counter()
            payloads = self.cache.encode(puts)
            self.stats.cache_op(self.slot[k], te, perf_counter())
            if len(payloads) < len(puts):
                self.dropped.add(k)  # unpicklable: no pack for this step either
            self.payloads.update(payloads)
            self.put_step.update(dict.fromkeys(payloads, self.slot[k]))

    def pack(self, k: int, step: Step, whole: bool) -> None:
        """Encode step ``k``'s pack now that its column is known, or give it up.

        Only a column filled by one :meth:`need` call is packed: its values were just
        loaded or computed, so no later step has seen (or mutated) them yet. A column filled
        piecemeal (part of it already read by later steps) has its items stored one by one,
        and its pack is written by a later run. A failed item or one that could not be
        pickled leaves the chunk without a pack too.
        """
        key = self.unpacked.pop(k)
        if not whole or k in self.dropped:
            return
        cols = [self.vals.get(name) for name in step.outputs]
        if any(c is None or any(v is FAILED or v is _UNKNOWN for v in c) for c in cols):
            return
        payloads = self.payloads
        size = self.loaded_bytes.get(k, 0) + sum(
            len(payloads.get(item, b"")) for item in self.computed_keys.get(k, ()))
        if size > PACK_LIMIT:
            return
        values = list(cols[0]) if not step.unpack else list(zip(*cols, strict=True))
        te = perf_counter()
        packed = self.cache.encode({key: (values, self.seconds[k])})
        self.stats.cache_op(self.slot[k], te, perf_counter())
        self.packed.update(packed)
        self.pack_step.update(dict.fromkeys(packed, self.slot[k]))

    def finish(self) -> dict[str, list[Any]]:
        self.request()
        return self.save()

    def request(self) -> None:
        """Make every requested output known (loaded or computed) for every item."""
        # in the plan's step order, whatever order the outputs were asked in: a run that
        # computes everything then calls the nodes in the order an uncached run does
        producer = self.producer
        for name in sorted((o for o in self.plan.outputs if o in producer),
                           key=producer.__getitem__):
            self.need(name, list(range(self.n)))

    def save(self) -> dict[str, list[Any]]:
        """Store what was computed (one transaction); the requested output columns."""
        _save(self.cache, self.payloads, self.put_step, self.stats, self.packed,
              self.pack_step, self.labels)
        out = {}
        for name in self.plan.outputs:
            col = self.vals.get(name)
            if col is None:
                out[name] = [self.bc.values[name]] * self.n
            else:  # an array where the uncached map gives one (stored item by item)
                out[name] = from_items(col) if name in self.arrays else col
        return out


_IMMUTABLE = IMMUTABLE | {object}
"""Types of values no node can mutate (``object``: ``PENDING``'s)."""

PENDING = object()
"""A value a :class:`PlannedDemand` left to compute elsewhere (until its result comes back)."""


class PlannedDemand(_Demand):
    """One chunk of a cached map whose misses are computed elsewhere (``hotpipe.Daft``).

    The driver computes the keys and loads the hits exactly as the cached runner does (this
    is :class:`_Demand`); where the cached runner would run a step, :meth:`compute` records
    the items in ``todo`` (step -> items, in the order the cached runner would compute
    them) and marks their outputs ``PENDING``. The engine computes those, hands each step's
    results to :meth:`record` (the cached runner's own bookkeeping: keys, per-item seconds,
    packs) and calls :meth:`save`. A step whose values are its keys (``cache=False`` read
    by a cached step) is needed while the keys are computed: it runs at once through
    ``run_now(demand, k, step, items) -> (results, seconds per item, failed positions)``.
    """

    def __init__(self, *args: Any, run_now: Any) -> None:
        super().__init__(*args)
        self.run_now = run_now
        self.todo: dict[int, list[int]] = {}
        self.eager = False
        self.deferred: list[tuple[int, Step, bool, bytes]] = []

    def key_pass(self) -> None:
        self.eager = True
        try:
            super().key_pass()
        finally:
            self.eager = False

    def compute(self, k: int, step: Step, idx: list[int]) -> None:
        if self.eager and step.nested is not None:
            self.compute_here(k, step, idx)
            return
        live = self.live(step, idx)
        if not live:
            return
        if self.eager:
            results, per_item, failed = self.run_now(self, k, step, live)
            self.record(k, step, live, results, per_item, failed)
            return
        self.todo.setdefault(k, []).extend(live)
        for name in step.outputs:
            col = self.column(name)
            for i in live:
                col[i] = PENDING

    def compute_here(self, k: int, step: Step, idx: list[int]) -> None:
        """Run step ``k`` on the items ``idx`` here, as the cached runner does: a nested
        map step, whose inner plan runs through this demand's runner (the engine's)."""
        super().compute(k, step, idx)

    def pack(self, k: int, step: Step, whole: bool) -> None:
        """Encode the pack now when the column is known (loaded, or run at once): a query
        may read and mutate these values later. Else at save, once the results came back
        (a column still PENDING then is not packed): its items computed elsewhere are kept
        as produced there; its items known now must be immutable, else no pack is written
        this run (its items are stored one by one, and a later run writes the pack)."""
        cols = [col if (col := self.vals.get(name)) is not None else ()
                for name in step.outputs]
        pending = [v is PENDING for col in cols for v in col]
        if not any(pending):
            super().pack(k, step, whole)
            return
        key = self.unpacked.pop(k)
        if all(pending) or {type(v) for col in cols for v in col} <= _IMMUTABLE:
            self.deferred.append((k, step, whole, key))

    def save(self) -> dict[str, list[Any]]:
        for k, step, whole, key in self.deferred:
            if any(v is PENDING for name in step.outputs for v in self.vals.get(name, ())):
                continue  # its results did not come back (a failed query): no pack
            self.unpacked[k] = key
            super().pack(k, step, whole)
        self.deferred.clear()
        return super().save()


def cached_columns(plan: Plan, columns: dict[str, list[Any]], bc: KeyedBroadcast, n: int,
                   offset: int, on_error: str, stats: Stats, cache: Cache, runner: Any = None,
                   paths: Sequence[tuple[int, ...]] | None = None,
                   tuning: Tuning | None = None) -> dict[str, list[Any]]:
    """The cached counterpart of :func:`hotpipe.execute.run_columns` for one chunk."""
    demand = _Demand(plan, columns, bc, n, offset, on_error, stats, cache, runner, paths,
                     tuning or state_of(plan).tuning)
    demand.key_pass()
    result = demand.finish()
    stats.chunks += 1
    return result

