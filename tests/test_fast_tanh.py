"""FastTanh is tanh: the same values (to float32 rounding), the same gradient, the same type.

Expected values come from Python's float64 ``math.tanh``, not from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.coupled import ACTIVATIONS
from agents.fast_tanh import FastTanh
from agents.training import adam_kwargs, make_env, make_model
from experiment.config import TrainConfig

POINTS = np.concatenate([np.linspace(-12.0, 12.0, 48_001), [-1e-30, 1e-30, -88.0, 88.0, -1e4, 1e4]]).astype(np.float32)
EXACT = np.array([math.tanh(float(x)) for x in POINTS])


def test_values_are_tanh_within_float32_rounding() -> None:
    with torch.no_grad():
        got = FastTanh()(torch.from_numpy(POINTS)).double().numpy()
    np.testing.assert_allclose(got, EXACT, rtol=0, atol=2e-7)


def test_zero_maps_to_zero_and_values_stay_within_minus_one_and_one() -> None:
    with torch.no_grad():
        out = FastTanh()(torch.tensor([0.0, -1e4, 1e4, -math.inf, math.inf]))
    assert out.tolist() == [0.0, -1.0, 1.0, -1.0, 1.0]


def test_training_and_acting_compute_the_same_numbers() -> None:
    x = torch.from_numpy(POINTS[:48_000]).reshape(-1, 64)
    with torch.no_grad():
        acting = FastTanh()(x)
    training = FastTanh()(x.clone().requires_grad_())
    assert torch.equal(acting, training.detach())


def test_gradient_is_one_minus_tanh_squared() -> None:
    x = torch.from_numpy(POINTS[:: 97].astype(np.float64)).requires_grad_()
    FastTanh()(x).sum().backward()
    exact = 1.0 - np.tanh(POINTS[:: 97].astype(np.float64)) ** 2
    np.testing.assert_allclose(x.grad.numpy(), exact, rtol=0, atol=1e-15)
    # and against finite differences of the forward itself
    assert torch.autograd.gradcheck(FastTanh(), (torch.linspace(-3, 3, 25, dtype=torch.float64, requires_grad=True),))


def test_it_is_an_nn_tanh_and_the_policy_uses_it_in_every_layer() -> None:
    assert ACTIVATIONS["tanh"] is FastTanh and issubclass(FastTanh, nn.Tanh)
    config = TrainConfig(n_games=2, n_steps=8, probe=False)
    policy = make_model(config, make_env(config)).policy
    tanhs = [m for m in policy.modules() if isinstance(m, nn.Tanh)]
    assert len(tanhs) == 3  # the coupled layer, the policy's and the value function's hidden layer
    assert all(type(m) is FastTanh for m in tanhs)


@pytest.mark.parametrize(("device", "fused"), [("cpu", True), ("auto", True), ("cuda:1", True), ("mps", False)])
def test_ppo_keeps_sb3s_adam_epsilon_and_fuses_the_step_where_torch_can(device: str, fused: bool) -> None:
    assert adam_kwargs(device)["eps"] == 1e-5
    assert adam_kwargs(device).get("fused", False) is fused


def test_the_ppo_model_gets_that_adam() -> None:
    config = TrainConfig(n_games=2, n_steps=8, probe=False)
    optimizer = make_model(config, make_env(config)).policy.optimizer
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["eps"] == 1e-5 and optimizer.defaults["fused"] is True
