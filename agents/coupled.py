"""The coupled policy network: one knob ties how an agent reads its partner to how it reads itself.

The first layer reads the egocentric observation's three blocks with separate weights
and sums them before the activation::

    pre = W_world @ x_world + b  +  W_self @ x_self  +  W_other @ x_other
    W_other = c * W_self + (1 - c) * W_free        (c = coupling in [0, 1])

``W_self`` and ``W_free`` are both trainable. At ``c = 1`` the partner's state passes
through exactly the weights of one's own (swapping the self and other blocks leaves
``pre`` unchanged); at ``c = 0`` the two pathways are independent. Later layers are an
ordinary SB3 MLP (``net_arch``), one for the policy and one for the value function.

Layer names (what the CMNI probe calls them): ``coupled`` for this layer's activation
output, then ``pi.0``, ``pi.1``... for the policy MLP.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.fast_tanh import FastTanh
from frogtoad_env.checks import check_int, check_unit_interval
from frogtoad_env.observations import egocentric_layout, observation_space

#: ``tanh`` is ``nn.Tanh`` computed faster on a CPU (:mod:`agents.fast_tanh`)
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": FastTanh}


def activation_class(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class CoupledExtractor(BaseFeaturesExtractor):
    """First layer with self/other weight coupling; output (batch, units) after the activation.

    Args:
        observation_space: the egocentric Box of a Frog and Toad env of this ``width``.
        width: the strip width (fixes the block layout).
        units: neurons in this layer.
        coupling: c in [0, 1].
        activation: ``"relu"`` or ``"tanh"``.
    """

    #: activation submodule -> public layer name, read by :mod:`cmni.recorder`
    probe_layer_names = {"activation": "coupled"}

    def __init__(
        self,
        observation_space: spaces.Box,
        width: int = 32,
        units: int = 64,
        coupling: float = 0.5,
        activation: str = "tanh",
    ) -> None:
        expected = observation_space_shape(width)
        if observation_space.shape != expected:
            raise ValueError(
                f"CoupledExtractor needs the egocentric observation of width {width} (shape {expected}), "
                f"got shape {observation_space.shape}; the paper observation mode has no self/other blocks"
            )
        check_int("units", units)
        super().__init__(observation_space, features_dim=units)
        self.coupling = check_unit_interval("coupling", coupling)
        layout = egocentric_layout(width)
        self.world_slice, self.self_slice, self.other_slice = layout["world"], layout["self"], layout["other"]
        block = self.self_slice.stop - self.self_slice.start
        self.world = nn.Linear(self.world_slice.stop - self.world_slice.start, units)
        self.self_weights = nn.Linear(block, units, bias=False)
        self.free_weights = nn.Linear(block, units, bias=False)
        self.activation = activation_class(activation)()

    @property
    def other_weight(self) -> torch.Tensor:
        """W_other = c * W_self + (1 - c) * W_free, shape (units, block)."""
        return self.coupling * self.self_weights.weight + (1.0 - self.coupling) * self.free_weights.weight

    def pre_activation(self, observations: torch.Tensor) -> torch.Tensor:
        """(batch, obs_dim) -> (batch, units), the summed input before the activation.

        One matrix product over the whole observation, ``x @ [W_world | W_self | W_other]^T
        + b`` (the observation is the three blocks, in this order). At ``c = 1`` it is regrouped as
        ``world + W_self @ (x_self + x_other)``: ``W_free`` takes no part, and the partner's
        block enters only through ``x_self + x_other``, which a self/other swap leaves
        unchanged bit for bit (float addition is commutative), so ``pre`` is exactly
        swap-invariant whatever rounding the matrix products do.
        """
        if self.coupling == 1.0:
            x_self, x_other = observations[:, self.self_slice], observations[:, self.other_slice]
            pre = torch.addmm(self.world.bias, observations[:, self.world_slice], self.world.weight.t())
            return torch.addmm(pre, x_self + x_other, self.self_weights.weight.t())
        weight = torch.cat((self.world.weight, self.self_weights.weight, self.other_weight), dim=1)
        return torch.addmm(self.world.bias, observations, weight.t())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.activation(self.pre_activation(observations))


def observation_space_shape(width: int) -> tuple[int, ...]:
    return observation_space("egocentric", width).shape


def coupled_policy_kwargs(
    coupling: float = 0.5, net_arch: tuple[int, ...] | list[int] = (64, 64), activation: str = "tanh", width: int = 32
) -> dict[str, Any]:
    """``policy_kwargs`` for ``PPO("MlpPolicy", env, policy_kwargs=...)`` (``train.py`` passes
    them to :class:`agents.policy.CategoricalActorCriticPolicy`, which computes the same).

    ``net_arch[0]`` is the coupled layer's width; the rest are the hidden layers of the
    policy and value MLPs that follow it (each their own copy).
    """
    check_unit_interval("coupling", coupling)
    activation_class(activation)
    if not net_arch or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in net_arch):
        raise ValueError(f"net_arch must be one or more positive integers, got {list(net_arch)!r}")
    hidden = list(net_arch[1:])
    return {
        "features_extractor_class": CoupledExtractor,
        "features_extractor_kwargs": {
            "width": width,
            "units": net_arch[0],
            "coupling": coupling,
            "activation": activation,
        },
        "net_arch": {"pi": hidden, "vf": list(hidden)},
        "activation_fn": activation_class(activation),
    }
