"""The rules of the coupled first layer (``agents.coupled``), stated as tests.

    pre = W_world @ x_world + b + W_self @ x_self + W_other @ x_other
    W_other = c * W_self + (1 - c) * W_free

1. At c = 1 the partner is read with exactly one's own weights: swapping the self and
   other blocks of any input leaves ``pre`` unchanged, bit for bit.
2. At c = 0 the other pathway's weight is exactly ``W_free``; ``W_self`` and ``W_free``
   are independent parameters.
3. For any c, ``other_weight == c * W_self + (1 - c) * W_free`` and ``pre`` is the sum above.
4. Gradients reach world, W_self and W_free for 0 < c < 1; at c = 1 ``W_free`` takes no
   part in the output and receives zero gradient.
5. Bad observation shapes and couplings outside [0, 1] raise ValueError.
6. ``coupled_policy_kwargs`` builds a PPO policy whose actor path is
   ``coupled -> pi.0 -> ...``, and save/load keeps coupling and weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from stable_baselines3 import PPO
from torch import nn

from agents.coupled import CoupledExtractor, coupled_policy_kwargs
from agents.vec_env import FrogToadVecEnv
from cmni.recorder import layer_names
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import block_size, egocentric_layout, observation_space, swap_self_other

WIDTH = 32
SPACE = observation_space("egocentric", WIDTH)
OBS_DIM = SPACE.shape[0]
LAYOUT = egocentric_layout(WIDTH)
BLOCK = block_size(WIDTH)


def make_extractor(
    coupling: float, units: int = 16, seed: int = 0, width: int = WIDTH, activation: str = "tanh"
) -> CoupledExtractor:
    """A float64 extractor with random weights (all three weight sets differ)."""
    torch.manual_seed(seed)
    ext = CoupledExtractor(observation_space("egocentric", width), width=width, units=units, coupling=coupling,
                           activation=activation)  # fmt: skip
    with torch.no_grad():
        for param in ext.parameters():
            param.normal_()
    return ext.double()


def pre(ext: CoupledExtractor, obs: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return ext.pre_activation(torch.as_tensor(obs, dtype=torch.float64))


def blocks(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return obs[:, LAYOUT["world"]], obs[:, LAYOUT["self"]], obs[:, LAYOUT["other"]]


def weights(ext: CoupledExtractor) -> dict[str, np.ndarray]:
    return {
        "world": ext.world.weight.detach().numpy().copy(),
        "bias": ext.world.bias.detach().numpy().copy(),
        "self": ext.self_weights.weight.detach().numpy().copy(),
        "free": ext.free_weights.weight.detach().numpy().copy(),
    }


# ---------------------------------------------------------------------------------------
# 1. c = 1: a self/other swap leaves the pre-activation unchanged exactly
# ---------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    obs=hnp.arrays(np.float64, st.tuples(st.integers(1, 9), st.just(OBS_DIM)), elements=finite),
    seed=st.integers(0, 2**16),
    units=st.sampled_from([1, 5, 11, 17, 64]),
)
def test_at_full_coupling_swapping_self_and_other_leaves_pre_activation_bit_identical(
    obs: np.ndarray, seed: int, units: int
) -> None:
    ext = make_extractor(coupling=1.0, units=units, seed=seed)
    assert torch.equal(pre(ext, obs), pre(ext, swap_self_other(obs, WIDTH)))


@pytest.mark.parametrize("batch", [1, 2, 3, 64, 257, 1000])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_at_full_coupling_swap_invariance_holds_for_random_batches_in_both_precisions(
    batch: int, dtype: torch.dtype
) -> None:
    ext = make_extractor(coupling=1.0, units=64, seed=batch).to(dtype)
    obs = np.random.default_rng(batch).normal(scale=5.0, size=(batch, OBS_DIM))
    x = torch.as_tensor(obs, dtype=dtype)
    x_swapped = torch.as_tensor(swap_self_other(obs, WIDTH), dtype=dtype)
    with torch.no_grad():
        assert torch.equal(ext.pre_activation(x), ext.pre_activation(x_swapped))
        assert torch.equal(ext(x), ext(x_swapped))


def test_at_full_coupling_the_other_weight_is_exactly_the_self_weight() -> None:
    ext = make_extractor(coupling=1.0)
    assert torch.equal(ext.other_weight, ext.self_weights.weight)


def test_below_full_coupling_a_swap_does_change_the_pre_activation() -> None:
    """The invariance is a property of c = 1, not of the layer (the test above can fail)."""
    obs = np.random.default_rng(1).random((8, OBS_DIM))
    for c in (0.0, 0.5, 0.99):
        ext = make_extractor(coupling=c)
        assert not torch.allclose(pre(ext, obs), pre(ext, swap_self_other(obs, WIDTH)))


# ---------------------------------------------------------------------------------------
# 2. c = 0: the other pathway is exactly W_free, independent of W_self
# ---------------------------------------------------------------------------------------


def test_at_zero_coupling_the_other_weight_is_exactly_w_free() -> None:
    ext = make_extractor(coupling=0.0)
    assert torch.equal(ext.other_weight, ext.free_weights.weight)


def test_at_zero_coupling_w_self_and_w_free_are_independent_parameters() -> None:
    ext = make_extractor(coupling=0.0)
    assert ext.self_weights.weight is not ext.free_weights.weight
    assert ext.self_weights.weight.data_ptr() != ext.free_weights.weight.data_ptr()
    names = {name for name, _ in ext.named_parameters()}
    assert {"self_weights.weight", "free_weights.weight"} <= names

    rng = np.random.default_rng(2)
    other_only = np.zeros((16, OBS_DIM))
    other_only[:, LAYOUT["other"]] = rng.normal(size=(16, BLOCK))
    self_only = np.zeros((16, OBS_DIM))
    self_only[:, LAYOUT["self"]] = rng.normal(size=(16, BLOCK))

    other_before, self_before = pre(ext, other_only), pre(ext, self_only)
    free_before = ext.free_weights.weight.detach().clone()
    with torch.no_grad():
        ext.self_weights.weight.add_(1.0)  # change W_self only
    assert torch.equal(ext.free_weights.weight, free_before)
    assert torch.equal(ext.other_weight, free_before)
    assert torch.equal(pre(ext, other_only), other_before)  # the other pathway did not move
    assert not torch.equal(pre(ext, self_only), self_before)

    self_before = pre(ext, self_only)
    other_before = pre(ext, other_only)
    with torch.no_grad():
        ext.free_weights.weight.mul_(-2.0)  # change W_free only
    assert torch.equal(pre(ext, self_only), self_before)  # the self pathway did not move
    assert not torch.equal(pre(ext, other_only), other_before)


# ---------------------------------------------------------------------------------------
# 3. Any c: W_other = c W_self + (1 - c) W_free and pre is the hand-computed sum
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.0, 0.25, 0.5, 0.75, 1.0, 0.3])
def test_other_weight_is_the_convex_mix_of_self_and_free(c: float) -> None:
    ext = make_extractor(coupling=c)
    w = weights(ext)
    expected = c * w["self"] + (1.0 - c) * w["free"]
    np.testing.assert_array_equal(ext.other_weight.detach().numpy(), expected)
    assert ext.coupling == c


@pytest.mark.parametrize("c", [0.25, 0.5, 0.75])
def test_pre_activation_equals_the_hand_computation_with_explicit_matrices(c: float) -> None:
    """Integer weights and inputs with a dyadic c: every sum is exact, so equality is exact."""
    units = 3
    ext = make_extractor(coupling=c, units=units)
    rng = np.random.default_rng(3)
    w_world = rng.integers(-4, 5, size=(units, 2 * WIDTH)).astype(np.float64)
    b = rng.integers(-4, 5, size=units).astype(np.float64)
    w_self = rng.integers(-4, 5, size=(units, BLOCK)).astype(np.float64)
    w_free = rng.integers(-4, 5, size=(units, BLOCK)).astype(np.float64)
    with torch.no_grad():
        ext.world.weight.copy_(torch.from_numpy(w_world))
        ext.world.bias.copy_(torch.from_numpy(b))
        ext.self_weights.weight.copy_(torch.from_numpy(w_self))
        ext.free_weights.weight.copy_(torch.from_numpy(w_free))
    obs = rng.integers(0, 2, size=(10, OBS_DIM)).astype(np.float64)
    x_world, x_self, x_other = blocks(obs)

    w_other = c * w_self + (1.0 - c) * w_free
    expected = x_world @ w_world.T + b + x_self @ w_self.T + x_other @ w_other.T
    np.testing.assert_array_equal(pre(ext, obs).numpy(), expected)
    with torch.no_grad():
        # the activation follows (tanh as 2 sigmoid(2x) - 1, agents/fast_tanh.py: equal to the last bits)
        np.testing.assert_allclose(ext(torch.from_numpy(obs)).numpy(), np.tanh(expected), rtol=1e-15, atol=1e-15)

    # one unit input at field k of the other block reads column k of c W_self + (1 - c) W_free
    k = 7
    unit = np.zeros((1, OBS_DIM))
    unit[0, LAYOUT["other"].start + k] = 1.0
    np.testing.assert_array_equal(pre(ext, unit).numpy()[0], b + c * w_self[:, k] + (1.0 - c) * w_free[:, k])


def test_layer_reads_the_blocks_named_by_the_env_layout() -> None:
    ext = make_extractor(coupling=0.5)
    assert (ext.world_slice, ext.self_slice, ext.other_slice) == (LAYOUT["world"], LAYOUT["self"], LAYOUT["other"])
    # the three blocks tile the observation in this order (pre_activation's one matrix product relies on it)
    assert (LAYOUT["world"].start, LAYOUT["world"].stop, LAYOUT["self"].stop, LAYOUT["other"].stop) == (
        0, LAYOUT["self"].start, LAYOUT["other"].start, OBS_DIM)
    assert ext.world.in_features == 2 * WIDTH
    assert ext.self_weights.in_features == ext.free_weights.in_features == BLOCK
    assert ext.self_weights.bias is None and ext.free_weights.bias is None  # one bias, in the world term


# ---------------------------------------------------------------------------------------
# 4. Gradients
# ---------------------------------------------------------------------------------------


def backward_on(ext: CoupledExtractor, obs: np.ndarray) -> None:
    ext.zero_grad(set_to_none=True)
    ext.pre_activation(torch.as_tensor(obs, dtype=torch.float64)).sum().backward()


@pytest.mark.parametrize("c", [0.1, 0.5, 0.9])
def test_gradients_reach_world_self_and_free_weights_for_partial_coupling(c: float) -> None:
    ext = make_extractor(coupling=c)
    obs = np.random.default_rng(4).random((32, OBS_DIM))
    backward_on(ext, obs)
    for name, param in ext.named_parameters():
        assert param.grad is not None, name
        assert torch.count_nonzero(param.grad) > 0, name
    # d sum(pre) / d W[u, k] = sum over the batch of the input that W multiplies
    _, x_self, x_other = blocks(obs)
    ones = np.ones((ext.features_dim, 1))
    np.testing.assert_allclose(ext.free_weights.weight.grad.numpy(), (1 - c) * ones * x_other.sum(0), rtol=1e-12)
    np.testing.assert_allclose(
        ext.self_weights.weight.grad.numpy(), ones * (x_self.sum(0) + c * x_other.sum(0)), rtol=1e-12
    )


def test_at_full_coupling_w_free_takes_no_part_and_gets_zero_gradient() -> None:
    ext = make_extractor(coupling=1.0)
    backward_on(ext, np.random.default_rng(5).random((32, OBS_DIM)))
    grad = ext.free_weights.weight.grad
    assert grad is None or torch.count_nonzero(grad) == 0
    assert torch.count_nonzero(ext.self_weights.weight.grad) > 0


def test_at_zero_coupling_w_self_learns_only_from_the_self_block() -> None:
    ext = make_extractor(coupling=0.0)
    obs = np.zeros((8, OBS_DIM))
    obs[:, LAYOUT["other"]] = 1.0  # only the partner's block is non-zero
    backward_on(ext, obs)
    assert torch.count_nonzero(ext.self_weights.weight.grad) == 0
    assert torch.count_nonzero(ext.free_weights.weight.grad) > 0


# ---------------------------------------------------------------------------------------
# 5. Validation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "space, width",
    [
        (observation_space("paper", 32), 32),  # paper mode has no self/other blocks
        (observation_space("egocentric", 16), 32),  # another width
        (observation_space("egocentric", 32), 16),
    ],
    ids=["paper-mode", "narrower-env", "wider-env"],
)
def test_wrong_observation_shape_raises_value_error_naming_both_shapes(space, width: int) -> None:
    expected = observation_space("egocentric", width).shape
    with pytest.raises(ValueError) as err:
        CoupledExtractor(space, width=width)
    message = str(err.value)
    assert str(expected) in message
    assert str(space.shape) in message


def test_ppo_on_a_paper_mode_env_fails_with_value_error() -> None:
    env = FrogToadVecEnv(1, EnvConfig(obs_mode="paper"), seed=0)
    with pytest.raises(ValueError, match=r"\(100,\)"):
        PPO("MlpPolicy", env, policy_kwargs=coupled_policy_kwargs(), n_steps=8, batch_size=16, device="cpu")


@pytest.mark.parametrize("c", [-0.01, 1.01, 2.0, -1.0, math.nan, math.inf, "0.5", None, True])
def test_coupling_outside_unit_interval_raises_value_error(c: object) -> None:
    with pytest.raises(ValueError, match="coupling"):
        CoupledExtractor(SPACE, coupling=c)  # type: ignore[arg-type]


def test_coupling_outside_unit_interval_fails_when_ppo_builds_the_policy() -> None:
    env = FrogToadVecEnv(1, seed=0)
    with pytest.raises(ValueError, match="coupling"):
        PPO("MlpPolicy", env, policy_kwargs=coupled_policy_kwargs(coupling=1.5), n_steps=8, batch_size=16, device="cpu")


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_non_positive_or_non_integer_units_raise_value_error(units: object) -> None:
    with pytest.raises(ValueError, match="units"):
        CoupledExtractor(SPACE, units=units)  # type: ignore[arg-type]


@pytest.mark.parametrize("net_arch", [(), (0, 64), (64, -1), (64.0, 64)])
def test_bad_net_arch_raises_value_error(net_arch: tuple) -> None:
    with pytest.raises(ValueError, match="net_arch"):
        coupled_policy_kwargs(net_arch=net_arch)


def test_unknown_activation_raises_value_error() -> None:
    with pytest.raises(ValueError, match="activation"):
        CoupledExtractor(SPACE, activation="sigmoid")


# ---------------------------------------------------------------------------------------
# 6. The PPO policy built from coupled_policy_kwargs
# ---------------------------------------------------------------------------------------


def small_ppo(coupling: float = 0.3, net_arch: tuple[int, ...] = (32, 16, 8), activation: str = "relu") -> PPO:
    env = FrogToadVecEnv(2, EnvConfig(max_steps=16), seed=0)
    kwargs = coupled_policy_kwargs(coupling=coupling, net_arch=net_arch, activation=activation)
    return PPO("MlpPolicy", env, policy_kwargs=kwargs, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu")


def linear_sizes(seq: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in seq.modules() if isinstance(m, nn.Linear)]


def test_coupled_policy_kwargs_builds_a_policy_with_the_requested_units_and_mlp_sizes() -> None:
    policy = small_ppo(coupling=0.3, net_arch=(32, 16, 8), activation="relu").policy
    ext = policy.features_extractor
    assert isinstance(ext, CoupledExtractor)
    assert policy.pi_features_extractor is ext  # the actor reads the coupled layer
    assert ext.coupling == 0.3
    assert ext.features_dim == ext.world.out_features == ext.self_weights.out_features == 32
    assert isinstance(ext.activation, nn.ReLU)
    assert linear_sizes(policy.mlp_extractor.policy_net) == [(32, 16), (16, 8)]
    assert linear_sizes(policy.mlp_extractor.value_net) == [(32, 16), (16, 8)]
    assert all(isinstance(m, nn.ReLU) for m in policy.mlp_extractor.policy_net if not isinstance(m, nn.Linear))
    assert (policy.action_net.in_features, policy.action_net.out_features) == (8, 4)
    # policy and value MLPs are separate copies
    pi_params = {p.data_ptr() for p in policy.mlp_extractor.policy_net.parameters()}
    vf_params = {p.data_ptr() for p in policy.mlp_extractor.value_net.parameters()}
    assert not pi_params & vf_params


def test_the_actor_path_is_coupled_then_pi_layers_then_logits() -> None:
    policy = small_ppo(coupling=0.3, net_arch=(32, 16, 8), activation="tanh").policy
    assert layer_names(policy) == ["coupled", "pi.0", "pi.1"]
    obs = torch.as_tensor(np.random.default_rng(6).random((5, OBS_DIM)), dtype=torch.float32)
    with torch.no_grad():
        logits = policy.get_distribution(obs).distribution.logits
        by_hand = policy.action_net(policy.mlp_extractor.policy_net(policy.features_extractor(obs)))
        expected = torch.log_softmax(by_hand, dim=-1)
    torch.testing.assert_close(logits, expected)


def test_a_single_entry_net_arch_is_the_coupled_layer_alone() -> None:
    policy = small_ppo(net_arch=(12,)).policy
    assert policy.features_extractor.features_dim == 12
    assert linear_sizes(policy.mlp_extractor.policy_net) == []
    assert layer_names(policy) == ["coupled"]
    assert policy.action_net.in_features == 12


def test_save_and_load_keep_coupling_and_weights(tmp_path: Path) -> None:
    model = small_ppo(coupling=0.7, net_arch=(24, 12), activation="tanh")
    with torch.no_grad():  # make the saved weights differ from any fresh initialisation
        model.policy.features_extractor.free_weights.weight.add_(0.5)
    path = tmp_path / "coupled_ppo.zip"
    model.save(path)
    loaded = PPO.load(path, device="cpu")

    ext, ext_loaded = model.policy.features_extractor, loaded.policy.features_extractor
    assert isinstance(ext_loaded, CoupledExtractor)
    assert ext_loaded.coupling == 0.7
    assert ext_loaded.features_dim == 24
    assert isinstance(ext_loaded.activation, nn.Tanh)
    state, state_loaded = model.policy.state_dict(), loaded.policy.state_dict()
    assert state.keys() == state_loaded.keys()
    for key in state:
        assert torch.equal(state[key], state_loaded[key]), key
    assert torch.equal(ext_loaded.other_weight, ext.other_weight)
    obs = np.random.default_rng(7).random((6, OBS_DIM)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
