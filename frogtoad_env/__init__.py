"""Frog and Toad: a two-player cooperative side-scroller for studying mirror-neuron-like units.

Entry points:

- :func:`parallel_env` / :func:`env`: PettingZoo parallel and AEC environments.
- ``gymnasium.make("FrogToad-v0", partner="scripted")``: one player, for single-agent
  libraries (registered when this package is imported).
- :mod:`frogtoad_env.core`: the batched rules every front end runs.
"""

from __future__ import annotations

from typing import Any

import gymnasium
from pettingzoo.utils import wrappers

from frogtoad_env.aec_env import FrogToadAECEnv
from frogtoad_env.config import EnvConfig
from frogtoad_env.core import ACTION_NAMES, AGENT_NAMES, HELP, HOP, JUMP, LEAP, SCENARIO_NAMES
from frogtoad_env.gym_env import FrogToadGymEnv
from frogtoad_env.parallel_env import FrogToadParallelEnv
from frogtoad_env.scripted import scripted_actions


def parallel_env(render_mode: str | None = None, **config: Any) -> FrogToadParallelEnv:
    """The PettingZoo parallel env; ``config`` keys are the fields of :class:`EnvConfig`."""
    return FrogToadParallelEnv(render_mode=render_mode, **config)


def raw_env(render_mode: str | None = None, **config: Any) -> FrogToadAECEnv:
    """The AEC form without PettingZoo's order-enforcing wrapper."""
    return FrogToadAECEnv(parallel_env(render_mode=render_mode, **config))


def env(render_mode: str | None = None, **config: Any) -> wrappers.OrderEnforcingWrapper:
    """The PettingZoo AEC env (agents take turns: frog then toad; the step resolves
    when both have chosen), wrapped in PettingZoo's order-enforcing checks."""
    return wrappers.OrderEnforcingWrapper(raw_env(render_mode=render_mode, **config))


if "FrogToad-v0" not in gymnasium.registry:
    gymnasium.register(id="FrogToad-v0", entry_point="frogtoad_env.gym_env:FrogToadGymEnv")

__all__ = [
    "ACTION_NAMES",
    "AGENT_NAMES",
    "EnvConfig",
    "FrogToadAECEnv",
    "FrogToadGymEnv",
    "FrogToadParallelEnv",
    "HELP",
    "HOP",
    "JUMP",
    "LEAP",
    "SCENARIO_NAMES",
    "env",
    "parallel_env",
    "raw_env",
    "scripted_actions",
]
