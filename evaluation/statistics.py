"""Confidence intervals of the evaluation's per-episode figures (scipy.stats, numpy in and out)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from frogtoad_env.checks import check_unit_interval

__all__ = ["mean_ci"]


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of ``values`` (any shape, flattened to ``n`` numbers).

    The interval is Student's t: ``mean +- t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)``
    with ``s`` the sample standard deviation (ddof=1). With one value the bounds are NaN
    (no spread to estimate); with none, all three are NaN.
    """
    level = check_unit_interval("confidence", confidence)
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    # t.ppf rather than t.interval: the latter returns NaN when every episode scored the same (s = 0)
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half
