"""An SB3 ``VecEnv`` that runs many Frog and Toad games in the batched rules core.

Self-play layout: game ``g`` fills slots ``2g`` (frog) and ``2g + 1`` (toad), so one
shared policy plays both roles and ``num_envs = 2 * n_games``. All games start
together and are truncated together after ``max_steps``; at that step every slot's
``info`` carries ``terminal_observation``, ``TimeLimit.truncated = True`` and an
``"episode"`` dict (``r`` return, ``l`` length, ``t`` seconds since the env was
created, as SB3's Monitor writes them, plus ``score`` and the behaviour rates of :mod:`frogtoad_env.behaviour`),
and the slots are reset, as SB3 expects.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn, VecEnvWrapper

from frogtoad_env import core
from frogtoad_env.behaviour import BehaviourCounter
from frogtoad_env.checks import check_int, check_positive
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import observation_space, observe
from frogtoad_env.render import render_rgb


class FrogToadVecEnv(VecEnv):
    """``n_games`` self-play games as ``2 * n_games`` SB3 env slots (frog, toad, frog, ...).

    Args:
        n_games: games stepped together, >= 1.
        config: the env knobs (obs mode, veil, dependency, prosocial, max_steps...).
        seed: seeds the random stream at the first reset (``seed()`` overrides it).
    """

    def __init__(self, n_games: int, config: EnvConfig | None = None, seed: int | None = None) -> None:
        check_int("n_games", n_games)
        self.config = config if config is not None else EnvConfig()
        self.n_games = int(n_games)
        self._rules = self.config.rules
        obs_space = observation_space(self.config.obs_mode, self.config.width)
        self.render_mode = None  # images via get_images(); read by VecEnv.__init__
        super().__init__(2 * self.n_games, obs_space, spaces.Discrete(core.N_ACTIONS))
        self._seed = seed
        self.stream: core.RandomStream | None = None
        self.game = core.new_games(self.n_games, self._rules)
        self.behaviour = BehaviourCounter.zeros(self.n_games)
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._created = time.perf_counter()
        self._actions: np.ndarray | None = None

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed = seed
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        if self._seed is not None or self.stream is None:
            self.stream = core.RandomStream(self._seed)
            self._seed = None
        self._start_episodes()
        return self._observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.n_games, 2).astype(np.int64, copy=False)

    def step_wait(self) -> VecEnvStepReturn:
        actions = self._actions
        self.behaviour.record(self.game, actions)
        events = core.step(self.game, actions, self._rules, self.stream)
        points = events.points.astype(np.float32)
        w = self.config.prosocial
        rewards = ((1.0 - w) * points + w * points[:, ::-1]).reshape(-1)
        self._returns += rewards
        obs = self._observe()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        truncated = int(self.game.steps[0]) >= self.config.max_steps
        dones = np.full(self.num_envs, truncated)
        if truncated:
            self._finish_episodes(obs, infos)
            obs = self._observe()
        return obs, rewards, dones, infos

    def _start_episodes(self) -> None:
        self.game = core.new_games(self.n_games, self._rules)
        self.behaviour.reset()
        self._returns[:] = 0.0

    def _finish_episodes(self, terminal_obs: np.ndarray, infos: list[dict[str, Any]]) -> None:
        elapsed = round(time.perf_counter() - self._created, 6)
        length = int(self.game.steps[0])
        scores = self.game.score.reshape(-1)
        for slot, info in enumerate(infos):
            game, player = divmod(slot, 2)
            info["terminal_observation"] = terminal_obs[slot]
            info["TimeLimit.truncated"] = True
            info["episode"] = {
                "r": float(self._returns[slot]),
                "l": length,
                "t": elapsed,
                "score": int(scores[slot]),
                **self.behaviour.player_rates(game, player),
            }
        self._start_episodes()

    def _observe(self) -> np.ndarray:
        obs = observe(self.game, self.config.obs_mode, self.config.veil, self.stream)
        return obs.reshape(self.num_envs, -1)

    def close(self) -> None:
        pass

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [render_rgb(self.game, game) for game in range(self.n_games)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"FrogToadVecEnv slots share one batched game; cannot set {attr_name!r} per slot")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"FrogToadVecEnv has no per-slot env objects to call {method_name!r} on")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


class RewardScale(VecEnvWrapper):
    """What the learner is paid: every reward of ``venv`` multiplied by ``scale`` (> 0).

    Only the rewards change. The infos, and with them the episode return
    ``info["episode"]["r"]`` and the score that SB3 and TensorBoard log, stay in the game's
    points. PPO in SB3 normalises advantages per minibatch, so the scale leaves the
    policy's loss as it is and shrinks the value loss by ``scale**2``; see
    :class:`experiment.config.TrainConfig` (``reward_scale``) for why that matters here.
    """

    def __init__(self, venv: VecEnv, scale: float) -> None:
        super().__init__(venv)
        self.scale = check_positive("reward_scale", scale)

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, (rewards * self.scale).astype(np.float32, copy=False), dones, infos
