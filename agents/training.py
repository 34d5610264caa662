"""Training library behind ``python train.py``: config, model, run folder, callbacks, resume.

One run lives in one folder::

    run_dir/
        config.json                  the full TrainConfig (env knobs nested under "env")
        checkpoints/step_<012d>.zip  every ``checkpoint_every`` agent-steps, at the end,
                                     and when training is interrupted
        final_model.zip              the policy after ``timesteps`` agent-steps
        tb/                          TensorBoard events (one file per session; a resumed
                                     run appends a new file to the same folder)
        probe_set.npz, cmni.csv, cmni/*.npz   written by the CMNI callback (unless probe=False)

Every file this module writes goes through :mod:`frogtoad_env.atomic` (a temporary file
in the same folder, then ``os.replace``), so a crash or Ctrl-C never leaves a truncated
config or checkpoint behind.

Counting: a *timestep* is one agent-step (SB3's ``num_timesteps``); one step of the
batched env advances ``2 * n_games`` of them (two players per game, one shared policy).
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule, set_random_seed

from agents.coupled import ACTIVATIONS, coupled_policy_kwargs
from agents.run_folder import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    FINAL_MODEL,
    TB_DIR,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    one_line,
)
from agents.vec_env import FrogToadVecEnv
from frogtoad_env.atomic import atomic_write_bytes, atomic_write_text
from frogtoad_env.checks import check_int, check_known_keys, check_unit_interval
from frogtoad_env.config import EnvConfig

LR_SCHEDULES: tuple[str, ...] = ("constant", "linear")

#: ``info["episode"]`` key -> TensorBoard tag, logged by :class:`EpisodeStatsCallback`
EPISODE_TAGS: dict[str, str] = {
    "score": "game/score",
    "help_rate": "game/help_rate",
    "help_rate_partner_distressed": "game/help_rate_partner_distressed",
    "help_rate_partner_ok": "game/help_rate_partner_ok",
    "stalled_fraction": "game/stalled_fraction",
    "leap_rate_rough_ahead": "game/leap_rate_rough_ahead",
}


class RunError(Exception):
    """A run folder that cannot be created or resumed; the message is one line for the user."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json`` in the run folder.

    Attributes:
        coupling: self/other weight coupling c in [0, 1] of the first layer.
        timesteps: total agent-steps to train (two per game per env step).
        seed: seeds torch, numpy, Python and the env's random stream.
        n_games: games stepped together; SB3 sees ``2 * n_games`` env slots (``--n-envs``).
        net_arch: first number = coupled layer units, the rest = hidden layers of the
            policy and value MLPs.
        activation: ``"tanh"`` or ``"relu"`` (every layer).
        env: the game's knobs (veil, dependency, prosocial, max_steps...).
        checkpoint_every: agent-steps between checkpoints.
        probe: run the CMNI callback.
        probe_every: agent-steps between CMNI probes; ``None`` = ``checkpoint_every``.
        probe_per_scenario, probe_permutations: probe-set states per scenario and
            permutation-test shuffles, passed to the CMNI callback.
        device: torch device for the policy (``"cpu"``, ``"cuda"``, ``"auto"``...).
        torch_threads: ``torch.set_num_threads`` during training (measured: see docs/training.md).
        learning_rate: Adam step size at the start; ``lr_schedule="linear"`` decays it to 0
            at ``timesteps``.
        n_steps: env steps per slot per rollout (a rollout holds ``n_steps * 2 * n_games``
            agent-steps).
        n_minibatches: minibatches per epoch; SB3's ``batch_size = rollout_size // n_minibatches``
            (so any ``n_games`` works).
        n_epochs, gamma, gae_lambda, clip_range, ent_coef, vf_coef, max_grad_norm: PPO's
            hyperparameters, as in SB3.
    """

    coupling: float = 0.5
    timesteps: int = 5_000_000
    seed: int = 0
    n_games: int = 16
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    env: EnvConfig = field(default_factory=EnvConfig)
    checkpoint_every: int = 250_000
    probe: bool = True
    probe_every: int | None = None
    probe_per_scenario: int = 1000
    probe_permutations: int = 100
    device: str = "cpu"
    torch_threads: int = 1
    learning_rate: float = 1e-3
    lr_schedule: str = "linear"
    n_steps: int = 128
    n_minibatches: int = 4
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5

    def __post_init__(self) -> None:
        check_unit_interval("coupling", self.coupling)
        for name in ("timesteps", "n_games", "checkpoint_every", "probe_per_scenario", "probe_permutations",
                     "torch_threads", "n_steps", "n_minibatches", "n_epochs"):
            check_int(name, getattr(self, name))
        if self.probe_every is not None:
            check_int("probe_every", self.probe_every)
        object.__setattr__(self, "net_arch", check_net_arch(self.net_arch))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not isinstance(self.env, EnvConfig):
            raise ValueError(f"env must be an EnvConfig, got {type(self.env).__name__}")
        if self.env.obs_mode != "egocentric":
            raise ValueError(f"the coupled policy needs obs_mode 'egocentric', got {self.env.obs_mode!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.rollout_size % self.n_minibatches:
            raise ValueError(
                f"n_minibatches {self.n_minibatches} does not divide the rollout of n_steps * 2 * n_games = "
                f"{self.rollout_size} agent-steps"
            )
        for name in ("learning_rate", "clip_range", "max_grad_norm"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("gamma", "gae_lambda"):
            check_unit_interval(name, getattr(self, name))
        for name in ("ent_coef", "vf_coef"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    @property
    def n_slots(self) -> int:
        """SB3 env slots: two players per game."""
        return 2 * self.n_games

    @property
    def rollout_size(self) -> int:
        """Agent-steps per PPO rollout."""
        return self.n_steps * self.n_slots

    @property
    def batch_size(self) -> int:
        """Agent-steps per minibatch: ``rollout_size // n_minibatches``."""
        return self.rollout_size // self.n_minibatches

    @property
    def probe_interval(self) -> int:
        return self.probe_every if self.probe_every is not None else self.checkpoint_every

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``net_arch`` as a list, ``env`` as a nested dict."""
        data = asdict(self)
        data["net_arch"] = list(self.net_arch)
        data["env"] = self.env.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them."""
        check_known_keys(data, [f.name for f in fields(cls)])
        kwargs = dict(data)
        if "env" in kwargs:
            if not isinstance(kwargs["env"], Mapping):
                raise ValueError(f"env must be a mapping of EnvConfig fields, got {kwargs['env']!r}")
            kwargs["env"] = EnvConfig.from_kwargs(kwargs["env"])
        if "net_arch" in kwargs and isinstance(kwargs["net_arch"], list):
            kwargs["net_arch"] = tuple(kwargs["net_arch"])
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))


