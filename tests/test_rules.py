"""The rules of Frog and Toad (frogtoad_env/core.py's docstring), one test per rule, from hand-built states.

Most tests step a hand-built game with :func:`tests.hand_built.play`: a neutral random
stream (nothing random happens) and a forced action order and assisted-leap rolls, so
each rule is checked exactly. Positions are chosen so that the scroll after the step is
0 (at ``dependency=1`` on the default 32-cell strip: the floor of the players' mean
position is 16 after the move), unless the test is about scrolling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

import frogtoad_env
from frogtoad_env import core
from frogtoad_env.core import FROG, HELP, HOP, JUMP, LEAP, MAX_ENERGY, TOAD
from tests.hand_built import CENTRE, W, cells, energies, neutral_stream, play, positions, scores, strip


# --- hop ---------------------------------------------------------------------------------


def test_hop_moves_one_cell_and_scores_one_point() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(7, 20))
    events = play(state, HOP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [16, 17]
    assert scores(state) == [1, 0]
    assert events.points.tolist() == [[1, 0]]
    assert events.hopped.tolist() == [[True, False]]
    assert energies(state) == [7, 20]
    assert events.distress.tolist() == [[False, False]]


def test_hop_is_blocked_at_zero_energy() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(0, 20))
    events = play(state, HOP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [15, 17]
    assert scores(state) == [0, 0]
    assert events.points.tolist() == [[0, 0]]
    assert not events.hopped.any()


def test_hop_is_blocked_at_the_right_edge() -> None:
    state = core.make_state(strip(), position=(W - 1, 1), score=(5, 0))
    events = play(state, HOP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [W - 1, 1]
    assert scores(state) == [5, 0]
    assert not events.hopped.any()


def test_hop_onto_the_last_cell_is_allowed() -> None:
    state = core.make_state(strip(), position=(W - 2, 2))
    events = play(state, HOP, JUMP)
    assert events.hopped.tolist() == [[True, False]]
    assert scores(state) == [1, 0]
    assert events.shift.tolist() == [0]
    assert positions(state) == [W - 1, 2]


# --- jump --------------------------------------------------------------------------------


def test_jump_catches_the_fly_above_for_four_energy_and_the_fly_is_gone() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(10, 20), flies=cells(15, 17, 20))
    events = play(state, JUMP, HOP, first=TOAD)
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [14, 20]
    assert np.flatnonzero(state.flies[0]).tolist() == [17, 20]
    assert scores(state) == [0, 1]


def test_jump_energy_is_capped_at_20() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(18, 20), flies=cells(15))
    events = play(state, JUMP, JUMP)
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [MAX_ENERGY, MAX_ENERGY]
    assert not state.flies.any()


def test_jump_at_full_energy_still_eats_the_fly() -> None:
    state = core.make_state(strip(), position=(15, 17), flies=cells(15))
    events = play(state, JUMP, JUMP)
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [20, 20]
    assert not state.flies.any()


def test_jump_without_a_fly_above_does_nothing() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(10, 3), flies=cells(14, 16, 18))
    events = play(state, JUMP, JUMP)
    assert not events.jumped_fly.any()
    assert energies(state) == [10, 3]
    assert np.flatnonzero(state.flies[0]).tolist() == [14, 16, 18]
    assert positions(state) == [15, 17]


def test_jump_works_at_zero_energy_and_ends_the_stall() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(0, 20), flies=cells(15))
    assert state.distress.tolist() == [[True, False]]
    events = play(state, JUMP, JUMP)
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [4, 20]
    assert events.distress.tolist() == [[False, False]]
    assert not state.stalled.any()


@pytest.mark.parametrize("seed", range(5))
def test_jump_catches_the_fly_whatever_the_random_stream(seed: int) -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(3, 20), flies=cells(15))
    events = play(state, JUMP, HOP, stream=core.RandomStream(seed))
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [7, 20]


# --- leap --------------------------------------------------------------------------------


def test_leap_moves_five_cells_costs_one_energy_and_scores_nothing() -> None:
    state = core.make_state(strip(), position=(10, 17), energy=(12, 20))
    events = play(state, LEAP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [15, 17]
    assert energies(state) == [11, 20]
    assert scores(state) == [0, 0]
    assert events.points.tolist() == [[0, 0]]
    assert events.leaped.tolist() == [[True, False]]


def test_leap_is_blocked_at_zero_energy() -> None:
    state = core.make_state(strip(), position=(10, 22), energy=(0, 20))
    events = play(state, LEAP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [10, 22]
    assert energies(state) == [0, 20]
    assert not events.leaped.any()


def test_leap_is_blocked_when_the_target_is_outside_the_strip() -> None:
    state = core.make_state(strip(), position=(W - 5, 5), energy=(9, 20))
    events = play(state, LEAP, JUMP)
    assert events.shift.tolist() == [0]
    assert positions(state) == [W - 5, 5]
    assert energies(state) == [9, 20]
    assert not events.leaped.any()


def test_leap_onto_the_last_cell_is_allowed() -> None:
    state = core.make_state(strip(), position=(W - 6, 1), energy=(9, 20))
    events = play(state, LEAP, JUMP)
    assert events.leaped.tolist() == [[True, False]]
    assert energies(state) == [8, 20]
    assert events.shift.tolist() == [0]
    assert positions(state) == [W - 1, 1]


# --- landing on rough ground -------------------------------------------------------------


def test_hop_onto_rough_costs_one_energy_and_distresses() -> None:
    state = core.make_state(strip([16]), position=(15, 17), energy=(7, 20))
    events = play(state, HOP, JUMP)
    assert positions(state) == [16, 17]
    assert energies(state) == [6, 20]
    assert scores(state) == [1, 0]
    assert events.rough_landing.tolist() == [[True, False]]
    assert events.distress.tolist() == [[True, False]]
    assert state.distress.tolist() == [[True, False]]


def test_leap_onto_rough_costs_the_leap_plus_one_energy() -> None:
    state = core.make_state(strip([15]), position=(10, 17), energy=(7, 20))
    events = play(state, LEAP, JUMP)
    assert positions(state) == [15, 17]
    assert energies(state) == [5, 20]
    assert events.rough_landing.tolist() == [[True, False]]
    assert events.distress.tolist() == [[True, False]]


def test_leap_over_rough_onto_solid_costs_only_the_leap() -> None:
    state = core.make_state(strip([11, 12, 13, 14]), position=(10, 17), energy=(7, 20))
    events = play(state, LEAP, JUMP)
    assert positions(state) == [15, 17]
    assert energies(state) == [6, 20]
    assert not events.rough_landing.any()
    assert not events.distress.any()


def test_assisted_leap_onto_rough_costs_the_leap_plus_one_energy() -> None:
    state = core.make_state(strip([15]), position=(10, 17), energy=(10, 20))
    events = play(state, JUMP, HELP, rolls=(0.99, 0.0))
    assert events.assisted_leap.tolist() == [[True, False]]
    assert positions(state) == [15, 17]
    assert energies(state) == [12 - 1 - 1, 19]
    assert events.rough_landing.tolist() == [[True, False]]
    assert events.distress.tolist() == [[True, False]]


def test_hop_onto_rough_at_one_energy_ends_at_zero_not_below() -> None:
    state = core.make_state(strip([16]), position=(15, 17), energy=(1, 20))
    events = play(state, HOP, JUMP)
    assert positions(state) == [16, 17]
    assert energies(state) == [0, 20]
    assert scores(state) == [1, 0]
    assert events.rough_landing.tolist() == [[True, False]]
    assert state.stalled.tolist() == [[True, False]]


def test_leap_onto_rough_at_one_energy_ends_at_zero_not_below() -> None:
    state = core.make_state(strip([15]), position=(10, 17), energy=(1, 20))
    events = play(state, LEAP, JUMP)
    assert positions(state) == [15, 17]
    assert energies(state) == [0, 20]
    assert events.rough_landing.tolist() == [[True, False]]
    assert events.distress.tolist() == [[True, False]]


def test_standing_on_rough_ground_costs_nothing() -> None:
    state = core.make_state(strip([15, 17]), position=(15, 17), energy=(7, 8))
    events = play(state, JUMP, JUMP)
    assert energies(state) == [7, 8]
    assert not events.rough_landing.any()
    assert not events.distress.any()


# --- stalled players ---------------------------------------------------------------------


@pytest.mark.parametrize("action", [HOP, LEAP, HELP])
def test_a_stalled_player_cannot_hop_leap_or_help_and_is_distressed(action: int) -> None:
    state = core.make_state(strip(), position=(10, 22), energy=(0, 10))
    events = play(state, action, JUMP, rolls=(0.0, 0.0))
    assert positions(state) == [10, 22]
    assert energies(state) == [0, 10]
    assert scores(state) == [0, 0]
    assert not (events.hopped.any() or events.leaped.any() or events.helped.any() or events.assisted_leap.any())
    assert events.distress.tolist() == [[True, False]]
    assert state.display_code.tolist() == [[core.CODE_DISTRESS, core.CODE_JUMPING]]


def test_a_player_that_spends_its_last_energy_is_stalled_and_distressed() -> None:
    state = core.make_state(strip(), position=(10, 17), energy=(1, 20))
    events = play(state, LEAP, JUMP)
    assert positions(state) == [15, 17]
    assert energies(state) == [0, 20]
    assert not events.rough_landing.any()
    assert events.distress.tolist() == [[True, False]]


# --- help --------------------------------------------------------------------------------


def test_help_gives_the_partner_two_energy_for_one() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(20, 10))
    events = play(state, HELP, JUMP)
    assert energies(state) == [19, 12]
    assert events.helped.tolist() == [[True, False]]
    assert events.energy_given.tolist() == [[2, 0]]
    assert not events.assisted_leap.any()
    assert positions(state) == [15, 17]
    assert scores(state) == [0, 0]


def test_help_is_capped_at_20_and_still_costs_one() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(20, 19))
    events = play(state, HELP, JUMP)
    assert energies(state) == [19, 20]
    assert events.energy_given.tolist() == [[1, 0]]


def test_help_to_a_partner_at_20_moves_no_energy() -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(12, 20))
    events = play(state, HELP, JUMP)
    assert energies(state) == [12, 20]
    assert events.helped.tolist() == [[True, False]]
    assert events.energy_given.tolist() == [[0, 0]]


def test_help_does_nothing_when_the_helper_has_no_energy() -> None:
    state = core.make_state(strip(), position=(16, 10), energy=(0, 10))
    events = play(state, HELP, JUMP, rolls=(0.0, 0.0))
    assert energies(state) == [0, 10]
    assert not events.helped.any()
    assert not events.assisted_leap.any()
    assert events.energy_given.tolist() == [[0, 0]]


@pytest.mark.parametrize("toad_position", [W - 5, W - 3, W - 1])
def test_help_does_nothing_when_the_partners_leap_target_is_outside(toad_position: int) -> None:
    state = core.make_state(strip(), position=(W - toad_position, toad_position), energy=(20, 10))
    events = play(state, HELP, JUMP, rolls=(0.0, 0.0))
    assert energies(state) == [20, 10]
    assert not events.helped.any()
    assert not events.assisted_leap.any()
    assert positions(state) == [W - toad_position, toad_position]


def test_help_works_when_the_partners_leap_target_is_the_last_cell() -> None:
    state = core.make_state(strip(), position=(W - 6, 6), energy=(10, 20))
    events = play(state, JUMP, HELP)
    assert events.helped.tolist() == [[False, True]]
    assert energies(state) == [12, 19]


# --- the assisted leap -------------------------------------------------------------------


@pytest.mark.parametrize("roll", [0.0, 0.1, 0.2499])
def test_help_makes_the_partner_leap_when_the_roll_is_below_one_quarter(roll: float) -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 10))
    events = play(state, HELP, JUMP, rolls=(roll, 0.99))
    assert events.assisted_leap.tolist() == [[False, True]]
    assert events.shift.tolist() == [0]
    assert positions(state) == [16, 16]
    assert energies(state) == [19, 12 - 1]
    assert scores(state) == [0, 0]


@pytest.mark.parametrize("roll", [0.25, 0.5, 0.99])
def test_help_makes_no_leap_when_the_roll_is_one_quarter_or_more(roll: float) -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 10))
    events = play(state, HELP, JUMP, rolls=(roll, 0.0))
    assert not events.assisted_leap.any()
    assert events.shift.tolist() == [-3]
    assert positions(state) == [16 + 3, 11 + 3]
    assert energies(state) == [19, 12]


def test_the_helpers_own_roll_decides_the_assisted_leap() -> None:
    state = core.make_state(strip(), position=(11, 16), energy=(10, 20))
    events = play(state, JUMP, HELP, rolls=(0.99, 0.0))
    assert events.assisted_leap.tolist() == [[True, False]]
    assert positions(state) == [16, 16]


def test_the_assisted_leap_is_paid_with_the_energy_just_given() -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 0))
    events = play(state, HELP, JUMP, rolls=(0.0, 0.99))
    assert events.energy_given.tolist() == [[2, 0]]
    assert events.assisted_leap.tolist() == [[False, True]]
    assert positions(state) == [16, 16]
    assert energies(state) == [19, 1]
    assert events.distress.tolist() == [[False, False]]


def test_an_assisted_leap_of_a_partner_at_20_costs_the_partner_one() -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(5, 20))
    events = play(state, HELP, JUMP, rolls=(0.0, 0.99))
    assert events.assisted_leap.tolist() == [[False, True]]
    assert energies(state) == [5, 19]
    assert positions(state) == [16, 16]


def test_an_assisted_leap_scores_no_points() -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 10))
    events = play(state, HELP, HOP, first=TOAD, rolls=(0.0, 0.99))
    assert events.hopped.tolist() == [[False, True]]
    assert events.assisted_leap.tolist() == [[False, True]]
    assert scores(state) == [0, 1]
    assert events.points.tolist() == [[0, 1]]


def test_mutual_help_with_two_low_rolls_leaps_both() -> None:
    state = core.make_state(strip(), position=(9, 13), energy=(10, 10))
    events = play(state, HELP, HELP, rolls=(0.0, 0.0))
    assert events.assisted_leap.tolist() == [[True, True]]
    assert events.energy_given.tolist() == [[2, 2]]
    assert energies(state) == [10 - 1 + 2 - 1, 10 + 2 - 1 - 1]
    assert events.shift.tolist() == [0]
    assert positions(state) == [14, 18]


# --- action order ------------------------------------------------------------------------


@pytest.mark.parametrize("first", [FROG, TOAD])
def test_when_both_jump_for_one_fly_the_first_mover_gets_it(first: int) -> None:
    state = core.make_state(strip(), position=(16, 16), energy=(10, 10), flies=cells(16))
    events = play(state, JUMP, JUMP, first=first)
    assert events.first_mover.tolist() == [first]
    expected = [False, False]
    expected[first] = True
    assert events.jumped_fly.tolist() == [expected]
    assert energies(state) == [14 if first == FROG else 10, 14 if first == TOAD else 10]
    assert not state.flies.any()


def test_help_before_the_partners_leap_gives_it_the_energy_to_leap() -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 0))
    events = play(state, HELP, LEAP, first=FROG)
    assert events.leaped.tolist() == [[False, True]]
    assert positions(state) == [16, 16]
    assert energies(state) == [19, 2 - 1]


def test_help_after_the_partners_leap_comes_too_late_for_it() -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 0))
    events = play(state, HELP, LEAP, first=TOAD)
    assert not events.leaped.any()
    assert events.helped.tolist() == [[True, False]]
    assert energies(state) == [19, 2]
    assert events.shift.tolist() == [-3]
    assert positions(state) == [19, 14]


def test_a_hop_before_the_partners_help_can_move_the_leap_target_outside() -> None:
    state = core.make_state(strip(), position=(W - 6, 6), energy=(10, 20))
    events = play(state, HOP, HELP, first=FROG, rolls=(0.0, 0.0))
    assert events.hopped.tolist() == [[True, False]]
    assert not events.helped.any()
    assert energies(state) == [10, 20]


def test_the_order_is_drawn_when_not_forced_and_reported() -> None:
    state = core.make_state(np.zeros((2, W), dtype=bool), position=(15, 17))
    actions = np.array([[JUMP, JUMP], [JUMP, JUMP]])
    events = core.step(state, actions, core.RulesConfig(), neutral_stream([0.7] + [0.5] * W + [0.2]))
    assert events.first_mover.tolist() == [FROG, TOAD]


@pytest.mark.parametrize("first_mover", [np.array([2]), np.array([-1]), np.array([0.5]), 0, np.array([0, 1])])
def test_a_forced_order_other_than_frog_or_toad_is_rejected(first_mover: object) -> None:
    state = core.make_state(strip(), position=(15, 17))
    before = state.copy()
    with pytest.raises(ValueError, match=r"first_mover must be a \(1,\) array of 0 \(frog first\) or 1 \(toad first\)"):
        core.step(state, np.array([[HOP, HOP]]), core.RulesConfig(), neutral_stream(), first_mover=first_mover)
    np.testing.assert_array_equal(state.position, before.position)
    np.testing.assert_array_equal(state.score, before.score)


@pytest.mark.parametrize("help_roll", [np.array([[0.1, 1.0]]), np.array([[-0.1, 0.5]]), np.array([[np.nan, 0.5]]), np.array([0.1, 0.1])])
def test_forced_help_rolls_outside_zero_one_are_rejected(help_roll: np.ndarray) -> None:
    state = core.make_state(strip(), position=(15, 17))
    with pytest.raises(ValueError, match=r"help_roll must be a \(1, 2\) array of numbers in \[0, 1\)"):
        core.step(state, np.array([[HELP, HELP]]), core.RulesConfig(), neutral_stream(), help_roll=help_roll)
    assert energies(state) == [20, 20]


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.array([[4, 0]]), r"actions must be integers in 0\.\.3 \(hop, jump, leap, help\), got \[4\]"),
        (np.array([[0, -1]]), r"got \[-1\]"),
        (np.array([[0.0, 1.0]]), r"actions must be a \(1, 2\) integer array.*dtype float64"),
        (np.array([0, 1]), r"actions must be a \(1, 2\) integer array.*shape \(2,\)"),
    ],
)
def test_the_core_rejects_bad_actions_and_changes_nothing(actions: np.ndarray, message: str) -> None:
    state = core.make_state(strip(), position=(15, 17), flies=cells(3))
    before = state.copy()
    stream = neutral_stream()
    with pytest.raises(ValueError, match=message):
        core.step(state, actions, core.RulesConfig(), stream)
    for name in ("position", "energy", "score", "flies", "rough", "steps", "last_action"):
        np.testing.assert_array_equal(getattr(state, name), getattr(before, name))
    assert stream.cursor.tolist() == [0]


# --- distress and the four scenarios -----------------------------------------------------


def test_scenario_codes_are_self_plus_two_times_partner() -> None:
    distress = np.array([[False, False], [True, False], [False, True], [True, True]])
    codes = core.scenario_codes(distress)
    assert codes.tolist() == [[0, 0], [1, 2], [2, 1], [3, 3]]
    assert [core.SCENARIO_NAMES[c] for c in codes[:, 0]] == ["none", "self", "other", "both"]


def test_distress_lasts_only_for_the_step_it_happened_in() -> None:
    state = core.make_state(strip([16]), position=(15, 17), energy=(7, 20))
    assert play(state, HOP, JUMP).distress.tolist() == [[True, False]]
    events = play(state, JUMP, JUMP)
    assert events.distress.tolist() == [[False, False]]
    assert state.distress.tolist() == [[False, False]]


@pytest.mark.parametrize(
    ("frog_energy", "toad_energy", "frog_scenario", "toad_scenario"),
    [(5, 5, 0, 0), (0, 5, 1, 2), (5, 0, 2, 1), (0, 0, 3, 3)],
)
def test_env_infos_report_distress_and_scenarios(
    frog_energy: int, toad_energy: int, frog_scenario: int, toad_scenario: int
) -> None:
    env = frogtoad_env.parallel_env()
    env.reset(seed=0)
    env.game = core.make_state(strip(), position=(15, 17), energy=(frog_energy, toad_energy))
    _, _, _, _, infos = env.step({"frog": HOP, "toad": JUMP})
    assert infos["frog"]["scenario"] == frog_scenario
    assert infos["toad"]["scenario"] == toad_scenario
    assert infos["frog"]["distress"] == (frog_energy == 0)
    assert infos["frog"]["partner_distress"] == (toad_energy == 0)
    assert infos["toad"]["distress"] == (toad_energy == 0)
    assert infos["toad"]["partner_distress"] == (frog_energy == 0)
    assert [infos[a]["scenario"] for a in ("frog", "toad")] == core.scenario_codes(env.game.distress)[0].tolist()


def test_env_infos_report_distress_from_a_rough_landing() -> None:
    env = frogtoad_env.parallel_env()
    env.reset(seed=0)
    env.game = core.make_state(strip([16]), position=(15, 17), energy=(9, 20))
    _, _, _, _, infos = env.step({"frog": HOP, "toad": JUMP})
    assert infos["frog"]["distress"] is True
    assert infos["frog"]["stalled"] is False
    assert infos["frog"]["scenario"] == core.SCENARIO_SELF
    assert infos["toad"]["scenario"] == core.SCENARIO_OTHER


# --- scrolling ---------------------------------------------------------------------------


def test_the_first_step_scrolls_right_by_one_because_the_start_mean_floors_to_15() -> None:
    state = core.new_games(1, core.RulesConfig())
    assert positions(state) == [CENTRE - 1, CENTRE]
    events = play(state, JUMP, JUMP)
    assert events.shift.tolist() == [-1]
    assert positions(state) == [CENTRE, CENTRE + 1]


def test_dependency_one_anchors_on_the_floor_of_the_mean() -> None:
    state = core.make_state(strip(), position=(10, 25))
    events = play(state, JUMP, JUMP, dependency=1.0)
    assert events.shift.tolist() == [17 - CENTRE]
    assert positions(state) == [9, 24]


def test_dependency_zero_follows_the_leader() -> None:
    state = core.make_state(strip(), position=(10, 25))
    events = play(state, JUMP, JUMP, dependency=0.0)
    assert events.shift.tolist() == [25 - CENTRE]
    assert positions(state) == [10 - 9, CENTRE]


@pytest.mark.parametrize(("dependency", "shift"), [(0.5, 21 - CENTRE), (0.25, 23 - CENTRE), (0.9, 18 - CENTRE)])
def test_an_intermediate_dependency_mixes_mean_and_leader(dependency: float, shift: int) -> None:
    state = core.make_state(strip(), position=(10, 25))
    events = play(state, JUMP, JUMP, dependency=dependency)
    assert events.shift.tolist() == [shift]
    assert positions(state) == [10 - shift, 25 - shift]


@pytest.mark.parametrize("dependency", np.linspace(0.0, 1.0, 21).tolist() + [0.3, 0.7, 1 / 3])
@pytest.mark.parametrize("position", [0, 7, 15, 16, 23, W - 1])
def test_players_on_one_cell_anchor_on_that_cell_for_any_dependency(dependency: float, position: int) -> None:
    state = core.make_state(strip(), position=(position, position))
    events = play(state, JUMP, JUMP, dependency=dependency)
    assert events.shift.tolist() == [position - CENTRE]
    assert positions(state) == [CENTRE, CENTRE]


def test_the_ground_moves_left_with_a_positive_shift() -> None:
    rough = strip([3, 9, 20, 21, 30])
    state = core.make_state(rough, position=(15, 21))
    events = play(state, JUMP, JUMP)
    assert events.shift.tolist() == [2]
    assert state.rough[0, : W - 2].tolist() == rough[2:].tolist()
    assert np.flatnonzero(state.rough[0, : W - 2]).tolist() == [1, 7, 18, 19, 28]


def test_positions_are_clamped_at_zero_when_the_world_moves_left() -> None:
    state = core.make_state(strip(), position=(2, W - 1))
    events = play(state, JUMP, JUMP, dependency=0.0)
    assert events.shift.tolist() == [W - 1 - CENTRE]
    assert positions(state) == [0, CENTRE]


def test_positions_are_clamped_at_the_last_cell_when_the_world_moves_right() -> None:
    state = core.make_state(strip(), position=(0, W - 1))
    events = play(state, JUMP, JUMP, dependency=1.0)
    assert events.shift.tolist() == [-1]
    assert positions(state) == [1, W - 1]


def test_solid_cells_enter_on_the_left_when_the_world_moves_right() -> None:
    rough = np.ones(W, dtype=bool)
    rough[[0, 5]] = False
    state = core.make_state(rough, position=(10, 10))
    events = play(state, JUMP, JUMP)
    assert events.shift.tolist() == [10 - CENTRE]
    expected = np.zeros(W, dtype=bool)
    expected[6:] = rough[: W - 6]
    assert state.rough[0].tolist() == expected.tolist()
    assert positions(state) == [CENTRE, CENTRE]


def test_a_negative_shift_generates_no_terrain_and_keeps_the_rough_rate() -> None:
    state = core.make_state(strip(), position=(10, 10), rough_rate=0.03, patch_rough_left=2)
    play(state, JUMP, JUMP)
    assert state.rough_rate.tolist() == [0.03]
    assert state.patch_rough_left.tolist() == [2]


# --- terrain generation ------------------------------------------------------------------


def generated_cells(config: core.RulesConfig, games: int, steps: int, seed: int, **state_kwargs) -> np.ndarray:
    """The ground cells entering on the right, in order, for ``games`` games: (games, n) bool.

    Each step parks frog at 0 and toad on the last cell, so at dependency 0 every step
    scrolls by ``W - 1 - W//2`` and generates that many cells.
    """
    rough = np.zeros((games, W), dtype=bool)
    state = core.make_state(rough, position=(0, W - 1), **state_kwargs)
    stream = core.RandomStream(seed)
    shift = W - 1 - CENTRE
    out = []
    for _ in range(steps):
        state.position[:] = (0, W - 1)
        events = core.step(state, np.full((games, 2), JUMP), config, stream)
        assert (events.shift == shift).all()
        out.append(state.rough[:, W - shift :].copy())
    return np.concatenate(out, axis=1)


def runs(row: np.ndarray) -> list[tuple[bool, int]]:
    """Run-length encoding of a bool row: [(value, length), ...]."""
    edges = np.flatnonzero(np.diff(row.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [row.size]])
    return [(bool(row[a]), int(b - a)) for a, b in zip(starts, stops)]


def test_rough_patches_are_one_to_four_cells_followed_by_exactly_one_solid_cell() -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0, rough_rate_max=1.0)
    new = generated_cells(config, games=8, steps=40, seed=1, rough_rate=1.0)
    lengths = set()
    for row in new:
        encoded = runs(row)
        for value, length in encoded[:-1]:
            if value:
                assert 1 <= length <= 4
                lengths.add(length)
            else:
                assert length == 1
    assert lengths == {1, 2, 3, 4}


def test_rough_patches_at_a_low_rate_are_still_closed_by_a_solid_cell() -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0, rough_rate_max=1.0)
    new = generated_cells(config, games=8, steps=40, seed=2, rough_rate=0.3)
    solid_runs = []
    for row in new:
        for value, length in runs(row)[:-1]:
            if value:
                assert 1 <= length <= 4
            else:
                solid_runs.append(length)
    assert min(solid_runs) == 1
    assert max(solid_runs) > 1


def test_a_patch_in_progress_continues_across_steps() -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0)
    state = core.make_state(strip(), position=(0, CENTRE + 4), patch_rough_left=2)
    events = play(state, JUMP, JUMP, config=config)
    assert events.shift.tolist() == [4]
    assert state.rough[0, W - 4 :].tolist() == [True, True, False, False]
    assert state.patch_rough_left.tolist() == [0]


def test_a_due_closing_cell_is_solid_even_at_rate_one() -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0, rough_rate_max=1.0)
    state = core.make_state(strip(), position=(0, CENTRE + 1), patch_solid_due=True, rough_rate=1.0)
    play(state, JUMP, JUMP, config=config)
    assert not state.rough[0, W - 1]
    assert state.patch_solid_due.tolist() == [False]
    state.position[0] = (0, CENTRE + 1)
    play(state, JUMP, JUMP, config=config)
    assert state.rough[0, W - 1]


def test_the_rough_rate_ramps_by_0_005_per_generated_cell_up_to_0_075() -> None:
    config = core.RulesConfig(dependency=0.0)
    state = core.make_state(strip(), position=(0, CENTRE + 4), rough_rate=0.0)
    play(state, JUMP, JUMP, config=config)
    assert state.rough_rate[0] == pytest.approx(4 * 0.005)
    state.position[0] = (0, CENTRE)
    play(state, JUMP, JUMP, config=config)
    assert state.rough_rate[0] == pytest.approx(4 * 0.005)
    state.position[0] = (0, CENTRE + 7)
    play(state, JUMP, JUMP, config=config)
    assert state.rough_rate[0] == pytest.approx(11 * 0.005)
    state.position[0] = (0, W - 1)
    play(state, JUMP, JUMP, config=config)
    assert state.rough_rate[0] == pytest.approx(0.075)


def test_the_rough_rate_starts_at_zero_so_the_first_new_cell_is_solid() -> None:
    config = core.RulesConfig()
    state = core.new_games(5000, config)
    assert (state.rough_rate == 0.0).all()
    actions = np.tile([HOP, HOP], (5000, 1))
    stream = core.RandomStream(3)
    core.step(state, actions, config, stream)
    events = core.step(state, actions, config, stream)
    assert (events.shift == 1).all()
    assert not state.rough.any()
    assert state.rough_rate == pytest.approx(0.005)


def test_the_default_game_ramps_up_to_0_075_rough_cells() -> None:
    config = core.RulesConfig(dependency=0.0)
    new = generated_cells(config, games=64, steps=30, seed=4, rough_rate=0.0)
    assert not new[:, 0].any()
    late = new[:, 100:]
    starts = late[:, 1:] & ~late[:, :-1]
    assert 0.5 * 0.075 < starts.mean() < 0.075


# --- flies -------------------------------------------------------------------------------


def fly_step(flies: np.ndarray, randoms: Sequence[float], position: tuple[int, int] = (15, 17)) -> core.GameState:
    """One step with no scroll-generated terrain whose fly rolls are ``randoms``.

    With the order forced and no help, the stream's numbers go: one spawn roll per cell
    (left to right), then one drift roll per fly (left to right).
    """
    state = core.make_state(strip(), position=position, flies=flies)
    play(state, JUMP, JUMP, stream=neutral_stream(randoms))
    return state


def test_flies_drift_left_stay_or_drift_right() -> None:
    state = fly_step(cells(3, 10, 20), [0.5] * W + [0.0, 0.5, 0.9])
    assert np.flatnonzero(state.flies[0]).tolist() == [2, 10, 21]


def test_fly_drift_is_clamped_at_the_edges() -> None:
    state = fly_step(cells(0, W - 1), [0.5] * W + [0.0, 0.99])
    assert np.flatnonzero(state.flies[0]).tolist() == [0, W - 1]


def test_flies_landing_on_one_cell_merge() -> None:
    state = fly_step(cells(5, 7), [0.5] * W + [0.9, 0.0])
    assert np.flatnonzero(state.flies[0]).tolist() == [6]


def test_a_fly_spawns_where_the_roll_is_below_0_01_and_drifts_in_the_same_step() -> None:
    spawn = [0.5] * W
    spawn[5] = 0.0099
    spawn[12] = 0.01
    state = fly_step(cells(), spawn + [0.9])
    assert np.flatnonzero(state.flies[0]).tolist() == [6]


def test_flies_stay_in_screen_coordinates_when_the_world_scrolls() -> None:
    state = fly_step(cells(12), [0.5] * W + [0.5], position=(10, 10))
    assert state.position[0].tolist() == [CENTRE, CENTRE]
    assert np.flatnonzero(state.flies[0]).tolist() == [12]
