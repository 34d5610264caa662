"""Training library behind ``python train.py``: model, callbacks, checkpoints, resume.

The run folder's layout is :mod:`experiment.run_folder`; the settings are
:class:`experiment.config.TrainConfig`. Every file this module writes is atomic (a
temporary file in the same folder, then ``os.replace``), so a crash or Ctrl-C never
leaves a truncated config or checkpoint behind.

Counting: a *timestep* is one agent-step (SB3's ``num_timesteps``); one step of the
batched env advances ``2 * n_games`` of them (two players per game, one shared policy).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.tensorboard import SummaryWriter
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat, configure
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecEnv

from agents.checkpoints import learning_rate_schedule, load_ppo, save_ppo
from agents.coupled import coupled_policy_kwargs
from agents.policy import CategoricalActorCriticPolicy
from agents.vec_env import FrogToadVecEnv, RewardScale
from experiment.config import TrainConfig
from experiment.run_folder import CHECKPOINT_DIR, RunError, RunFolder
from frogtoad_env.behaviour import EPISODE_KEYS, episode_means

#: ``info["episode"]`` key -> TensorBoard tag, logged by :class:`EpisodeStatsCallback`
EPISODE_TAGS: dict[str, str] = {key: f"game/{key}" for key in EPISODE_KEYS}

#: the policy class of every PPO that :func:`make_model` builds; SB3's own ``ActorCriticPolicy``
#: trains to the same weights, only slower (agents/policy.py)
POLICY_CLASS: type[ActorCriticPolicy] = CategoricalActorCriticPolicy


def adam_kwargs(device: str) -> dict[str, Any]:
    """The policy's Adam: SB3's for PPO (``eps`` 1e-5), fused into one kernel per step on
    ``cpu`` and ``cuda`` (and ``auto``, which is one of them), as ``supervised/training.py``
    fuses its own. The fused step computes the same update in fewer operations (about 5 %
    of a default rollout, ``benchmarks/code_speed.py``); its sums round differently from the
    per-parameter loop's, in the last bit. Other devices keep the loop: which of them have a
    fused kernel depends on the torch version."""
    fused = device.partition(":")[0] in ("cpu", "cuda", "auto")
    return {"eps": 1e-5, "fused": True} if fused else {"eps": 1e-5}


# --------------------------------------------------------------------------- model


def make_env(config: TrainConfig, seed: int | None = None) -> RewardScale:
    """The batched self-play env as PPO sees it: ``config.n_games`` games, ``2 * n_games``
    SB3 slots, rewards times ``config.reward_scale`` (scores and logged returns in points)."""
    games = FrogToadVecEnv(config.n_games, config.env, seed=config.seed if seed is None else seed)
    return RewardScale(games, config.reward_scale)


def make_model(config: TrainConfig, env: VecEnv) -> PPO:
    """A fresh PPO with the coupled policy, seeded with ``config.seed`` (torch, numpy, env)."""
    return PPO(
        POLICY_CLASS,
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
        policy_kwargs={
            **coupled_policy_kwargs(config.coupling, config.net_arch, config.activation, config.env.width),
            "optimizer_kwargs": adam_kwargs(config.device),
        },
        seed=config.seed,
        device=config.device,
        verbose=0,
    )


# --------------------------------------------------------------------------- callbacks


class CheckpointCallback(BaseCallback):
    """Saves ``checkpoints/step_<012d>.zip`` atomically every ``every`` agent-steps.

    Saved at the start of a rollout, i.e. after the PPO update, so ``step_N.zip`` holds a
    policy trained on ``N`` agent-steps (``N`` is the first rollout boundary past each
    multiple of ``every``); :meth:`save_now` saves at the current step (end of training,
    interrupts).
    """

    def __init__(self, run: RunFolder, every: int) -> None:
        super().__init__()
        self.run = run
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
        path = self.run.checkpoint_path(self.model.num_timesteps)
        if self._last_saved != self.model.num_timesteps or not path.exists():
            save_ppo(self.model, path)
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
        for key, value in episode_means(self.model.ep_info_buffer).items():
            self.logger.record(EPISODE_TAGS[key], value)


def make_probe_callback(config: TrainConfig, run: RunFolder) -> BaseCallback:
    """The CMNI callback of :mod:`cmni.callback` (imported here, so ``probe=False`` runs without it)."""
    from cmni.callback import CMNICallback

    return CMNICallback(
        run.path,
        config.env,
        probe_every=config.probe_interval,
        seed=config.seed,
        per_scenario=config.probe_per_scenario,
        n_permutations=config.probe_permutations,
        n_null_draws=config.probe_null_draws,
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


def resolve_device(device: str) -> str:
    """``device`` if this machine has it (``auto``: cuda when available, else cpu); else RunError."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise RunError(f"device {device!r} is not available on this machine (CUDA devices: "
                           f"{torch.cuda.device_count()}); use --device cpu or --device auto")  # fmt: skip
    if device == "mps" and not torch.backends.mps.is_available():
        raise RunError("device 'mps' is not available on this machine; use --device cpu or --device auto")
    return device


