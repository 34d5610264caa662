"""Signal complexity S of a game configuration, a number a sweep can put on an axis.

S is the entropy, in bits, of the scripted policy's action over the states it visits:
both players of ``games`` seeded games play :func:`~frogtoad_env.scripted.scripted_actions`
for ``steps`` steps, every player-step counts one action, and
``S = -sum_a p(a) log2 p(a)`` over hop, jump, leap and help.

Why this measure: the scripted rule is a deterministic function of the state, so the
mutual information between the state and its action equals the action's entropy,
``I(state; action) = H(action)``. S is therefore the number of bits per step that a player
must read from its observation to act like the scripted rule: 0 on a game where one action
always does (all-solid ground: always hop), up to ``log2(4) = 2`` bits when the four
actions are equally often right. More rough ground adds leaps, scarcer flies add stalls
(jumps) and stalled partners (helps), so S grows with the signals the game sends. It needs
no trained model and no torch, and it is deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import entropy

from frogtoad_env import core
from frogtoad_env.checks import check_int
from frogtoad_env.config import EnvConfig
from frogtoad_env.scripted import scripted_actions


def scripted_action_counts(config: EnvConfig, games: int = 256, steps: int | None = None, seed: int = 0) -> np.ndarray:
    """(4,) int64: how often the scripted policy chose hop, jump, leap and help over all
    player-steps of ``games`` seeded episodes of ``steps`` steps (default ``config.max_steps``)."""
    check_int("games", games)
    steps = config.max_steps if steps is None else check_int("steps", steps)
    check_int("seed", seed, minimum=0)
    rules = config.rules
    state, stream = core.new_games(games, rules), core.RandomStream(seed)
    counts = np.zeros(core.N_ACTIONS, dtype=np.int64)
    for _ in range(steps):
        actions = scripted_actions(state)
        counts += np.bincount(actions.ravel(), minlength=core.N_ACTIONS)
        core.step(state, actions, rules, stream)
    return counts


def signal_complexity(config: EnvConfig, games: int = 256, steps: int | None = None, seed: int = 0) -> float:
    """S in bits, in [0, 2]: entropy of :func:`scripted_action_counts` (see the module docstring)."""
    return float(entropy(scripted_action_counts(config, games, steps, seed), base=2))
