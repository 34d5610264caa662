"""The Checkpoint Mirror Neuron Index (CMNI): the reference definition.

numpy only; no torch import.

For one checkpoint, a fixed probe set of ``n_states`` states is labelled with a
scenario code per state (see :data:`SCENARIO_NAMES`) and every probed neuron's
activation is recorded. For neuron ``n`` let ``mu_n(s)`` be its mean activation
over the states of scenario ``s``. Then::

    delta_self_n  = mu_n(1) - mu_n(0)
    delta_other_n = mu_n(2) - mu_n(0)
    MNS_n = min(delta_self_n, delta_other_n)  if both deltas are > 0 (strictly)
            0                                 otherwise ("zero rule")
    MNE   = sum_n MNS_n
    CMNI  = MNE / N           (N = number of probed neurons)

A neuron with both deltas strictly positive is a *mirror candidate*.
Scenario 3 ("both") is not part of the formula; its per-neuron statistics are
reported anyway.

Activations are given either as one array ``(n_states, n_neurons)`` or as a
mapping ``layer name -> (n_states, n_layer_neurons)``. In the mapping form the
layers are concatenated along the neuron axis in the mapping's order; the
array form behaves as a single layer called ``"all"``.

The helpers :func:`prepare_inputs`, :func:`as_layers`, :func:`scenario_onehot`,
:func:`scenario_means` and :func:`mns_from_means` are shared with
:mod:`cmni.stats` and :mod:`cmni.overlap`; they are not part of the package's
re-exported API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

__all__ = [
    "SCENARIO_NAMES",
    "ALL_LAYER",
    "ActivationsLike",
    "CMNIResult",
    "PreparedInputs",
    "compute_cmni",
    "prepare_inputs",
    "as_layers",
    "validate_scenarios",
    "scenario_onehot",
    "scenario_means",
    "mns_from_means",
    "candidate_mask",
]

#: Scenario names indexed by code: 0 none, 1 self ("act"), 2 other ("observe"), 3 both.
SCENARIO_NAMES: tuple[str, str, str, str] = ("none", "self", "other", "both")

#: Number of scenario codes.
N_SCENARIOS: int = len(SCENARIO_NAMES)

#: Scenario codes that must be present for the metric to be defined.
REQUIRED_SCENARIOS: tuple[int, int, int] = (0, 1, 2)

#: Layer name used for plain array input and for the concatenation of all layers.
ALL_LAYER: str = "all"

#: An activation matrix ``(n_states, n_neurons)`` or a mapping layer -> such a matrix.
ActivationsLike = Union[np.ndarray, Mapping[str, np.ndarray]]


# --------------------------------------------------------------------------- #
# Validation and preparation (shared with stats.py and overlap.py)
# --------------------------------------------------------------------------- #


def _layer_label(name: str, from_mapping: bool) -> str:
    """Human-readable layer reference for error messages."""
    return f"layer {name!r}" if from_mapping else "activations"


def _as_float_matrix(values: Any, name: str, from_mapping: bool) -> np.ndarray:
    """Convert one layer to a finite float64 matrix ``(n_states, n_neurons)``.

    Raises:
        ValueError: not numeric, not 2-D, no neurons, or NaN/inf values.
    """
    where = _layer_label(name, from_mapping)
    arr = np.asarray(values)
    if arr.dtype.kind not in "biufO":
        raise ValueError(f"{where} must hold real numbers; got dtype {arr.dtype}")
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{where} must hold real numbers; got dtype {arr.dtype}"
            ) from exc
    if arr.ndim != 2:
        raise ValueError(
            f"{where} must be 2-D with shape (n_states, n_neurons); "
            f"got shape {arr.shape} ({arr.ndim}-D)"
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{where} has 0 neurons (shape {arr.shape}); each layer needs at least one neuron"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        n_bad = int(arr.size - np.count_nonzero(finite))
        raise ValueError(
            f"{where} contains {n_bad} non-finite value(s) (NaN or inf); "
            "all activations must be finite"
        )
    return arr


def as_layers(activations: ActivationsLike) -> tuple[dict[str, np.ndarray], bool]:
    """Validate activations and return them as an ordered dict of float64 layers.

    Args:
        activations: array ``(n_states, n_neurons)`` or mapping
            ``layer -> (n_states, n_layer_neurons)``.

    Returns:
        ``(layers, from_mapping)``: ``layers`` maps name -> finite float64 matrix
        ``(n_states, n_layer_neurons)`` in input order (array input becomes the
        single layer ``"all"``); ``from_mapping`` says which form was given.

    Raises:
        ValueError: empty mapping, a layer that is not 2-D, has no neurons or
            holds NaN/inf, or layers with different ``n_states``.
    """
    if isinstance(activations, Mapping):
        if len(activations) == 0:
            raise ValueError(
                "activations mapping is empty; give at least one layer "
                "name -> (n_states, n_neurons) array"
            )
        layers = {
            name: _as_float_matrix(values, name, True)
            for name, values in activations.items()
        }
        first_name, first = next(iter(layers.items()))
        for name, arr in layers.items():
            if arr.shape[0] != first.shape[0]:
                raise ValueError(
                    f"layer {name!r} has {arr.shape[0]} states (rows) but layer "
                    f"{first_name!r} has {first.shape[0]}; all layers must be "
                    "recorded on the same probe states"
                )
        return layers, True
    return {ALL_LAYER: _as_float_matrix(activations, ALL_LAYER, False)}, False


def validate_scenarios(scenarios: Any, n_states: int) -> np.ndarray:
    """Validate scenario labels and return them as an int64 array ``(n_states,)``.

    Args:
        scenarios: array-like ``(n_states,)`` of codes in {0, 1, 2, 3}. Integer
            (or bool) dtype, or floats that are whole numbers.
        n_states: number of activation rows the labels must match.

    Raises:
        ValueError: not 1-D, not numeric, non-whole floats, codes outside
            {0, 1, 2, 3}, length different from ``n_states``, or one of the
            scenarios 0, 1, 2 without any state.
    """
    arr = np.asarray(scenarios)
    if arr.ndim != 1:
        raise ValueError(
            f"scenarios must be 1-D with shape (n_states,); got shape {arr.shape}"
        )
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            bad = np.unique(arr[~whole])[:5].tolist()
            raise ValueError(
                "scenarios must be whole-number codes in {0, 1, 2, 3}; "
                f"got non-integer values {bad}"
            )
    elif arr.dtype.kind not in "biu":
        raise ValueError(
            "scenarios must be integer codes in {0, 1, 2, 3}; "
            f"got dtype {arr.dtype}"
        )
    if arr.shape[0] != n_states:
        raise ValueError(
            f"scenarios has {arr.shape[0]} entries but activations have "
            f"{n_states} states (rows); they must match"
        )
    valid = (arr >= 0) & (arr < N_SCENARIOS)
    if not valid.all():
        bad = sorted({int(v) for v in np.unique(arr[~valid])})
        raise ValueError(
            f"scenario codes must be in {{0, 1, 2, 3}} {SCENARIO_NAMES}; "
            f"got invalid codes {bad}"
        )
    codes = arr.astype(np.int64)
    counts = np.bincount(codes, minlength=N_SCENARIOS)
    for code in REQUIRED_SCENARIOS:
        if counts[code] == 0:
            raise ValueError(
                f"scenario {code} ({SCENARIO_NAMES[code]!r}) has no states; "
                "scenarios 0 ('none'), 1 ('self') and 2 ('other') must each be "
                "present (3 ('both') may be absent)"
            )
    return codes


@dataclass(frozen=True)
class PreparedInputs:
    """Validated, concatenated inputs.

    Attributes:
        matrix: float64 ``(n_states, N)``, all layers concatenated in order.
        codes: int64 ``(n_states,)`` scenario codes.
        layer_slices: layer name -> slice of the neuron axis of ``matrix``.
        from_mapping: True when the activations were given as a mapping.
    """

    matrix: np.ndarray
    codes: np.ndarray
    layer_slices: dict[str, slice]
    from_mapping: bool

    @property
    def n_states(self) -> int:
        """Number of probe states."""
        return int(self.matrix.shape[0])

    @property
    def n_neurons(self) -> int:
        """Total number of neurons N."""
        return int(self.matrix.shape[1])


def concat_layers(layers: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, slice]]:
    """Concatenate layers ``(n_states, n_i)`` into ``(n_states, sum n_i)``.

    Returns:
        ``(matrix, layer_slices)`` with ``layer_slices[name]`` the slice of that
        layer's neurons in ``matrix``.
    """
    slices: dict[str, slice] = {}
    start = 0
    for name, arr in layers.items():
        slices[name] = slice(start, start + arr.shape[1])
        start += arr.shape[1]
    arrays = list(layers.values())
    matrix = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)
    return matrix, slices


def prepare_inputs(activations: ActivationsLike, scenarios: Any) -> PreparedInputs:
    """Validate activations and scenario labels and concatenate the layers.

    Args:
        activations: array ``(n_states, n_neurons)`` or mapping
            ``layer -> (n_states, n_layer_neurons)``.
        scenarios: codes ``(n_states,)`` in {0, 1, 2, 3}.

    Raises:
        ValueError: see :func:`as_layers` and :func:`validate_scenarios`.
    """
    layers, from_mapping = as_layers(activations)
    matrix, slices = concat_layers(layers)
    codes = validate_scenarios(scenarios, matrix.shape[0])
    return PreparedInputs(matrix, codes, slices, from_mapping)


# --------------------------------------------------------------------------- #
# Core computations
# --------------------------------------------------------------------------- #


def scenario_onehot(codes: np.ndarray) -> np.ndarray:
    """One-hot encode scenario codes ``(n_states,)`` -> float64 ``(n_states, 4)``."""
    onehot = np.zeros((codes.shape[0], N_SCENARIOS), dtype=np.float64)
    onehot[np.arange(codes.shape[0]), codes] = 1.0
    return onehot


def scenario_means(matrix: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-scenario mean activation.

    Args:
        matrix: ``(n_states, N)`` activations.
        codes: ``(n_states,)`` scenario codes in {0, 1, 2, 3}.

    Returns:
        ``(4, N)``; row ``s`` is ``mu(s)``. Rows of absent scenarios are NaN.
    """
    counts = np.bincount(codes, minlength=N_SCENARIOS).astype(np.float64)
    sums = scenario_onehot(codes).T @ matrix
    return _divide_rows(sums, counts)


