"""Frog and Toad as a PettingZoo parallel environment.

Agents
    ``"frog"`` and ``"toad"``, identical abilities, both act every step.

Rules
    Stated once, in the docstring of :mod:`frogtoad_env.core`: what each action does,
    the seeded random order in which the two actions resolve, distress and the four
    scenarios, scrolling, terrain and flies.

Action space
    ``Discrete(4)`` for both: 0 hop, 1 jump, 2 leap, 3 help.

Observation space
    ``Box(0, 1, (4W + 30,), float32)`` in ``"egocentric"`` mode (158 numbers at
    W = 32: world 2W, then self and other blocks of W + 15 each; the name -> slice map is :attr:`FrogToadParallelEnv.layout`), or
    ``Box(0, 20, (3W + 4,), float32)`` in ``"paper"`` mode (100 numbers at W = 32). See
    :mod:`frogtoad_env.observations`.

Reward
    Points gained this step (one per effective hop), mixed with the partner's by the
    ``prosocial`` weight: ``(1 - prosocial) * own + prosocial * partner``.

Start state
    :func:`frogtoad_env.core.new_games` (the "World" paragraph of the rules).

Episode end
    There is no terminal state: every agent is truncated after ``max_steps`` steps
    (default 500), after which ``agents`` is empty and :meth:`step` raises
    :class:`gymnasium.error.ResetNeeded` until :meth:`reset` is called.

Info
    ``infos[agent]`` holds ``distress``, ``partner_distress``, ``scenario`` (the code of
    :func:`frogtoad_env.core.scenario_codes`), ``energy``, ``score``, ``position``,
    ``stalled``, ``points``, ``hopped``, ``leaped``, ``caught_fly``, ``helped``,
    ``energy_given``, ``assisted_leap`` and ``went_first``.
"""

from __future__ import annotations

import operator
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from frogtoad_env import core
from frogtoad_env.config import RENDER_MODES, EnvConfig, check_render_mode
from frogtoad_env.observations import egocentric_layout, observation_space, observe, paper_layout
from frogtoad_env.render import render_ansi, render_rgb

AgentID = str


