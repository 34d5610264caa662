"""One probe of one policy: record its activations on a probe set, then the metric and its nulls.

Shared by the training callback (:class:`cmni.callback.CMNICallback`) and the offline
analysis (:func:`cmni.neurons.analyse_checkpoint`), so a probe during training and a
probe of the saved checkpoint compute exactly the same figures. Importing this module
does not import torch (the offline tables stay numpy-only); measuring a policy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from experiment.run_folder import cmni_csv_row

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
    """The ``cmni.csv`` row of one probe (:func:`experiment.run_folder.cmni_csv_row`)."""
    return cmni_csv_row(step, r.cmni, r.per_layer, r.n_candidates, r.per_layer_n_candidates, perm.p_value,
                        perm.z_score, null_untrained, perm.null_mean, overlap, mean_episode_score)  # fmt: skip


def untrained_null(policy: Any, probe_set: ProbeSet, seed: int) -> tuple[CMNIResult, RecordedActivations]:
    """The CMNI of an untrained network of ``policy``'s shape (``cmni.recorder.untrained_copy``
    seeded with ``seed``) on ``probe_set``, with its recorded activations."""
    from .recorder import record_activations, untrained_copy

    recorded = record_activations(untrained_copy(policy, seed), probe_set.observations)
    return compute_cmni(recorded.layers, probe_set.scenarios), recorded


def as_float64(layers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(arr, dtype=np.float64) for name, arr in layers.items()}
