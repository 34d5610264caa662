"""The observations of both players (frogtoad_env/observations.py), from hand-built states.

Egocentric: the layout's slices read the state, the self and other blocks share one
layout and are each other's mirror. Paper: the original's codes for ground, players,
flies and own status. The veil: it hides identity exactly as documented.
"""

from __future__ import annotations

import numpy as np
import pytest

import frogtoad_env
from frogtoad_env import core, observations
from frogtoad_env.core import FROG, HELP, HOP, JUMP, LEAP, TOAD
from tests.hand_built import W, cells, play, positions, strip


# --- egocentric observations -------------------------------------------------------------


def sample_state() -> core.GameState:
    """Frog at 15 with 5 energy under a fly, toad stalled at 28; rough at 16, 18, 20, 30."""
    return core.make_state(strip([16, 18, 20, 30]), position=(15, 28), energy=(5, 0), flies=cells(15, 29))


def test_egocentric_layout_slices_read_the_state() -> None:
    state = sample_state()
    obs = observations.observe(state, "egocentric")
    layout = observations.egocentric_layout(W)
    frog = obs[0, FROG]
    np.testing.assert_array_equal(frog[layout["world/ground"]], state.rough[0].astype(np.float32))
    np.testing.assert_array_equal(frog[layout["world/flies"]], state.flies[0].astype(np.float32))
    assert np.flatnonzero(frog[layout["self/position"]]).tolist() == [15]
    assert np.flatnonzero(frog[layout["other/position"]]).tolist() == [28]
    assert frog[layout["self/energy"]].tolist() == [0.25]
    assert frog[layout["other/energy"]].tolist() == [0.0]
    assert frog[layout["self/stalled"]].tolist() == [0.0]
    assert frog[layout["other/stalled"]].tolist() == [1.0]
    assert frog[layout["self/distress"]].tolist() == [0.0]
    assert frog[layout["other/distress"]].tolist() == [1.0]
    assert frog[layout["self/rough_ahead"]].tolist() == [1, 0, 1, 0, 1]
    assert frog[layout["other/rough_ahead"]].tolist() == [0, 1, 0, 0, 0]
    assert frog[layout["self/fly_above"]].tolist() == [1.0]
    assert frog[layout["other/fly_above"]].tolist() == [0.0]
    assert frog[layout["self/can_hop"]].tolist() == [1.0]
    assert frog[layout["self/can_leap"]].tolist() == [1.0]
    assert frog[layout["other/can_hop"]].tolist() == [1.0]
    assert frog[layout["other/can_leap"]].tolist() == [0.0]
    assert frog[layout["self/last_action"]].tolist() == [0, 0, 0, 0]
    assert frog[layout["other/last_action"]].tolist() == [0, 0, 0, 0]


def test_egocentric_last_action_is_one_hot_after_a_step() -> None:
    state = core.make_state(strip(), position=(15, 17))
    play(state, LEAP, HELP)
    obs = observations.observe(state, "egocentric")
    layout = observations.egocentric_layout(W)
    assert obs[0, FROG][layout["self/last_action"]].tolist() == [0, 0, 1, 0]
    assert obs[0, FROG][layout["other/last_action"]].tolist() == [0, 0, 0, 1]


def test_egocentric_self_and_other_blocks_share_one_layout() -> None:
    layout = observations.egocentric_layout(W)
    fields = observations.block_fields(W)
    size = observations.block_size(W)
    assert layout["self"] == slice(2 * W, 2 * W + size)
    assert layout["other"] == slice(2 * W + size, 2 * W + 2 * size)
    for name, s in fields.items():
        assert layout[f"self/{name}"] == slice(2 * W + s.start, 2 * W + s.stop)
        assert layout[f"other/{name}"] == slice(2 * W + size + s.start, 2 * W + size + s.stop)
    widths = [s.stop - s.start for s in fields.values()]
    assert sum(widths) == size
    assert observations.observation_space("egocentric", W).shape == (2 * W + 2 * size,)


