"""Saving and loading PPO policies: the one place that calls ``PPO.save`` and ``PPO.load``.

Training, resume, evaluation and the Gymnasium wrapper's model partner all load through
:func:`load_ppo`, so a checkpoint that one of them accepts, all of them accept.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

from experiment.atomic import atomic_write_bytes
from experiment.config import TrainConfig
from experiment.run_folder import RunError, one_line
from frogtoad_env.config import EnvConfig
from frogtoad_env.core import N_ACTIONS
from frogtoad_env.observations import observation_space


def learning_rate_schedule(config: TrainConfig) -> ConstantSchedule | LinearSchedule:
    """SB3 schedule of progress_remaining (1 at the start, 0 at ``timesteps``)."""
    if config.lr_schedule == "linear":
        return LinearSchedule(start=config.learning_rate, end=0.0, end_fraction=1.0)
    return ConstantSchedule(config.learning_rate)


def save_ppo(model: PPO, path: Path | str) -> Path:
    """``model.save`` into memory, then an atomic write to ``path`` (never a half-written zip)."""
    buffer = io.BytesIO()
    model.save(buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_ppo(
    path: Path | str,
    config: TrainConfig | None = None,
    env: Any = None,
    env_config: EnvConfig | None = None,
    device: str = "cpu",
) -> PPO:
    """Load a PPO save and check that it fits the game.

    Args:
        path: the ``.zip``.
        config: the run's config: its schedules are restored, so training can go on;
            without it the schedules are constants (enough to act and to probe).
        env: the env to attach (to continue training); None to only act.
        env_config: checks the model's observation shape against this env
            (default ``config.env`` when a config is given).
        device: torch device of the loaded policy.

    Raises:
        RunError: the file is not a loadable SB3 PPO save, or its observation or action
            space does not fit the env.
    """
    if config is not None:
        schedule = learning_rate_schedule(config)
        custom: dict[str, Any] = {"learning_rate": schedule, "lr_schedule": schedule,
                                  "clip_range": ConstantSchedule(config.clip_range)}  # fmt: skip
        env_config = env_config or config.env
    else:  # acting needs no schedule; constants also avoid unpickling lambdas
        custom = {"learning_rate": 0.0, "lr_schedule": ConstantSchedule(0.0), "clip_range": ConstantSchedule(0.0)}
    try:
        model = PPO.load(str(path), env=env, device=device, custom_objects=custom)
    except Exception as error:  # zipfile, pickle, torch and SB3 raise many kinds
        raise RunError(f"cannot load model {path}: {one_line(error)}") from None
    if env_config is not None:
        expected = tuple(observation_space(env_config.obs_mode, env_config.width).shape)
        got = tuple(getattr(model.observation_space, "shape", None) or ())
        if got != expected:
            raise RunError(
                f"model {path} expects observations of shape {got}, but the env "
                f"(obs_mode={env_config.obs_mode!r}, width={env_config.width}) gives {expected}"
            )
    if getattr(model.action_space, "n", None) != N_ACTIONS:
        raise RunError(f"model {path} has action space {model.action_space}, the game needs Discrete({N_ACTIONS})")
    return model