def check_net_arch(net_arch: Sequence[int]) -> tuple[int, ...]:
    """A non-empty sequence of positive ints, as a tuple; else ValueError."""
    if isinstance(net_arch, (str, bytes)) or not isinstance(net_arch, Sequence) or len(net_arch) == 0:
        raise ValueError(f"net_arch must be one or more positive integers, got {net_arch!r}")
    for units in net_arch:
        check_int("every net_arch entry", units)
    return tuple(int(units) for units in net_arch)


# --------------------------------------------------------------------------- model


def make_env(config: TrainConfig, seed: int | None = None) -> FrogToadVecEnv:
    """The batched self-play env: ``config.n_games`` games, ``2 * n_games`` SB3 slots."""
    return FrogToadVecEnv(config.n_games, config.env, seed=config.seed if seed is None else seed)


def learning_rate_schedule(config: TrainConfig) -> ConstantSchedule | LinearSchedule:
    """SB3 schedule of progress_remaining (1 at the start, 0 at ``timesteps``)."""
    if config.lr_schedule == "linear":
        return LinearSchedule(start=config.learning_rate, end=0.0, end_fraction=1.0)
    return ConstantSchedule(config.learning_rate)


def make_model(config: TrainConfig, env: FrogToadVecEnv) -> PPO:
    """A fresh PPO with the coupled policy, seeded with ``config.seed`` (torch, numpy, env)."""
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=learning_rate_schedule(config),
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs=coupled_policy_kwargs(config.coupling, config.net_arch, config.activation, config.env.width),
        seed=config.seed,
        device=config.device,
        verbose=0,
    )


def load_model(path: Path, config: TrainConfig, env: FrogToadVecEnv | None = None) -> PPO:
    """Load a checkpoint saved by this module; the schedules come from ``config``."""
    custom_objects = {
        "learning_rate": learning_rate_schedule(config),
        "lr_schedule": learning_rate_schedule(config),
        "clip_range": ConstantSchedule(config.clip_range),
    }
    return PPO.load(path, env=env, device=config.device, custom_objects=custom_objects)


# --------------------------------------------------------------------------- run folder files


