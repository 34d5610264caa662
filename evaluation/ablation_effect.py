"""The mirror-ablation effect of one run: the causal column of a sweep's ``results.csv``.

One small fixed setting (:class:`AblationSetting`), measured once per finished run and
cached in the run folder (:attr:`experiment.run_folder.RunFolder.ablation_effect_path`):
the run's final policy is probed on the run's own probe set, its mirror candidates (both
deltas > 0, :func:`cmni.interventions.target_sets`) are zero-ablated, and the ablated
policy plays ``episodes`` seeded games with an intact copy of itself as partner, as do
``controls`` random unit sets of the same size in the same layers
(:func:`evaluation.interventions.run_interventions`, one kind, one target, one partner).

The intact partner, rather than self-play, keeps the situations the agent meets those of
the trained pair, so a change in its helping comes from its own ablated units, not from an
ablated partner that stalls more or less often.

Cost: one torch import, one model load, ``2 * (1 + controls) * episodes`` games of
``max_steps`` steps (docs/sweeps.md has the measured seconds). Torch is imported only by
:func:`measure_ablation`; reading the cached file is numpy-free. The cache names the
SHA-256 of the ``final_model.zip`` it measured: a run trained again since (resumed from an
earlier checkpoint after a crash) is measured again.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from experiment.atomic import atomic_write_text
from experiment.run_folder import RunError, RunFolder, one_line

__all__ = ["ABLATION_COLUMNS", "AblationSetting", "SETTING", "measurable", "measure_ablation", "read_ablation",
           "write_ablation", "ensure_ablation", "final_model_digest"]  # fmt: skip

#: ``results.csv`` columns of the effect: (column, meaning)
ABLATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ablation_units", "mirror candidates zero-ablated (final policy, the run's probe set)"),
    ("ablation_help_intact", "help rate with the partner distressed of the intact policy in the same games"),
    ("ablation_d_help", "that help rate, ablated - intact (helps per step)"),
    ("ablation_d_help_random", "the same for random units of the same count and layers (mean over the controls)"),
    ("ablation_help_percentile", "percentile of ablation_d_help among the random controls (0: helping falls most)"),
    ("ablation_d_score", "score, ablated - intact (points per player per episode)"),
)


@dataclass(frozen=True)
class AblationSetting:
    """The fixed setting of the per-run effect (stored with it; a file from another setting
    counts as missing).

    Attributes:
        episodes: games per condition (target and each control), agent role alternating seats.
        controls: random unit sets of the mirror candidates' size.
        seed: seeds the games and the random draws.
    """

    episodes: int = 16
    controls: int = 16
    seed: int = 0
    target: str = "mirror"
    kind: str = "zero"
    partner: str = "intact"


SETTING = AblationSetting()


def measurable(run: RunFolder) -> bool:
    """A finished run with a probe set: the effect can be measured."""
    return run.final_model.is_file() and run.probe_set_path.is_file()


def measure_ablation(run: RunFolder, setting: AblationSetting = SETTING) -> dict[str, float]:
    """Measure the effect (see the module doc): :data:`ABLATION_COLUMNS` -> value, NaN
    where undefined (no mirror candidates: ``ablation_units`` 0, every delta NaN).

    Raises:
        RunError: the run has no final model or no probe set, or they cannot be loaded.
    """
    if not measurable(run):
        raise RunError(f"{run.path} needs {run.final_model.name} and {run.probe_set_path.name} for the ablation effect")
    import torch

    from agents.checkpoints import load_ppo
    from cmni.interventions import ProbeStatistics, target_sets
    from cmni.metric import compute_cmni
    from cmni.probe import as_float64
    from cmni.probe_set import ProbeSet
    from cmni.recorder import record_activations

    from .interventions import run_interventions

    config = run.load_config()
    torch.set_num_threads(config.torch_threads)  # as in training: these networks are too small to gain from more
    model = load_ppo(run.final_model, env_config=config.env)
    probe_set = ProbeSet.load(run.probe_set_path)
    layers = as_float64(record_activations(model.policy, probe_set.observations).layers)
    targets = target_sets(compute_cmni(layers, probe_set.scenarios))
    if setting.target not in targets:
        return {c: (0.0 if c == "ablation_units" else math.nan) for c, _ in ABLATION_COLUMNS}
    study = run_interventions(
        model, config.env, {setting.target: targets[setting.target]}, ProbeStatistics.of(layers, probe_set.scenarios),
        episodes=setting.episodes, n_controls=setting.controls, seed=setting.seed, kinds=(setting.kind,),
        partners=(setting.partner,),
    )  # fmt: skip
    effect = study.effects[0]
    help_, score = "help_rate_partner_distressed", "score"
    controls = effect.controls[help_]
    finite = controls[[math.isfinite(c) for c in controls]]
    return {
        "ablation_units": float(effect.n_units),
        "ablation_help_intact": effect.intact[help_],
        "ablation_d_help": effect.delta[help_],
        "ablation_d_help_random": float(finite.mean()) if finite.size else math.nan,
        "ablation_help_percentile": effect.percentile[help_],
        "ablation_d_score": effect.delta[score],
    }


def final_model_digest(run: RunFolder) -> str | None:
    """SHA-256 (hex) of the run's ``final_model.zip``; None without one."""
    try:
        return hashlib.sha256(run.final_model.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_ablation(
    run: RunFolder, values: dict[str, float], setting: AblationSetting, cpu_s: float, model_digest: str | None
) -> Path:
    """Store ``values`` with the setting, the digest of the model they were measured on
    (:func:`final_model_digest`) and the CPU seconds it took (NaN as null)."""
    record = {"setting": asdict(setting), "final_model_sha256": model_digest, "cpu_s": round(cpu_s, 2),
              "values": {k: (v if math.isfinite(v) else None) for k, v in values.items()}}  # fmt: skip
    return atomic_write_text(run.ablation_effect_path, json.dumps(record, indent=2) + "\n", fsync=False)


def read_ablation(run: RunFolder, setting: AblationSetting = SETTING) -> dict[str, float] | None:
    """The cached effect (:data:`ABLATION_COLUMNS` -> value, NaN for null), or None when the
    file is missing, unreadable, from another setting or of another ``final_model.zip``."""
    try:
        record: Any = json.loads(run.ablation_effect_path.read_text(encoding="utf-8"))
        if record["setting"] != asdict(setting) or record["final_model_sha256"] != final_model_digest(run):
            return None
        stored = record["values"]
        return {c: math.nan if stored[c] is None else float(stored[c]) for c, _ in ABLATION_COLUMNS}
    except (OSError, ValueError, TypeError, KeyError):
        return None


def ensure_ablation(run: RunFolder, setting: AblationSetting = SETTING) -> dict[str, float]:
    """The cached effect, measured and written first when missing.

    Raises:
        RunError: it is missing and cannot be measured (one line naming the run and the error).
    """
    cached = read_ablation(run, setting)
    if cached is not None:
        return cached
    start = time.process_time()
    digest = final_model_digest(run)
    try:
        values = measure_ablation(run, setting)
    except RunError:
        raise
    except Exception as error:  # a broken model or probe set: the run loses its column only
        raise RunError(f"{run.path.name}: cannot measure the ablation effect: {one_line(error)}") from None
    write_ablation(run, values, setting, time.process_time() - start, digest)
    return values
