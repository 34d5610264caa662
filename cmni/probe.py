"""One probe of one policy: record its activations on a probe set, then the metric and its nulls.

Shared by the training callback (:class:`cmni.callback.CMNICallback`) and the offline
analysis (:func:`cmni.analysis.analyse_checkpoint`), so a probe during training and a
probe of the saved checkpoint compute exactly the same figures. Importing this module
does not import torch (the offline tables stay numpy-only); measuring a policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .metric import CMNIResult, compute_cmni
from .overlap import self_other_overlap
from .probe_set import ProbeSet
from .stats import PermutationResult, permutation_test

if TYPE_CHECKING:  # pragma: no cover
    from .recorder import RecordedActivations


@dataclass(frozen=True)
class ProbeMeasurement:
    """The CMNI of one policy on one probe set.

    Attributes:
        result: the CMNI with per-neuron and per-scenario statistics.
        permutation: the permutation test (scenario labels shuffled).
        recorded: the activations (layer -> (n_states, units)) and logits, as recorded.
        overlap: self-other overlap per layer and ``"all"`` ({} outside egocentric mode).
    """

    result: CMNIResult
    permutation: PermutationResult
    recorded: RecordedActivations
    overlap: dict[str, float]


def measure_policy(policy: Any, probe_set: ProbeSet, n_permutations: int, seed: int) -> ProbeMeasurement:
    """Record ``policy`` (an SB3 ActorCriticPolicy) on ``probe_set`` and compute the CMNI,
    the seeded permutation test and, for egocentric probe sets, the self-other overlap."""
    from .recorder import record_activations

    rec = record_activations(policy, probe_set.observations)
    layers = as_float64(rec.layers)  # converted once, not by each metric function
    result = compute_cmni(layers, probe_set.scenarios)
    permutation = permutation_test(layers, probe_set.scenarios, n_permutations=n_permutations, seed=seed)
    overlap: dict[str, float] = {}
    if probe_set.swapped_observations is not None:
        swapped = record_activations(policy, probe_set.swapped_observations)
        overlap = self_other_overlap(layers, as_float64(swapped.layers))
    return ProbeMeasurement(result, permutation, rec, overlap)


def csv_row(
    step: int,
    r: CMNIResult,
    perm: PermutationResult,
    overlap: dict[str, float],
    null_untrained: float,
    mean_episode_score: float,
) -> dict[str, float]:
    """The ``cmni.csv`` row of one probe (columns of :func:`cmni.callback.csv_columns`)."""
    row: dict[str, float] = {"step": int(step), "cmni_total": float(r.cmni)}
    row.update({f"cmni_{n}": float(v) for n, v in r.per_layer.items()})
    row["candidates"] = int(r.n_candidates)
    row.update({f"candidates_{n}": int(v) for n, v in r.per_layer_n_candidates.items()})
    row.update(
        p_value=float(perm.p_value),
        z_score=float(perm.z_score),
        null_untrained=float(null_untrained),
        null_permutation_mean=float(perm.null_mean),
    )
    row.update({f"overlap_{n}": float(v) for n, v in overlap.items()})
    row["mean_episode_score"] = float(mean_episode_score)
    return row


def as_float64(layers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(arr, dtype=np.float64) for name, arr in layers.items()}