def open_resumed_model(run: RunFolder, config: TrainConfig, device: str) -> tuple[PPO, VecEnv]:
    """Load the newest loadable checkpoint of ``run`` with a fresh env.

    A checkpoint that cannot be loaded (truncated or corrupt: the disk filled up, a copy
    went wrong) is skipped with a warning naming it, and the one before it is used; it
    stays on disk. The env and the global RNGs are seeded with ``config.seed +
    num_timesteps``, so a resumed session does not replay the episodes of the first one
    and is itself reproducible.

    Raises:
        RunError: no checkpoint, or none that loads.
    """
    found = run.checkpoints()
    if not found:
        raise RunError(f"{str(run.path)!r} has no checkpoint in {CHECKPOINT_DIR}/ to resume from")
    env = make_env(config)
    for step, path in reversed(found):
        try:
            model = load_ppo(path, config, env=env, device=device)
            if model.num_timesteps != step:
                raise RunError(f"checkpoint {path} holds step {model.num_timesteps}, not the {step} its name says")
        except RunError as error:
            if step == found[0][0]:
                env.close()
                raise
            warnings.warn(f"skipping a checkpoint that does not load ({error}); resuming from an earlier one", stacklevel=2)
            continue
        model.set_random_seed(config.seed + model.num_timesteps)
        return model, env
    raise AssertionError("unreachable")  # pragma: no cover


class PurgingTensorBoardOutput(TensorBoardOutputFormat):
    """SB3's TensorBoard output whose event file starts with a purge marker at ``purge_step``.

    TensorBoard then drops every event at or after that step from the earlier files of
    the folder: what a killed session logged after its last checkpoint.
    """

    def __init__(self, folder: str, purge_step: int) -> None:
        self.writer = SummaryWriter(log_dir=folder, purge_step=purge_step)
        self._is_closed = False


def tensorboard_logger(run: RunFolder, resume_step: int) -> Logger:
    """SB3 logger writing TensorBoard events to ``run.tb_dir``; on a resume (``resume_step``
    > 0) the steps logged after the resumed checkpoint are purged, so no step appears twice
    and curves never step backwards."""
    if resume_step == 0:
        return configure(str(run.tb_dir), ["tensorboard"])
    return Logger(folder=str(run.tb_dir), output_formats=[PurgingTensorBoardOutput(str(run.tb_dir), resume_step)])


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
            checkpoint, unavailable device...); nothing has been written when it is raised.
    """
    run = RunFolder(run_dir)
    torch.set_num_threads(config.torch_threads)
    device = resolve_device(config.device)
    with run.training(config, resume):
        return _train_locked(config, run, device, progress_bar, callbacks)


def _finished_model(run: RunFolder, config: TrainConfig) -> PPO | None:
    """The run's ``final_model.zip`` if it loads and has reached ``config.timesteps``, else None."""
    if not run.final_model.is_file():
        return None
    try:
        model = load_ppo(run.final_model, config)
    except RunError:
        return None
    return model if model.num_timesteps >= config.timesteps else None


def _train_locked(
    config: TrainConfig, run: RunFolder, device: str, progress_bar: bool, callbacks: Sequence[BaseCallback]
) -> TrainResult:
    """:func:`train` once ``run`` is locked: build or load the model, learn, save."""
    finished = _finished_model(run, config)
    if finished is not None:
        return TrainResult(run.path, finished, finished.num_timesteps, False, run.final_model, math.nan, 0.0,
                           already_complete=True)  # fmt: skip
    if run.latest_checkpoint() is not None or run.final_model.exists():
        model, env = open_resumed_model(run, config, device)
    else:  # a new run, or one that stopped before it saved any model: nothing to lose, start over
        set_random_seed(config.seed)
        env = make_env(config)
        model = make_model(replace(config, device=device), env)
        run.save_config(config)
    remaining = config.timesteps - model.num_timesteps
    if remaining <= 0:
        env.close()
        if not run.final_model.exists():
            save_ppo(model, run.final_model)
        return TrainResult(run.path, model, model.num_timesteps, False, run.final_model, math.nan, 0.0, already_complete=True)
    model.set_logger(tensorboard_logger(run, model.num_timesteps))
    checkpoints = CheckpointCallback(run, config.checkpoint_every)

    built_in: list[BaseCallback] = [checkpoints, EpisodeStatsCallback()]
    if config.probe:
        built_in.append(make_probe_callback(config, run))
    bar = ProgressBarCallback() if progress_bar else None
    all_callbacks = built_in + ([bar] if bar else []) + list(callbacks)

    start = time.perf_counter()
    interrupted = False
    try:
        model.learn(remaining, callback=CallbackList(all_callbacks), reset_num_timesteps=model.num_timesteps == 0)
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
            model_path = save_ppo(model, run.final_model)
    finally:
        model.logger.close()
        env.close()
    score = episode_means(model.ep_info_buffer).get("score", math.nan)
    return TrainResult(run.path, model, model.num_timesteps, interrupted, model_path, score, wall)


def resume(run_dir: Path | str, progress_bar: bool = True, callbacks: Sequence[BaseCallback] = ()) -> TrainResult:
    """Continue the run in ``run_dir`` with its own config.json up to its ``timesteps``."""
    return train(RunFolder(run_dir).load_config(), run_dir, resume=True, progress_bar=progress_bar, callbacks=callbacks)


def _close_progress_bar(bar: ProgressBarCallback | None) -> None:
    pbar = getattr(bar, "pbar", None)
    if pbar is not None:
        pbar.close()
