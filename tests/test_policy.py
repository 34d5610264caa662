"""``agents.policy.CategoricalActorCriticPolicy`` computes what SB3's ``ActorCriticPolicy`` does.

1. Acting: from the same weights and the same torch random state, ``forward`` returns the
   actions, values and log-probabilities of SB3's class, bit for bit; deterministic
   actions are the most probable ones.
2. Learning: ``evaluate_actions`` returns SB3's values, log-probabilities and entropies,
   and the gradients of a PPO-like loss through it are SB3's, bit for bit.
3. A whole run: PPO trained from one seed with either class ends with the same weights,
   bit for bit. ``train.py``'s models use this class; a saved model loads with it.
4. An action space other than ``Discrete`` is refused, naming it.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy

import agents.training
from agents.checkpoints import load_ppo, save_ppo
from agents.coupled import coupled_policy_kwargs
from agents.policy import CategoricalActorCriticPolicy
from agents.training import make_env, make_model
from experiment.config import TrainConfig
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import observation_space

SPACE = observation_space("egocentric", 32)
ACTIONS = spaces.Discrete(5)
#: 4 games (8 slots) x 64 steps = 512 agent-steps per rollout, 2 minibatches of 256, 3 epochs
SMALL = TrainConfig(
    timesteps=1536, n_games=4, n_steps=64, n_minibatches=2, n_epochs=3, probe=False, checkpoint_every=10**6,
    env=EnvConfig(max_steps=100), net_arch=(32, 32), seed=3,
)  # fmt: skip


def twin_policies() -> tuple[ActorCriticPolicy, CategoricalActorCriticPolicy]:
    """SB3's policy and ours with the same (coupled, tanh) network and the same weights."""
    kwargs = coupled_policy_kwargs(coupling=0.5, net_arch=(16, 16))
    sb3 = ActorCriticPolicy(SPACE, ACTIONS, lambda _: 1e-3, **kwargs)
    ours = CategoricalActorCriticPolicy(SPACE, ACTIONS, lambda _: 1e-3, **kwargs)
    ours.load_state_dict(sb3.state_dict())
    return sb3, ours


def observations(n: int, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).random((n, SPACE.shape[0]), dtype=np.float32))


def test_acting_returns_sb3s_actions_values_and_log_probabilities_bit_for_bit() -> None:
    sb3, ours = twin_policies()
    obs = observations(300)
    outputs = []
    for policy in (sb3, ours):
        torch.manual_seed(7)
        with torch.no_grad():
            outputs.append(policy(obs))
    for expected, got in zip(*outputs):
        assert expected.shape == got.shape and expected.dtype == got.dtype
        assert torch.equal(expected, got)
    assert len(torch.unique(outputs[1][0])) > 1  # the sampled actions vary: the check is not vacuous


def test_deterministic_actions_are_the_most_probable() -> None:
    sb3, ours = twin_policies()
    obs = observations(200, seed=1)
    with torch.no_grad():
        actions, _, log_prob = ours(obs, deterministic=True)
        logits = ours.action_net(ours.mlp_extractor.forward_actor(ours.extract_features(obs)))
        expected_actions, _, _ = sb3(obs, deterministic=True)
    probabilities = torch.softmax(logits.double(), dim=1)
    assert torch.equal(actions, probabilities.argmax(dim=1))
    assert torch.equal(actions, expected_actions)
    assert torch.allclose(log_prob.double(), probabilities.max(dim=1).values.log(), atol=1e-6)


def test_evaluate_actions_and_its_gradients_are_sb3s_bit_for_bit() -> None:
    sb3, ours = twin_policies()
    obs = observations(256, seed=2)
    actions = torch.as_tensor(np.random.default_rng(3).integers(0, ACTIONS.n, 256))
    advantages = torch.randn(256, generator=torch.Generator().manual_seed(4))
    results, gradients = [], []
    for policy in (sb3, ours):
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        loss = -(advantages * torch.exp(log_prob)).mean() + values.pow(2).mean() - 0.01 * entropy.mean()
        policy.zero_grad()
        loss.backward()
        results.append((values, log_prob, entropy))
        gradients.append([p.grad.clone() for p in policy.parameters()])
    for expected, got in zip(*results):
        assert torch.equal(expected, got)
    assert all(torch.equal(expected, got) for expected, got in zip(*gradients))
    # the entropy is the categorical one: -sum p log p, computed here in float64
    with torch.no_grad():
        logits = ours.action_net(ours.mlp_extractor.forward_actor(ours.extract_features(obs))).double()
    p = torch.softmax(logits, dim=1)
    assert torch.allclose(results[1][2].double(), -(p * p.log()).sum(dim=1), atol=1e-6)


def trained_weights(policy_class: type[ActorCriticPolicy]) -> dict[str, torch.Tensor]:
    with mock.patch.object(agents.training, "POLICY_CLASS", policy_class):
        model = make_model(SMALL, make_env(SMALL))
    assert type(model.policy) is policy_class
    model.learn(SMALL.timesteps)
    return model.policy.state_dict()


def test_a_run_trains_to_sb3s_weights_bit_for_bit() -> None:
    expected, got = trained_weights(ActorCriticPolicy), trained_weights(CategoricalActorCriticPolicy)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    untrained = make_model(SMALL, make_env(SMALL)).policy.state_dict()
    assert not torch.equal(untrained["action_net.weight"], got["action_net.weight"])  # it did learn


def test_train_py_models_use_it_and_a_saved_model_loads_with_it(tmp_path: Path) -> None:
    model = make_model(SMALL, make_env(SMALL))
    assert type(model.policy) is CategoricalActorCriticPolicy
    save_ppo(model, tmp_path / "model.zip")
    assert type(load_ppo(tmp_path / "model.zip", SMALL).policy) is CategoricalActorCriticPolicy


def test_an_action_space_other_than_discrete_is_refused() -> None:
    box = spaces.Box(-1.0, 1.0, (2,))
    with pytest.raises(ValueError, match=r"needs a Discrete action space, got Box"):
        CategoricalActorCriticPolicy(SPACE, box, lambda _: 1e-3)
    with pytest.raises(ValueError, match=r"needs a Discrete action space, got Box"):
        PPO(CategoricalActorCriticPolicy, "Pendulum-v1", device="cpu")
