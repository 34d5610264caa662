"""``agents.vec_env.FrogToadVecEnv`` keeps the SB3 ``VecEnv`` contract over the batched rules.

Rules checked here:

- ``num_envs = 2 * n_games``; slot ``2g`` is the frog and ``2g + 1`` the toad of game ``g``.
- ``reset()`` returns float32 observations ``(num_envs, obs_dim)`` inside the space.
- ``step`` returns ``(obs, rewards (num_envs,), dones (num_envs,) bool, list of infos)``;
  a slot's reward is its points mixed with the partner's by ``prosocial``.
- Every episode lasts exactly ``max_steps``; on that step every slot is done, its info
  carries ``terminal_observation``, ``TimeLimit.truncated`` and an ``episode`` dict
  (``r`` the slot's summed rewards, ``l == max_steps``, ``score`` the final score, the
  behaviour rates), and the slot starts over.
- A seed fixes the trajectory; ``seed()`` then ``reset()`` reseeds.
- It works under ``VecMonitor`` / ``VecCheckNan`` and trains with ``PPO.learn``.
- ``RewardScale`` multiplies only the rewards: observations, dones, the episode return
  ``r`` and the score in the infos stay in points.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecCheckNan, VecEnv, VecMonitor

from agents.coupled import coupled_policy_kwargs
from agents.vec_env import FrogToadVecEnv, RewardScale
from frogtoad_env import core
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import egocentric_layout, observation_space

WIDTH = 32
LAYOUT = egocentric_layout(WIDTH)
OBS_DIM = observation_space("egocentric", WIDTH).shape[0]


Policy = Callable[[int, np.ndarray], np.ndarray]


def random_policy(seed: int) -> Policy:
    rng = np.random.default_rng(seed)
    return lambda t, obs: rng.integers(0, core.N_ACTIONS, size=obs.shape[0])


def field(obs: np.ndarray, name: str) -> np.ndarray:
    return obs[..., LAYOUT[name]]


def rollout(env: FrogToadVecEnv, policy: Policy, steps: int) -> list[tuple]:
    """(obs, actions, rewards, dones) of ``steps`` steps after ``reset()``."""
    obs = env.reset()
    out = []
    for t in range(steps):
        actions = policy(t, obs)
        next_obs, rewards, dones, _ = env.step(actions)
        out.append((obs, actions, rewards, dones))
        obs = next_obs
    return out


# ---------------------------------------------------------------------------------------
# Spaces, shapes and types
# ---------------------------------------------------------------------------------------


def test_it_is_an_sb3_vec_env_with_two_slots_per_game() -> None:
    env = FrogToadVecEnv(3, seed=0)
    assert isinstance(env, VecEnv)
    assert env.num_envs == 6
    assert env.observation_space == observation_space("egocentric", WIDTH)
    assert env.action_space.n == 4


@pytest.mark.parametrize("obs_mode", ["egocentric", "paper"])
def test_reset_returns_float32_observations_inside_the_space(obs_mode: str) -> None:
    env = FrogToadVecEnv(3, EnvConfig(obs_mode=obs_mode), seed=0)
    obs = env.reset()
    assert obs.shape == (6, env.observation_space.shape[0])
    assert obs.dtype == np.float32
    assert all(env.observation_space.contains(row) for row in obs)


def test_step_returns_rewards_dones_and_a_list_of_infos_per_slot() -> None:
    env = FrogToadVecEnv(3, seed=0)
    env.reset()
    obs, rewards, dones, infos = env.step(np.zeros(6, dtype=np.int64))
    assert obs.shape == (6, OBS_DIM) and obs.dtype == np.float32
    assert all(env.observation_space.contains(row) for row in obs)
    assert rewards.shape == (6,) and np.issubdtype(rewards.dtype, np.floating)
    assert dones.shape == (6,) and dones.dtype == np.bool_
    assert isinstance(infos, list) and len(infos) == 6 and all(isinstance(i, dict) for i in infos)


@pytest.mark.parametrize("n_games", [0, -1, 1.5, True, "2"])
def test_bad_n_games_raises_value_error(n_games: object) -> None:
    with pytest.raises(ValueError, match="n_games"):
        FrogToadVecEnv(n_games)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Slots: 2g is the frog of game g, 2g + 1 the toad
# ---------------------------------------------------------------------------------------


def test_slot_2g_is_the_frog_and_2g_plus_1_the_toad_of_game_g() -> None:
    env = FrogToadVecEnv(4, EnvConfig(max_steps=100), seed=1)
    policy = random_policy(1)
    obs = env.reset()
    for t in range(40):
        game = env.game
        for g in range(env.n_games):
            for player, slot in ((core.FROG, 2 * g), (core.TOAD, 2 * g + 1)):
                partner = 1 - player
                assert np.argmax(field(obs[slot], "self/position")) == game.position[g, player]
                assert np.argmax(field(obs[slot], "other/position")) == game.position[g, partner]
                assert field(obs[slot], "self/energy")[0] == np.float32(game.energy[g, player] / 20)
                assert field(obs[slot], "other/energy")[0] == np.float32(game.energy[g, partner] / 20)
                np.testing.assert_array_equal(field(obs[slot], "world/ground"), game.rough[g])
        obs, *_ = env.step(policy(t, obs))


def test_slot_actions_go_to_the_matching_player() -> None:
    """Frogs hop and toads jump: only the frogs score."""
    env = FrogToadVecEnv(3, seed=2)
    env.reset()
    actions = np.tile([core.HOP, core.JUMP], 3)
    for _ in range(5):
        env.step(actions)
    np.testing.assert_array_equal(env.game.score[:, core.FROG], 5)
    np.testing.assert_array_equal(env.game.score[:, core.TOAD], 0)
    np.testing.assert_array_equal(env.game.last_action, np.tile([core.HOP, core.JUMP], (3, 1)))


# ---------------------------------------------------------------------------------------
# Rewards
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prosocial", [0.0, 0.25, 1.0])
def test_rewards_are_points_mixed_with_the_partners_by_prosocial(prosocial: float) -> None:
    env = FrogToadVecEnv(4, EnvConfig(prosocial=prosocial, max_steps=1000), seed=3)
    policy = random_policy(3)
    obs = env.reset()
    for t in range(60):
        before = env.game.score.copy()
        obs, rewards, _, _ = env.step(policy(t, obs))
        points = (env.game.score - before).astype(np.float64)  # (games, 2)
        expected = (1 - prosocial) * points + prosocial * points[:, ::-1]
        np.testing.assert_allclose(rewards, expected.reshape(-1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [0.1, 2.0])
def test_reward_scale_multiplies_the_rewards_and_nothing_else(scale: float) -> None:
    plain = FrogToadVecEnv(3, EnvConfig(prosocial=0.25, max_steps=30), seed=5)
    scaled = RewardScale(FrogToadVecEnv(3, EnvConfig(prosocial=0.25, max_steps=30), seed=5), scale)
    policy = random_policy(5)
    obs, scaled_obs = plain.reset(), scaled.reset()
    np.testing.assert_array_equal(obs, scaled_obs)
    for t in range(30):
        actions = policy(t, obs)
        obs, rewards, dones, infos = plain.step(actions)
        scaled_obs, scaled_rewards, scaled_dones, scaled_infos = scaled.step(actions)
        np.testing.assert_array_equal(obs, scaled_obs)
        np.testing.assert_array_equal(dones, scaled_dones)
        assert scaled_rewards.dtype == np.float32
        np.testing.assert_allclose(scaled_rewards, scale * rewards, rtol=1e-6, atol=0)
    assert dones.all()
    for info, scaled_info in zip(infos, scaled_infos, strict=True):  # the logged return stays in points
        assert scaled_info["episode"]["r"] == info["episode"]["r"]
        assert scaled_info["episode"]["score"] == info["episode"]["score"]


@pytest.mark.parametrize("scale", [0.0, -1.0, math.inf, math.nan])
def test_reward_scale_must_be_positive(scale: float) -> None:
    with pytest.raises(ValueError, match="reward_scale must be a finite number > 0"):
        RewardScale(FrogToadVecEnv(1), scale)


# ---------------------------------------------------------------------------------------
# Episode end
# ---------------------------------------------------------------------------------------


def test_episode_ends_exactly_at_max_steps_with_sb3_end_of_episode_infos() -> None:
    max_steps, n_games, seed = 7, 3, 4
    env = FrogToadVecEnv(n_games, EnvConfig(max_steps=max_steps), seed=seed)
    # a twin with a longer episode follows the same trajectory and shows the final state
    twin = FrogToadVecEnv(n_games, EnvConfig(max_steps=max_steps + 5), seed=seed)
    start_obs = FrogToadVecEnv(n_games, seed=99).reset()  # the start state has no randomness
    actions_rng = np.random.default_rng(4)
    obs, twin_obs = env.reset(), twin.reset()
    returns = np.zeros(env.num_envs)
    for t in range(1, max_steps + 1):
        actions = actions_rng.integers(0, 4, size=env.num_envs)
        obs, rewards, dones, infos = env.step(actions)
        twin_obs, twin_rewards, _, _ = twin.step(actions)
        returns += rewards
        if t < max_steps:
            assert not dones.any()
            assert all("terminal_observation" not in i and "episode" not in i for i in infos)
            np.testing.assert_array_equal(obs, twin_obs)
    assert dones.all()
    for slot, info in enumerate(infos):
        g, player = divmod(slot, 2)
        np.testing.assert_array_equal(info["terminal_observation"], twin_obs[slot])
        assert info["TimeLimit.truncated"] is True
        episode = info["episode"]
        assert episode["r"] == pytest.approx(returns[slot], abs=1e-9)
        assert episode["l"] == max_steps
        assert episode["score"] == twin.game.score[g, player]
        assert episode["t"] >= 0.0
    # the slots started over
    np.testing.assert_array_equal(obs, start_obs)
    assert (env.game.steps == 0).all() and (env.game.score == 0).all()
    # the next episode counts its own return and length from zero
    second_returns = np.zeros(env.num_envs)
    for t in range(1, max_steps + 1):
        obs, rewards, dones, infos = env.step(np.zeros(env.num_envs, dtype=np.int64))
        second_returns += rewards
        assert dones.all() == (t == max_steps)
    assert [i["episode"]["r"] for i in infos] == pytest.approx(second_returns.tolist())
    assert [i["episode"]["l"] for i in infos] == [max_steps] * env.num_envs


# ---------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------


def trajectory(env: FrogToadVecEnv, steps: int = 60) -> list[np.ndarray]:
    policy = random_policy(0)
    return [np.concatenate([o.ravel(), r]) for o, _, r, _ in rollout(env, policy, steps)]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_same_seed_gives_identical_trajectories_and_another_seed_does_not() -> None:
    config = EnvConfig(max_steps=25)  # crosses two episode ends
    a = trajectory(FrogToadVecEnv(3, config, seed=5))
    b = trajectory(FrogToadVecEnv(3, config, seed=5))
    c = trajectory(FrogToadVecEnv(3, config, seed=6))
    assert same(a, b)
    assert not same(a, c)


def test_seed_then_reset_reseeds() -> None:
    env = FrogToadVecEnv(3, EnvConfig(max_steps=25), seed=None)
    assert env.seed(7) == [7] * 6
    first = trajectory(env)
    continued = trajectory(env)  # reset() without a new seed keeps the stream going
    env.seed(7)
    again = trajectory(env)
    assert same(first, again)
    assert not same(first, continued)
    assert same(first, trajectory(FrogToadVecEnv(3, EnvConfig(max_steps=25), seed=7)))


def test_ppo_seed_reaches_the_env() -> None:
    def first_rollout(seed: int) -> np.ndarray:
        env = FrogToadVecEnv(2, EnvConfig(max_steps=50), seed=None)
        model = PPO("MlpPolicy", env, n_steps=40, batch_size=160, n_epochs=1, seed=seed, device="cpu")
        model.learn(160)
        return model.rollout_buffer.observations.copy()

    first = first_rollout(11)
    np.testing.assert_array_equal(first, first_rollout(11))
    assert not np.array_equal(first, first_rollout(12))


# ---------------------------------------------------------------------------------------
# SB3 wrappers and training
# ---------------------------------------------------------------------------------------


def test_vec_monitor_and_vec_check_nan_see_the_same_episodes() -> None:
    env = VecMonitor(VecCheckNan(FrogToadVecEnv(2, EnvConfig(max_steps=6), seed=8), raise_exception=True))
    env.reset()
    total = np.zeros(4)
    for _ in range(6):
        _, rewards, dones, infos = env.step(np.zeros(4, dtype=np.int64))
        total += rewards
    assert dones.all()
    assert [i["episode"]["r"] for i in infos] == pytest.approx(total.tolist())
    assert [i["episode"]["l"] for i in infos] == [6] * 4


def test_ppo_learns_a_few_hundred_steps_under_vec_monitor_and_vec_check_nan() -> None:
    max_steps = 20
    env = VecMonitor(VecCheckNan(FrogToadVecEnv(4, EnvConfig(max_steps=max_steps), seed=9), raise_exception=True))
    model = PPO("MlpPolicy", env, policy_kwargs=coupled_policy_kwargs(coupling=0.5), n_steps=32, batch_size=64,
                n_epochs=2, seed=0, device="cpu")  # fmt: skip
    model.learn(400)
    assert model.num_timesteps >= 400
    assert len(model.ep_info_buffer) >= 8
    assert all(ep["l"] == max_steps for ep in model.ep_info_buffer)
    assert all(math.isfinite(ep["r"]) for ep in model.ep_info_buffer)


# ---------------------------------------------------------------------------------------
# Behaviour rates in the episode info
# ---------------------------------------------------------------------------------------


def hand_counted_rates(seen: list[np.ndarray], actions: list[np.ndarray], slot: int) -> dict[str, float]:
    """The rates of one slot counted from what it saw before acting and what it chose."""
    n = helps = partner_distressed = helps_distressed = helps_ok = stalled = rough_ahead = leaps_rough = 0
    for obs, act in zip(seen, actions):
        o, a = obs[slot], int(act[slot])
        n += 1
        helps += a == core.HELP
        pd = field(o, "other/distress")[0] == 1.0
        partner_distressed += pd
        helps_distressed += a == core.HELP and pd
        helps_ok += a == core.HELP and not pd
        stalled += field(o, "self/stalled")[0] == 1.0
        ra = field(o, "self/rough_ahead")[0] == 1.0
        rough_ahead += ra
        leaps_rough += ra and a == core.LEAP

    def ratio(x: int, y: int) -> float:
        return x / y if y else math.nan

    return {
        "help_rate": ratio(helps, n),
        "help_rate_partner_distressed": ratio(helps_distressed, partner_distressed),
        "help_rate_partner_ok": ratio(helps_ok, n - partner_distressed),
        "stalled_fraction": ratio(stalled, n),
        "leap_rate_rough_ahead": ratio(leaps_rough, rough_ahead),
    }


def run_episode(env: FrogToadVecEnv, policy: Policy) -> tuple[list[np.ndarray], list[np.ndarray], list[dict]]:
    obs = env.reset()
    seen, chosen = [], []
    for t in range(env.config.max_steps):
        actions = np.asarray(policy(t, obs))
        seen.append(obs)
        chosen.append(actions)
        obs, _, dones, infos = env.step(actions)
    assert dones.all()
    return seen, chosen, infos


def assert_rates_equal(got: dict[str, float], expected: dict[str, float]) -> None:
    for key, value in expected.items():
        assert (math.isnan(got[key]) and math.isnan(value)) or got[key] == pytest.approx(value), (key, got, expected)


def test_always_help_gives_help_rate_one() -> None:
    env = FrogToadVecEnv(2, EnvConfig(max_steps=12), seed=10)
    seen, chosen, infos = run_episode(env, lambda t, obs: np.full(obs.shape[0], core.HELP))
    for slot, info in enumerate(infos):
        episode = info["episode"]
        assert episode["help_rate"] == 1.0
        assert episode["leap_rate_rough_ahead"] == 0.0 or math.isnan(episode["leap_rate_rough_ahead"])
        assert_rates_equal(episode, hand_counted_rates(seen, chosen, slot))


def test_never_help_gives_help_rate_zero() -> None:
    env = FrogToadVecEnv(2, EnvConfig(max_steps=12), seed=10)
    _, _, infos = run_episode(env, lambda t, obs: np.full(obs.shape[0], core.HOP))
    assert all(info["episode"]["help_rate"] == 0.0 for info in infos)
    assert all(info["episode"]["stalled_fraction"] == 0.0 for info in infos)  # 12 hops cannot drain 20 energy


def test_behaviour_rates_agree_with_a_hand_count_on_a_scripted_trajectory() -> None:
    """Frogs cycle help, leap, hop, jump; toads play at random; long enough to see rough ground."""
    rng = np.random.default_rng(12)
    cycle = [core.HELP, core.LEAP, core.HOP, core.JUMP]

    def policy(t: int, obs: np.ndarray) -> np.ndarray:
        actions = rng.integers(0, 4, size=obs.shape[0])
        actions[0::2] = cycle[t % 4]
        return actions

    env = FrogToadVecEnv(3, EnvConfig(max_steps=80), seed=12)
    seen, chosen, infos = run_episode(env, policy)
    for slot, info in enumerate(infos):
        assert_rates_equal(info["episode"], hand_counted_rates(seen, chosen, slot))
    assert infos[0]["episode"]["help_rate"] == 20 / 80  # one help in every four steps


def test_always_leap_stalls_and_the_stalled_fraction_agrees_with_a_hand_count() -> None:
    """A leap costs 1 energy, so 30 leaps from 20 energy leave each player stalled for a while."""
    env = FrogToadVecEnv(2, EnvConfig(max_steps=30), seed=13)
    seen, chosen, infos = run_episode(env, lambda t, obs: np.full(obs.shape[0], core.LEAP))
    for slot, info in enumerate(infos):
        assert info["episode"]["stalled_fraction"] >= 10 / 30
        assert_rates_equal(info["episode"], hand_counted_rates(seen, chosen, slot))
