"""Null distribution and uncertainty for the CMNI (SPEC section 7, "Chance level").

Pure numpy; no torch import.

* :func:`permutation_test` shuffles the scenario labels over the probe states
  and recomputes the CMNI, giving a one-sided p-value and a z-score for the
  observed CMNI against "activations unrelated to the scenarios".
* :func:`bootstrap_ci` resamples probe states with replacement *within* each
  scenario and reports a percentile confidence interval for the CMNI.

Both accept activations as an array ``(n_states, n_neurons)`` or a mapping
``layer -> (n_states, n_layer_neurons)``, exactly like
:func:`cmni.metric.compute_cmni`, and validate them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .metric import N_SCENARIOS, REQUIRED_SCENARIOS, ActivationsLike, mns_from_means, prepare_inputs, scenario_means

__all__ = ["PermutationResult", "BootstrapResult", "permutation_test", "bootstrap_ci"]

#: Resamples processed per matrix product (bounds memory to a few tens of MB).
_CHUNK = 64


@dataclass(frozen=True, eq=False)
class PermutationResult:
    """Outcome of :func:`permutation_test`.

    Attributes:
        observed: CMNI with the true labels (equals ``compute_cmni(...).cmni``).
        null_cmni: ``(K,)`` CMNI under each label permutation.
        null_mean: mean of ``null_cmni``.
        null_std: population standard deviation (ddof=0) of ``null_cmni``.
        p_value: one-sided, ``(1 + #(null_cmni >= observed)) / (1 + K)``;
            never below ``1 / (K + 1)``.
        z_score: ``(observed - null_mean) / null_std``; 0.0 when
            ``null_std == 0`` (every permutation gave the same CMNI, e.g. all
            activations constant).
        n_permutations: K.
        seed: seed given to ``np.random.default_rng``.
    """

    observed: float
    null_cmni: np.ndarray
    null_mean: float
    null_std: float
    p_value: float
    z_score: float
    n_permutations: int
    seed: int | None

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable scalars (no null samples)."""
        return {
            "observed": float(self.observed),
            "null_mean": float(self.null_mean),
            "null_std": float(self.null_std),
            "p_value": float(self.p_value),
            "z_score": float(self.z_score),
            "n_permutations": int(self.n_permutations),
            "seed": self.seed,
        }


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Outcome of :func:`bootstrap_ci`.

    Attributes:
        low, high: percentile interval bounds, the ``(1 - confidence) / 2`` and
            ``(1 + confidence) / 2`` quantiles of ``samples`` (numpy's default
            linear interpolation).
        samples: ``(n_boot,)`` bootstrap CMNI values.
        confidence: interval coverage, in (0, 1).
        observed: CMNI on the original probe set.
        n_boot: number of bootstrap resamples.
        seed: seed given to ``np.random.default_rng``.
    """

    low: float
    high: float
    samples: np.ndarray
    confidence: float
    observed: float
    n_boot: int
    seed: int | None

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable scalars (no samples)."""
        return {
            "low": float(self.low),
            "high": float(self.high),
            "confidence": float(self.confidence),
            "observed": float(self.observed),
            "n_boot": int(self.n_boot),
            "seed": self.seed,
        }


def _check_count(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 1 or raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def _cmni_from_means(mu_none: np.ndarray, mu_self: np.ndarray, mu_other: np.ndarray) -> np.ndarray:
    """CMNI from scenario means of shape ``(..., N)`` -> shape ``(...)``."""
    mns, _, _ = mns_from_means(mu_none, mu_self, mu_other)
    return mns.sum(axis=-1) / mns.shape[-1]


def _permuted_cmni(matrix: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """CMNI for a batch of label vectors.

    Args:
        matrix: ``(n_states, N)`` activations.
        labels: ``(B, n_states)`` scenario codes, each row a permutation of
            the original codes (so the per-scenario counts are unchanged).
        counts: ``(4,)`` states per scenario.

    Returns:
        ``(B,)`` CMNI per label vector. Scenario means come from one matrix
        product of the one-hot indicators ``(B * 3, n_states)`` with ``matrix``.
    """
    required = np.asarray(REQUIRED_SCENARIOS)
    indicators = (labels[:, None, :] == required[None, :, None]).astype(np.float64)
    batch, n_req, n_states = indicators.shape
    sums = (indicators.reshape(batch * n_req, n_states) @ matrix).reshape(batch, n_req, -1)
    means = sums / counts[required].astype(np.float64)[None, :, None]
    return _cmni_from_means(means[:, 0], means[:, 1], means[:, 2])


def permutation_test(
    activations: ActivationsLike,
    scenarios: Any,
    n_permutations: int = 200,
    seed: int | None = 0,
) -> PermutationResult:
    """Permutation test of the CMNI against shuffled scenario labels.

    The ``n_states`` labels (all four codes) are shuffled with
    ``np.random.default_rng(seed).permutation``, K times, and the CMNI is
    recomputed on the unchanged activations. Per-scenario counts are kept by
    construction, so every scenario stays present.

    Args:
        activations: ``(n_states, n_neurons)`` or mapping
            ``layer -> (n_states, n_layer_neurons)`` (layers concatenated).
        scenarios: ``(n_states,)`` codes in {0, 1, 2, 3}.
        n_permutations: K >= 1.
        seed: seed for ``np.random.default_rng``; the same seed gives the same
            result.

    Returns:
        A :class:`PermutationResult` (one-sided p-value, z-score, null samples).

    Raises:
        ValueError: invalid inputs (as :func:`cmni.metric.compute_cmni`) or
            ``n_permutations < 1``.
    """
    k = _check_count(n_permutations, "n_permutations")
    prepared = prepare_inputs(activations, scenarios)
    matrix, codes = prepared.matrix, prepared.codes
    counts = np.bincount(codes, minlength=N_SCENARIOS)
    means = scenario_means(matrix, codes)
    observed = float(_cmni_from_means(means[0], means[1], means[2]))
    rng = np.random.default_rng(seed)
    null = np.empty(k, dtype=np.float64)
    for start in range(0, k, _CHUNK):
        batch = min(_CHUNK, k - start)
        labels = np.stack([rng.permutation(codes) for _ in range(batch)])
        null[start : start + batch] = _permuted_cmni(matrix, labels, counts)
    null_mean = float(null.mean())
    null_std = float(null.std())
    p_value = (1.0 + float(np.count_nonzero(null >= observed))) / (1.0 + k)
    z_score = (observed - null_mean) / null_std if null_std > 0 else 0.0
    null.setflags(write=False)
    return PermutationResult(
        observed=observed,
        null_cmni=null,
        null_mean=null_mean,
        null_std=null_std,
        p_value=p_value,
        z_score=float(z_score),
        n_permutations=k,
        seed=seed,
    )


def _resampled_means(
    rows: np.ndarray, batch: int, rng: np.random.Generator
) -> np.ndarray:
    """Means of ``batch`` with-replacement resamples of ``rows``.

    Args:
        rows: ``(c, N)`` activations of one scenario's states.
        batch: number of resamples B.
        rng: generator (draws ``B * c`` integers).

    Returns:
        ``(B, N)`` mean over each resample of ``c`` states. The resample is
        encoded as multiplicities ``(B, c)`` so the means are one matrix
        product.
    """
    c = rows.shape[0]
    draws = rng.integers(0, c, size=(batch, c))
    offsets = (np.arange(batch) * c)[:, None]
    multiplicity = np.bincount((draws + offsets).ravel(), minlength=batch * c)
    return (multiplicity.reshape(batch, c).astype(np.float64) @ rows) / c


def bootstrap_ci(
    activations: ActivationsLike,
    scenarios: Any,
    n_boot: int = 200,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Stratified bootstrap percentile interval for the CMNI.

    Each resample draws, for each of the scenarios 0, 1, 2 separately, as many
    probe states as that scenario has, with replacement, from that scenario's
    states (so every scenario stays present with its original count).
    Scenario 3 does not enter the CMNI and is not resampled.

    Note: the CMNI sums ``min(delta_self, delta_other)`` only where both are
    positive, so resampling noise tends to push it up; for activations that
    carry no mirror signal the bootstrap distribution sits above the observed
    value (the interval can even exclude it). Use :func:`permutation_test`
    to judge whether a CMNI exceeds chance; use this interval for the
    sampling spread of a CMNI with a clear signal.

    Args:
        activations: ``(n_states, n_neurons)`` or mapping
            ``layer -> (n_states, n_layer_neurons)`` (layers concatenated).
        scenarios: ``(n_states,)`` codes in {0, 1, 2, 3}.
        n_boot: number of resamples >= 1.
        seed: seed for ``np.random.default_rng``; same seed -> same result.
        confidence: coverage of the interval, strictly between 0 and 1.

    Returns:
        A :class:`BootstrapResult`.

    Raises:
        ValueError: invalid inputs (as :func:`cmni.metric.compute_cmni`),
            ``n_boot < 1`` or ``confidence`` outside (0, 1).
    """
    b_total = _check_count(n_boot, "n_boot")
    if not (isinstance(confidence, (int, float, np.floating)) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be a number strictly between 0 and 1; got {confidence!r}")
    prepared = prepare_inputs(activations, scenarios)
    matrix, codes = prepared.matrix, prepared.codes
    means = scenario_means(matrix, codes)
    observed = float(_cmni_from_means(means[0], means[1], means[2]))
    groups = [matrix[codes == code] for code in REQUIRED_SCENARIOS]
    rng = np.random.default_rng(seed)
    samples = np.empty(b_total, dtype=np.float64)
    for start in range(0, b_total, _CHUNK):
        batch = min(_CHUNK, b_total - start)
        mu = [_resampled_means(rows, batch, rng) for rows in groups]
        samples[start : start + batch] = _cmni_from_means(mu[0], mu[1], mu[2])
    alpha = 1.0 - float(confidence)
    low, high = np.quantile(samples, [alpha / 2.0, 1.0 - alpha / 2.0])
    samples.setflags(write=False)
    return BootstrapResult(
        low=float(low),
        high=float(high),
        samples=samples,
        confidence=float(confidence),
        observed=observed,
        n_boot=b_total,
        seed=seed,
    )