def test_the_other_block_is_the_partners_self_block() -> None:
    state = sample_state()
    obs = observations.observe(state, "egocentric")
    layout = observations.egocentric_layout(W)
    np.testing.assert_array_equal(obs[0, FROG][layout["other"]], obs[0, TOAD][layout["self"]])
    np.testing.assert_array_equal(obs[0, TOAD][layout["other"]], obs[0, FROG][layout["self"]])
    np.testing.assert_array_equal(obs[0, FROG][layout["world"]], obs[0, TOAD][layout["world"]])


def test_swap_self_other_turns_one_players_view_into_the_partners() -> None:
    obs = observations.observe(sample_state(), "egocentric")
    swapped = observations.swap_self_other(obs, W)
    np.testing.assert_array_equal(swapped[0, FROG], obs[0, TOAD])
    np.testing.assert_array_equal(swapped[0, TOAD], obs[0, FROG])
    np.testing.assert_array_equal(observations.swap_self_other(swapped, W), obs)


def test_the_env_exposes_the_layout_of_its_observation_mode() -> None:
    assert dict(frogtoad_env.parallel_env(width=20).layout) == dict(observations.egocentric_layout(20))
    assert dict(frogtoad_env.parallel_env(obs_mode="paper").layout) == dict(observations.paper_layout(W))


# --- paper observations ------------------------------------------------------------------


def test_paper_observation_codes_ground_players_flies_and_own_status() -> None:
    state = core.make_state(strip([3, 4, 20]), position=(10, 20), energy=(7, 13), score=(40, 50), flies=cells(2, 10))
    obs = observations.observe(state, "paper")
    layout = observations.paper_layout(W)
    assert obs.shape == (1, 2, 3 * W + 4)
    for p in (FROG, TOAD):
        view = obs[0, p]
        assert view[layout["ground"]].tolist() == [2.0 if x in (3, 4, 20) else 1.0 for x in range(W)]
        players = [0.0] * W
        players[10], players[20] = 4.0, 5.0
        assert view[layout["players"]].tolist() == players
        assert view[layout["flies"]].tolist() == [1.0 if x in (2, 10) else 0.0 for x in range(W)]
        assert view[layout["own_score"]].tolist() == [0.0]
        assert view[layout["own_position"]].tolist() == [0.0]
    assert obs[0, FROG][layout["own_status"]].tolist() == [4.0]
    assert obs[0, FROG][layout["own_energy"]].tolist() == [7.0]
    assert obs[0, TOAD][layout["own_status"]].tolist() == [5.0]
    assert obs[0, TOAD][layout["own_energy"]].tolist() == [13.0]


@pytest.mark.parametrize(
    ("frog_action", "frog_energy", "rough", "code"),
    [
        (HOP, 10, [], core.CODE_FROG),
        (JUMP, 10, [], core.CODE_JUMPING),
        (LEAP, 10, [], core.CODE_LEAPING),
        (HELP, 10, [], core.CODE_HELPING),
        (HOP, 10, [11], core.CODE_DISTRESS),
        (LEAP, 10, [15], core.CODE_DISTRESS),
        (HOP, 0, [], core.CODE_DISTRESS),
        (LEAP, 0, [], core.CODE_DISTRESS),
    ],
)
def test_paper_players_layer_shows_the_action_or_distress(
    frog_action: int, frog_energy: int, rough: list[int], code: int
) -> None:
    state = core.make_state(strip(rough), position=(10, 22), energy=(frog_energy, 10))
    events = play(state, frog_action, JUMP)
    obs = observations.observe(state, "paper")
    layout = observations.paper_layout(W)
    frog_cell = int(state.position[0, FROG])
    assert obs[0, FROG][layout["players"]][frog_cell] == code
    assert obs[0, FROG][layout["own_status"]].tolist() == [code]
    assert obs[0, TOAD][layout["players"]][frog_cell] == code
    assert events.distress[0, FROG] == (code == core.CODE_DISTRESS)


