"""One probe of one policy: record its activations on a probe set, then the metric and its nulls.

Shared by the training callback (:class:`cmni.callback.CMNICallback`), the offline
analysis (:func:`cmni.neurons.analyse_checkpoint`) and policies trained by other
libraries, so a probe during training, a probe of the saved checkpoint and a probe of a
TorchRL, Tianshou or RLlib network compute exactly the same figures. Any
``torch.nn.Module`` works: ``layers`` and ``forward`` are passed to
:func:`cmni.recorder.record_activations` (None for an SB3 policy). Importing this module
does not import torch (the offline tables stay numpy-only); measuring a policy does.

A policy from another library, end to end::

    probe_set = build_probe_set(EnvConfig(), per_scenario=1000, seed=0)
    measured = measure_policy(mlp, probe_set, n_permutations=200, seed=0)
    null = untrained_null(mlp, probe_set, seed=0)  # or factory=lambda: make_mlp()
    print(measured.result.cmni, null.mean, null.sd, measured.permutation.p_value)
    rows = candidate_table(measured.result, layer="1")  # cmni.neurons: per-neuron table
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from experiment.cmni_csv import cmni_csv_row
from frogtoad_env.checks import check_int

from .metric import CMNIResult, compute_cmni
from .overlap import self_other_overlap
from .probe_set import ProbeSet
from .stats import PermutationResult, permutation_test

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .recorder import Forward, LayerSelection, RecordedActivations


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


def measure_policy(
    policy: nn.Module,
    probe_set: ProbeSet,
    n_permutations: int,
    seed: int,
    *,
    layers: LayerSelection | None = None,
    forward: Forward | None = None,
) -> ProbeMeasurement:
    """Record ``policy`` on ``probe_set`` and compute the CMNI, the seeded permutation
    test and, for egocentric probe sets, the self-other overlap.

    ``policy`` is an SB3 ``ActorCriticPolicy`` or any ``torch.nn.Module`` that maps a
    ``(batch, obs_dim)`` float32 tensor to logits; ``layers`` and ``forward`` select its
    probed modules and forward pass (:func:`cmni.recorder.record_activations`)."""
    from .recorder import record_activations

    rec = record_activations(policy, probe_set.observations, layers=layers, forward=forward)
    recorded = as_float64(rec.layers)  # converted once, not by each metric function
    result = compute_cmni(recorded, probe_set.scenarios)
    permutation = permutation_test(recorded, probe_set.scenarios, n_permutations=n_permutations, seed=seed)
    overlap: dict[str, float] = {}
    if probe_set.swapped_observations is not None:
        swapped = record_activations(policy, probe_set.swapped_observations, layers=layers, forward=forward)
        overlap = self_other_overlap(recorded, as_float64(swapped.layers))
    return ProbeMeasurement(result, permutation, rec, overlap)


@dataclass(frozen=True, eq=False)
class UntrainedNull:
    """The CMNI of K untrained networks of one architecture on one probe set: the null a
    trained network's CMNI is compared with (one initialisation is too noisy to serve).

    Attributes:
        cmni: ``(K,)`` CMNI of each untrained initialisation (draw ``i`` is seeded ``seed + i``).
        candidates: ``(K,)`` mirror-candidate counts of each.
        first: the full result of draw 0 (per-neuron statistics for the files).
        first_recorded: draw 0's activations and logits.
    """

    cmni: np.ndarray
    candidates: np.ndarray
    first: CMNIResult
    first_recorded: RecordedActivations

    @property
    def mean(self) -> float:
        return float(np.mean(self.cmni))

    @property
    def sd(self) -> float:
        """Sample standard deviation (ddof=1); NaN for a single draw."""
        return float(np.std(self.cmni, ddof=1)) if self.cmni.size > 1 else math.nan

    @property
    def candidates_mean(self) -> float:
        return float(np.mean(self.candidates))

    @property
    def candidates_sd(self) -> float:
        return float(np.std(self.candidates, ddof=1)) if self.candidates.size > 1 else math.nan

    def excess(self, cmni: float) -> tuple[float, float]:
        """``(cmni - mean, (cmni - mean) / sd)``: the excess over the null and its z (NaN if sd is 0 or unknown)."""
        excess = float(cmni) - self.mean
        return excess, excess / self.sd if self.sd > 0 else math.nan


def untrained_null(
    policy: nn.Module,
    probe_set: ProbeSet,
    seed: int,
    n_draws: int = 10,
    *,
    layers: LayerSelection | None = None,
    forward: Forward | None = None,
    factory: Callable[[], nn.Module] | None = None,
) -> UntrainedNull:
    """The CMNI of ``n_draws`` untrained networks of ``policy``'s architecture on ``probe_set``.

    Draw ``i`` is :func:`cmni.recorder.untrained_copy` seeded ``seed + i`` (``factory``,
    SB3 constructor or ``reset_parameters``); a ``layers`` mapping is carried over to each
    copy by qualified submodule name (:func:`cmni.recorder.matching_layers`).
    """
    from .recorder import matching_layers, record_activations, untrained_copy

    values, counts = [], []
    first: tuple[CMNIResult, RecordedActivations] | None = None
    for draw in range(check_int("n_draws", n_draws)):
        fresh = untrained_copy(policy, seed + draw, factory=factory)
        chosen = matching_layers(layers, policy, fresh)
        recorded = record_activations(fresh, probe_set.observations, layers=chosen, forward=forward)
        result = compute_cmni(as_float64(recorded.layers), probe_set.scenarios)
        values.append(result.cmni)
        counts.append(result.n_candidates)
        first = first or (result, recorded)
    assert first is not None
    return UntrainedNull(np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.float64), *first)


def csv_row(
    step: int,
    r: CMNIResult,
    perm: PermutationResult,
    overlap: dict[str, float],
    null: UntrainedNull,
    mean_episode_score: float,
) -> dict[str, float]:
    """The ``cmni.csv`` row of one probe (:func:`experiment.cmni_csv.cmni_csv_row`)."""
    excess, z_untrained = null.excess(r.cmni)
    return cmni_csv_row(
        step, r.cmni, r.per_layer, r.n_candidates, r.per_layer_n_candidates, perm.p_value, perm.z_score,
        null.mean, null.sd, excess, z_untrained, null.candidates_mean, null.candidates_sd, perm.null_mean,
        overlap, mean_episode_score,
    )  # fmt: skip


def as_float64(layers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(arr, dtype=np.float64) for name, arr in layers.items()}