def atomic_save_model(model: PPO, path: Path | str) -> Path:
    """``model.save`` into memory, then :func:`atomic_write_bytes` to ``path``."""
    buffer = io.BytesIO()
    model.save(buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def save_config(config: TrainConfig, run_dir: Path) -> Path:
    return atomic_write_text(run_dir / CONFIG_FILE, config.to_json())


def load_config(run_dir: Path | str) -> TrainConfig:
    """The run's ``config.json``; RunError (one line) if the folder or file is missing or bad."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run folder {str(run_dir)!r} does not exist")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{str(run_dir)!r} is not a run folder: it has no {CONFIG_FILE}")
    try:
        return TrainConfig.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError) as error:
        raise RunError(f"cannot read {path}: {one_line(error)}") from None


def default_run_dir(coupling: float, root: Path | str = "runs", now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>_c<coupling>``, with ``-2``, ``-3``... if that folder exists."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}_c{coupling:g}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


# --------------------------------------------------------------------------- callbacks


class CheckpointCallback(BaseCallback):
    """Saves ``checkpoints/step_<012d>.zip`` atomically every ``every`` agent-steps.

    Saved at the start of a rollout, i.e. after the PPO update, so ``step_N.zip`` holds a
    policy trained on ``N`` agent-steps (``N`` is the first rollout boundary past each
    multiple of ``every``); :meth:`save_now` saves at the current step (end of training,
    interrupts).
    """

    def __init__(self, run_dir: Path, every: int) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.every = every
        self._last_saved = -1
        self._last_boundary = 0

    def _on_training_start(self) -> None:
        self._last_boundary = self.num_timesteps // self.every

    def _on_rollout_start(self) -> None:
        boundary = self.num_timesteps // self.every
        if boundary > self._last_boundary:
            self._last_boundary = boundary
            self.save_now()

    def _on_step(self) -> bool:
        return True

    def save_now(self) -> Path:
        """Save at ``model.num_timesteps`` (no-op if already saved at that step)."""
        path = checkpoint_path(self.run_dir, self.model.num_timesteps)
        if self._last_saved != self.model.num_timesteps or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save_model(self.model, path)
            self._last_saved = self.model.num_timesteps
        return path


class EpisodeStatsCallback(BaseCallback):
    """Logs the mean of each ``info["episode"]`` extra over ``model.ep_info_buffer``.

    Tags (see :data:`EPISODE_TAGS`): ``game/score`` (points per player per episode),
    ``game/help_rate``, ``game/help_rate_partner_distressed``, ``game/help_rate_partner_ok``,
    ``game/stalled_fraction``, ``game/leap_rate_rough_ahead`` (fractions of steps). NaN
    rates (condition never met in an episode) are left out of the mean.
    """

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for tag, value in episode_means(self.model).items():
            self.logger.record(tag, value)


def episode_means(model: PPO) -> dict[str, float]:
    """TensorBoard tag -> mean over the episodes in ``model.ep_info_buffer`` (finite values only)."""
    out: dict[str, float] = {}
    for key, tag in EPISODE_TAGS.items():
        values = np.array([info[key] for info in model.ep_info_buffer if key in info], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            out[tag] = float(values.mean())
    return out


def make_probe_callback(config: TrainConfig, run_dir: Path) -> BaseCallback:
    """The CMNI callback of :mod:`cmni.callback` (imported here, so ``probe=False`` runs without it)."""
    from cmni.callback import CMNICallback

    return CMNICallback(
        str(run_dir),
        config.env,
        probe_every=config.probe_interval,
        seed=config.seed,
        per_scenario=config.probe_per_scenario,
        n_permutations=config.probe_permutations,
    )


# --------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What :func:`train` leaves behind.

    Attributes:
        run_dir: the run folder.
        model: the PPO model in memory.
        num_timesteps: agent-steps trained so far (over all sessions).
        interrupted: True when KeyboardInterrupt stopped training (a checkpoint was saved).
        model_path: ``final_model.zip``, or the checkpoint saved at the interrupt.
        mean_score: mean points per player over the last episodes in ``ep_info_buffer``
            (NaN if no episode finished in this session).
        wall_time_s: seconds spent in ``learn`` in this session.
        already_complete: a resumed run that had already reached ``timesteps``.
    """

    run_dir: Path
    model: PPO
    num_timesteps: int
    interrupted: bool
    model_path: Path
    mean_score: float
    wall_time_s: float
    already_complete: bool = False


def prepare_new_run(config: TrainConfig, run_dir: Path | str) -> Path:
    """Create the run folder and write ``config.json``; never touches an existing run."""
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).exists():
        raise RunError(f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir} or pick another --run-dir")
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{str(run_dir)!r} exists and is not a folder")
    (run_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir)
    return run_dir


