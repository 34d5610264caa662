"""The PettingZoo front ends: API conformance, seeding, input validation, infos, rewards, rendering."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

import gymnasium
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test
from pettingzoo.utils.conversions import aec_to_parallel

import frogtoad_env
from frogtoad_env import core, observations
from frogtoad_env.core import HELP, HOP, JUMP, LEAP
from frogtoad_env.render import CELL
from tests.trajectory_digest import TrajectoryDigest

CONFIGS: dict[str, dict[str, Any]] = {
    "egocentric": {},
    "paper": {"obs_mode": "paper"},
    "custom": {"width": 12, "dependency": 0.3, "veil": 0.5, "prosocial": 0.25, "max_steps": 60},
    "custom-paper": {"obs_mode": "paper", "width": 9, "dependency": 0.0, "veil": 1.0, "prosocial": 1.0, "max_steps": 40},
}
AGENTS = ("frog", "toad")
INFO_KEYS = {
    "distress", "partner_distress", "scenario", "energy", "score", "position", "stalled", "points",
    "hopped", "leaped", "caught_fly", "helped", "energy_given", "assisted_leap", "went_first",
}  # fmt: skip


def random_actions(rng: np.random.Generator) -> dict[str, int]:
    return {agent: int(rng.integers(core.N_ACTIONS)) for agent in AGENTS}


def trajectory(config: dict[str, Any], seed: int, steps: int, action_seed: int = 0) -> list[tuple]:
    """(obs, rewards, terminations, truncations, infos) of ``steps`` fixed random steps, resetting when done."""
    env = frogtoad_env.parallel_env(**config)
    rng = np.random.default_rng(action_seed)
    out: list[tuple] = [env.reset(seed=seed)]
    for _ in range(steps):
        if not env.agents:
            out.append(env.reset())
        out.append(env.step(random_actions(rng)))
    return out


def assert_same_trajectory(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for item_a, item_b in zip(a, b):
        assert len(item_a) == len(item_b)
        for part_a, part_b in zip(item_a, item_b):
            assert part_a.keys() == part_b.keys()
            for agent in part_a:
                if isinstance(part_a[agent], np.ndarray):
                    np.testing.assert_array_equal(part_a[agent], part_b[agent])
                else:
                    assert part_a[agent] == part_b[agent]


# --- PettingZoo's own conformance tests -------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_the_parallel_env_passes_pettingzoos_parallel_api_test(name: str) -> None:
    parallel_api_test(frogtoad_env.parallel_env(**CONFIGS[name]), num_cycles=1000)


@pytest.mark.filterwarnings("ignore:We recommend agents to be named")
@pytest.mark.parametrize("name", CONFIGS)
def test_the_aec_env_passes_pettingzoos_api_test(name: str) -> None:
    api_test(frogtoad_env.env(**CONFIGS[name]), num_cycles=1000)


@pytest.mark.parametrize("name", CONFIGS)
def test_the_parallel_env_passes_pettingzoos_parallel_seed_test(name: str) -> None:
    parallel_seed_test(functools.partial(frogtoad_env.parallel_env, **CONFIGS[name]))


@pytest.mark.parametrize("name", CONFIGS)
def test_the_aec_env_passes_pettingzoos_seed_test(name: str) -> None:
    seed_test(functools.partial(frogtoad_env.env, **CONFIGS[name]))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_render_mode_passes_pettingzoos_render_test(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    render_test(functools.partial(frogtoad_env.env, **CONFIGS[name]))
    assert "frog energy" in capsys.readouterr().out


# --- seeding -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_same_seed_gives_the_same_trajectory(name: str) -> None:
    assert_same_trajectory(trajectory(CONFIGS[name], 11, 700), trajectory(CONFIGS[name], 11, 700))


@pytest.mark.parametrize("name", CONFIGS)
def test_different_seeds_give_different_trajectories(name: str) -> None:
    a, b = trajectory(CONFIGS[name], 11, 300), trajectory(CONFIGS[name], 12, 300)
    assert any(
        not np.array_equal(x[0]["frog"], y[0]["frog"]) or x[-1]["frog"] != y[-1]["frog"] for x, y in zip(a, b)
    )


# Recorded from the reference implementation; a speed-up of the env must not change a bit of
# any observation, reward, flag or info (value or type). Update only for a deliberate rule change.
PINNED_DIGESTS: dict[str, str] = {
    "egocentric": "365c9c5c11c15491a27348536ab2a0b3052fb5521b348d40af08f2ff75efc72b",
    "custom-paper": "efef0e0c51aa8c4f972d514f99a31ebdba7c6100c3e4cedffcfefe0a4c83bd58",
    "custom": "fd34421950d97382180f91f7e3eef8e0eecd929f71f899c93510f18bad20a2a2",
}


@pytest.mark.parametrize("name", PINNED_DIGESTS)
def test_a_seeded_trajectory_matches_its_pinned_digest(name: str) -> None:
    env = frogtoad_env.parallel_env(**CONFIGS[name])
    rng = np.random.default_rng(8)
    digest = TrajectoryDigest()
    digest.feed(env.reset(seed=7))
    for _ in range(1200):
        if not env.agents:
            digest.feed(env.reset())
        digest.feed(env.step(random_actions(rng)))
    assert digest.hexdigest() == PINNED_DIGESTS[name]


@pytest.mark.parametrize("name", ["custom", "custom-paper"])
def test_the_env_plays_exactly_the_batched_core_with_the_same_stream(name: str) -> None:
    config = frogtoad_env.EnvConfig(**CONFIGS[name])
    env = frogtoad_env.parallel_env(**CONFIGS[name])
    obs, _ = env.reset(seed=4)
    stream = core.RandomStream(np.random.default_rng(4))
    state = core.new_games(1, config.rules)
    expected = observations.observe(state, config.obs_mode, config.veil, stream)
    rng = np.random.default_rng(5)
    for _ in range(config.max_steps):
        np.testing.assert_array_equal(np.stack([obs["frog"], obs["toad"]]), expected[0])
        actions = random_actions(rng)
        obs, _, _, _, infos = env.step(actions)
        events = core.step(state, np.array([[actions["frog"], actions["toad"]]]), config.rules, stream)
        expected = observations.observe(state, config.obs_mode, config.veil, stream)
        for field in dataclasses.fields(state):
            np.testing.assert_array_equal(getattr(env.game, field.name), getattr(state, field.name), err_msg=field.name)
        assert [infos[a]["points"] for a in AGENTS] == events.points[0].tolist()
        assert [infos[a]["energy_given"] for a in AGENTS] == events.energy_given[0].tolist()
        assert [infos[a]["went_first"] for a in AGENTS] == [events.first_mover[0] == p for p in range(2)]


def test_reset_with_the_same_seed_replays_the_episode_on_one_env() -> None:
    env = frogtoad_env.parallel_env(veil=0.5)
    rng = np.random.default_rng(0)
    actions = [random_actions(rng) for _ in range(200)]
    runs = []
    for _ in range(2):
        env.reset(seed=5)
        runs.append([env.step(a) for a in actions])
    assert_same_trajectory(runs[0], runs[1])


def test_reset_without_a_seed_continues_the_random_stream() -> None:
    env = frogtoad_env.parallel_env()
    actions = {"frog": JUMP, "toad": JUMP}
    env.reset(seed=5)
    first = [env.step(actions)[-1]["frog"]["went_first"] for _ in range(64)]
    env.reset()
    second = [env.step(actions)[-1]["frog"]["went_first"] for _ in range(64)]
    assert first != second


def test_reset_restores_the_start_state() -> None:
    env = frogtoad_env.parallel_env()
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(50):
        env.step(random_actions(rng))
    obs, infos = env.reset()
    fresh = core.new_games(1, core.RulesConfig())
    np.testing.assert_array_equal(obs["frog"], observations.observe(fresh, "egocentric")[0, 0])
    assert env.agents == ["frog", "toad"]
    assert [infos[a]["position"] for a in AGENTS] == [15, 16]
    assert [infos[a]["energy"] for a in AGENTS] == [20, 20]
    assert [infos[a]["score"] for a in AGENTS] == [0, 0]


# --- bad input ---------------------------------------------------------------------------


@pytest.fixture
def env() -> frogtoad_env.FrogToadParallelEnv:
    environment = frogtoad_env.parallel_env()
    environment.reset(seed=0)
    return environment


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize(("value", "shown"), [(4, "got 4"), (-1, "got -1"), (np.int64(7), "got 7")])
def test_an_action_out_of_range_is_rejected(
    env: frogtoad_env.FrogToadParallelEnv, agent: str, value: Any, shown: str
) -> None:
    with pytest.raises(ValueError, match=rf"'{agent}'.*0\.\.3 \(hop, jump, leap, help\).*{shown}"):
        env.step({"frog": 0, "toad": 0, agent: value})


@pytest.mark.parametrize("value", [1.0, 2.5, "1", None, True, np.float32(1.0), [1]])
def test_a_non_integer_action_is_rejected(env: frogtoad_env.FrogToadParallelEnv, value: Any) -> None:
    with pytest.raises(ValueError, match=r"'frog' must be an integer in 0\.\.3.*got " + re.escape(repr(value))):
        env.step({"frog": value, "toad": 0})


@pytest.mark.parametrize("value", [np.int64(2), np.int32(3), np.array(1), np.uint8(0)])
def test_numpy_integer_actions_are_accepted(env: frogtoad_env.FrogToadParallelEnv, value: Any) -> None:
    env.step({"frog": value, "toad": value})
    assert env.game.last_action[0].tolist() == [int(value), int(value)]


def test_a_missing_agent_key_is_rejected(env: frogtoad_env.FrogToadParallelEnv) -> None:
    with pytest.raises(ValueError, match=r"exactly the keys \['frog', 'toad'\]; missing \['toad'\], unknown \[\]"):
        env.step({"frog": 0})


def test_an_unknown_agent_key_is_rejected(env: frogtoad_env.FrogToadParallelEnv) -> None:
    with pytest.raises(ValueError, match=r"missing \[\], unknown \['newt'\]"):
        env.step({"frog": 0, "toad": 1, "newt": 2})


@pytest.mark.parametrize("actions", [[0, 1], (0, 1), np.array([0, 1]), 0, None])
def test_actions_that_are_not_a_dict_are_rejected(env: frogtoad_env.FrogToadParallelEnv, actions: Any) -> None:
    with pytest.raises(ValueError, match=r"actions must be a dict \{agent: action\}.*got " + type(actions).__name__):
        env.step(actions)


def test_a_rejected_action_leaves_the_game_untouched(env: frogtoad_env.FrogToadParallelEnv) -> None:
    before = env.game.copy()
    with pytest.raises(ValueError):
        env.step({"frog": 0, "toad": 9})
    for name in ("position", "energy", "score", "steps", "rough", "flies"):
        np.testing.assert_array_equal(getattr(env.game, name), getattr(before, name))


@pytest.mark.parametrize("width", [1025, 10**9])
def test_a_width_above_the_bound_is_rejected_before_anything_is_allocated(width: int) -> None:
    with pytest.raises(ValueError, match=rf"width must be <= 1024.*got {width}"):
        frogtoad_env.parallel_env(width=width)


def test_the_widest_allowed_strip_plays() -> None:
    env = frogtoad_env.parallel_env(width=1024)
    env.reset(seed=0)
    obs, *_ = env.step({"frog": HOP, "toad": LEAP})
    assert obs["frog"].shape == (4 * 1024 + 30,)


@pytest.mark.parametrize("width", [7, 0, -3, 8.0, "32", True])
def test_a_bad_width_is_rejected(width: Any) -> None:
    with pytest.raises(ValueError, match=rf"width must be an integer >= 8, got {width!r}"):
        frogtoad_env.parallel_env(width=width)


@pytest.mark.parametrize("name", ["dependency", "veil", "prosocial"])
@pytest.mark.parametrize("value", [-0.01, 1.01, 2, math.nan, math.inf, "0.5", None])
def test_unit_interval_knobs_outside_zero_one_are_rejected(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be (a number )?in \[0, 1\], got {value!r}"):
        frogtoad_env.parallel_env(**{name: value})


@pytest.mark.parametrize("name", ["dependency", "veil", "prosocial"])
@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, 0.37, np.float32(0.5)])
def test_unit_interval_knobs_inside_zero_one_are_accepted(name: str, value: Any) -> None:
    env = frogtoad_env.parallel_env(**{name: value})
    env.reset(seed=0)
    env.step({"frog": 0, "toad": 0})


def test_an_unknown_obs_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"obs_mode must be one of \['egocentric', 'paper'\], got 'pixels'"):
        frogtoad_env.parallel_env(obs_mode="pixels")


def test_an_unknown_render_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"render_mode must be None or one of \['ansi', 'human', 'rgb_array'\], got 'rgb'"):
        frogtoad_env.parallel_env(render_mode="rgb")


def test_an_unknown_config_key_is_rejected_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['widht'\]; allowed keys are \['width', 'dependency'"):
        frogtoad_env.parallel_env(widht=10)


@pytest.mark.parametrize("max_steps", [0, -1, 2.5, True, "10"])
def test_a_bad_max_steps_is_rejected(max_steps: Any) -> None:
    with pytest.raises(ValueError, match=rf"max_steps must be an integer >= 1, got {max_steps!r}"):
        frogtoad_env.parallel_env(max_steps=max_steps)


def test_the_aec_env_validates_its_config_too() -> None:
    with pytest.raises(ValueError, match="veil"):
        frogtoad_env.env(veil=1.5)


# --- episode end -------------------------------------------------------------------------


def test_step_before_reset_raises_reset_needed() -> None:
    with pytest.raises(gymnasium.error.ResetNeeded):
        frogtoad_env.parallel_env().step({"frog": 0, "toad": 0})


@pytest.mark.parametrize("max_steps", [1, 7, 500])
def test_truncation_comes_exactly_at_max_steps(max_steps: int) -> None:
    env = frogtoad_env.parallel_env(max_steps=max_steps)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1, max_steps + 1):
        assert env.agents == ["frog", "toad"]
        _, _, terminations, truncations, _ = env.step(random_actions(rng))
        assert terminations == {"frog": False, "toad": False}
        assert truncations == {"frog": t == max_steps, "toad": t == max_steps}
    assert env.agents == []
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step({"frog": 0, "toad": 0})
    env.reset()
    assert env.agents == ["frog", "toad"]
    env.step({"frog": 0, "toad": 0})


def aec_digest(env: Any, actions: list[Any]) -> str:
    """Digest of ``env.last()`` after each of ``actions``, stepped in turn."""
    digest = TrajectoryDigest()
    for action in actions:
        env.step(action)
        digest.feed(env.last())
    return digest.hexdigest()


@pytest.mark.parametrize("bad_action", [4, -1, 2.5, "hop"])
def test_the_aec_env_refuses_a_bad_action_on_the_step_that_gives_it(bad_action: Any) -> None:
    env = frogtoad_env.env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action for 'frog' must be"):
        env.step(bad_action)
    assert env.agent_selection == "frog"
    reference = frogtoad_env.env()
    reference.reset(seed=0)
    actions = [HOP, LEAP, JUMP, HOP, HELP, HOP]
    assert aec_digest(env, actions) == aec_digest(reference, actions)


def test_the_aec_env_refuses_a_bad_toad_action_naming_the_toad() -> None:
    env = frogtoad_env.env()
    env.reset(seed=0)
    env.step(HOP)
    with pytest.raises(ValueError, match=r"action for 'toad' must be in 0\.\.3.*got 9"):
        env.step(9)
    assert env.agent_selection == "toad"
    env.step(HOP)
    assert env.infos["frog"]["points"] == 1 and env.infos["toad"]["points"] == 1


def test_an_aec_action_for_a_truncated_agent_is_refused_naming_it_and_none_still_works() -> None:
    env = frogtoad_env.env(max_steps=1)
    env.reset(seed=0)
    env.step(HOP)
    env.step(HOP)
    assert env.truncations == {"frog": True, "toad": True}
    with pytest.raises(ValueError, match=r"'frog' is truncated.*only valid action is None.*reset\(\)"):
        env.step(HOP)
    for agent in AGENTS:
        assert env.agent_selection == agent
        env.step(None)
    assert env.agents == []


def test_aec_to_parallel_unwraps_the_aec_env_to_the_parallel_one() -> None:
    assert isinstance(aec_to_parallel(frogtoad_env.env()), frogtoad_env.FrogToadParallelEnv)


# --- infos -------------------------------------------------------------------------------


#: The rules' four scenarios, written out: (self distressed, partner distressed) -> code.
SCENARIO_BY_DISTRESS: dict[tuple[bool, bool], int] = {
    (False, False): 0,  # none
    (True, False): 1,  # self ("act")
    (False, True): 2,  # other ("observe")
    (True, True): 3,  # both
}


def test_infos_carry_every_key_and_agree_with_the_state() -> None:
    env = frogtoad_env.parallel_env(max_steps=300)
    _, infos = env.reset(seed=3)
    rng = np.random.default_rng(3)
    seen_scenarios = set()
    for _ in range(300):
        before = env.game.copy()
        _, rewards, _, _, infos = env.step(random_actions(rng))
        game = env.game
        for p, agent in enumerate(AGENTS):
            info = infos[agent]
            assert set(info) == INFO_KEYS
            assert info["distress"] == bool(game.distress[0, p])
            assert info["partner_distress"] == bool(game.distress[0, 1 - p])
            assert info["scenario"] == SCENARIO_BY_DISTRESS[(info["distress"], info["partner_distress"])]
            assert info["energy"] == game.energy[0, p]
            assert info["score"] == game.score[0, p]
            assert info["position"] == game.position[0, p]
            assert info["stalled"] == (game.energy[0, p] == 0)
            assert info["points"] == game.score[0, p] - before.score[0, p]
            assert info["points"] == int(info["hopped"])
            assert rewards[agent] == info["points"]
            assert all(type(info[k]) is bool for k in ("distress", "partner_distress", "stalled", "hopped", "went_first"))
            assert info["helped"] or info["energy_given"] == 0
            seen_scenarios.add(info["scenario"])
        assert infos["frog"]["went_first"] != infos["toad"]["went_first"]
    assert seen_scenarios == {0, 1, 2, 3}


def test_reset_infos_describe_the_start_state() -> None:
    _, infos = frogtoad_env.parallel_env().reset(seed=0)
    assert infos["frog"]["position"] == 15 and infos["toad"]["position"] == 16
    for agent in AGENTS:
        assert set(infos[agent]) == INFO_KEYS
        assert infos[agent]["scenario"] == 0
        assert infos[agent]["energy"] == 20
        assert infos[agent]["distress"] is False


# --- rewards -----------------------------------------------------------------------------


@pytest.mark.parametrize("prosocial", [0.0, 0.25, 0.5, 0.8, 1.0])
@pytest.mark.parametrize(("frog_action", "toad_action", "points"), [(HOP, JUMP, (1, 0)), (JUMP, HOP, (0, 1)), (HOP, HOP, (1, 1)), (LEAP, HELP, (0, 0))])
def test_prosocial_reward_mixes_own_and_partner_points_exactly(
    prosocial: float, frog_action: int, toad_action: int, points: tuple[int, int]
) -> None:
    env = frogtoad_env.parallel_env(prosocial=prosocial)
    env.reset(seed=0)
    env.game = core.make_state(np.zeros(32, dtype=bool), position=(10, 20))
    _, rewards, _, _, infos = env.step({"frog": frog_action, "toad": toad_action})
    assert (infos["frog"]["points"], infos["toad"]["points"]) == points
    assert rewards["frog"] == (1 - prosocial) * points[0] + prosocial * points[1]
    assert rewards["toad"] == (1 - prosocial) * points[1] + prosocial * points[0]
    assert all(type(r) is float for r in rewards.values())


# --- observations ------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_observations_lie_in_the_declared_space(name: str) -> None:
    env = frogtoad_env.parallel_env(**CONFIGS[name])
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(100):
        for agent in AGENTS:
            assert obs[agent].dtype == np.float32
            assert env.observation_space(agent).contains(obs[agent])
        obs, *_ = env.step(random_actions(rng)) if env.agents else (env.reset()[0],)


def test_the_paper_observation_has_100_numbers_at_width_32() -> None:
    env = frogtoad_env.parallel_env(obs_mode="paper")
    assert env.observation_space("frog").shape == (100,)
    assert env.observation_space("toad").shape == (100,)


def test_state_is_the_unveiled_frog_view() -> None:
    env = frogtoad_env.parallel_env(veil=1.0)
    env.reset(seed=0)
    env.step({"frog": HOP, "toad": LEAP})
    np.testing.assert_array_equal(env.state(), observations.observe(env.game, "egocentric")[0, 0])


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [8, 32, 40])
def test_rgb_array_render_is_a_uint8_image_of_five_cell_rows(width: int) -> None:
    env = frogtoad_env.parallel_env(render_mode="rgb_array", width=width)
    env.reset(seed=0)
    env.step({"frog": HOP, "toad": HOP})
    image = env.render()
    assert image.shape == (5 * CELL, width * CELL, 3)
    assert image.dtype == np.uint8


def test_rgb_array_render_marks_a_distressed_player_in_red() -> None:
    env = frogtoad_env.parallel_env(render_mode="rgb_array")
    env.reset(seed=0)
    env.game = core.make_state(np.zeros(32, dtype=bool), position=(4, 20), energy=(0, 20))
    image = env.render()
    assert image[CELL, 4 * CELL].tolist() == [220, 30, 30]
    assert image[CELL, 20 * CELL].tolist() != [220, 30, 30]


def test_ansi_render_draws_flies_players_ground_and_status() -> None:
    env = frogtoad_env.parallel_env(render_mode="ansi", width=10)
    env.reset(seed=0)
    env.game = core.make_state([0, 0, 1, 1, 0, 0, 0, 0, 0, 1], position=(3, 7), energy=(0, 12), score=(4, 130), flies=[1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    lines = env.render().split("\n")
    assert lines[:3] == ["*        *", "   F   T  ", "==~~=====~"]
    assert lines[3] == "step 0  frog energy  0 score   4 !  toad energy 12 score 130"
    assert lines[4] == ""


def test_ansi_render_shows_both_players_on_one_cell_as_ampersand() -> None:
    env = frogtoad_env.parallel_env(render_mode="ansi", width=8)
    env.reset(seed=0)
    env.game = core.make_state([0] * 8, position=(5, 5))
    assert env.render().split("\n")[1] == "     &  "


def test_human_render_prints_the_ansi_view(capsys: pytest.CaptureFixture[str]) -> None:
    env = frogtoad_env.parallel_env(render_mode="human")
    env.reset(seed=0)
    env.step({"frog": HOP, "toad": HOP})
    assert env.render() is None
    out = capsys.readouterr().out
    assert out.count("step 1  frog energy 20 score   1  toad energy 20 score   1") == 2


def test_render_without_a_render_mode_warns_and_returns_none() -> None:
    env = frogtoad_env.parallel_env()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
