"""SB3 callback that probes the CMNI of the policy at checkpoints during training.

Scheduling and logging only: the probe states come from :mod:`cmni.probe_set`, the
activations from :mod:`cmni.recorder`, the numbers from :mod:`cmni.metric`,
:mod:`cmni.stats` and :mod:`cmni.overlap`.

Files (names: :mod:`experiment.run_folder`; ``cmni.csv`` columns: :mod:`experiment.cmni_csv`): the probe set,
built on the first training start and loaded on a resume (then it must match the run's
env config); one ``cmni.csv`` row and one statistics ``.npz`` per probe; the untrained
network's statistics once per run.

Logged to the model's SB3 logger at the probe's step (TensorBoard when the model has a
``tensorboard_log``): ``cmni/total``, ``cmni/<layer>``, ``cmni/null_untrained`` (mean of
the untrained null), ``cmni/null_untrained_sd``, ``cmni/excess`` (CMNI - null mean),
``cmni/z_untrained``, ``cmni/candidates_excess``, the band edges of both nulls (mean -/+ 2 sd,
:mod:`experiment.tensorboard`, which also lays CMNI and the bands out on one chart),
``cmni/null_permutation_mean``, ``cmni/p_value``, ``cmni/z_score``,
``cmni/candidates``, ``cmni/candidate_fraction``, ``cmni/candidates_<layer>``,
``cmni/overlap_<layer>`` and ``cmni/overlap_all`` (egocentric only),
``cmni/mean_<layer>_<scenario>`` (mean over the layer's units of the per-scenario mean
activation) and the histograms ``cmni/mns_hist`` and ``cmni/mns_hist_<layer>`` (Mirror
Neuron Scores over neurons; TensorBoard only).

Writing the probe's values does not disturb the training's own log: values other
code recorded but has not dumped yet are set aside while the probe dumps its own
values at ``num_timesteps``, then restored for the next regular dump.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.save_util import load_from_zip_file
from threadpoolctl import threadpool_limits

from experiment.atomic import atomic_savez
from experiment.cmni_csv import cmni_csv_columns, read_cmni_csv, write_cmni_csv
from experiment.run_folder import NULL_PERMUTATION_KEY, RunFolder
from experiment.tensorboard import band_records, write_layout
from frogtoad_env.behaviour import episode_means
from frogtoad_env.checks import check_int
from frogtoad_env.config import EnvConfig

from .metric import SCENARIO_NAMES, CMNIResult
from .probe import UntrainedNull, csv_row, measure_policy, untrained_null
from .probe_set import ProbeSet, build_probe_set
from .recorder import RecordedActivations, layer_names
from .stats import PermutationResult

__all__ = ["CMNICallback", "limit_blas_threads"]

_TB_ONLY = ("stdout", "log", "json", "csv")
_NOT_STDOUT = ("stdout", "log")


@contextlib.contextmanager
def limit_blas_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with numpy's BLAS limited to ``n_threads`` (None: leave it alone).

    The probe's matrix products are small; multi-threaded OpenBLAS on a busy machine
    makes them 10-20x slower (threads wait on each other) and its spinning workers slow
    the training around them. The previous limit is restored afterwards.
    """
    if n_threads is None:
        yield
        return
    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield


