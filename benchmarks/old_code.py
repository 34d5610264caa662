"""The training code before the speed work (issue 15), for benchmarks that time it against today's.

Four changes since then make the same PPO run faster (``benchmarks/code_speed.py`` times
each one). Inside :func:`old_code`, models are built and run as they were before them:

- ``"policy class"``: SB3's ``ActorCriticPolicy``, not ``agents.policy``'s (same numbers);
- ``"tanh"``: ``nn.Tanh``, not ``agents.fast_tanh.FastTanh``;
- ``"adam"``: SB3's Adam, a loop over the parameters, not the fused step;
- ``"coupled matmul"``: the coupled layer's input as three matrix products (world, self and
  other blocks), not one.

The last three change the numbers in the last float32 bits, so a run differs from
today's after its first update. The patches are read when a model is built
(policy class, tanh, Adam) and when the coupled layer runs (matmul), so a model built
inside the context must also run inside it.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

import agents.coupled  # noqa: E402
import agents.training  # noqa: E402

CHANGES: tuple[str, ...] = ("policy class", "tanh", "adam", "coupled matmul")


def three_matmul_pre_activation(self: agents.coupled.CoupledExtractor, observations: torch.Tensor) -> torch.Tensor:
    """The coupled layer's ``pre_activation`` as it was: ``world + W_self @ (x_self + c x_other)
    + (1 - c) W_free @ x_other``, three matrix products below ``c = 1``."""
    x_self, x_other = observations[:, self.self_slice], observations[:, self.other_slice]
    c = self.coupling
    pre = torch.addmm(self.world.bias, observations[:, self.world_slice], self.world.weight.t())
    if c == 1.0:
        return torch.addmm(pre, x_self + x_other, self.self_weights.weight.t())
    pre = torch.addmm(pre, torch.add(x_self, x_other, alpha=c), self.self_weights.weight.t())
    return torch.addmm(pre, x_other, self.free_weights.weight.t(), alpha=1.0 - c)


def sb3_adam_kwargs(device: str) -> dict[str, Any]:
    """What SB3's ``ActorCriticPolicy`` passes to Adam when given no ``optimizer_kwargs``."""
    return {"eps": 1e-5}


@contextmanager
def old_code(changes: Collection[str] = CHANGES) -> Iterator[None]:
    """Undo the named changes (default: all of :data:`CHANGES`) while the context is open."""
    unknown = set(changes) - set(CHANGES)
    if unknown:
        raise ValueError(f"unknown changes {sorted(unknown)}; known: {list(CHANGES)}")
    with ExitStack() as stack:
        if "policy class" in changes:
            stack.enter_context(mock.patch.object(agents.training, "POLICY_CLASS", ActorCriticPolicy))
        if "tanh" in changes:
            stack.enter_context(mock.patch.dict(agents.coupled.ACTIVATIONS, {"tanh": nn.Tanh}))
        if "adam" in changes:
            stack.enter_context(mock.patch.object(agents.training, "adam_kwargs", sb3_adam_kwargs))
        if "coupled matmul" in changes:
            stack.enter_context(
                mock.patch.object(agents.coupled.CoupledExtractor, "pre_activation", three_matmul_pre_activation)
            )
        yield
