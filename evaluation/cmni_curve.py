"""The CMNI over training: read from the run's ``cmni.csv``, or recomputed from its checkpoints.

- :func:`read_curve` reads the ``cmni.csv`` that :class:`cmni.callback.CMNICallback`
  writes during training (through :func:`experiment.cmni_csv.read_cmni_csv`, which skips
  and reports rows it cannot read) and adds the permutation null's band
  (:func:`permutation_band`) from the callback's ``cmni/step_<012d>.npz`` files.
- :func:`recompute_curve` rebuilds the same curve from saved checkpoints when the file is
  missing, with the same probe, untrained-network null and permutation p-value as the
  callback (:func:`cmni.neurons.analyse_checkpoint`).

Reading is numpy only; recomputing imports torch when it is called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cmni.neurons import analyse_checkpoint
from cmni.probe import UntrainedNull, csv_row, untrained_null
from cmni.probe_set import ProbeSet
from experiment.cmni_csv import cmni_csv_columns, layers_from_cmni_columns, read_cmni_csv
from experiment.run_folder import NULL_PERMUTATION_KEY, RunFolder

__all__ = [
    "CURVE_COLUMNS",
    "NULL_BAND",
    "CMNICurve",
    "curve_from_rows",
    "null_band",
    "permutation_band",
    "read_curve",
    "recompute_curve",
]

#: Columns every curve has (NaN where unknown): the ``cmni.csv`` columns that do not depend on the layers.
CURVE_COLUMNS: tuple[str, ...] = tuple(cmni_csv_columns((), egocentric=False))
#: Quantiles of the permutation null drawn as its band: the central 95 %.
NULL_BAND: tuple[float, float] = (0.025, 0.975)
#: Curve columns holding the band's low and high edge.
NULL_LOW, NULL_HIGH = "null_permutation_low", "null_permutation_high"


@dataclass(frozen=True)
class CMNICurve:
    """CMNI over training: one entry per probed checkpoint, sorted by step.

    Attributes:
        columns: column name -> ``(K,)`` float64 (K probes): at least
            :data:`CURVE_COLUMNS`, plus ``cmni_<layer>``, ``candidates_<layer>`` and, in
            egocentric mode, ``overlap_<layer>`` when known, and the permutation null's
            band :data:`NULL_LOW` / :data:`NULL_HIGH`. NaN marks a missing value.
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


def curve_from_rows(rows: Sequence[dict[str, float]], source: str) -> CMNICurve:
    """A curve from ``cmni.csv``-like rows (column -> value), sorted by step; columns a row
    lacks are NaN."""
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    names += [c for c in CURVE_COLUMNS if c not in names]
    columns = {n: np.array([row.get(n, math.nan) for row in rows], dtype=np.float64) for n in names}
    order = np.argsort(columns["step"], kind="stable")
    columns = {n: v[order] for n, v in columns.items()}
    return CMNICurve(columns=columns, layers=layers_from_cmni_columns(names), source=source)


def read_curve(run: RunFolder) -> tuple[CMNICurve, list[str]]:
    """The run's ``cmni.csv`` as a curve with the permutation band, and one line per row
    that could not be read (and was left out).

    Raises:
        experiment.run_folder.RunError: the file is missing, empty or not a ``cmni.csv``.
    """
    table = read_cmni_csv(run.cmni_csv)
    return permutation_band(run, curve_from_rows(table.rows, run.cmni_csv.name)), list(table.skipped)


def null_band(null_cmni: np.ndarray) -> tuple[float, float]:
    """The :data:`NULL_BAND` quantiles (numpy's linear interpolation) of a permutation null ``(n,)``."""
    low, high = np.quantile(np.asarray(null_cmni, dtype=np.float64), NULL_BAND)
    return float(low), float(high)


def permutation_band(run: RunFolder, curve: CMNICurve) -> CMNICurve:
    """``curve`` plus the columns :data:`NULL_LOW` / :data:`NULL_HIGH` (:func:`null_band` of
    the permutation null saved under :data:`~experiment.run_folder.NULL_PERMUTATION_KEY` in
    the callback's ``cmni/step_<012d>.npz`` of each step); NaN where a file or the key is missing."""
    low = np.full(curve.n_probes, np.nan)
    high = np.full(curve.n_probes, np.nan)
    for i, step in enumerate(curve.steps):
        path = run.stats_path(int(step))
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = data[NULL_PERMUTATION_KEY] if NULL_PERMUTATION_KEY in data.files else []
                null = np.asarray(stored, dtype=np.float64)
        except Exception:  # a damaged file only loses its band
            continue
        if null.size:
            low[i], high[i] = null_band(null)
    return CMNICurve(columns={**curve.columns, NULL_LOW: low, NULL_HIGH: high}, layers=curve.layers, source=curve.source)


def recompute_curve(
    checkpoints: Sequence[tuple[int, Any]],
    probe_set: ProbeSet,
    load: Callable[[Any], Any],
    n_permutations: int = 100,
    seed: int = 0,
    untrained_seed: int = 0,
    score: Callable[[Any], float] | None = None,
    null_draws: int = 10,
) -> CMNICurve:
    """The CMNI curve from saved checkpoints, with the columns of ``cmni.csv``.

    Args:
        checkpoints: ``(step, path)`` pairs, in any order.
        probe_set: the run's probe set (or a freshly built one).
        load: ``path -> model`` (an SB3 model with ``.policy``, or a policy).
        n_permutations, seed: permutation test settings.
        untrained_seed: torch seed of the first untrained network of the null
            (:func:`cmni.probe.untrained_null`, as the training callback draws it).
        score: optional ``model -> mean episode score``; NaN when None.
        null_draws: untrained networks in the null (the run's ``probe_null_draws``).
    """
    rows: list[dict[str, float]] = []
    null: UntrainedNull | None = None
    for step, path in checkpoints:
        model = load(path)
        analysed = analyse_checkpoint(model, probe_set, n_permutations, seed, untrained_seed)
        if null is None:  # one architecture: the same null for every checkpoint
            null = untrained_null(getattr(model, "policy", model), probe_set, untrained_seed, null_draws)
        mean_score = float(score(model)) if score is not None else math.nan
        row = csv_row(step, analysed.result, analysed.permutation, analysed.overlap, null, mean_score)
        row[NULL_LOW], row[NULL_HIGH] = null_band(analysed.permutation.null_cmni)
        rows.append(row)
    return curve_from_rows(rows, "recomputed")
