"""Rules for cmni.recorder: which modules are probed, what is recorded, and that the
policy comes out of a probe exactly as it went in."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

import frogtoad_env  # noqa: F401  (registers FrogToad-v0)
from cmni import compute_cmni
from cmni.recorder import layer_names, record_activations, untrained_copy


def _policy(obs_dim: int, n_actions: int = 2, **kwargs) -> ActorCriticPolicy:
    return ActorCriticPolicy(
        spaces.Box(-10.0, 10.0, shape=(obs_dim,), dtype=np.float32),
        spaces.Discrete(n_actions),
        lr_schedule=lambda _: 0.0,
        **kwargs,
    )


def _no_hooks(policy: nn.Module) -> bool:
    return all(len(m._forward_hooks) == 0 and len(m._forward_pre_hooks) == 0 for m in policy.modules())


def _state(policy: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in policy.state_dict().items()}


# --------------------------------------------------------------------------- #
# A hand-built network with known answers
# --------------------------------------------------------------------------- #

# Observation [s, o, x]: s = "I am in distress", o = "my partner is in distress", x a nuisance.
# pi.0 unit 0 = relu(2s + o + x - 1): fires for self AND partner distress -> a mirror unit.
# pi.0 unit 1 = relu(3o): fires only for the partner's distress.
W_PI = np.array([[2.0, 1.0, 1.0], [0.0, 3.0, 0.0]], dtype=np.float32)
B_PI = np.array([-1.0, 0.0], dtype=np.float32)
W_ACT = np.array([[1.0, -1.0], [0.5, 2.0]], dtype=np.float32)
B_ACT = np.array([0.25, -0.5], dtype=np.float32)

# two states per scenario, x = 0.5 and 1.5
HAND_OBS = np.array(
    [[0, 0, 0.5], [0, 0, 1.5],  # 0 none
     [1, 0, 0.5], [1, 0, 1.5],  # 1 self
     [0, 1, 0.5], [0, 1, 1.5],  # 2 other
     [1, 1, 0.5], [1, 1, 1.5]],  # 3 both
    dtype=np.float32,
)  # fmt: skip
HAND_SCENARIOS = np.array([0, 0, 1, 1, 2, 2, 3, 3])


def _hand_policy() -> ActorCriticPolicy:
    policy = _policy(3, net_arch=dict(pi=[2], vf=[2]), activation_fn=nn.ReLU)
    with torch.no_grad():
        policy.mlp_extractor.policy_net[0].weight.copy_(torch.from_numpy(W_PI))
        policy.mlp_extractor.policy_net[0].bias.copy_(torch.from_numpy(B_PI))
        policy.action_net.weight.copy_(torch.from_numpy(W_ACT))
        policy.action_net.bias.copy_(torch.from_numpy(B_ACT))
    return policy


def test_hand_network_activations_equal_the_hand_matrix_computation() -> None:
    policy = _hand_policy()
    rec = record_activations(policy, HAND_OBS)
    assert list(rec.layers) == ["pi.0"]  # the value net's ReLU is not on the actor path
    hidden = np.maximum(HAND_OBS @ W_PI.T + B_PI, 0.0)
    expected_unit0 = [0.0, 0.5, 1.5, 2.5, 0.5, 1.5, 2.5, 3.5]  # relu(2s + o + x - 1)
    expected_unit1 = [0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 3.0]  # relu(3o)
    np.testing.assert_allclose(hidden[:, 0], expected_unit0)
    np.testing.assert_allclose(hidden[:, 1], expected_unit1)
    np.testing.assert_allclose(rec.layers["pi.0"], hidden, rtol=1e-6)
    np.testing.assert_allclose(rec.logits, hidden @ W_ACT.T + B_ACT, rtol=1e-6)
    assert rec.layers["pi.0"].dtype == np.float32 and rec.logits.shape == (8, 2)


def test_hand_network_cmni_equals_the_hand_value() -> None:
    rec = record_activations(_hand_policy(), HAND_OBS)
    result = compute_cmni(rec.layers, HAND_SCENARIOS)
    # unit 0: mu(none) = 0.25, mu(self) = 2.0, mu(other) = 1.0
    #         delta_self = 1.75, delta_other = 0.75 -> MNS = 0.75 (mirror candidate)
    # unit 1: mu(none) = 0, mu(self) = 0, mu(other) = 3 -> delta_self = 0 -> MNS = 0
    # CMNI = (0.75 + 0) / 2 = 0.375
    assert result.cmni == pytest.approx(0.375)
    assert result.per_layer["pi.0"] == pytest.approx(0.375)
    np.testing.assert_allclose(result.mns, [0.75, 0.0])
    np.testing.assert_array_equal(result.candidate_mask, [True, False])
    np.testing.assert_allclose(result.delta_self, [1.75, 0.0])
    np.testing.assert_allclose(result.delta_other, [0.75, 3.0])


# --------------------------------------------------------------------------- #
# Hooks: exact layer outputs, model unchanged, nothing left behind
# --------------------------------------------------------------------------- #


def test_hooks_capture_exactly_each_linear_plus_activation_output() -> None:
    torch.manual_seed(0)
    policy = _policy(6, n_actions=4, net_arch=dict(pi=[5, 3], vf=[7]), activation_fn=nn.Tanh)
    obs = np.random.default_rng(0).normal(size=(37, 6)).astype(np.float32)
    rec = record_activations(policy, obs, batch_size=10)  # 4 batches, the last one short
    assert list(rec.layers) == ["pi.0", "pi.1"] == layer_names(policy)
    net = policy.mlp_extractor.policy_net
    with torch.no_grad():
        x = torch.from_numpy(obs)
        h0 = torch.tanh(net[0](x))
        h1 = torch.tanh(net[2](h0))
        logits = policy.action_net(h1)
    np.testing.assert_allclose(rec.layers["pi.0"], h0.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rec.layers["pi.1"], h1.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rec.logits, logits.numpy(), rtol=1e-6, atol=1e-6)
    assert rec.layer_sizes == {"pi.0": 5, "pi.1": 3} and rec.n_states == 37
    whole = record_activations(policy, obs)  # one batch gives the same numbers
    np.testing.assert_allclose(whole.layers["pi.1"], rec.layers["pi.1"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("training", [True, False])
def test_probe_leaves_the_model_unchanged(training: bool) -> None:
    policy = _policy(4, net_arch=dict(pi=[8, 8], vf=[8]))
    policy.train(training)
    before = _state(policy)
    record_activations(policy, np.ones((5, 4), dtype=np.float32))
    after = policy.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert all(p.grad is None for p in policy.parameters())
    assert _no_hooks(policy)
    assert all(m.training == training for m in policy.modules())


def test_hooks_are_removed_and_mode_restored_when_the_forward_pass_fails() -> None:
    policy = _policy(4, net_arch=dict(pi=[8], vf=[8]))
    policy.train(True)

    def boom(module: nn.Module, inputs: object, output: object) -> None:
        raise RuntimeError("boom")

    handle = policy.action_net.register_forward_hook(boom)
    with pytest.raises(RuntimeError, match="boom"):
        record_activations(policy, np.ones((3, 4), dtype=np.float32))
    handle.remove()
    assert _no_hooks(policy)
    assert all(m.training for m in policy.modules())


def test_bad_observations_are_rejected_with_the_expected_shape() -> None:
    policy = _policy(4, net_arch=dict(pi=[8], vf=[8]))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        record_activations(policy, np.ones((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        record_activations(policy, np.ones((0, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        record_activations(policy, np.ones((3, 4), dtype=np.float32), batch_size=0)
    assert _no_hooks(policy)


def test_plain_mlp_policy_of_a_ppo_model_on_frogtoad() -> None:
    env = gymnasium.make("FrogToad-v0")
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, seed=0, device="cpu")
    obs, _ = env.reset(seed=0)
    batch = np.stack([obs, env.step(0)[0], env.step(2)[0]])
    rec = record_activations(model.policy, batch)
    assert layer_names(model.policy) == ["pi.0", "pi.1"]
    assert rec.layers["pi.0"].shape == (3, 64) and rec.layers["pi.1"].shape == (3, 64)
    assert rec.logits.shape == (3, 4)
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(batch))
    np.testing.assert_allclose(
        torch.log_softmax(torch.from_numpy(rec.logits), dim=1).numpy(), dist.distribution.logits.numpy(), atol=1e-5
    )
    assert _no_hooks(model.policy)


# --------------------------------------------------------------------------- #
# Layer naming of features extractors
# --------------------------------------------------------------------------- #


class _Coupled(BaseFeaturesExtractor):
    """A stand-in for the coupled extractor: one named activation applied to two
    branches (the module runs twice per forward pass)."""

    probe_layer_names = {"activation": "coupled"}

    def __init__(self, observation_space: spaces.Box, units: int = 3) -> None:
        super().__init__(observation_space, features_dim=2 * units)
        half = observation_space.shape[0] // 2
        self.half = half
        self.self_in = nn.Linear(half, units)
        self.other_in = nn.Linear(half, units)
        self.activation = nn.ReLU()
        self.extra = nn.Sequential(nn.Linear(2 * units, 2 * units), nn.Tanh())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        a = self.activation(self.self_in(obs[:, : self.half]))
        b = self.activation(self.other_in(obs[:, self.half :]))
        return self.extra(torch.cat([a, b], dim=1))


class _Plain(BaseFeaturesExtractor):
    def __init__(self, observation_space: spaces.Box) -> None:
        super().__init__(observation_space, features_dim=4)
        self.net = nn.Sequential(nn.Linear(observation_space.shape[0], 4), nn.ELU(), nn.Linear(4, 4), nn.SiLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


def test_extractor_layers_are_named_by_probe_layer_names_then_features_k() -> None:
    policy = _policy(6, net_arch=dict(pi=[4], vf=[4]), features_extractor_class=_Coupled)
    assert layer_names(policy) == ["coupled", "features.0", "pi.0"]
    obs = np.random.default_rng(1).normal(size=(9, 6)).astype(np.float32)
    rec = record_activations(policy, obs)
    ext = policy.features_extractor
    with torch.no_grad():
        x = torch.from_numpy(obs)
        a = torch.relu(ext.self_in(x[:, :3]))
        b = torch.relu(ext.other_in(x[:, 3:]))
    # the shared activation ran twice: both outputs, concatenated in call order
    np.testing.assert_allclose(rec.layers["coupled"], torch.cat([a, b], 1).numpy(), rtol=1e-6, atol=1e-7)
    assert rec.layers["features.0"].shape == (9, 6) and rec.layers["pi.0"].shape == (9, 4)

    plain = _policy(6, net_arch=dict(pi=[4], vf=[4]), features_extractor_class=_Plain)
    assert layer_names(plain) == ["features.0", "features.1", "pi.0"]


def test_unshared_extractor_probes_the_actor_extractor_only() -> None:
    policy = _policy(6, net_arch=dict(pi=[4], vf=[4]), features_extractor_class=_Plain, share_features_extractor=False)
    assert policy.pi_features_extractor is not policy.vf_features_extractor
    obs = np.random.default_rng(2).normal(size=(5, 6)).astype(np.float32)
    rec = record_activations(policy, obs)
    with torch.no_grad():
        expected = policy.pi_features_extractor(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(rec.layers["features.1"], expected, rtol=1e-6, atol=1e-7)


def test_probe_layer_names_naming_a_missing_submodule_is_an_error() -> None:
    class Broken(_Plain):
        probe_layer_names = {"nope": "coupled"}

    policy = _policy(6, net_arch=dict(pi=[4], vf=[4]), features_extractor_class=Broken)
    with pytest.raises(ValueError, match="nope"):
        layer_names(policy)


# --------------------------------------------------------------------------- #
# untrained_copy
# --------------------------------------------------------------------------- #


def test_untrained_copy_same_architecture_new_weights_deterministic_per_seed() -> None:
    torch.manual_seed(123)
    policy = _policy(6, n_actions=4, net_arch=dict(pi=[5, 5], vf=[5]), features_extractor_class=_Coupled)
    rng_before = torch.get_rng_state()
    copy_a = untrained_copy(policy, seed=7)
    assert torch.equal(torch.get_rng_state(), rng_before)  # global torch RNG untouched
    copy_b = untrained_copy(policy, seed=7)
    copy_c = untrained_copy(policy, seed=8)
    assert type(copy_a) is type(policy)
    assert layer_names(copy_a) == layer_names(policy)
    ref, a, b, c = (m.state_dict() for m in (policy, copy_a, copy_b, copy_c))
    assert ref.keys() == a.keys()
    assert all(ref[k].shape == a[k].shape for k in ref)
    assert all(torch.equal(a[k], b[k]) for k in a)
    weights = [k for k in ref if k.endswith("weight")]
    assert all(not torch.equal(ref[k], a[k]) for k in weights)
    assert all(not torch.equal(a[k], c[k]) for k in weights)
    assert not copy_a.training
    assert all(p_a.data_ptr() != p.data_ptr() for p_a, p in zip(copy_a.parameters(), policy.parameters()))


def test_import_cmni_does_not_import_torch_and_exposes_the_torch_side_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cmni\n"
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules\n"
        "assert cmni.record_activations.__module__ == 'cmni.recorder'\n"
        "assert cmni.CMNICallback.__module__ == 'cmni.callback'\n"
        "assert cmni.ProbeSet.__module__ == 'cmni.probe_set'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
