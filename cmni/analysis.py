"""CMNI after training: the curve over checkpoints and the neurons of one checkpoint.

- :func:`read_cmni_csv` reads the ``cmni.csv`` that :class:`cmni.callback.CMNICallback`
  writes during training; :func:`recompute_curve` rebuilds the same curve from the saved
  checkpoints when the file is missing (same probe set, untrained-network null and
  permutation p-value as the callback).
- :func:`analyse_checkpoint` probes one policy on a probe set: the CMNI with per-neuron
  statistics (:func:`cmni.metric.compute_cmni`), the permutation test
  (:func:`cmni.stats.permutation_test`), the untrained-network null and the self-other
  overlap; :func:`candidate_table` turns it into the per-candidate table of the paper
  (mean, variance, skewness, excess kurtosis per scenario, plus the "both"/"none" ratio).

Reading and tables are numpy only; probing a policy imports torch (through
:mod:`cmni.recorder`) when it is called.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .circuits import partner_specific_mask
from .metric import SCENARIO_NAMES, CMNIResult, compute_cmni
from .probe import csv_row
from .probe_set import ProbeSet
from .stats import PermutationResult

__all__ = [
    "CMNICurve",
    "CheckpointCMNI",
    "read_cmni_csv",
    "recompute_curve",
    "analyse_checkpoint",
    "candidate_table",
    "both_none_ratio",
    "partner_specific_units",
    "mirror_units",
    "layer_units",
    "permutation_band",
]

#: Columns every curve has (NaN where unknown).
CURVE_COLUMNS: tuple[str, ...] = (
    "step",
    "cmni_total",
    "candidates",
    "p_value",
    "z_score",
    "null_untrained",
    "null_permutation_mean",
    "mean_episode_score",
)


@dataclass(frozen=True)
class CMNICurve:
    """CMNI over training: one entry per probed checkpoint, sorted by step.

    Attributes:
        columns: column name -> ``(K,)`` float64 (K probes): at least
            :data:`CURVE_COLUMNS`, plus ``cmni_<layer>``, ``candidates_<layer>`` and, in
            egocentric mode, ``overlap_<layer>`` when known. NaN marks a missing value.
        layers: the probed layer names (from the ``cmni_<layer>`` columns).
        source: ``"cmni.csv"`` or ``"recomputed"``.
    """

    columns: dict[str, np.ndarray]
    layers: tuple[str, ...]
    source: str

    @property
    def n_probes(self) -> int:
        return int(self.columns["step"].shape[0])

    @property
    def steps(self) -> np.ndarray:
        """``(K,)`` training steps (agent-steps)."""
        return self.columns["step"]

    @property
    def cmni(self) -> np.ndarray:
        """``(K,)`` CMNI over all probed neurons."""
        return self.columns["cmni_total"]

    def peak(self) -> tuple[int, float, int]:
        """``(step, cmni, index)`` of the highest CMNI (the first one on ties).

        Raises:
            ValueError: the curve is empty or has no finite CMNI.
        """
        values = self.cmni
        if values.size == 0 or not np.isfinite(values).any():
            raise ValueError("the CMNI curve has no finite value")
        i = int(np.nanargmax(values))
        return int(self.steps[i]), float(values[i]), i

    def summary(self) -> dict[str, Any]:
        """JSON-friendly figures: probes, first/last/peak CMNI, nulls, last p-value."""
        if self.n_probes == 0:
            return {"source": self.source, "n_probes": 0}
        step, value, i = self.peak()
        last = self.n_probes - 1
        return {
            "source": self.source,
            "n_probes": self.n_probes,
            "layers": list(self.layers),
            "first_step": int(self.steps[0]),
            "last_step": int(self.steps[last]),
            "first_cmni": float(self.cmni[0]),
            "last_cmni": float(self.cmni[last]),
            "peak_step": step,
            "peak_cmni": value,
            "peak_p_value": float(self.columns["p_value"][i]),
            "null_untrained": float(self.columns["null_untrained"][last]),
            "last_null_permutation_mean": float(self.columns["null_permutation_mean"][last]),
            "last_p_value": float(self.columns["p_value"][last]),
            "last_mean_episode_score": float(self.columns["mean_episode_score"][last]),
        }


def _curve_from_rows(rows: list[dict[str, float]], source: str) -> CMNICurve:
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    names += [c for c in CURVE_COLUMNS if c not in names]
    columns = {n: np.array([row.get(n, math.nan) for row in rows], dtype=np.float64) for n in names}
    order = np.argsort(columns["step"], kind="stable")
    columns = {n: v[order] for n, v in columns.items()}
    layers = tuple(n[len("cmni_"):] for n in names if n.startswith("cmni_") and n != "cmni_total")
    return CMNICurve(columns=columns, layers=layers, source=source)


def read_cmni_csv(path: str | Path) -> CMNICurve:
    """Read a ``cmni.csv`` written by the CMNI callback.

    Empty cells and unparsable numbers become NaN. Rows are sorted by step; a step
    probed twice (a resumed run) keeps its last row.

    Raises:
        FileNotFoundError: no such file.
        ValueError: no header, no ``step`` or ``cmni_total`` column.
    """
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty; expected the cmni.csv header")
        missing = [c for c in ("step", "cmni_total") if c not in header]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {missing}; is it a cmni.csv?")
        by_step: dict[float, dict[str, float]] = {}
        for values in reader:
            if not values:
                continue
            row = {name: _to_float(v) for name, v in zip(header, values)}
            if math.isfinite(row.get("step", math.nan)):
                by_step[row["step"]] = row
    return _curve_from_rows(list(by_step.values()), "cmni.csv")


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def permutation_band(stats_dir: str | Path, curve: CMNICurve) -> CMNICurve:
    """Add ``null_permutation_low``/``_high`` (2.5 and 97.5 percentiles of the permutation
    null) to a curve read from ``cmni.csv``, from the callback's ``cmni/step_<012d>.npz``
    files (key ``null_permutation``); NaN where a file or the key is missing."""
    low = np.full(curve.n_probes, np.nan)
    high = np.full(curve.n_probes, np.nan)
    for i, step in enumerate(curve.steps):
        path = Path(stats_dir) / f"step_{int(step):012d}.npz"
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                null = np.asarray(data["null_permutation"], dtype=np.float64) if "null_permutation" in data.files else None
        except Exception:  # a damaged file only loses its band
            continue
        if null is not None and null.size:
            low[i], high[i] = np.quantile(null, [0.025, 0.975])
    columns = dict(curve.columns)
    columns["null_permutation_low"], columns["null_permutation_high"] = low, high
    return CMNICurve(columns=columns, layers=curve.layers, source=curve.source)


# --------------------------------------------------------------------------- one checkpoint


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
        probe_set: the probe set used.
    """

    result: CMNIResult
    permutation: PermutationResult
    untrained: CMNIResult
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    overlap: dict[str, float]
    probe_set: ProbeSet

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
            "probe_states": int(self.probe_set.n_states),
            "probe_per_scenario": int(self.probe_set.per_scenario),
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
        untrained_seed: torch seed of the untrained network (the training callback
            uses the run's seed, so the same value reproduces its ``null_untrained``).
    """
    from .probe import measure_policy
    from .recorder import record_activations, untrained_copy

    policy = getattr(policy, "policy", policy)
    measured = measure_policy(policy, probe_set, n_permutations, seed)
    null_rec = record_activations(untrained_copy(policy, int(untrained_seed)), probe_set.observations)
    untrained = compute_cmni(null_rec.layers, probe_set.scenarios)
    rec = measured.recorded
    return CheckpointCMNI(
        measured.result, measured.permutation, untrained, dict(rec.layers), rec.logits, measured.overlap, probe_set
    )


def recompute_curve(
    checkpoints: Sequence[tuple[int, Any]],
    probe_set: ProbeSet,
    load: Callable[[Any], Any],
    n_permutations: int = 100,
    seed: int = 0,
    untrained_seed: int = 0,
    score: Callable[[Any], float] | None = None,
) -> CMNICurve:
    """The CMNI curve from saved checkpoints, with the columns of ``cmni.csv``.

    Args:
        checkpoints: ``(step, path)`` pairs, in any order.
        probe_set: the run's probe set (or a freshly built one).
        load: ``path -> model`` (an SB3 model with ``.policy``, or a policy).
        n_permutations, seed: permutation test settings.
        untrained_seed: torch seed of the untrained network of the null.
        score: optional ``model -> mean episode score``; NaN when None.
    """
    from .probe import untrained_null

    rows: list[dict[str, float]] = []
    null = None
    for step, path in checkpoints:
        model = load(path)
        analysed = analyse_checkpoint(model, probe_set, n_permutations, seed, untrained_seed)
        if null is None:
            null = untrained_null(getattr(model, "policy", model), probe_set, untrained_seed)
        mean_score = float(score(model)) if score is not None else math.nan
        row = csv_row(step, analysed.result, analysed.permutation, analysed.overlap, null, mean_score)
        low, high = np.quantile(analysed.permutation.null_cmni, [0.025, 0.975])
        row.update(null_permutation_low=float(low), null_permutation_high=float(high))
        rows.append(row)
    return _curve_from_rows(rows, "recomputed")


# --------------------------------------------------------------------------- neuron tables


def layer_units(result: CMNIResult, layer: str) -> slice:
    """The slice of ``layer``'s neurons in the concatenated neuron axis of ``result``."""
    if layer not in result.layer_slices:
        raise ValueError(f"unknown layer {layer!r}; layers are {list(result.layer_slices)}")
    return result.layer_slices[layer]


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
            row[f"mean_{scenario}"] = float(result.mean[code, n])
            row[f"variance_{scenario}"] = float(result.variance[code, n])
            row[f"skewness_{scenario}"] = float(result.skewness[code, n])
            row[f"kurtosis_{scenario}"] = float(result.kurtosis[code, n])
        rows.append(row)
    return rows