@pytest.mark.parametrize(
    ("frog_energy", "toad_energy", "code"),
    [(10, 10, core.CODE_TOAD), (0, 10, core.CODE_DISTRESS), (10, 0, core.CODE_DISTRESS)],
)
def test_paper_shows_the_larger_code_when_both_stand_on_one_cell(frog_energy: int, toad_energy: int, code: int) -> None:
    state = core.make_state(strip(), position=(12, 12), energy=(frog_energy, toad_energy))
    obs = observations.observe(state, "paper")
    players = obs[0, FROG][observations.paper_layout(W)["players"]]
    assert players[12] == code
    assert np.count_nonzero(players) == 1


def test_paper_shows_a_leaping_frog_over_a_toad_on_the_same_cell() -> None:
    state = core.make_state(strip(), position=(11, 16), energy=(10, 10))
    play(state, LEAP, JUMP)
    assert positions(state) == [16, 16]
    players = observations.observe(state, "paper")[0, TOAD][observations.paper_layout(W)["players"]]
    assert players[16] == max(core.CODE_LEAPING, core.CODE_JUMPING)


def test_paper_veil_one_withholds_the_own_status_and_veil_zero_never_does() -> None:
    state = core.make_state(np.zeros((200, W), dtype=bool), position=(10, 20), energy=(7, 13))
    layout = observations.paper_layout(W)
    own = slice(layout["own_status"].start, layout["own_position"].stop)
    veiled = observations.observe(state, "paper", veil=1.0, stream=core.RandomStream(0))
    plain = observations.observe(state, "paper", veil=0.0)
    assert not veiled[:, :, own].any()
    assert (plain[:, FROG, own] == [4, 7, 0, 0]).all()
    np.testing.assert_array_equal(veiled[:, :, : 3 * W], plain[:, :, : 3 * W])


def test_a_veiled_observation_needs_a_random_stream() -> None:
    with pytest.raises(ValueError, match="RandomStream when veil > 0"):
        observations.observe(sample_state(), "egocentric", veil=0.5)


# --- the veil ----------------------------------------------------------------------------


def swapped_fraction(veil: float, steps: int, seed: int) -> tuple[int, int]:
    """(swapped, total) own-block swaps seen by both players of a veiled env over ``steps``."""
    env = frogtoad_env.parallel_env(veil=veil)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    layout = env.layout
    swapped = total = 0
    for _ in range(steps):
        if not env.agents:
            env.reset()
        obs, *_ = env.step({a: int(rng.integers(4)) for a in env.agents})
        plain = observations.observe(env.game, "egocentric")[0]
        for p, agent in enumerate(("frog", "toad")):
            if np.array_equal(plain[p][layout["self"]], plain[1 - p][layout["self"]]):
                continue
            total += 1
            if np.array_equal(obs[agent], plain[p]):
                continue
            np.testing.assert_array_equal(obs[agent], observations.swap_self_other(plain[p], W))
            swapped += 1
    return swapped, total


def test_veil_one_puts_the_blocks_in_a_fair_coin_order() -> None:
    swapped, total = swapped_fraction(veil=1.0, steps=1500, seed=5)
    assert total > 2500
    assert abs(swapped / total - 0.5) < 4 * np.sqrt(0.25 / total)


def test_veil_one_half_swaps_a_quarter_of_the_observations() -> None:
    swapped, total = swapped_fraction(veil=0.5, steps=1500, seed=6)
    assert abs(swapped / total - 0.25) < 4 * np.sqrt(0.25 * 0.75 / total)


def test_veil_zero_never_swaps() -> None:
    swapped, total = swapped_fraction(veil=0.0, steps=600, seed=7)
    assert total > 1000
    assert swapped == 0
