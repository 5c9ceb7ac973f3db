"""The statistics salessim reports, in one place.

Every interval the CLI, the experiments, the reports and the validation table print comes from
here, so the same runs always give the same numbers.

* :func:`mean_ci` — the mean over replications and its Student-t confidence interval.
* :func:`paired_diff_ci` — the mean paired difference (variant − baseline, replication by
  replication under common random numbers) and its Student-t interval.
* :func:`welch_ci` — the unpaired difference of two means with the Welch–Satterthwaite degrees of
  freedom (what the difference would look like without common random numbers).
* :func:`p_better` — the probability that the variant is better, defined only where the paired
  differences carry information (two or more replications, not all equal).
* :func:`wilson` — the Wilson score interval of a proportion.

Replications are independent draws of one scenario, so a Student-t interval on ``n − 1`` degrees of
freedom is exact for normal outcomes and the right small-sample correction otherwise; a normal
(z = 1.96) interval would be far too narrow at the handful of replications a quick run uses (with
two replications the t quantile is 12.7, not 1.96).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from scipy import stats as _st

__all__ = ["MeanCI", "WelchCI", "mean_ci", "p_better", "paired_diff_ci", "welch_ci", "wilson"]

#: Relative spread below which paired differences count as all equal (floating-point noise).
_EQUAL_RTOL = 1e-12


class MeanCI(NamedTuple):
    """A mean with its confidence interval.

    Attributes:
        mean: the sample mean (NaN without data).
        low, high: the interval's bounds (NaN with fewer than two values).
        se: the standard error of the mean (NaN with fewer than two values).
        n: how many values went in (NaN values are left out).
    """

    mean: float
    low: float
    high: float
    se: float
    n: int


class WelchCI(NamedTuple):
    """An unpaired difference of means (a − b) with its Welch–Satterthwaite interval.

    Attributes:
        diff: mean of a − mean of b.
        low, high: the interval's bounds.
        se: standard error of the difference, √(s²a/na + s²b/nb).
        df: Welch–Satterthwaite degrees of freedom (NaN when both samples are constant).
    """

    diff: float
    low: float
    high: float
    se: float
    df: float


def _values(x: Iterable[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(x if isinstance(x, np.ndarray) else list(x), dtype=float).ravel()
    return a[~np.isnan(a)]


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    return float(level)


def mean_ci(x: Iterable[float] | np.ndarray, level: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence interval, NaN values left out.

    Args:
        x: the values (one per replication).
        level: confidence level.

    Returns:
        (mean, low, high, se, n). With no values everything is NaN; with one value the mean is that
        value and the interval is NaN (one replication says nothing about its own spread).
    """
    q = 0.5 + _check_level(level) / 2
    a = _values(x)
    n = int(a.size)
    if n == 0:
        return MeanCI(np.nan, np.nan, np.nan, np.nan, 0)
    m = float(a.mean())
    if n < 2:
        return MeanCI(m, np.nan, np.nan, np.nan, n)
    se = float(a.std(ddof=1) / np.sqrt(n))
    h = float(_st.t.ppf(q, n - 1) * se)
    return MeanCI(m, m - h, m + h, se, n)


def _pairs(variant: Iterable[float] | np.ndarray, baseline: Iterable[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(variant if isinstance(variant, np.ndarray) else list(variant), dtype=float)
    b = np.asarray(baseline if isinstance(baseline, np.ndarray) else list(baseline), dtype=float)
    if v.shape != b.shape:
        raise ValueError(f"paired samples must have the same length, got {v.size} and {b.size}")
    d = v - b
    return d[~np.isnan(d)]


def paired_diff_ci(
    variant: Iterable[float] | np.ndarray, baseline: Iterable[float] | np.ndarray, level: float = 0.95
) -> MeanCI:
    """Mean paired difference (variant − baseline) and its Student-t interval.

    ``variant[i]`` and ``baseline[i]`` must be the same replication; pairs with a NaN on either side
    are left out.
    """
    return mean_ci(_pairs(variant, baseline), level)


def welch_ci(
    a: Iterable[float] | np.ndarray, b: Iterable[float] | np.ndarray, level: float = 0.95
) -> WelchCI:
    """Unpaired difference of means (a − b) with the Welch–Satterthwaite degrees of freedom.

    df = (s²a/na + s²b/nb)² / ((s²a/na)²/(na − 1) + (s²b/nb)²/(nb − 1)).

    Returns:
        (diff, low, high, se, df); NaN bounds when either sample has fewer than two values; a
        zero-width interval (df NaN) when both samples are constant.
    """
    q = 0.5 + _check_level(level) / 2
    x, y = _values(a), _values(b)
    diff = float(x.mean() - y.mean()) if x.size and y.size else np.nan
    if x.size < 2 or y.size < 2:
        return WelchCI(diff, np.nan, np.nan, np.nan, np.nan)
    va, vb = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return WelchCI(diff, diff, diff, 0.0, np.nan)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    h = float(_st.t.ppf(q, df) * se)
    return WelchCI(diff, diff - h, diff + h, se, float(df))


def p_better(
    variant: Iterable[float] | np.ndarray, baseline: Iterable[float] | np.ndarray, better: int = +1
) -> float:
    """Probability that the variant is better than the baseline, from paired replications.

    The paired differences d = variant − baseline have mean d̄ and standard error s/√n. Under the
    usual reference prior for a normal mean (flat in the mean and in log σ), the true mean
    difference has a Student-t distribution on n − 1 degrees of freedom around d̄ with scale s/√n;
    P(better) is its probability of lying on the better side of zero:

        P(better) = T_{n−1}(better · d̄ / (s/√n)).

    Numerically it equals one minus the one-sided p-value of the paired t-test of "not better".

    It is defined only where the differences carry information: NaN with fewer than two pairs (one
    replication has no spread to judge luck by), and NaN when every difference is the same
    (identical scenarios give all zeros — no evidence either way; a constant shift has no spread
    either, and the t distribution above degenerates).

    Args:
        variant, baseline: per-replication values, aligned by replication.
        better: +1 if higher is better, −1 if lower is better.
    """
    if better not in (1, -1):
        raise ValueError(f"better must be +1 or -1, got {better}")
    d = _pairs(variant, baseline)
    n = d.size
    if n < 2:
        return np.nan
    s = float(d.std(ddof=1))
    scale = float(np.max(np.abs(d)))
    if not np.isfinite(s) or s <= _EQUAL_RTOL * scale:
        return np.nan
    return float(_st.t.cdf(better * float(d.mean()) / (s / np.sqrt(n)), n - 1))


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (NaN bounds when n ≤ 0)."""
    z = float(_st.norm.ppf(0.5 + _check_level(level) / 2))
    if n <= 0:
        return np.nan, np.nan
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # exactly 0 at k = 0 and 1 at k = n (rounding would put a bound a hair inside or outside)
    low = 0.0 if k <= 0 else max(float(c - h), 0.0)
    high = 1.0 if k >= n else min(float(c + h), 1.0)
    return low, high