def open_resumed_model(run_dir: Path, config: TrainConfig) -> tuple[PPO, FrogToadVecEnv]:
    """Load the latest checkpoint of ``run_dir`` with a fresh env; RunError if there is none or it is corrupt.

    The env and the global RNGs are seeded with ``config.seed + num_timesteps``, so a
    resumed session does not replay the episodes of the first one and is itself reproducible.
    """
    latest = latest_checkpoint(run_dir)
    if latest is None:
        raise RunError(f"{str(run_dir)!r} has no checkpoint in {CHECKPOINT_DIR}/ to resume from")
    step, path = latest
    env = make_env(config)
    try:
        model = load_model(path, config, env)
    except Exception as error:  # zipfile, pickle, torch and SB3 raise many kinds
        raise RunError(f"cannot load checkpoint {path}: {one_line(error)}") from None
    if model.num_timesteps != step:
        raise RunError(f"checkpoint {path} holds step {model.num_timesteps}, not the {step} its name says")
    model.set_random_seed(config.seed + model.num_timesteps)
    return model, env


def train(
    config: TrainConfig,
    run_dir: Path | str,
    resume: bool = False,
    progress_bar: bool = True,
    callbacks: Sequence[BaseCallback] = (),
) -> TrainResult:
    """Train (or continue) a run until ``config.timesteps`` agent-steps.

    Args:
        config: the run's config; with ``resume=True`` it must equal the folder's config.json
            (use :func:`resume`, which loads it).
        run_dir: the run folder (created for a new run; must not hold a run already).
        resume: continue from the latest checkpoint with ``reset_num_timesteps=False``.
        progress_bar: show SB3's tqdm/rich progress bar.
        callbacks: extra SB3 callbacks, called after the built-in ones.

    Returns:
        TrainResult; ``interrupted=True`` when a KeyboardInterrupt stopped ``learn`` (the
        checkpoint at the current step was saved first).

    Raises:
        RunError: the folder cannot be used (exists already, nothing to resume, corrupt
            checkpoint...); nothing has been written when it is raised.
    """
    run_dir = Path(run_dir)
    torch.set_num_threads(config.torch_threads)
    if resume:
        saved = load_config(run_dir)
        if saved != config:
            raise RunError(f"config differs from {run_dir / CONFIG_FILE}; resume with the saved config")
        model, env = open_resumed_model(run_dir, config)
    else:
        prepare_new_run(config, run_dir)
        set_random_seed(config.seed)
        env = make_env(config)
        model = make_model(config, env)
    remaining = config.timesteps - model.num_timesteps
    if remaining <= 0:
        env.close()
        final = run_dir / FINAL_MODEL
        if not final.exists():
            atomic_save_model(model, final)
        return TrainResult(run_dir, model, model.num_timesteps, False, final, math.nan, 0.0, already_complete=True)
    model.set_logger(configure(str(run_dir / TB_DIR), ["tensorboard"]))
    checkpoints = CheckpointCallback(run_dir, config.checkpoint_every)

    built_in: list[BaseCallback] = [checkpoints, EpisodeStatsCallback()]
    if config.probe:
        built_in.append(make_probe_callback(config, run_dir))
    bar = ProgressBarCallback() if progress_bar else None
    all_callbacks = built_in + ([bar] if bar else []) + list(callbacks)

    start = time.perf_counter()
    interrupted = False
    try:
        model.learn(remaining, callback=CallbackList(all_callbacks), reset_num_timesteps=not resume)
    except KeyboardInterrupt:
        interrupted = True
        _close_progress_bar(bar)
    finally:
        wall = time.perf_counter() - start
    try:
        if interrupted:
            model_path = checkpoints.save_now()
        else:
            checkpoints.save_now()
            model_path = atomic_save_model(model, run_dir / FINAL_MODEL)
    finally:
        model.logger.close()
        env.close()
    score = episode_means(model).get("game/score", math.nan)
    return TrainResult(run_dir, model, model.num_timesteps, interrupted, model_path, score, wall)


def resume(run_dir: Path | str, progress_bar: bool = True, callbacks: Sequence[BaseCallback] = ()) -> TrainResult:
    """Continue the run in ``run_dir`` with its own config.json up to its ``timesteps``."""
    return train(load_config(run_dir), run_dir, resume=True, progress_bar=progress_bar, callbacks=callbacks)


def _close_progress_bar(bar: ProgressBarCallback | None) -> None:
    pbar = getattr(bar, "pbar", None)
    if pbar is not None:
        pbar.close()


# --------------------------------------------------------------------------- evaluation


__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "EPISODE_TAGS",
    "FINAL_MODEL",
    "TB_DIR",
    "CheckpointCallback",
    "EpisodeStatsCallback",
    "RunError",
    "TrainConfig",
    "TrainResult",
    "atomic_save_model",
    "default_run_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_config",
    "load_model",
    "make_env",
    "make_model",
    "resume",
    "train",
]