def _divide_rows(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sums (4, N) / counts (4,)`` row-wise, NaN rows where the count is 0."""
    out = np.full_like(sums, np.nan)
    present = counts > 0
    out[present] = sums[present] / counts[present, None]
    return out


def mns_from_means(
    mu_none: np.ndarray, mu_self: np.ndarray, mu_other: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror Neuron Scores from scenario means (any matching shapes, e.g. ``(N,)``
    or batched ``(K, N)``).

    Returns:
        ``(mns, delta_self, delta_other)``, each the shape of the inputs;
        ``mns = min(delta_self, delta_other)`` where both are > 0, else 0.
    """
    delta_self = mu_self - mu_none
    delta_other = mu_other - mu_none
    candidate = candidate_mask(delta_self, delta_other)
    mns = np.where(candidate, np.minimum(delta_self, delta_other), 0.0)
    return mns, delta_self, delta_other


def candidate_mask(delta_self: np.ndarray, delta_other: np.ndarray) -> np.ndarray:
    """Mirror candidates: bool, same shape as the deltas, both deltas strictly > 0."""
    return (delta_self > 0) & (delta_other > 0)


def _scenario_moments(matrix: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population variance, skewness and excess kurtosis per scenario and neuron.

    Args:
        matrix: ``(n_states, N)`` activations; codes: ``(n_states,)`` scenario codes.

    Returns:
        ``(variance, skewness, kurtosis)``, each ``(4, N)``: the central moments
        ``m_k = mean((x - mean(x))**k)`` divided by the count, not count - 1, so variance =
        m2 (``numpy.var``), skewness = m3 / m2**1.5 and kurtosis = m4 / m2**2 - 3, as
        ``scipy.stats.skew`` / ``scipy.stats.kurtosis`` with ``bias=True`` compute them
        (``tests/test_cmni_metric.py`` checks them against scipy). Where a neuron is
        constant within a scenario (max == min) all three are exactly 0.0; where it is
        constant up to rounding (m2 <= (eps * mean)**2, scipy's test for moments lost to
        cancellation, where scipy returns NaN) skewness and kurtosis are 0.0. Rows of
        absent scenarios are NaN.

    Written in numpy rather than calling scipy: scipy's per-call checks took 28 of the
    104 ms of a training probe, and importing ``scipy.stats`` 1.3 s at a run's first probe
    (``benchmarks/probe_overhead.py``).
    """
    n_neurons = matrix.shape[1]
    variance, skewness, kurtosis = (np.full((N_SCENARIOS, n_neurons), np.nan) for _ in range(3))
    for code in range(N_SCENARIOS):
        rows = matrix[codes == code]
        if rows.shape[0] == 0:
            continue
        mean = rows.mean(axis=0)
        deviations = rows - mean
        squared = deviations * deviations
        m2 = squared.mean(axis=0)
        m3 = (squared * deviations).mean(axis=0)
        m4 = (squared * squared).mean(axis=0)
        constant = rows.max(axis=0) == rows.min(axis=0)
        lost = constant | (m2 <= (np.finfo(m2.dtype).eps * mean) ** 2)
        with np.errstate(all="ignore"):
            skew, kurt = m3 / m2**1.5, m4 / m2**2 - 3.0
        variance[code] = np.where(constant, 0.0, m2)
        skewness[code] = np.where(lost, 0.0, skew)
        kurtosis[code] = np.where(lost, 0.0, kurt)
    return variance, skewness, kurtosis


# --------------------------------------------------------------------------- #
# Result
# --------------------------------------------------------------------------- #


def _readonly(arr: np.ndarray) -> np.ndarray:
    """Mark an array read-only (results are immutable) and return it."""
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class CMNIResult:
    """CMNI of one checkpoint on one probe set. Arrays are read-only.

    N is the total number of neurons (all layers concatenated in input order).

    Attributes:
        cmni: MNE / N.
        mne: sum of the Mirror Neuron Scores.
        n_neurons: N.
        mns: ``(N,)`` Mirror Neuron Score per neuron (0 unless both deltas > 0).
        delta_self: ``(N,)`` mu(1) - mu(0).
        delta_other: ``(N,)`` mu(2) - mu(0).
        candidate_mask: ``(N,)`` bool, both deltas strictly positive.
        mirror_candidates: for array input an int array of candidate indices
            into the neuron axis; for mapping input a dict layer -> int array
            of indices *within that layer*.
        per_layer: layer -> CMNI of that layer alone (its MNE / its size).
            Array input has the single key ``"all"``.
        per_layer_mne: layer -> MNE of that layer.
        per_layer_n_candidates: layer -> number of mirror candidates.
        per_layer_n_neurons: layer -> number of neurons.
        layer_slices: layer -> slice of the concatenated neuron axis.
        scenario_counts: code -> number of probe states, for all four codes
            (code 3 may be 0).
        mean, variance, skewness, kurtosis: ``(4, N)`` per scenario (row =
            code) and neuron. Population moments (divide by the count;
            ``scipy.stats.skew`` and ``scipy.stats.kurtosis`` with
            ``bias=True``): skewness = m3 / m2**1.5, kurtosis is EXCESS
            kurtosis m4 / m2**2 - 3; where a neuron is constant within a
            scenario, variance, skewness and kurtosis are 0.0 (skewness and
            kurtosis also where it is constant up to rounding). If scenario 3
            has no states its row is NaN in all four arrays.
        from_mapping: True when activations were given as a mapping.
    """

    cmni: float
    mne: float
    n_neurons: int
    mns: np.ndarray
    delta_self: np.ndarray
    delta_other: np.ndarray
    candidate_mask: np.ndarray
    mirror_candidates: np.ndarray | dict[str, np.ndarray]
    per_layer: dict[str, float]
    per_layer_mne: dict[str, float]
    per_layer_n_candidates: dict[str, int]
    per_layer_n_neurons: dict[str, int]
    layer_slices: dict[str, slice]
    scenario_counts: dict[int, int]
    mean: np.ndarray
    variance: np.ndarray
    skewness: np.ndarray
    kurtosis: np.ndarray
    from_mapping: bool = field(default=False)

    @property
    def n_candidates(self) -> int:
        """Number of mirror candidates over all neurons."""
        return int(np.count_nonzero(self.candidate_mask))

    @property
    def candidate_fraction(self) -> float:
        """Mirror candidates / N (about 0.25 by chance for random weights)."""
        return self.n_candidates / self.n_neurons

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable scalars (plain python floats/ints, string keys).

        ``scenario_counts`` is keyed by scenario name ("none", "self", ...).
        """
        return {
            "cmni": float(self.cmni),
            "mne": float(self.mne),
            "n_neurons": int(self.n_neurons),
            "n_candidates": self.n_candidates,
            "candidate_fraction": float(self.candidate_fraction),
            "scenario_counts": {
                SCENARIO_NAMES[code]: int(n) for code, n in self.scenario_counts.items()
            },
            "per_layer": {k: float(v) for k, v in self.per_layer.items()},
            "per_layer_mne": {k: float(v) for k, v in self.per_layer_mne.items()},
            "per_layer_n_candidates": {
                k: int(v) for k, v in self.per_layer_n_candidates.items()
            },
            "per_layer_n_neurons": {k: int(v) for k, v in self.per_layer_n_neurons.items()},
        }


def compute_cmni(activations: ActivationsLike, scenarios: Any) -> CMNIResult:
    """Compute the CMNI and per-neuron/scenario statistics (formula in the module docstring).

    Args:
        activations: float array ``(n_states, n_neurons)``, or a mapping
            ``layer name -> (n_states, n_layer_neurons)`` (order kept; layers
            are concatenated along the neuron axis). Converted to float64.
        scenarios: ``(n_states,)`` codes in {0, 1, 2, 3} (see
            :data:`SCENARIO_NAMES`); integer dtype or whole-number floats.
            Scenarios 0, 1 and 2 must each have at least one state.

    Returns:
        A :class:`CMNIResult`.

    Raises:
        ValueError: invalid shapes, non-finite activations, bad or missing
            scenario codes, empty mapping, mismatched ``n_states``.
    """
    prepared = prepare_inputs(activations, scenarios)
    matrix, codes = prepared.matrix, prepared.codes
    counts = np.bincount(codes, minlength=N_SCENARIOS)
    means = scenario_means(matrix, codes)
    mns, delta_self, delta_other = mns_from_means(means[0], means[1], means[2])
    mask = candidate_mask(delta_self, delta_other)
    variance, skewness, kurtosis = _scenario_moments(matrix, codes)
    slices = prepared.layer_slices
    n = prepared.n_neurons
    mne = float(mns.sum())
    candidates: np.ndarray | dict[str, np.ndarray]
    if prepared.from_mapping:
        candidates = {k: _readonly(np.flatnonzero(mask[sl])) for k, sl in slices.items()}
    else:
        candidates = _readonly(np.flatnonzero(mask))
    return CMNIResult(
        cmni=mne / n,
        mne=mne,
        n_neurons=n,
        mns=_readonly(mns),
        delta_self=_readonly(delta_self),
        delta_other=_readonly(delta_other),
        candidate_mask=_readonly(mask),
        mirror_candidates=candidates,
        per_layer={k: float(mns[sl].sum()) / (sl.stop - sl.start) for k, sl in slices.items()},
        per_layer_mne={k: float(mns[sl].sum()) for k, sl in slices.items()},
        per_layer_n_candidates={
            k: int(np.count_nonzero(mask[sl])) for k, sl in slices.items()
        },
        per_layer_n_neurons={k: sl.stop - sl.start for k, sl in slices.items()},
        layer_slices=dict(slices),
        scenario_counts={code: int(counts[code]) for code in range(N_SCENARIOS)},
        mean=_readonly(means),
        variance=_readonly(variance),
        skewness=_readonly(skewness),
        kurtosis=_readonly(kurtosis),
        from_mapping=prepared.from_mapping,
    )
