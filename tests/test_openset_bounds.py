"""The Clopper-Pearson bounds of bearagent (numpy only) against scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from bearagent.decisions.bounds import (
    betainc,
    binomial_cdf,
    lower_bound,
    trials_needed,
    upper_bound,
    within,
)


def test_incomplete_beta_matches_scipy_on_small_and_large_parameters() -> None:
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0.5, 10, 300), rng.uniform(10, 50_000, 300)])
    b = np.concatenate([rng.uniform(0.5, 10, 300), rng.uniform(10, 50_000, 300)])
    x = rng.uniform(0, 1, 600)
    np.testing.assert_allclose(betainc(a, b, x), special.betainc(a, b, x), atol=1e-10)
    assert betainc(2.0, 3.0, 0.0)[()] == 0.0 and betainc(2.0, 3.0, 1.0)[()] == 1.0


def test_binomial_cdf_matches_scipy() -> None:
    n = np.array([1, 10, 59, 200, 5000, 5000])
    k = np.array([0, 3, 0, 9, 250, 5000])
    p = np.array([0.5, 0.3, 0.05, 0.05, 0.05, 0.4])
    np.testing.assert_allclose(binomial_cdf(k, n, p), stats.binom.cdf(k, n, p), atol=1e-12)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_bounds_match_scipys_beta_quantiles(confidence: float) -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(1, 20_000, 200)
    k = (rng.uniform(0, 0.3, 200) * n).astype(int)
    k[:5] = 0
    k[5:10] = n[5:10]
    upper = np.where(k < n, stats.beta.ppf(confidence, k + 1, np.maximum(n - k, 1)), 1.0)
    lower = np.where(k > 0, stats.beta.ppf(1 - confidence, np.maximum(k, 1), n - k + 1), 0.0)
    np.testing.assert_allclose(upper_bound(k, n, confidence), upper, atol=1e-10)
    np.testing.assert_allclose(lower_bound(k, n, confidence), lower, atol=1e-10)
    # `within` needs no root: it must agree with the bound itself.
    target = 0.05
    assert np.array_equal(within(k, n, target, confidence), upper <= target)


def test_the_textbook_cases() -> None:
    """0 errors in n: the bound is 1 - (1 - c)^(1/n), the 'rule of three' for large n."""
    for n in (1, 20, 59, 300):
        assert upper_bound(0, n)[()] == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)
    assert trials_needed(0.05) == 59 and trials_needed(0.01) == 299
    assert upper_bound(0, 59)[()] <= 0.05 < upper_bound(0, 58)[()]
    assert np.isnan(upper_bound(0, 0)[()]) and np.isnan(lower_bound(0, 0)[()])
    assert not within(0, 0, 0.05)[()]
