"""Exact (Clopper-Pearson) confidence bounds of a rate counted on calibration queries.

A threshold chosen on a few hundred encounters promises an error rate only as
far as those encounters can show it: 0 errors in 20 accepted is an upper bound
of 14 % at 95 % confidence, not 0 %. The calibration accepts a threshold only
when the bound is within the target (`bearagent.decisions.calibration`).

The agent does not depend on scipy, so the regularised incomplete beta function
is computed here (the continued fraction of Numerical Recipes, section 6.4,
vectorised in numpy); tests compare it with ``scipy.special.betainc`` and
``scipy.stats.beta.ppf``.

- upper bound of k events in n: the p with P(X <= k | n, p) = 1 - confidence
  (1 when k = n);
- lower bound: the p with P(X >= k | n, p) = 1 - confidence (0 when k = 0);
- ``binomial_cdf(k, n, p)`` = I_{1-p}(n - k, k + 1); "the upper bound is within
  the target" is the same as ``binomial_cdf(k, n, target) <= 1 - confidence``,
  which needs no root finding.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: The confidence of the bounds unless told otherwise (one-sided).
DEFAULT_CONFIDENCE = 0.95

_TINY = 1e-300
_EPS = 1e-15
_MAX_TERMS = 100_000
_ITERATIONS = 100
_lgamma = np.frompyfunc(math.lgamma, 1, 1)


def _log_gamma(x: FloatArray) -> FloatArray:
    return np.asarray(_lgamma(x), dtype=np.float64)


def _continued_fraction(a: FloatArray, b: FloatArray, x: FloatArray) -> FloatArray:
    """The continued fraction of I_x(a, b) (modified Lentz), for x < (a + 1) / (a + b + 2).

    Each element stops when its last factor is 1 within rounding; the others go on.
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    out = h.copy()
    active = np.arange(len(x))
    for m in range(1, _MAX_TERMS):
        m2 = 2.0 * m
        aa_, bb_, xx_ = a[active], b[active], x[active]
        step = np.ones(len(active))
        for aa in (
            m * (bb_ - m) * xx_ / ((qam[active] + m2) * (aa_ + m2)),
            -(aa_ + m) * (qab[active] + m) * xx_ / ((aa_ + m2) * (qap[active] + m2)),
        ):
            d_ = 1.0 + aa * d[active]
            d[active] = 1.0 / np.where(np.abs(d_) < _TINY, _TINY, d_)
            c_ = 1.0 + aa / c[active]
            c[active] = np.where(np.abs(c_) < _TINY, _TINY, c_)
            step = d[active] * c[active]
            h[active] = h[active] * step
        done = np.abs(step - 1.0) < _EPS
        out[active[done]] = h[active[done]]
        active = active[~done]
        if len(active) == 0:
            break
    out[active] = h[active]
    return out


def betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> FloatArray:
    """The regularised incomplete beta function I_x(a, b) (a, b > 0; x in [0, 1])."""
    a_, b_, x_ = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, x))
    out = np.where(x_ >= 1.0, 1.0, 0.0)
    inside = (x_ > 0.0) & (x_ < 1.0)
    if not inside.any():
        return out
    a_, b_, x_ = a_[inside], b_[inside], x_[inside]
    flip = x_ > (a_ + 1.0) / (a_ + b_ + 2.0)  # converges fast only below the mean
    a1, b1, x1 = np.where(flip, b_, a_), np.where(flip, a_, b_), np.where(flip, 1.0 - x_, x_)
    log_front = (
        _log_gamma(a1 + b1) - _log_gamma(a1) - _log_gamma(b1)
        + a1 * np.log(x1) + b1 * np.log1p(-x1)
    )  # fmt: skip
    value = np.exp(log_front) * _continued_fraction(a1, b1, x1) / a1
    out[inside] = np.clip(np.where(flip, 1.0 - value, value), 0.0, 1.0)
    return out


def binomial_cdf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> FloatArray:
    """P(X <= k) for X ~ Binomial(n, p), elementwise (integers k, n >= 0)."""
    k_, n_, p_ = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(k, n, p))
    out = np.where(k_ >= n_, 1.0, 0.0)
    some = (k_ >= 0) & (k_ < n_)
    out[some] = betainc(n_[some] - k_[some], k_[some] + 1.0, 1.0 - p_[some])
    return out


def _root_decreasing(k: FloatArray, n: FloatArray, level: FloatArray) -> FloatArray:
    """The p in [0, 1] where binomial_cdf(k, n, p) (decreasing in p) falls to `level`.

    Newton steps (the derivative is -n times the Binomial(n - 1, p) probability of k)
    kept inside a bracket that shrinks every step; a step leaving it bisects instead.
    """
    lo, hi = np.zeros_like(k), np.ones_like(k)
    p = np.clip((k + 0.5) / n, 1e-9, 1 - 1e-9)
    log_choose = _log_gamma(n) - _log_gamma(k + 1.0) - _log_gamma(n - k)  # C(n - 1, k)
    active = np.arange(len(k))
    for _ in range(_ITERATIONS):
        ka, na, pa = k[active], n[active], p[active]
        f = binomial_cdf(ka, na, pa) - level[active]
        lo[active] = np.where(f > 0, pa, lo[active])
        hi[active] = np.where(f > 0, hi[active], pa)
        log_pmf = log_choose[active] + ka * np.log(pa) + (na - 1 - ka) * np.log1p(-pa)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = pa - f / (-na * np.exp(log_pmf))
        inside = (step > lo[active]) & (step < hi[active]) & np.isfinite(step)
        new = np.where(inside, step, (lo[active] + hi[active]) / 2.0)
        p[active] = new
        done = (np.abs(new - pa) <= 1e-14 + 1e-12 * pa) | (hi[active] - lo[active] < 1e-14)
        active = active[~done]
        if len(active) == 0:
            break
    return p


def upper_bound(
    events: ArrayLike, trials: ArrayLike, confidence: float = DEFAULT_CONFIDENCE
) -> FloatArray:
    """One-sided Clopper-Pearson upper bound of the rate of `events` in `trials`.

    NaN where there are no trials (nothing to bound).
    """
    k, n = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(events, trials))
    out = np.where(n > 0, 1.0, np.nan)
    some = (n > 0) & (k < n)
    if some.any():
        out[some] = _root_decreasing(k[some], n[some], np.full(int(some.sum()), 1 - confidence))
    return out


def lower_bound(
    events: ArrayLike, trials: ArrayLike, confidence: float = DEFAULT_CONFIDENCE
) -> FloatArray:
    """One-sided Clopper-Pearson lower bound of the rate of `events` in `trials` (NaN: none)."""
    k, n = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(events, trials))
    out = np.where(n > 0, 0.0, np.nan)
    some = (n > 0) & (k > 0)
    if some.any():
        # P(X >= k) = 1 - cdf(k - 1) reaches 1 - confidence where cdf(k - 1) = confidence.
        out[some] = _root_decreasing(k[some] - 1.0, n[some], np.full(int(some.sum()), confidence))
    return out


def within(
    events: ArrayLike, trials: ArrayLike, target: float, confidence: float = DEFAULT_CONFIDENCE
) -> NDArray[np.bool_]:
    """Whether the upper bound of each rate is at most `target` (False without trials)."""
    k, n = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(events, trials))
    ok = np.zeros(k.shape, dtype=bool)
    some = n > 0
    ok[some] = binomial_cdf(k[some], n[some], target) <= (1.0 - confidence) + 1e-12
    return ok


def trials_needed(target: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The fewest error-free trials whose upper bound is within `target`: ln(1-c) / ln(1-t)."""
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - target) - 1e-12)
