"""The neurons of one checkpoint: its CMNI with nulls, and which units are mirror candidates.

- :func:`analyse_checkpoint` probes one policy on a probe set: the CMNI with per-neuron
  statistics (:func:`cmni.metric.compute_cmni`), the permutation test
  (:func:`cmni.stats.permutation_test`), the untrained-network null
  (:func:`cmni.probe.untrained_null`) and the self-other overlap, through the same
  :func:`cmni.probe.measure_policy` as the training callback.
- :func:`mirror_units` and :func:`partner_specific_units` list the units of each layer;
  :func:`candidate_table` is the per-candidate table of the paper (mean, variance,
  skewness, excess kurtosis per scenario, plus the "both"/"none" ratio).

The tables are numpy only; probing a policy imports torch (through :mod:`cmni.recorder`)
when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .circuits import partner_specific_mask
from .metric import SCENARIO_NAMES, CMNIResult
from .probe_set import ProbeSet
from .stats import PermutationResult

__all__ = [
    "CheckpointCMNI",
    "analyse_checkpoint",
    "candidate_columns",
    "candidate_table",
    "both_none_ratio",
    "partner_specific_units",
    "mirror_units",
    "layer_units",
]

#: Per-scenario statistics of a candidate, named as the :class:`~cmni.metric.CMNIResult` fields.
MOMENTS: tuple[str, ...] = ("mean", "variance", "skewness", "kurtosis")


@dataclass(frozen=True, eq=False)
class CheckpointCMNI:
    """The CMNI of one policy on one probe set, with its nulls.

    Attributes:
        result: the CMNI with per-neuron/per-scenario statistics.
        permutation: the permutation test (scenario labels shuffled).
        untrained: the same probe on an untrained network of the same shape
            (``cmni.recorder.untrained_copy`` with ``untrained_seed``).
        layers: probed layer -> ``(n_states, units)`` activations.
        logits: ``(n_states, n_actions)``.
        overlap: self-other overlap per layer and ``"all"`` ({} outside egocentric mode).
        probe_set: the probe set used; None for other scenario-labelled states (a
            classifier's test split, which is not balanced over the scenarios).
    """

    result: CMNIResult
    permutation: PermutationResult
    untrained: CMNIResult
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    overlap: dict[str, float]
    probe_set: ProbeSet | None

    def summary(self) -> dict[str, Any]:
        """JSON-friendly scalars: CMNI, per layer, candidates, the nulls and p-value."""
        r = self.result
        return {
            "cmni": float(r.cmni),
            "per_layer": {k: float(v) for k, v in r.per_layer.items()},
            "n_neurons": int(r.n_neurons),
            "n_candidates": int(r.n_candidates),
            "candidate_fraction": float(r.candidate_fraction),
            "candidates_per_layer": {k: int(v) for k, v in r.per_layer_n_candidates.items()},
            "partner_specific_per_layer": {k: int(v.size) for k, v in partner_specific_units(r).items()},
            "null_untrained": float(self.untrained.cmni),
            "null_untrained_candidates": int(self.untrained.n_candidates),
            "null_permutation_mean": float(self.permutation.null_mean),
            "null_permutation_std": float(self.permutation.null_std),
            "p_value": float(self.permutation.p_value),
            "z_score": float(self.permutation.z_score),
            "n_permutations": int(self.permutation.n_permutations),
            "probe_states": int(self.logits.shape[0]),
            "probe_per_scenario": int(self.probe_set.per_scenario) if self.probe_set is not None else None,
            "overlap": {k: float(v) for k, v in self.overlap.items()},
        }


def analyse_checkpoint(
    policy: Any, probe_set: ProbeSet, n_permutations: int = 200, seed: int = 0, untrained_seed: int = 0
) -> CheckpointCMNI:
    """Probe ``policy`` (an SB3 policy, or a model with ``.policy``) on ``probe_set``.

    Args:
        policy: SB3 ``ActorCriticPolicy`` or an object with a ``policy`` attribute.
        probe_set: the labelled states.
        n_permutations: shuffles for the permutation test.
        seed: seed of the permutation test.
        untrained_seed: torch seed of the untrained network; the run's seed gives draw 0
            of the training callback's null (:func:`cmni.probe.untrained_null`).
    """
    from .probe import measure_policy, untrained_null

    policy = getattr(policy, "policy", policy)
    measured = measure_policy(policy, probe_set, n_permutations, seed)
    untrained = untrained_null(policy, probe_set, int(untrained_seed), n_draws=1).first
    rec = measured.recorded
    return CheckpointCMNI(
        measured.result, measured.permutation, untrained, dict(rec.layers), rec.logits, measured.overlap, probe_set
    )


# --------------------------------------------------------------------------- neuron tables


def layer_units(result: CMNIResult, layer: str) -> slice:
    """The slice of ``layer``'s neurons in the concatenated neuron axis of ``result``."""
    if layer not in result.layer_slices:
        raise ValueError(f"unknown layer {layer!r}; layers are {list(result.layer_slices)}")
    return result.layer_slices[layer]


#: 'both' / 'none' mean activation from which a mirror candidate counts as strong (the paper's lowest is 21).
STRONG_MIRROR_RATIO = 20.0


def both_none_ratio(result: CMNIResult) -> np.ndarray:
    """``(N,)`` mean activation in "both" / mean activation in "none".

    Defined only where ``mu(none) > 0`` (the paper's ReLU units, where it reported
    21-47x for its case net); NaN elsewhere (a tanh unit's mean can be negative or
    near 0, where the ratio means nothing) and where "both" has no states.
    """
    none, both = np.asarray(result.mean[0]), np.asarray(result.mean[3])
    out = np.full(none.shape, np.nan)
    ok = (none > 0) & np.isfinite(both)
    out[ok] = both[ok] / none[ok]
    return out


def partner_specific_units(result: CMNIResult) -> dict[str, np.ndarray]:
    """Layer -> indices (within the layer) of units with ``delta_other > 0`` and ``delta_self <= 0``."""
    mask = partner_specific_mask(result.delta_self, result.delta_other)
    return {name: np.flatnonzero(mask[sl]) for name, sl in result.layer_slices.items()}


def mirror_units(result: CMNIResult) -> dict[str, np.ndarray]:
    """Layer -> indices (within the layer) of the mirror candidates."""
    mask = np.asarray(result.candidate_mask)
    return {name: np.flatnonzero(mask[sl]) for name, sl in result.layer_slices.items()}


def candidate_columns() -> list[str]:
    """The keys of a :func:`candidate_table` row, in order (the header of ``candidates_<layer>.csv``)."""
    return ["layer", "unit", "delta_self", "delta_other", "mns", "both_none_ratio"] + [
        f"{moment}_{scenario}" for scenario in SCENARIO_NAMES for moment in MOMENTS
    ]


def candidate_table(result: CMNIResult, layer: str, units: Sequence[int] | np.ndarray | None = None) -> list[dict[str, Any]]:
    """One row per mirror candidate of ``layer`` (or per unit of ``units``).

    Columns: ``layer``, ``unit`` (index within the layer), ``delta_self``,
    ``delta_other``, ``mns``, ``both_none_ratio`` (see :func:`both_none_ratio`), then
    for each scenario ``s`` in none/self/other/both: ``mean_s``, ``variance_s``,
    ``skewness_s``, ``kurtosis_s`` (excess kurtosis; population moments as in
    :func:`cmni.metric.compute_cmni`).
    """
    sl = layer_units(result, layer)
    chosen = mirror_units(result)[layer] if units is None else np.asarray(units, dtype=np.int64)
    ratio = both_none_ratio(result)
    rows = []
    for unit in chosen:
        n = sl.start + int(unit)
        row: dict[str, Any] = {
            "layer": layer,
            "unit": int(unit),
            "delta_self": float(result.delta_self[n]),
            "delta_other": float(result.delta_other[n]),
            "mns": float(result.mns[n]),
            "both_none_ratio": float(ratio[n]),
        }
        for code, scenario in enumerate(SCENARIO_NAMES):
            row.update({f"{moment}_{scenario}": float(getattr(result, moment)[code, n]) for moment in MOMENTS})
        rows.append(row)
    return rows
