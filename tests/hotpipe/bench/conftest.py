import random

import pytest

from hotpipe.bench import BenchResult, CaseResult

CONFIG = {"samples": 15, "min_time": 0.05, "warmup": 1, "loops": None, "processes": 0,
          "seed": None, "min_factor": 1.05, "alpha": 0.05, "max_spread": 0.10,
          "max_load": None, "tolerance": None, "check": "equal"}
ENV = {"date": "2026-12-05T09:00:00+00:00",
       "git": {"commit": "a" * 40, "short": "aaaaaaa", "dirty": False},
       "python": {"version": "3.11.7", "implementation": "CPython", "executable": "python"},
       "machine": {"cores": 2, "cores_usable": 2, "cpu_model": "Test CPU", "platform": "Linux",
                   "processor": "x86_64", "loadavg": [0.5, 0.5, 0.5]},
       "packages": {"hotpipe": "0.1.0"}, "gc": "enabled"}


def noisy(median: float, n: int, rng: random.Random, spread: float = 0.02,
          bursts: float = 0.1) -> list[float]:
    """Timings as a shared machine gives them: a floor, multiplicative noise, rare bursts."""
    out = []
    for _ in range(n):
        t = median * rng.lognormvariate(0, spread)
        if rng.random() < bursts:
            t *= 1 + rng.random() * 0.5
        out.append(t)
    return out


def synthetic(times: dict[str, list[float]], env=None, load_after=(0.5, 0.5, 0.5),
              **config) -> BenchResult:
    cases = {name: CaseResult(name, 1, 10, 1, 0.01, 0.01, [t * 10 for t in ts],
                              [t * 10 for t in ts], list(range(len(ts))))
             for name, ts in times.items()}
    return BenchResult(cases, next(iter(cases)), env or ENV, {**CONFIG, **config},
                       list(load_after), "synthetic", {"items": 1000})


@pytest.fixture
def rng():
    return random.Random(1234)
