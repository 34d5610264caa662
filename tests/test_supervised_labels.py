"""The paper's labeller, rule by rule, from hand-built states; and where it differs from the scripted rule.

The labeller (in order): 0 energy -> jump; at the right edge -> help; near the edge
(a leap would not fit), oneself not distressed and the partner distressed -> help;
next cell solid -> hop; next cell rough with room for a leap -> leap; otherwise hop.
Every state is one game on a 32-cell strip; the expected labels are written out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from frogtoad_env import core
from frogtoad_env.core import FROG, HELP, HOP, JUMP, LEAP
from frogtoad_env.scripted import heuristic_labels, scripted_actions

W = 32
EDGE = W - 1  # no cell to hop to
NEAR = W - 5  # the first cell from which a leap would not fit (27 + 5 = 32)


def game(
    frog_pos: int,
    toad_pos: int,
    rough: tuple[int, ...] = (),
    energy: tuple[int, int] = (20, 20),
    distressed: tuple[bool, bool] = (False, False),
) -> core.GameState:
    """One game; ``distressed`` marks last-step distress (e.g. a rough landing) by hand."""
    ground = np.zeros(W, dtype=bool)
    ground[list(rough)] = True
    state = core.make_state(ground, (frog_pos, toad_pos), energy=energy)
    state.distress[0] |= np.asarray(distressed)
    return state


def frog_label(state: core.GameState) -> int:
    return int(heuristic_labels(state)[0, FROG])


def test_zero_energy_is_jump_before_every_other_rule() -> None:
    assert frog_label(game(10, 12, energy=(0, 20))) == JUMP
    assert frog_label(game(EDGE, 12, energy=(0, 20))) == JUMP  # at the edge too
    assert frog_label(game(10, 12, rough=(11,), energy=(0, 20))) == JUMP  # rough ahead too


def test_at_the_right_edge_is_help_whatever_the_partner() -> None:
    assert frog_label(game(EDGE, 12)) == HELP
    assert frog_label(game(EDGE, 12, distressed=(True, False))) == HELP


def test_near_the_edge_with_only_the_partner_distressed_is_help() -> None:
    assert frog_label(game(NEAR, 12, distressed=(False, True))) == HELP
    assert frog_label(game(EDGE - 1, 12, energy=(20, 0))) == HELP  # a stalled partner is distressed


def test_near_the_edge_help_needs_self_fine_and_partner_distressed() -> None:
    assert frog_label(game(NEAR, 12)) == HOP  # nobody distressed
    assert frog_label(game(NEAR, 12, distressed=(True, True))) == HOP  # oneself distressed too
    assert frog_label(game(NEAR, 12, distressed=(True, False))) == HOP  # only oneself


def test_not_near_the_edge_a_distressed_partner_is_no_help() -> None:
    assert frog_label(game(NEAR - 1, 12, distressed=(False, True))) == HOP


def test_next_cell_solid_is_hop_and_rough_with_room_is_leap() -> None:
    assert frog_label(game(10, 12, rough=(12, 13))) == HOP  # rough further ahead does not count
    assert frog_label(game(10, 12, rough=(11,))) == LEAP
    assert frog_label(game(NEAR - 1, 12, rough=(NEAR,))) == LEAP  # 26 + 5 = 31 still fits


def test_next_cell_rough_without_room_for_a_leap_is_hop() -> None:
    assert frog_label(game(NEAR, 12, rough=(NEAR + 1,))) == HOP


def test_the_toad_is_labelled_from_its_own_point_of_view() -> None:
    state = game(12, NEAR, rough=(13,), energy=(20, 20), distressed=(True, False))
    assert heuristic_labels(state)[0].tolist() == [LEAP, HELP]


def test_a_batch_is_labelled_game_by_game() -> None:
    states = [game(10, 12, energy=(0, 20)), game(EDGE, 12), game(10, 12, rough=(11,)), game(10, 12)]
    batch = core.make_state(
        np.stack([s.rough[0] for s in states]),
        np.stack([s.position[0] for s in states]),
        energy=np.stack([s.energy[0] for s in states]),
    )
    assert heuristic_labels(batch)[:, FROG].tolist() == [JUMP, HELP, LEAP, HOP]


@pytest.mark.parametrize(
    ("state", "scripted", "label"),
    [
        (game(EDGE, 12), HOP, HELP),  # the scripted rule helps from the edge only a stalled partner
        (game(EDGE, 12, energy=(20, 0)), HELP, HELP),
        (game(NEAR, 12, distressed=(False, True)), HOP, HELP),  # no near-edge rule in the scripted one
        (game(10, 12, rough=(11,)), LEAP, LEAP),
        (game(10, 12, energy=(0, 20)), JUMP, JUMP),
    ],
)
def test_scripted_rule_and_labeller_differ_only_where_documented(state: core.GameState, scripted: int, label: int) -> None:
    assert scripted_actions(state)[0, FROG] == scripted
    assert heuristic_labels(state)[0, FROG] == label
