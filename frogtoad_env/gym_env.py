"""Frog and Toad for single-agent libraries: one player learns, a fixed policy partners it.

``gymnasium.make("FrogToad-v0", player="frog", partner="scripted", **config)`` after
``import frogtoad_env``. Spaces, reward, start state and truncation are those of the
controlled player in :class:`~frogtoad_env.parallel_env.FrogToadParallelEnv` (one
step = one move of each player), which this wrapper runs underneath.

Partner policies
    ``"scripted"`` the hand rule of :mod:`frogtoad_env.scripted`; ``"random"`` uniform
    actions from a generator seeded with the env (separate from the rules' own stream); a callable ``obs -> action`` that gets the
    partner's own observation; a path to a saved SB3 model (``.zip``) or any object
    with an SB3-style ``predict(obs, deterministic=True)``, which plays greedily.

The player's action is checked before the partner is asked for its own, so a refused step
(ValueError, or ResetNeeded outside an episode) neither calls the partner nor advances its
generator: the episode goes on exactly as if the call had not been made.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Union

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from frogtoad_env import core
from frogtoad_env.parallel_env import FrogToadParallelEnv, as_action
from frogtoad_env.scripted import scripted_actions

PartnerSpec = Union[str, os.PathLike, Callable[[np.ndarray], Any], Any]


class FrogToadGymEnv(gym.Env):
    """One Frog and Toad player as a Gymnasium env; see the module docstring."""

    metadata = FrogToadParallelEnv.metadata

    def __init__(
        self, player: str = "frog", partner: PartnerSpec = "scripted", render_mode: str | None = None, **config: Any
    ) -> None:
        if player not in core.AGENT_NAMES:
            raise ValueError(f"player must be one of {list(core.AGENT_NAMES)}, got {player!r}")
        self.parallel_env = FrogToadParallelEnv(render_mode=render_mode, **config)
        self.render_mode = render_mode
        self.player = player
        self.partner = core.AGENT_NAMES[1 - core.AGENT_NAMES.index(player)]
        self.observation_space = self.parallel_env.observation_space(player)
        self.action_space = self.parallel_env.action_space(player)
        self.layout = self.parallel_env.layout
        self._partner_policy = _make_partner(partner, self.partner)
        self._partner_obs: np.ndarray | None = None
        self.partner_rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.partner_rng = np.random.default_rng([seed, 1])
        observations, infos = self.parallel_env.reset(seed=seed, options=options)
        self._partner_obs = observations[self.partner]
        return observations[self.player], infos[self.player]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        # checked before the partner acts: a refused step must not advance its generator or call it
        player_action = as_action(action, self.player)
        if not self.parallel_env.agents:
            raise ResetNeeded("the episode is over (or never started): call reset() before step()")
        actions = {self.player: player_action, self.partner: self._partner_policy(self)}
        observations, rewards, terminations, truncations, infos = self.parallel_env.step(actions)
        self._partner_obs = observations[self.partner]
        return (
            observations[self.player],
            rewards[self.player],
            terminations[self.player],
            truncations[self.player],
            infos[self.player],
        )

    def render(self) -> str | np.ndarray | None:
        return self.parallel_env.render()

    def close(self) -> None:
        self.parallel_env.close()


def _make_partner(spec: PartnerSpec, partner: str) -> Callable[[FrogToadGymEnv], int]:
    """Turn a partner spec into ``env -> action`` for the partner seat."""
    index = core.AGENT_NAMES.index(partner)
    if isinstance(spec, str) and spec == "scripted":
        return lambda env: int(scripted_actions(env.parallel_env.game)[0, index])
    if isinstance(spec, str) and spec == "random":
        return lambda env: int(env.partner_rng.integers(core.N_ACTIONS))
    if isinstance(spec, (str, os.PathLike)):
        spec = _load_sb3_model(spec)
    if hasattr(spec, "predict"):
        model = spec
        return lambda env: as_action(np.asarray(model.predict(env._partner_obs, deterministic=True)[0]).item(), partner)
    if callable(spec):
        policy = spec
        return lambda env: as_action(policy(env._partner_obs), partner)
    raise ValueError(
        f"partner must be 'scripted', 'random', a callable obs -> action, a path to a saved SB3 model "
        f"or a model with predict(); got {spec!r}"
    )


def _load_sb3_model(path: str | os.PathLike) -> Any:
    """A saved PPO policy, through the project's one loader (torch and SB3 load only here)."""
    if not os.path.exists(path) and not os.path.exists(f"{path}.zip"):
        raise ValueError(f"partner {str(path)!r} is neither 'scripted', 'random' nor an existing SB3 model file")
    from agents.checkpoints import load_ppo

    try:
        return load_ppo(path)
    except Exception as error:  # RunError: not a PPO save, or it does not fit the game
        raise ValueError(f"partner {str(path)!r}: {error}") from None