class FrogToadParallelEnv(ParallelEnv):
    """Two players on one scrolling strip; see the module docstring for the contract."""

    metadata = {"name": "frogtoad_v0", "render_modes": list(RENDER_MODES), "render_fps": 8, "is_parallelizable": True}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        self.config = EnvConfig.from_kwargs(config)
        self.render_mode = check_render_mode(render_mode)
        self.possible_agents: list[AgentID] = list(core.AGENT_NAMES)
        self.agents: list[AgentID] = []
        width = self.config.width
        self.layout: Mapping[str, slice] = (
            egocentric_layout(width) if self.config.obs_mode == "egocentric" else paper_layout(width)
        )
        obs_space = observation_space(self.config.obs_mode, width)
        self.observation_spaces = {agent: obs_space for agent in self.possible_agents}
        self.action_spaces = {agent: spaces.Discrete(core.N_ACTIONS) for agent in self.possible_agents}
        self.game: core.GameState | None = None
        self.stream: core.RandomStream | None = None
        self._rules = self.config.rules

    def observation_space(self, agent: AgentID) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Discrete:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, np.ndarray], dict[AgentID, dict[str, Any]]]:
        """Start a new episode; a ``seed`` fixes the whole trajectory for fixed actions."""
        if seed is not None or self.stream is None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
            self.stream = core.RandomStream(self.np_random)
        self.game = core.new_games(1, self._rules)
        self.agents = list(self.possible_agents)
        observations = self._observe()
        infos = self._infos(core.StepEvents.empty_for(self.game))
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def step(self, actions: Mapping[AgentID, Any]) -> tuple[
        dict[AgentID, np.ndarray],
        dict[AgentID, float],
        dict[AgentID, bool],
        dict[AgentID, bool],
        dict[AgentID, dict[str, Any]],
    ]:
        """Both agents act at once; returns observations, rewards, terminations, truncations, infos."""
        if self.game is None or not self.agents:
            raise ResetNeeded("the episode is over (or never started): call reset() before step()")
        action_array = self._action_array(actions)
        events = core.step(self.game, action_array, self._rules, self.stream)
        points = events.points[0].tolist()
        w = self.config.prosocial
        rewards = {
            "frog": (1.0 - w) * points[0] + w * points[1],
            "toad": (1.0 - w) * points[1] + w * points[0],
        }
        truncated = int(self.game.steps[0]) >= self.config.max_steps
        observations = self._observe()
        infos = self._infos(events)
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the text view; ``"rgb_array"``: (40, 8W, 3) uint8; ``"human"``: print it."""
        if self.render_mode is None:
            from gymnasium.logger import warn

            warn("render() called without a render_mode; pass render_mode='ansi', 'human' or 'rgb_array'")
            return None
        if self.game is None:
            raise ResetNeeded("call reset() before render()")
        if self.render_mode == "rgb_array":
            return render_rgb(self.game)
        text = render_ansi(self.game)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    def state(self) -> np.ndarray:
        """The global state: the frog's observation with identity always shown (no veil)."""
        if self.game is None:
            raise ResetNeeded("call reset() before state()")
        return observe(self.game, self.config.obs_mode)[0, 0]

    def _observe(self) -> dict[AgentID, np.ndarray]:
        obs = observe(self.game, self.config.obs_mode, self.config.veil, self.stream)
        return {"frog": obs[0, 0], "toad": obs[0, 1]}

    def _action_array(self, actions: Mapping[AgentID, Any]) -> np.ndarray:
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict {{agent: action}} for agents {self.agents}, got {type(actions).__name__}")
        if actions.keys() != set(self.agents):
            missing = sorted(set(self.agents) - set(actions))
            unknown = sorted(set(actions) - set(self.agents), key=str)
            raise ValueError(f"actions must have exactly the keys {self.agents}; missing {missing}, unknown {unknown}")
        return np.array([[as_action(actions["frog"], "frog"), as_action(actions["toad"], "toad")]], dtype=np.int64)

    def _infos(self, events: core.StepEvents) -> dict[AgentID, dict[str, Any]]:
        game = self.game
        distress = game.distress[0].tolist()
        energy = game.energy[0].tolist()
        score = game.score[0].tolist()
        position = game.position[0].tolist()
        points = events.points[0].tolist()
        flags = events.flags[0].tolist()
        given = events.energy_given[0].tolist()
        first = int(events.first_mover[0])
        infos = {}
        for p, agent in enumerate(self.possible_agents):
            q = 1 - p
            infos[agent] = {
                "distress": distress[p],
                "partner_distress": distress[q],
                "scenario": int(distress[p]) + 2 * int(distress[q]),
                "energy": energy[p],
                "score": score[p],
                "position": position[p],
                "stalled": energy[p] == 0,
                "points": points[p],
                "hopped": flags[p][core.FLAG_HOPPED],
                "leaped": flags[p][core.FLAG_LEAPED],
                "caught_fly": flags[p][core.FLAG_JUMPED_FLY],
                "helped": flags[p][core.FLAG_HELPED],
                "energy_given": given[p],
                "assisted_leap": flags[p][core.FLAG_ASSISTED_LEAP],
                "went_first": first == p,
            }
        return infos


def as_action(value: Any, agent: str) -> int:
    """``value`` as an action id 0..3, or ValueError naming the agent and the value."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"action for {agent!r} must be an integer in 0..3 (hop, jump, leap, help), got {value!r}")
    try:
        action = operator.index(value)
    except TypeError:
        raise ValueError(
            f"action for {agent!r} must be an integer in 0..3 (hop, jump, leap, help), got {value!r} ({type(value).__name__})"
        ) from None
    if not 0 <= action < core.N_ACTIONS:
        raise ValueError(f"action for {agent!r} must be in 0..3 (hop, jump, leap, help), got {action}")
    return action
