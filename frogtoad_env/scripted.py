"""The two hand-written rules of the game: a baseline player and the paper's labeller.

Both map a batch of game states to one action per player, (B, 2) int64, and share
most of their rules. They differ on purpose, so each keeps its own function:

==============================================  ==================  ==================
situation (checked in this order)               ``scripted_actions``  ``heuristic_labels``
==============================================  ==================  ==================
0 energy                                        jump                jump
at the right edge (``pos + 1 >= width``)        help if the partner help
                                                is stalled, else
                                                hop (a no-op there)
near the edge (``pos + 5 >= width``, a leap     (no such rule)      help
would not fit), oneself not distressed, the
partner distressed
next cell rough and ``pos + 5 < width``         leap                leap
otherwise                                       hop                 hop
==============================================  ==================  ==================

``scripted_actions`` is the baseline the agents are scored against: it helps only when
help is the one way forward (a stalled partner holds back the scroll). ``heuristic_labels``
is the labeller of the paper's supervised pipeline: the "right" action that a classifier
learns from one player's point of view; it also helps a distressed partner from near
the edge, which is what gives the classifier its help-when-the-partner-is-hurt examples.
"""

from __future__ import annotations

import numpy as np

from frogtoad_env.core import HELP, HOP, JUMP, LEAP, LEAP_DISTANCE, GameState


def _next_cell_rough(state: GameState) -> tuple[np.ndarray, np.ndarray]:
    """(at_edge, next_rough), both (B, 2) bool: no cell to hop to, and the next cell is rough."""
    w = state.width
    pos = state.position
    games = np.arange(state.batch_size)[:, None]
    at_edge = pos + 1 >= w
    next_rough = state.rough[games, np.minimum(pos + 1, w - 1)] & ~at_edge
    return at_edge, next_rough


def scripted_actions(state: GameState) -> np.ndarray:
    """Actions of both players of every game under the scripted rule: (B, 2) int64.

    In order of priority, each player:

    1. jumps when out of energy (the only action that works at 0 energy);
    2. helps a stalled partner when it is stuck at the right edge (cannot hop);
    3. leaps when the next cell is rough and the leap fits inside the strip;
    4. otherwise hops.
    """
    at_edge, next_rough = _next_cell_rough(state)
    energy = state.energy
    partner_stalled = energy[:, ::-1] == 0

    actions = np.full(energy.shape, HOP, dtype=np.int64)
    actions[next_rough & (state.position + LEAP_DISTANCE < state.width)] = LEAP
    actions[at_edge & partner_stalled] = HELP
    actions[energy == 0] = JUMP
    return actions


def heuristic_labels(state: GameState) -> np.ndarray:
    """The paper's label of every player of every game: (B, 2) int64, the "right" action.

    In order of priority, from each player's point of view:

    1. 0 energy -> jump;
    2. at the right edge (no cell to hop to) -> help;
    3. near the edge (a leap would not fit: ``pos + 5 >= width``), oneself not
       distressed and the partner distressed -> help;
    4. next cell solid -> hop;
    5. next cell rough and room for a leap -> leap;
    6. otherwise -> hop.

    Distress is the state's last-step distress (landed on rough or stalled at 0 energy).
    """
    at_edge, next_rough = _next_cell_rough(state)
    near_edge = state.position + LEAP_DISTANCE >= state.width
    distress = state.distress

    labels = np.full(state.energy.shape, HOP, dtype=np.int64)
    labels[next_rough & ~near_edge] = LEAP
    labels[near_edge & ~distress & distress[:, ::-1]] = HELP
    labels[at_edge] = HELP
    labels[state.energy == 0] = JUMP
    return labels
