"""The paper's hand-written rule, as a baseline player for any number of games."""

from __future__ import annotations

import numpy as np

from frogtoad_env.core import HELP, HOP, JUMP, LEAP, LEAP_DISTANCE, GameState


def scripted_actions(state: GameState) -> np.ndarray:
    """Actions of both players of every game under the scripted rule: (B, 2) int64.

    In order of priority, each player:

    1. jumps when out of energy (the only action that works at 0 energy);
    2. helps a stalled partner when it is stuck at the right edge (cannot hop);
    3. leaps when the next cell is rough and the leap fits inside the strip;
    4. otherwise hops.
    """
    w = state.width
    pos, energy = state.position, state.energy
    games = np.arange(state.batch_size)[:, None]
    at_edge = pos + 1 >= w
    next_rough = state.rough[games, np.minimum(pos + 1, w - 1)] & ~at_edge
    partner_stalled = energy[:, ::-1] == 0

    actions = np.full(pos.shape, HOP, dtype=np.int64)
    actions[next_rough & (pos + LEAP_DISTANCE < w)] = LEAP
    actions[at_edge & partner_stalled] = HELP
    actions[energy == 0] = JUMP
    return actions
