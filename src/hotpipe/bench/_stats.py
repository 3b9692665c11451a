"""The statistics of a comparison: summaries, Mann-Whitney U, a bootstrap interval, a verdict.

Standard library only. Timings on a shared machine are skewed (a sample can only be slowed
down by other work, never sped up), so everything here is rank- or median-based:

* a case is summarised by its median, quartiles (IQR), min and max;
* two cases are compared by the ratio of their medians (baseline / case: > 1 means the case
  is faster), with a percentile bootstrap interval of that ratio (seeded, so a report is
  reproducible from its samples);
* the difference is tested with the two-sided Mann-Whitney U test (exact distribution for
  small tie-free samples, the normal approximation with tie and continuity corrections
  otherwise);
* a difference is *significant* when p < alpha **and** the ratio is at least the minimum
  factor: a real but tiny effect ("1.01x") is not worth a claim on a noisy machine.

>>> round(mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 4)
0.0079
>>> verdict([2.0, 2.2, 2.4, 2.1, 2.3], [1.0, 1.1, 1.2, 1.05, 1.15]).label
'2.00x faster'
>>> verdict([1.0, 1.1, 0.9, 1.05], [1.02, 0.95, 1.08, 1.0]).label
'1.01x faster, not significant (p=1)'
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Summary", "Verdict", "bootstrap_ratio", "mann_whitney_u", "summarise", "verdict"]

_EXACT_MAX = 400  # n1 * n2 up to which the exact U distribution is computed (tie-free)


@dataclass(frozen=True)
class Summary:
    """Median, quartiles, min and max of some samples."""

    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def spread(self) -> float:
        """IQR relative to the median (0.1 = the middle half of the samples spans 10 %)."""
        return self.iqr / self.median if self.median else 0.0


def summarise(samples: Sequence[float]) -> Summary:
    """Median, quartiles (inclusive method), min and max; one sample gives a zero IQR."""
    if not samples:
        raise ValueError("no samples to summarise")
    xs = sorted(samples)
    if len(xs) == 1:
        q1 = q3 = xs[0]
    else:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return Summary(len(xs), statistics.median(xs), q1, q3, xs[0], xs[-1])


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) and the sizes of the groups of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


@functools.lru_cache(maxsize=64)
def _exact_cdf(n1: int, n2: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0..n1*n2 under the null (no ties), by counting arrangements."""
    # counts[j][u]: arrangements of i x-values and j y-values with statistic u, built up in i
    counts = [[1] + [0] * (n1 * n2) for _ in range(n2 + 1)]
    for _i in range(1, n1 + 1):
        new = [[0] * (n1 * n2 + 1) for _ in range(n2 + 1)]
        for j in range(n2 + 1):
            for u in range(n1 * n2 + 1):
                c = counts[j][u - j] if u >= j else 0  # the new x is above all j y-values
                if j:
                    c += new[j - 1][u]  # the last element is a y-value
                new[j][u] = c
        counts = new
    total = math.comb(n1 + n2, n1)
    cdf, acc = [], 0
    for c in counts[n2]:
        acc += c
        cdf.append(acc / total)
    return tuple(cdf)  # cached: immutable


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test that ``a`` and ``b`` share a distribution."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks, ties = _ranks([*a, *b])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if not ties and n1 * n2 <= _EXACT_MAX:
        cdf = _exact_cdf(n1, n2)
        u = round(min(u1, n1 * n2 - u1))
        return min(1.0, 2 * cdf[u])
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1))
    var = n1 * n2 / 12 * (n + 1 - tie_term)
    if var <= 0:  # every value equal
        return 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def bootstrap_ratio(base: Sequence[float], case: Sequence[float], *, level: float = 0.95,
                    resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(base) / median(case), seeded."""
    rng = random.Random(seed)
    med = statistics.median
    ratios = sorted(
        med(rng.choices(base, k=len(base))) / med(rng.choices(case, k=len(case)))
        for _ in range(resamples)
    )
    tail = (1 - level) / 2
    lo = ratios[int(tail * (resamples - 1))]
    hi = ratios[math.ceil((1 - tail) * (resamples - 1))]
    return lo, hi


@dataclass(frozen=True)
class Verdict:
    """Is ``case`` faster than the baseline, by how much, and is that real?

    ``ratio`` = median(baseline) / median(case): 2.0 means the case takes half the time.
    """

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    min_factor: float
    alpha: float
    n_base: int = 0
    n_case: int = 0

    @property
    def reason(self) -> str:
        """Why the verdict is not significant ('' when it is)."""
        if self.significant:
            return ""
        if self.n_base and 2 / math.comb(self.n_base + self.n_case, self.n_base) >= self.alpha:
            return f"too few samples to tell ({self.n_base} and {self.n_case}; need 4+ each)"
        if self.p_value >= self.alpha:
            return f"not significant (p={self.p_value:.2g})"
        return f"below the {self.min_factor:g}x minimum"

    @property
    def label(self) -> str:
        """``'1.52x faster'``, ``'1.25x slower'``, ``'1.04x faster, not significant
        (p=0.31)'``."""
        speed = (f"{self.ratio:.2f}x faster" if self.ratio >= 1
                 else f"{1 / self.ratio:.2f}x slower")
        return speed if self.significant else f"{speed}, {self.reason}"


def verdict(base: Sequence[float], case: Sequence[float], *, min_factor: float = 1.05,
            alpha: float = 0.05, seed: int = 0, resamples: int = 2000) -> Verdict:
    """Compare two sets of timings (lower is better) with the rules in the module docstring."""
    ratio = statistics.median(base) / statistics.median(case)
    lo, hi = bootstrap_ratio(base, case, seed=seed, resamples=resamples)
    p = mann_whitney_u(base, case)
    big_enough = max(ratio, 1 / ratio) >= min_factor
    return Verdict(ratio, lo, hi, p, p < alpha and big_enough, min_factor, alpha, len(base),
                   len(case))
