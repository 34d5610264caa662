"""The training recipes of ``examples/`` run end to end for a few thousand steps, and the
pieces they share follow the game's rules.

Each library's test is skipped, naming the missing package, only when that library is
not installed (``pip install -c constraints.txt -e ".[dev,libs]"``; RLlib lives in its own
venv, see docs/libraries.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cmni.probe import measure_policy
from cmni.probe_set import build_probe_set
from frogtoad_env import EnvConfig, core

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from cleanrl_ppo_core import PPOConfig, SelfPlayGames, train  # noqa: E402
from measure import self_play_score, tanh_layers  # noqa: E402

SHORT = EnvConfig(max_steps=50)


LIBS_EXTRA = "pip install -c constraints.txt -e '.[libs]'"


def needs(module: str, install: str = LIBS_EXTRA):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed ({install})")


@pytest.fixture(scope="module")
def probe_set():
    return build_probe_set(SHORT, per_scenario=20, seed=0, n_games=64)


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


# --------------------------------------------------------------------------- shared pieces


def test_self_play_score_of_a_hop_only_policy_equals_the_rules_run_by_hand() -> None:
    always_hop = lambda obs: torch.tensor([[50.0, -50.0, -50.0, -50.0]]).expand(obs.shape[0], 4)  # noqa: E731
    score = self_play_score(always_hop, SHORT, n_games=8, seed=3)
    stream, games = core.RandomStream(3), core.new_games(8, SHORT.rules)
    for _ in range(SHORT.max_steps):
        core.step(games, np.full((8, 2), core.HOP, dtype=np.int64), SHORT.rules, stream)
    assert score == pytest.approx(games.score.mean())
    assert 0 < score <= SHORT.max_steps  # one point per successful hop


def test_lean_selfplay_rewards_mix_own_and_partner_points_by_prosocial() -> None:
    config = EnvConfig(max_steps=5, prosocial=0.25)
    env = SelfPlayGames(3, config, seed=1)
    actions = np.array([core.HOP, core.LEAP, core.HOP, core.HOP, core.JUMP, core.HOP])
    rewards, obs, truncated = env.step(actions)
    points = env.games.score.astype(np.float32)  # first step: points gained == score
    expected = 0.75 * points + 0.25 * points[:, ::-1]
    np.testing.assert_allclose(rewards, expected.reshape(-1))
    assert obs.shape == (6, 158) and not truncated
    for _ in range(4):
        *_, truncated = env.step(actions)
    assert truncated  # after max_steps steps


def test_lean_ppo_trains_whole_rollouts_and_its_actor_is_probed(probe_set) -> None:
    config = PPOConfig(timesteps=4 * 64 * 2 * 4, n_games=4, n_steps=64, seed=0)  # four rollouts of 512 agent-steps
    agent, scores = train(config, SHORT, log=False)
    assert len(scores) == 4 * 64 // SHORT.max_steps  # the games end together every 50 steps
    untouched = type(agent)(158, config.hidden)
    assert any(not torch.equal(a, b) for a, b in zip(_weights(agent.actor), _weights(untouched.actor)))
    measured = measure_policy(agent.actor, probe_set, n_permutations=5, seed=0,
                              layers={"pi.0": agent.actor[1], "pi.1": agent.actor[3]})  # fmt: skip
    assert measured.result.n_neurons == 128 and list(measured.result.per_layer) == ["pi.0", "pi.1"]


# --------------------------------------------------------------------------- TorchRL


@needs("torchrl")
def test_torchrl_mappo_trains_and_the_policy_is_probed(probe_set) -> None:
    from torchrl_mappo import GROUP, make_env
    from torchrl_mappo import train as train_torchrl

    env = make_env(max_steps=SHORT.max_steps)
    assert env.group_map == {GROUP: ["frog", "toad"]}  # one group: the shared policy sees an agent axis of 2
    assert env.observation_spec[GROUP, "observation"].shape == (2, 158)
    policy = train_torchrl(frames=1024, n_envs=2, seed=0, max_steps=SHORT.max_steps, frames_per_batch=512, log=False)
    measured = measure_policy(policy, probe_set, n_permutations=5, seed=0)
    assert measured.result.n_neurons == 128 and np.isfinite(measured.result.cmni)


# --------------------------------------------------------------------------- Tianshou


@needs("tianshou")
def test_tianshou_aec_turns_carry_each_players_points() -> None:
    from tianshou_ppo_aec import make_env

    env = make_env(max_steps=SHORT.max_steps)
    parallel = frogtoad_env_parallel(SHORT.max_steps)
    env.reset(seed=4)
    parallel.reset(seed=4)
    previous = {"frog": 0.0, "toad": 0.0}
    for t in range(20):
        actions = {"frog": core.HOP if t % 3 else core.LEAP, "toad": core.HOP}
        obs, frog_turn_rewards, *_ = env.step(actions["frog"])
        assert obs["agent_id"] == "toad"
        assert frog_turn_rewards == [previous["frog"], previous["toad"]]  # last resolved step, one late
        obs, toad_turn_rewards, *_ = env.step(actions["toad"])
        _, rewards, *_ = parallel.step(actions)
        assert toad_turn_rewards == [rewards["frog"], rewards["toad"]]  # this step's points
        previous = rewards


def frogtoad_env_parallel(max_steps: int):
    import frogtoad_env

    return frogtoad_env.parallel_env(max_steps=max_steps)


@needs("tianshou")
def test_tianshou_shared_ppo_trains_and_the_actor_is_probed(probe_set) -> None:
    from tianshou_ppo_aec import train as train_tianshou

    actor = train_tianshou(steps=2048, n_envs=2, seed=0, max_steps=SHORT.max_steps, rollout=1024, log=False)
    measured = measure_policy(actor, probe_set, n_permutations=5, seed=0, forward=lambda m, x: m(x)[0])
    assert measured.result.n_neurons == 128 and measured.recorded.logits.shape == (80, 4)


# --------------------------------------------------------------------------- RLlib


@needs("ray", install="its own venv, see docs/libraries.md")
def test_rllib_shared_ppo_trains_one_iteration_and_the_module_is_probed(probe_set) -> None:
    # Ray core (the sweep's [ray] extra) ships the ray.rllib package without RLlib's dependencies
    pytest.importorskip("ray.rllib", reason="RLlib is not installed (ray[rllib], its own venv, see docs/libraries.md)")
    import ray
    from rllib_ppo_shared import logits, make_config

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        algo = make_config(seed=0, max_steps=SHORT.max_steps).build_algo()
        algo.train()
        module = algo.get_module("shared")
        layers = tanh_layers(module, within="actor_encoder")
        assert list(layers) == ["pi.0", "pi.1"]
        measured = measure_policy(module, probe_set, n_permutations=5, seed=0, layers=layers, forward=logits)
        assert measured.result.n_neurons == 128
        algo.stop()
    finally:
        ray.shutdown()
