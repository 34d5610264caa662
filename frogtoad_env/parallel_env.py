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
from numba import njit
from pettingzoo import ParallelEnv

from frogtoad_env import core
from frogtoad_env.config import RENDER_MODES, EnvConfig, check_render_mode
from frogtoad_env.core import FLAG_ASSISTED_LEAP, FLAG_HELPED, FLAG_HOPPED, FLAG_JUMPED_FLY, FLAG_LEAPED, N_FLAGS
from frogtoad_env.core import _step_kernel  # called directly by _SingleGameStepper
from frogtoad_env.observations import _egocentric_kernel, _paper_kernel
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
        self._stepper = _SingleGameStepper(self.config)

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
        obs = self._stepper.start(self.game, self.stream)
        observations = {"frog": obs[0, 0], "toad": obs[0, 1]}
        infos = self._stepper.infos()
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
        frog, toad = self._actions(actions)
        obs = self._stepper.step(self.game, self.stream, frog, toad)
        infos = self._stepper.infos()
        points_frog, points_toad = infos["frog"]["points"], infos["toad"]["points"]
        w = self.config.prosocial
        rewards = {
            "frog": (1.0 - w) * points_frog + w * points_toad,
            "toad": (1.0 - w) * points_toad + w * points_frog,
        }
        truncated = int(self.game.steps[0]) >= self.config.max_steps
        terminations = {"frog": False, "toad": False}
        truncations = {"frog": truncated, "toad": truncated}
        if truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return {"frog": obs[0, 0], "toad": obs[0, 1]}, rewards, terminations, truncations, infos

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

    def _actions(self, actions: Mapping[AgentID, Any]) -> tuple[int, int]:
        """The frog's and toad's action ids, or ValueError naming what is wrong."""
        if type(actions) is not dict or len(actions) != 2 or "frog" not in actions or "toad" not in actions:
            if not isinstance(actions, Mapping):
                raise ValueError(
                    f"actions must be a dict {{agent: action}} for agents {self.agents}, got {type(actions).__name__}"
                )
            if actions.keys() != set(self.agents):
                missing = sorted(set(self.agents) - set(actions))
                unknown = sorted(set(actions) - set(self.agents), key=str)
                raise ValueError(f"actions must have exactly the keys {self.agents}; missing {missing}, unknown {unknown}")
        return as_action(actions["frog"], "frog"), as_action(actions["toad"], "toad")


