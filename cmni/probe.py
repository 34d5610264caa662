"""One probe of one policy: record its activations on a probe set, then the metric and its nulls.

Shared by the training callback (:class:`cmni.callback.CMNICallback`), the offline
analysis (:func:`cmni.analysis.analyse_checkpoint`) and policies trained by other
libraries, so a probe during training, a probe of the saved checkpoint and a probe of a
TorchRL or Tianshou network compute exactly the same figures. Any ``torch.nn.Module``
works: ``layers`` and ``forward`` are passed to :func:`cmni.recorder.record_activations`
(None for an SB3 policy). Importing this module does not import torch (the offline
tables stay numpy-only); measuring a policy does.

A policy from another library, end to end::

    probe_set = build_probe_set(EnvConfig(), per_scenario=1000, seed=0)
    measured = measure_policy(mlp, probe_set, n_permutations=200, seed=0)
    null = untrained_null(mlp, probe_set, seed=0)  # or factory=lambda: make_mlp()
    print(measured.result.cmni, null.cmni, measured.permutation.p_value)
    rows = candidate_table(measured.result, layer="1")  # cmni.analysis: per-neuron table
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

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


def untrained_null(
    policy: nn.Module,
    probe_set: ProbeSet,
    seed: int,
    *,
    layers: LayerSelection | None = None,
    forward: Forward | None = None,
    factory: Callable[[], nn.Module] | None = None,
) -> CMNIResult:
    """The CMNI of an untrained network of ``policy``'s architecture on ``probe_set``.

    The network is :func:`cmni.recorder.untrained_copy` (``factory``, SB3 constructor or
    ``reset_parameters``, seeded by ``seed``); a ``layers`` mapping is carried over to it
    by qualified submodule name (:func:`cmni.recorder.matching_layers`).
    """
    from .recorder import matching_layers, record_activations, untrained_copy

    fresh = untrained_copy(policy, seed, factory=factory)
    chosen = matching_layers(layers, policy, fresh)
    rec = record_activations(fresh, probe_set.observations, layers=chosen, forward=forward)
    return compute_cmni(as_float64(rec.layers), probe_set.scenarios)


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
