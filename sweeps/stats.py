"""Statistics of a sweep: intervals across seeds, the test of a factor's effect, and the
verdicts on the paper's claims. numpy in, numbers out; every test is scipy.stats'.

Conventions: intervals are Student's t 95 % intervals of the mean across runs; a test is
significant at :data:`ALPHA`; an effect is positive when the metric rises with the level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from evaluation.statistics import mean_ci

ALPHA = 0.05
CONFIDENCE = 0.95
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = "supported", "not supported", "inconclusive", "not tested"


def finite_mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """:func:`evaluation.statistics.mean_ci` (mean and Student's t interval) of the finite
    ``values``: a run whose metric is unknown (NaN) is left out, not counted as a number."""
    x = np.asarray(values, dtype=np.float64)
    return mean_ci(x[np.isfinite(x)], confidence)


@dataclass(frozen=True)
class EffectTest:
    """A factor's effect on a metric.

    Attributes:
        test: ``"Welch t"`` (two levels), ``"Spearman"`` (three or more numeric levels) or
            ``"Kruskal-Wallis"`` (three or more other levels).
        statistic: t, rho or H.
        effect_name: ``"d"`` (Cohen's d, high level minus low, pooled sd), ``"rho"`` or
            ``"epsilon^2"`` (H / (n - 1), no sign).
        effect: its value; NaN when the test cannot be made.
        p_value: two-sided.
        n: runs in the test.
    """

    test: str
    statistic: float
    effect_name: str
    effect: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p_value) and self.p_value < ALPHA

    def text(self) -> str:
        if not math.isfinite(self.p_value):
            return f"{self.test}: too few runs (n = {self.n})"
        return f"{self.test}: {self.effect_name} = {self.effect:+.2f}, p = {self.p_value:.3g} (n = {self.n})"


def effect_test(levels: Sequence[object], numbers: Sequence[float | None], values: Sequence[float]) -> EffectTest:
    """Test the effect of the level on ``values`` (one per run; non-finite ones are left out).

    ``levels`` are the runs' levels and ``numbers`` their positions on a numeric axis (None
    for a level that has none); the levels' order is the order of ``numbers`` when all are
    numeric, else their first appearance.
    """
    keep = [i for i, v in enumerate(values) if math.isfinite(v)]
    y = np.array([values[i] for i in keep], dtype=np.float64)
    lv = [levels[i] for i in keep]
    num = [numbers[i] for i in keep]
    distinct = list(dict.fromkeys(lv))
    numeric = all(n is not None for n in num)
    if numeric:
        distinct.sort(key=lambda level: num[lv.index(level)])
    groups = [y[[i for i, level in enumerate(lv) if level == d]] for d in distinct]
    n = int(y.size)
    if len(distinct) == 2:
        low, high = groups
        if min(low.size, high.size) < 2:
            return EffectTest("Welch t", math.nan, "d", math.nan, math.nan, n)
        result = stats.ttest_ind(high, low, equal_var=False)
        pooled = math.sqrt(((low.size - 1) * low.var(ddof=1) + (high.size - 1) * high.var(ddof=1)) / (n - 2))
        d = (high.mean() - low.mean()) / pooled if pooled > 0 else math.nan
        return EffectTest("Welch t", float(result.statistic), "d", float(d), float(result.pvalue), n)
    if len(distinct) < 2 or n < 3:
        return EffectTest("none", math.nan, "-", math.nan, math.nan, n)
    if numeric:
        result = stats.spearmanr(np.array(num, dtype=np.float64), y)
        return EffectTest("Spearman", float(result.statistic), "rho", float(result.statistic), float(result.pvalue), n)
    result = stats.kruskal(*groups)
    return EffectTest("Kruskal-Wallis", float(result.statistic), "epsilon^2", float(result.statistic) / (n - 1),
                      float(result.pvalue), n)  # fmt: skip


def _inconclusive(seeds: int) -> str:
    return f"{INCONCLUSIVE} at {seeds} seed{'' if seeds == 1 else 's'}"


@dataclass(frozen=True)
class Verdict:
    """A claim, its verdict (:data:`SUPPORTED`, :data:`NOT_SUPPORTED`, :data:`INCONCLUSIVE`
    or :data:`NOT_TESTED`) and the numbers behind it."""

    claim: str
    verdict: str
    numbers: str


def direction_verdict(claim: str, test: EffectTest | None, seeds: int, rises: bool = True) -> Verdict:
    """A claim that the metric rises with the factor (falls, with ``rises=False``):
    supported when the effect has that sign and is significant, not supported when it is
    significant with the other sign, else inconclusive."""
    if test is None:
        return Verdict(claim, NOT_TESTED, "the factor does not vary in this sweep")
    if not math.isfinite(test.p_value):
        return Verdict(claim, _inconclusive(seeds), test.text())
    sign = 1.0 if rises else -1.0
    if test.significant and sign * test.effect > 0:
        return Verdict(claim, SUPPORTED, test.text())
    if test.significant and sign * test.effect < 0:
        return Verdict(claim, NOT_SUPPORTED, f"the opposite: {test.text()}")
    return Verdict(claim, _inconclusive(seeds), test.text())


def interior_optimum_verdict(claim: str, capacity: Sequence[float], values: Sequence[float], seeds: int) -> Verdict:
    """Supported when the level with the highest mean is neither the smallest nor the largest
    and beats both ends (Welch t, one-sided at ALPHA); not supported when an end is best and
    the trend is monotonic (Spearman, significant); else inconclusive."""
    x = np.asarray(capacity, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    levels = np.unique(x)
    if levels.size < 3:
        return Verdict(claim, NOT_TESTED, f"needs three or more capacities, the sweep has {levels.size}")
    means = np.array([y[x == lv].mean() for lv in levels])
    best = int(np.argmax(means))
    shown = ", ".join(f"{lv:g}: {m:+.4f}" for lv, m in zip(levels, means))
    if 0 < best < levels.size - 1:
        p = [float(stats.ttest_ind(y[x == levels[best]], y[x == end], equal_var=False, alternative="greater").pvalue)
             for end in (levels[0], levels[-1])]  # fmt: skip
        numbers = f"best {levels[best]:g} units; mean by units {shown}; p vs ends {p[0]:.3g}, {p[1]:.3g}"
        if all(math.isfinite(v) and v < ALPHA for v in p):
            return Verdict(claim, SUPPORTED, numbers)
        return Verdict(claim, _inconclusive(seeds), numbers)
    rho = stats.spearmanr(x, y)
    numbers = (f"best at an end ({levels[best]:g} units); mean by units {shown}; "
               f"Spearman rho = {rho.statistic:+.2f}, p = {rho.pvalue:.3g}")  # fmt: skip
    if rho.pvalue < ALPHA:
        return Verdict(claim, NOT_SUPPORTED, numbers)
    return Verdict(claim, _inconclusive(seeds), numbers)


def early_peak_verdict(claim: str, curves: Sequence[tuple[np.ndarray, np.ndarray]], seeds: int) -> Verdict:
    """CMNI peaks early, then declines: per run (``(steps, cmni)`` with four or more probes),
    the mean CMNI over the first half of training against the mean over its last quarter
    (Wilcoxon signed-rank, two-sided), and where the peak falls (fraction of training).
    Supported when early > late significantly and the median peak is in the first half."""
    early, late, where = [], [], []
    for steps, cmni in curves:
        if len(steps) < 4:
            continue
        end = float(steps[-1])
        early.append(float(cmni[steps <= end / 2].mean()))
        late.append(float(cmni[steps >= 0.75 * end].mean()))
        where.append(float(steps[int(np.argmax(cmni))]) / end)
    if len(early) < 2:
        return Verdict(claim, NOT_TESTED, "needs runs with four or more probes")
    diff = np.array(early) - np.array(late)
    p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    peak = float(np.median(where))
    numbers = (f"first half {np.mean(early):.4f} vs last quarter {np.mean(late):.4f} (mean over {len(early)} runs), "
               f"Wilcoxon p = {p:.3g}; median peak at {peak:.0%} of training")  # fmt: skip
    if p < ALPHA and diff.mean() > 0 and peak <= 0.5:
        return Verdict(claim, SUPPORTED, numbers)
    if p < ALPHA and diff.mean() < 0:
        return Verdict(claim, NOT_SUPPORTED, f"CMNI rises instead: {numbers}")
    return Verdict(claim, _inconclusive(seeds), numbers)