class CMNICallback(BaseCallback):
    """Probe the policy's CMNI every ``probe_every`` timesteps and at the end of training.

    Args:
        run_dir: folder for ``probe_set.npz``, ``cmni.csv`` and ``cmni/`` (created).
        env_config: the training env's configuration (the probe set is built with it).
        probe_every: probe whenever ``num_timesteps`` reaches or passes a multiple of
            this (>= 1). Probes run at the start of a rollout, after the policy update
            (the count moves a rollout at a time), so a probe sees the policy that the
            checkpoint of the same step holds.
        seed: seed of the probe set, of the untrained network and of the permutations.
        per_scenario: probe states per scenario when the probe set is built.
        n_permutations: label permutations of the permutation test (>= 1).
        n_null_draws: untrained initialisations of the untrained-network null (>= 1),
            measured once per run.
        save_activations: also store the raw activations, logits and labels in every
            ``cmni/step_*.npz``.
        verbose: 1 prints one line per probe.
        blas_threads: numpy BLAS threads while probing (see :func:`limit_blas_threads`);
            ``None`` leaves BLAS alone. The default 1 keeps probes cheap on busy machines.

    Attributes (after training start):
        probe_set: the :class:`~cmni.probe_set.ProbeSet`.
        layers: the probed layer names.
        null: the untrained-network null distribution (:class:`cmni.probe.UntrainedNull`).
        null_untrained: its mean CMNI.
        history: one dict per probe, the values of the CSV row.
        last_result: :class:`~cmni.metric.CMNIResult` of the latest probe.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        env_config: EnvConfig,
        probe_every: int,
        seed: int = 0,
        per_scenario: int = 1000,
        n_permutations: int = 100,
        n_null_draws: int = 10,
        save_activations: bool = False,
        verbose: int = 0,
        blas_threads: int | None = 1,
    ) -> None:
        super().__init__(verbose=verbose)
        if not isinstance(env_config, EnvConfig):
            raise ValueError(f"env_config must be an EnvConfig, got {type(env_config).__name__}")
        self.run = RunFolder(run_dir)
        self.env_config = env_config
        self.probe_every = check_int("probe_every", probe_every)
        self.seed = check_int("seed", seed, minimum=0)
        self.per_scenario = check_int("per_scenario", per_scenario)
        self.n_permutations = check_int("n_permutations", n_permutations)
        self.n_null_draws = check_int("n_null_draws", n_null_draws)
        self.save_activations = bool(save_activations)
        if blas_threads is not None:
            check_int("blas_threads", blas_threads)
        self.blas_threads = blas_threads
        self.probe_set: ProbeSet | None = None
        self.layers: list[str] = []
        self.null_untrained: float = math.nan
        self.null: UntrainedNull | None = None
        self.history: list[dict[str, float]] = []
        self.last_result: CMNIResult | None = None
        self._columns: list[str] = []
        self._next_probe = self.probe_every
        self._last_probe_step: int | None = None

    # -------------------------------------------------------------- SB3 hooks
    def _on_training_start(self) -> None:
        with limit_blas_threads(self.blas_threads):
            self._start()

    def _start(self) -> None:
        self.run.stats_dir.mkdir(parents=True, exist_ok=True)
        self.probe_set = self._load_or_build_probe_set()
        policy = self.model.policy
        obs_shape = tuple(self.model.observation_space.shape or ())
        if obs_shape != tuple(self.probe_set.observations.shape[1:]):
            raise ValueError(
                f"the model's observations have shape {obs_shape} but the probe set's have "
                f"{self.probe_set.observations.shape[1:]}; is env_config the training env's config?"
            )
        self.layers = layer_names(policy)
        egocentric = self.probe_set.swapped_observations is not None
        self._columns = cmni_csv_columns(self.layers, egocentric)
        self._check_csv_header()
        write_layout(self.logger)

        self.null = untrained_null(policy, self.probe_set, self.seed, self.n_null_draws)
        self.null_untrained = self.null.mean
        arrays = self._stats_arrays(-1, self.null.first, self.null.first_recorded, None, {})
        atomic_savez(self.run.null_untrained_path, {**arrays, "null_untrained_draws": self.null.cmni,
                                                    "null_untrained_candidates": self.null.candidates}, fsync=False)  # fmt: skip

        self._last_probe_step = None
        self._next_probe = (self.num_timesteps // self.probe_every + 1) * self.probe_every
        self._probe_unprobed_checkpoints()

    def _probe_unprobed_checkpoints(self) -> None:
        """Probe every saved checkpoint up to now that has no ``cmni.csv`` row: a kill or an
        interrupt between saving a checkpoint and probing it leaves one, and the probe
        belongs to the checkpoint. Such a row has no episode score (NaN)."""
        probed = {int(row["step"]) for row in read_cmni_csv(self.run.cmni_csv).rows} if self.run.cmni_csv.exists() else set()
        for step, path in self.run.checkpoints():
            if step > self.num_timesteps or step in probed:
                continue
            try:
                _, params, _ = load_from_zip_file(path, device="cpu")
            except Exception as error:  # a corrupt zip: training skips it too
                warnings.warn(f"cannot probe checkpoint {path}: {' '.join(str(error).split())}", stacklevel=2)
                continue
            policy = copy.deepcopy(self.model.policy).to("cpu")
            policy.load_state_dict(params["policy"])
            self._probe(policy, step, math.nan)

    def _on_rollout_start(self) -> None:
        # A rollout starts right after the update that used every step so far, so the
        # probe at step N sees the same policy as the checkpoint saved at step N.
        if self.num_timesteps >= self._next_probe:
            self.probe()
            self._next_probe = (self.num_timesteps // self.probe_every + 1) * self.probe_every

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.probe_set is not None and self._last_probe_step != self.num_timesteps:
            self.probe()

    # ------------------------------------------------------------------ probe
    def probe(self) -> dict[str, float]:
        """Probe the current policy at ``self.num_timesteps``: compute, log, write files.

        Returns:
            The values of the CSV row (column -> value).
        """
        if self.probe_set is None:
            raise RuntimeError("CMNICallback.probe() needs the probe set; training has not started")
        score = episode_means(getattr(self.model, "ep_info_buffer", None) or []).get("score", math.nan)
        with limit_blas_threads(self.blas_threads):
            return self._probe(self.model.policy, int(self.num_timesteps), score)

    def _probe(self, policy: Any, step: int, score: float) -> dict[str, float]:
        measured = measure_policy(policy, self.probe_set, self.n_permutations, self.seed)
        result, perm, rec, overlap = measured.result, measured.permutation, measured.recorded, measured.overlap
        row = csv_row(step, result, perm, overlap, self.null, score)

        self._log(step, result, perm, overlap, row)
        atomic_savez(
            self.run.stats_path(step), self._stats_arrays(step, result, rec, perm, overlap, row["mean_episode_score"]), fsync=False
        )
        self._append_csv_row(row)
        self.history.append(row)
        self.last_result = result
        self._last_probe_step = step
        if self.verbose >= 1:
            print(
                f"[cmni] step {step}: CMNI {result.cmni:.5f} (untrained {self.null_untrained:.5f}, "
                f"permutation mean {perm.null_mean:.5f}, p {perm.p_value:.3f}), "
                f"{result.n_candidates}/{result.n_neurons} candidates"
            )
        return row

    # ---------------------------------------------------------------- helpers
    def _load_or_build_probe_set(self) -> ProbeSet:
        path = self.run.probe_set_path
        if path.exists():
            ps = ProbeSet.load(path)
            if ps.env_config != self.env_config.to_dict():
                raise ValueError(
                    f"{str(path)!r} was built for env config {ps.env_config}, but this run's config is "
                    f"{self.env_config.to_dict()}; use a fresh run_dir or the original config"
                )
            if ps.per_scenario != self.per_scenario or ps.seed != self.seed:
                warnings.warn(
                    f"using the existing probe set {str(path)!r} (per_scenario={ps.per_scenario}, seed={ps.seed}) "
                    f"although this callback asks for per_scenario={self.per_scenario}, seed={self.seed}",
                    stacklevel=2,
                )
            return ps
        ps = build_probe_set(self.env_config, per_scenario=self.per_scenario, seed=self.seed)
        ps.save(path)
        return ps

    def _check_csv_header(self) -> None:
        """Refuse a ``cmni.csv`` of another layout; on resume, drop rows past the current step.

        A run killed without a final checkpoint resumes from an older one and probes the
        later steps again; their old rows (of a policy that no checkpoint holds) go.
        """
        if not self.run.cmni_csv.exists():
            return
        table = read_cmni_csv(self.run.cmni_csv)
        if table.columns != self._columns:
            raise ValueError(
                f"{str(self.run.cmni_csv)!r} has the columns {table.columns}, but this run writes {self._columns}; "
                "use a fresh run_dir"
            )
        kept = [row for row in table.rows if row["step"] <= self.num_timesteps]
        if len(kept) < len(table.rows) or table.skipped:
            write_cmni_csv(self.run.cmni_csv, self._columns, kept)

    def _append_csv_row(self, row: dict[str, float]) -> None:
        rows = read_cmni_csv(self.run.cmni_csv).rows if self.run.cmni_csv.exists() else []
        rows = sorted([r for r in rows if r["step"] != row["step"]] + [row], key=lambda r: r["step"])
        write_cmni_csv(self.run.cmni_csv, self._columns, rows)

    def _log(self, step: int, result: CMNIResult, perm: PermutationResult, overlap: dict[str, float],
             row: dict[str, float]) -> None:  # fmt: skip
        """Record the probe's values and dump them at ``step``, leaving pending values of
        other code untouched (they are set aside and restored)."""
        logger = self.logger
        stores = [getattr(logger, a, None) for a in ("name_to_value", "name_to_count", "name_to_excluded")]
        isolate = all(isinstance(s, dict) for s in stores)
        pending = [dict(s) for s in stores] if isolate else []
        if isolate:
            for s in stores:
                s.clear()
        try:
            logger.record("cmni/total", float(result.cmni))
            for n in self.layers:
                logger.record(f"cmni/{n}", float(result.per_layer[n]))
            logger.record("cmni/null_untrained", self.null_untrained)
            logger.record("cmni/null_untrained_sd", row["null_untrained_sd"])
            logger.record("cmni/excess", row["excess_cmni"])
            logger.record("cmni/z_untrained", row["z_untrained"])
            logger.record("cmni/candidates_excess", row["candidates"] - row["candidates_null_mean"])
            logger.record("cmni/null_permutation_mean", float(perm.null_mean))
            for tag, value in band_records(self.null_untrained, row["null_untrained_sd"], perm.null_mean, perm.null_std).items():
                logger.record(tag, float(value))
            logger.record("cmni/p_value", float(perm.p_value))
            logger.record("cmni/z_score", float(perm.z_score))
            logger.record("cmni/candidates", int(result.n_candidates))
            logger.record("cmni/candidate_fraction", float(result.candidate_fraction))
            for n in self.layers:
                logger.record(f"cmni/candidates_{n}", int(result.per_layer_n_candidates[n]))
            for n, value in overlap.items():
                logger.record(f"cmni/overlap_{n}", float(value))
            for n in self.layers:
                sl = result.layer_slices[n]
                for code, scenario in enumerate(SCENARIO_NAMES):
                    logger.record(f"cmni/mean_{n}_{scenario}", float(result.mean[code, sl].mean()), exclude=_NOT_STDOUT)
            logger.record("cmni/mns_hist", np.array(result.mns, dtype=np.float64), exclude=_TB_ONLY)
            for n in self.layers:
                logger.record(f"cmni/mns_hist_{n}", np.array(result.mns[result.layer_slices[n]], dtype=np.float64), exclude=_TB_ONLY)
            logger.dump(step)
        finally:
            if isolate:
                for s, saved in zip(stores, pending):
                    s.clear()
                    s.update(saved)

    def _stats_arrays(
        self,
        step: int,
        result: CMNIResult,
        rec: RecordedActivations,
        perm: PermutationResult | None,
        overlap: dict[str, float],
        mean_episode_score: float = math.nan,
    ) -> dict[str, np.ndarray]:
        """Arrays of one checkpoint's ``.npz`` (N neurons over all layers, A actions, K permutations).

        ``step``; ``cmni``, ``mne``; ``layer_names`` (L,) str with ``layer_start``/``layer_stop``
        (L,) slices of the neuron axis; ``per_layer_cmni``, ``per_layer_candidates`` (L,);
        ``mean``, ``variance``, ``skewness`` (``kurtosis`` is excess kurtosis) (4, N) by
        scenario code; ``mns``, ``delta_self``, ``delta_other``, ``candidate_mask`` (N,);
        ``scenario_counts`` (4,); ``logits_mean`` (4, A) and ``action_prob_mean`` (4, A) per
        scenario; ``null_untrained``; ``p_value``, ``z_score``, ``null_permutation_mean`` and
        ``null_permutation`` (K,) (NaN / empty for the untrained null's own file);
        ``overlap_names``, ``overlap_values``; ``mean_episode_score``; with
        ``save_activations``: ``act_<layer>`` (n, units), ``logits`` (n, A), ``scenarios`` (n,).
        """
        codes = self.probe_set.scenarios  # type: ignore[union-attr]
        logits = rec.logits.astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        logits_mean = np.stack([logits[codes == s].mean(axis=0) for s in range(len(SCENARIO_NAMES))])
        prob_mean = np.stack([probs[codes == s].mean(axis=0) for s in range(len(SCENARIO_NAMES))])
        names = list(result.layer_slices)
        arrays: dict[str, np.ndarray] = {
            "step": np.asarray(step, dtype=np.int64),
            "cmni": np.asarray(result.cmni),
            "mne": np.asarray(result.mne),
            "layer_names": np.asarray(names, dtype=str),
            "layer_start": np.asarray([result.layer_slices[n].start for n in names], dtype=np.int64),
            "layer_stop": np.asarray([result.layer_slices[n].stop for n in names], dtype=np.int64),
            "per_layer_cmni": np.asarray([result.per_layer[n] for n in names]),
            "per_layer_candidates": np.asarray([result.per_layer_n_candidates[n] for n in names], dtype=np.int64),
            "mean": np.asarray(result.mean),
            "variance": np.asarray(result.variance),
            "skewness": np.asarray(result.skewness),
            "kurtosis": np.asarray(result.kurtosis),
            "mns": np.asarray(result.mns),
            "delta_self": np.asarray(result.delta_self),
            "delta_other": np.asarray(result.delta_other),
            "candidate_mask": np.asarray(result.candidate_mask),
            "scenario_counts": np.asarray([result.scenario_counts[s] for s in range(len(SCENARIO_NAMES))], dtype=np.int64),
            "logits_mean": logits_mean,
            "action_prob_mean": prob_mean,
            "null_untrained": np.asarray(self.null_untrained),
            "p_value": np.asarray(perm.p_value if perm else math.nan),
            "z_score": np.asarray(perm.z_score if perm else math.nan),
            "null_permutation_mean": np.asarray(perm.null_mean if perm else math.nan),
            NULL_PERMUTATION_KEY: np.asarray(perm.null_cmni if perm else np.empty(0)),
            "overlap_names": np.asarray(list(overlap), dtype=str),
            "overlap_values": np.asarray(list(overlap.values()), dtype=np.float64),
            "mean_episode_score": np.asarray(mean_episode_score, dtype=np.float64),
        }
        if self.save_activations:
            for n, arr in rec.layers.items():
                arrays[f"act_{n}"] = arr
            arrays["logits"] = rec.logits
            arrays["scenarios"] = codes
        return arrays
