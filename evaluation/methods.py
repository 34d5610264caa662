"""Which report a run gets: the PPO report (:mod:`evaluation.report`) or the classifier
report (:mod:`evaluation.classifier`), from the run's ``config.json``.

Light to import (json and the torch-free config classes), so ``evaluate.py`` decides, and
refuses options that do not apply, before torch is loaded.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from experiment.config import TrainConfig
from experiment.run_folder import CHECKPOINT_DIR, CONFIG_FILE
from supervised.config import SupervisedConfig

from .options import ReportOptions

__all__ = ["PPO", "SUPERVISED", "PPO_ONLY_OPTIONS", "run_method", "ppo_only_options_set"]

PPO, SUPERVISED = "ppo", "supervised"
#: the config.json entry that names the method, where it does
METHOD_KEY = "method"
#: ReportOptions fields only the PPO report uses: a classifier's run has no probe set to
#: intervene with, and its CMNI curve is the one training measured on the test split.
PPO_ONLY_OPTIONS: tuple[str, ...] = (
    "recompute_cmni", "interventions", "intervention_episodes", "intervention_controls", "intervention_top_k",
    "steer_alpha", "intervention_units",
)  # fmt: skip
#: Settings a supervised config.json has and a PPO one has not.
_SUPERVISED_KEYS = frozenset(f.name for f in fields(SupervisedConfig)) - {f.name for f in fields(TrainConfig)}


def run_method(path: Path | str) -> str:
    """:data:`SUPERVISED` when ``path`` is a supervised run folder or a file in one (its own
    folder, or the parent of ``checkpoints/``), else :data:`PPO`.

    A ``config.json`` that names its ``"method"`` says it; one that does not is a
    supervised run's when it holds settings only a :class:`~supervised.config.SupervisedConfig`
    has (``dataset_size``, ``dropout``...). A path
    that is no run, or whose config cannot be read, counts as PPO: the PPO path's
    :func:`experiment.run_folder.resolve_run` then says what is wrong with it.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    candidates = [folder, folder.parent] if folder.name == CHECKPOINT_DIR and not path.is_dir() else [folder]
    for candidate in candidates:
        try:
            data = json.loads((candidate / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            return PPO
        if data.get(METHOD_KEY) in (PPO, SUPERVISED):
            return str(data[METHOD_KEY])
        return SUPERVISED if _SUPERVISED_KEYS & set(data) else PPO
    return PPO


def ppo_only_options_set(options: ReportOptions) -> list[str]:
    """The :data:`PPO_ONLY_OPTIONS` fields of ``options`` that differ from their defaults."""
    defaults = ReportOptions()
    return [name for name in PPO_ONLY_OPTIONS if getattr(options, name) != getattr(defaults, name)]
