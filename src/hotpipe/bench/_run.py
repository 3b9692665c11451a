"""Timing: first call and output check, calibration, warm-up, interleaved shuffled samples,
and samples in fresh processes.

The order of work, for every case alike:

1. **first call**, timed apart (imports, caches and JIT-like warm paths make it special);
   its output is what the check compares;
2. **calibration**: the number of calls per sample (``loops``) doubles until one sample takes
   at least ``min_time`` (and far more than the clock's resolution);
3. **warm-up**: ``warmup`` untimed samples;
4. **rounds**: each round times one sample of every case, in a freshly shuffled order, so a
   burst of other work on the machine, or a slow drift, hits every case alike;
5. optionally, ``processes`` rounds where each case runs once in a **new Python process**:
   start-up, loading the case (unpickling it imports what it needs) and its first call are
   recorded apart from the warm samples.

Wall time is ``time.perf_counter``, CPU time ``time.process_time`` (this process only: the
CPU of worker processes is not in it). The garbage collector stays enabled.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotpipe.bench._cases import Case
from hotpipe.errors import BenchError

__all__ = ["CaseResult", "Settings", "calibrate", "time_cases"]

CHILD_TIMEOUT_S = 600


@dataclass
class Settings:
    """How to time; see :func:`hotpipe.bench.compare` for each field."""

    samples: int = 15
    min_time: float = 0.05
    warmup: int = 1
    loops: int | None = None
    processes: int = 0
    seed: int | None = None


@dataclass
class CaseResult:
    """Every timing of one case. Samples are seconds for ``loops`` calls each."""

    name: str
    items: int
    loops: int
    warmup: int
    first_s: float
    first_cpu_s: float
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)  # the round each sample was taken in
    cold: list[dict[str, float]] = field(default_factory=list)  # fresh-process samples
    description: str = ""

    def per_call(self, cpu: bool = False) -> list[float]:
        """Seconds per call of each sample (wall, or CPU)."""
        return [s / self.loops for s in (self.cpu if cpu else self.wall)]

    def per_item(self, cpu: bool = False) -> list[float]:
        """Seconds per item of each sample (wall, or CPU): what ratios are taken on."""
        return [s / (self.loops * self.items) for s in (self.cpu if cpu else self.wall)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "items": self.items,
            "loops": self.loops, "warmup": self.warmup, "first_s": self.first_s,
            "first_cpu_s": self.first_cpu_s, "wall_s": self.wall, "cpu_s": self.cpu,
            "rounds": self.rounds, "cold": self.cold,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        return cls(d["name"], d["items"], d["loops"], d["warmup"], d["first_s"],
                   d["first_cpu_s"], list(d["wall_s"]), list(d["cpu_s"]), list(d["rounds"]),
                   [dict(c) for c in d.get("cold", [])], d.get("description", ""))


def _timed(fn: Callable[[], Any], loops: int) -> tuple[float, float]:
    clock, cpu = time.perf_counter, time.process_time
    c0 = cpu()
    t0 = clock()
    for _ in range(loops):
        fn()
    t1 = clock()
    return t1 - t0, cpu() - c0


def calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Calls per sample so that one sample takes at least ``min_time`` seconds.

    The floor is also 10,000 ticks of ``perf_counter``, so its resolution never matters.
    """
    floor = max(min_time, 1e4 * time.get_clock_info("perf_counter").resolution)
    loops = 1
    while True:
        wall, _ = _timed(fn, loops)
        if wall >= floor and loops == 1:
            return 1
        if wall >= floor:
            # other work can only slow a timing down: check with the best of three
            best = min(wall, *(_timed(fn, loops)[0] for _ in range(2)))
            return loops if best >= floor else math.ceil(loops * floor / best * 1.1)
        # jump close to the target, but at most 10x per step (the first calls may be slow)
        want = floor / wall * 1.2 if wall > 0 else 10
        loops = max(loops * 2, min(loops * 10, int(loops * want)))