class _SingleGameStepper:
    """``core.step``, ``observations.observe`` and the infos for one game, at little cost.

    For a batch of one, the batched entry points' shape checks and per-call allocations
    cost more than the rules themselves; this calls the same compiled kernels with buffers
    allocated once. It calls them one by one from Python rather than from one compiled
    function because numba's cache notices only edits of a function's own file: a compiled
    caller here would keep running the old rules after ``core.py`` changed.
    """

    def __init__(self, config: EnvConfig) -> None:
        rules = config.rules
        self.knobs = rules.kernel_args()
        self.obs_mode, self.veil = config.obs_mode, float(config.veil)
        self.observe_kernel = _paper_kernel if config.obs_mode == "paper" else _egocentric_kernel
        self.obs_shape = (1, 2, observation_space(config.obs_mode, config.width).shape[0])
        # the step's draws plus observe's veil draws (at most two per viewer)
        self.randoms_per_step = core.randoms_per_step(config.width) + 2 * 2
        self.actions = np.zeros((1, 2), dtype=np.int64)
        self.draw_first_mover = np.full(1, -1, dtype=np.int64)  # -1: drawn from the stream
        self.draw_help_rolls = np.full((1, 2), -1.0)  # -1: drawn from the stream
        self.first_mover = np.full(1, -1, dtype=np.int64)
        self.shift = np.zeros(1, dtype=np.int64)
        self.info_ints = np.zeros((2, _N_INFO_INTS), dtype=np.int64)
        self.info_flags = np.zeros((2, _N_INFO_FLAGS), dtype=np.bool_)

    def start(self, game: core.GameState, stream: core.RandomStream) -> np.ndarray:
        """Observations (1, 2, obs_size) of a new game; :meth:`infos` then describe it."""
        obs = observe(game, self.obs_mode, self.veil, stream)
        none = np.zeros((1, 2), dtype=np.int64)
        _write_infos(game.distress, game.energy, game.score, game.position, none, none,
                     np.zeros((1, 2, N_FLAGS), dtype=np.bool_), np.full(1, -1, dtype=np.int64),
                     self.info_ints, self.info_flags)  # fmt: skip
        return obs

    def step(self, game: core.GameState, stream: core.RandomStream, frog: int, toad: int) -> np.ndarray:
        """``core.step`` with valid actions ``frog``, ``toad``; returns the new observations
        (1, 2, obs_size), and :meth:`infos` then describe the step."""
        if stream.buffer.shape[0] - stream.cursor[0] < self.randoms_per_step:
            stream.reserve(self.randoms_per_step)
        self.actions[0, 0] = frog
        self.actions[0, 1] = toad
        points = np.zeros((1, 2), dtype=np.int64)
        energy_given = np.zeros((1, 2), dtype=np.int64)
        flags = np.zeros((1, 2, N_FLAGS), dtype=np.bool_)
        # the arguments of core.step's own kernel call, for a batch of one
        valid = _step_kernel(
            game.rough, game.flies, game.position, game.energy, game.score,
            game.rough_rate, game.patch_rough_left, game.patch_solid_due,
            game.last_action, game.display_code, game.distress, game.steps,
            self.actions, self.draw_first_mover, self.draw_help_rolls, *self.knobs,
            stream.buffer, stream.cursor,
            points, energy_given, self.first_mover, self.shift, flags,
        )  # fmt: skip
        if not valid:  # the kernel checks before it changes anything
            raise RuntimeError(f"actions {frog}, {toad} reached the rules unchecked; valid ids are 0..{core.N_ACTIONS - 1}")
        obs = np.zeros(self.obs_shape, dtype=np.float32)
        self.observe_kernel(game.rough, game.flies, game.position, game.energy, game.distress, game.last_action,
                            game.display_code, self.veil, stream.buffer, stream.cursor, obs)  # fmt: skip
        _write_infos(game.distress, game.energy, game.score, game.position, points, energy_given, flags,
                     self.first_mover, self.info_ints, self.info_flags)  # fmt: skip
        return obs

    def infos(self) -> dict[AgentID, dict[str, Any]]:
        """The info dicts of the last :meth:`start` or :meth:`step` (columns as in :func:`_write_infos`)."""
        infos = {}
        for agent, i, f in zip(core.AGENT_NAMES, self.info_ints.tolist(), self.info_flags.tolist()):
            infos[agent] = {
                "distress": f[0],
                "partner_distress": f[1],
                "scenario": i[0],
                "energy": i[1],
                "score": i[2],
                "position": i[3],
                "stalled": f[2],
                "points": i[4],
                "hopped": f[3],
                "leaped": f[4],
                "caught_fly": f[5],
                "helped": f[6],
                "energy_given": i[5],
                "assisted_leap": f[7],
                "went_first": f[8],
            }
        return infos


_N_INFO_INTS, _N_INFO_FLAGS = 6, 9


@njit(cache=True)
def _write_infos(distress, energy, score, position, points, energy_given, flags, first_mover, ints, bools):  # pragma: no cover
    """Each player's info values of game 0, as (2, 6) ints and (2, 9) flags.

    ints: scenario, energy, score, position, points, energy_given.
    flags: distress, partner_distress, stalled, hopped, leaped, caught_fly, helped,
    assisted_leap, went_first. The scenario code is that of :func:`core.scenario_codes`.
    """
    for p in range(2):
        q = 1 - p
        ints[p, 0] = distress[0, p] + 2 * distress[0, q]
        ints[p, 1] = energy[0, p]
        ints[p, 2] = score[0, p]
        ints[p, 3] = position[0, p]
        ints[p, 4] = points[0, p]
        ints[p, 5] = energy_given[0, p]
        bools[p, 0] = distress[0, p]
        bools[p, 1] = distress[0, q]
        bools[p, 2] = energy[0, p] == 0
        bools[p, 3] = flags[0, p, FLAG_HOPPED]
        bools[p, 4] = flags[0, p, FLAG_LEAPED]
        bools[p, 5] = flags[0, p, FLAG_JUMPED_FLY]
        bools[p, 6] = flags[0, p, FLAG_HELPED]
        bools[p, 7] = flags[0, p, FLAG_ASSISTED_LEAP]
        bools[p, 8] = first_mover[0] == p


def as_action(value: Any, agent: str) -> int:
    """``value`` as an action id 0..3, or ValueError naming the agent and the value."""
    if type(value) is int and 0 <= value < core.N_ACTIONS:  # the common case, at no further cost
        return value
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
