"""The actor's weight chain (cmni.weights) matches the network and the recorder's layer names."""

from __future__ import annotations

import numpy as np
import pytest

from frogtoad_env.config import EnvConfig


def test_policy_weight_chain_matches_the_network() -> None:
    from stable_baselines3 import PPO

    from agents.coupled import coupled_policy_kwargs
    from agents.vec_env import FrogToadVecEnv
    from cmni.weights import policy_weight_chain

    model = PPO("MlpPolicy", FrogToadVecEnv(1, EnvConfig()), n_steps=8, batch_size=8,
                policy_kwargs=coupled_policy_kwargs(0.5, (12, 6, 5)), device="cpu")  # fmt: skip
    names, weights = policy_weight_chain(model.policy)
    assert names == ["coupled", "pi.0", "pi.1"]
    assert [w.shape for w in weights] == [(6, 12), (5, 6), (4, 5)]
    assert np.array_equal(weights[0], model.policy.mlp_extractor.policy_net[0].weight.detach().numpy())
    assert np.array_equal(weights[-1], model.policy.action_net.weight.detach().numpy())


def test_a_policy_without_an_actor_is_a_value_error() -> None:
    from torch import nn

    from cmni.weights import policy_weight_chain

    with pytest.raises(ValueError, match="^Linear "):
        policy_weight_chain(nn.Linear(3, 2))