def _first_calls(names: list[str], cases: dict[str, Case],
                 log: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, tuple]]:
    values, first = {}, {}
    for name in names:
        case = cases[name]
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            returned = case.fn()
        except Exception as exc:
            raise BenchError(f"case {name!r} raised {type(exc).__name__}: {exc} on its first "
                             "call; fix it before timing it") from exc
        first[name] = (time.perf_counter() - t0, time.process_time() - c0)
        values[name] = case.value(returned)
        log(f"{name}: first call {first[name][0]:.3g} s")
    return values, first


def time_cases(cases: dict[str, Case], settings: Settings, check: Callable[[dict], None],
               log: Callable[[str], None] = lambda _m: None,
               fresh: Callable[[str], Any] | None = None) -> dict[str, CaseResult]:
    """Run steps 1-5 of the module docstring; ``check(values)`` raises to refuse."""
    values, first = _first_calls(list(cases), cases, log)
    check(values)
    del values
    results = {name: _prepare(name, case, settings, first[name], log)
               for name, case in cases.items()}
    rng = random.Random(settings.seed)
    _rounds(cases, results, settings.samples, rng)
    if settings.processes:
        if fresh is None:
            raise BenchError("processes= needs cases that can be rebuilt in a new process")
        for _r in range(settings.processes):
            order = list(cases)
            rng.shuffle(order)
            for name in order:
                results[name].cold.append(run_fresh(fresh(name), name))
    return results


def _prepare(name: str, case: Case, settings: Settings, first: tuple[float, float],
             log: Callable[[str], None]) -> CaseResult:
    """Calibrate and warm up one case (steps 2 and 3)."""
    loops = case.loops or settings.loops or calibrate(case.fn, settings.min_time)
    warmup = settings.warmup if case.warmup is None else case.warmup
    for _ in range(warmup):
        _timed(case.fn, loops)
    log(f"{name}: {loops} call(s) per sample, {warmup} warm-up sample(s)")
    return CaseResult(name, case.items, loops, warmup, *first, description=case.description)


def _rounds(cases: dict[str, Case], results: dict[str, CaseResult], samples: int,
            rng: random.Random) -> None:
    """Step 4: every case once per round, in a shuffled order, until each has its samples."""
    wanted = {n: c.samples or samples for n, c in cases.items()}
    for r in range(max(wanted.values())):
        order = [n for n in cases if wanted[n] > r]
        rng.shuffle(order)
        for name in order:
            res = results[name]
            wall, cpu = _timed(cases[name].fn, res.loops)
            res.wall.append(wall)
            res.cpu.append(cpu)
            res.rounds.append(r)


# --- fresh processes ---------------------------------------------------------------------------


def run_fresh(payload: bytes, name: str) -> dict[str, float]:
    """Start a new interpreter, load the pickled case and call it once; return its timings.

    ``process_s`` is the whole child as the parent saw it (interpreter start-up, importing
    hotpipe, loading the case, the call, exit); ``load_s`` is unpickling the case (which
    imports the modules it needs); ``first_s`` the call.
    """
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hotpipe.bench._child"], input=payload,
                          capture_output=True, timeout=CHILD_TIMEOUT_S)
    process_s = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.decode(errors="replace").splitlines()
             if ln.startswith("HOTPIPE-BENCH ")]
    if proc.returncode != 0 or not lines:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BenchError(f"case {name!r} failed in a fresh process (exit {proc.returncode}): "
                         f"{err[-1] if err else 'no output'}; a case must be picklable by "
                         "cloudpickle to run with processes=")
    data = json.loads(lines[-1].split(" ", 1)[1])
    return {"process_s": process_s, "load_s": data["load_s"], "first_s": data["first_s"]}


def pickled(case: Case) -> bytes:
    """The case's callable, pickled by cloudpickle (by value for functions of ``__main__``)."""
    import cloudpickle

    try:
        return cloudpickle.dumps(case.fn)
    except Exception as exc:
        raise BenchError(f"cannot pickle the case for a fresh process: {type(exc).__name__}: "
                         f"{exc}; use processes=0, or a case built from importable "
                         "functions") from exc
