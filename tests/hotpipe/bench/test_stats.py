"""The decision logic on synthetic samples: seeded, so no test depends on this machine's
speed or load."""

import itertools
import random

import pytest

from hotpipe.bench import mann_whitney_u, verdict
from hotpipe.bench._stats import _exact_cdf, bootstrap_ratio, summarise

from .conftest import noisy


def test_summary_quartiles():
    s = summarise([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.n, s.median, s.q1, s.q3, s.min, s.max) == (5, 3.0, 2.0, 4.0, 1.0, 5.0)
    assert s.iqr == 2.0 and s.spread == pytest.approx(2 / 3)
    one = summarise([2.0])
    assert one.iqr == 0.0 and one.median == 2.0
    with pytest.raises(ValueError):
        summarise([])


def test_exact_distribution_sums_to_one_and_is_symmetric():
    cdf = _exact_cdf(4, 6)
    assert cdf[-1] == pytest.approx(1.0)
    pmf = [cdf[0]] + [b - a for a, b in itertools.pairwise(cdf)]
    assert pmf == pytest.approx(pmf[::-1])


def test_mann_whitney_known_values():
    # fully separated samples of 5 and 5: p = 2 / C(10, 5)
    assert mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert mann_whitney_u([1, 2, 3], [1, 2, 3]) == 1.0
    # ties and large samples take the normal approximation
    big_a, big_b = [1.0] * 30 + [2.0] * 30, [2.0] * 30 + [3.0] * 30
    assert mann_whitney_u(big_a, big_b) < 1e-6
    assert mann_whitney_u([4.0] * 40, [4.0] * 40) == 1.0


def test_known_different_pair_is_found_different(rng):
    before, after = noisy(1.0, 15, rng), noisy(0.7, 15, rng)
    v = verdict(before, after)
    assert v.significant and v.ratio == pytest.approx(1 / 0.7, rel=0.05)
    assert v.ci_low < v.ratio < v.ci_high
    assert v.label.endswith("x faster")
    slower = verdict(after, before)
    assert slower.significant and slower.label.endswith("x slower")


def test_identical_distributions_are_not_significant_in_most_runs():
    significant = 0
    for seed in range(200):
        rng = random.Random(seed)
        v = verdict(noisy(1.0, 15, rng, spread=0.05), noisy(1.0, 15, rng, spread=0.05),
                    resamples=50)  # the interval plays no part in the decision
        significant += v.significant
        if not v.significant:
            assert ", not significant (p=" in v.label or ", below the" in v.label
    assert significant <= 200 * 0.05  # alpha = 0.05, and the minimum factor on top


def test_a_real_but_tiny_difference_is_below_the_minimum_factor():
    rng = random.Random(7)
    v = verdict(noisy(1.02, 60, rng, spread=0.002), noisy(1.0, 60, rng, spread=0.002))
    assert v.p_value < 0.05 and not v.significant
    assert v.label == f"{v.ratio:.2f}x faster, below the 1.05x minimum"
    assert verdict([1.02] * 5 + [1.03], [1.0] * 5 + [1.01], min_factor=1.01).significant


def test_not_significant_label_says_p():
    v = verdict([1.0, 1.1, 0.9, 1.05], [1.02, 0.95, 1.08, 1.0])
    assert "not significant (p=" in v.label


def test_too_few_samples_say_so():
    v = verdict([2.0, 2.1], [1.0, 1.1])
    assert not v.significant
    assert v.label == "1.95x faster, too few samples to tell (2 and 2; need 4+ each)"
    assert verdict([2.0, 2.1, 2.2, 2.05], [1.0, 1.1, 1.05, 1.02]).significant


def test_bootstrap_is_seeded():
    a, b = [1.0, 1.2, 0.9, 1.1, 1.05], [0.5, 0.6, 0.55, 0.52, 0.58]
    assert bootstrap_ratio(a, b) == bootstrap_ratio(a, b)
    lo, hi = bootstrap_ratio(a, b)
    assert lo <= 1.05 / 0.55 <= hi
