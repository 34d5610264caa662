"""SB3's actor-critic policy for a ``Discrete`` action space, its categorical arithmetic written out.

SB3's ``ActorCriticPolicy`` wraps the action logits in a ``torch.distributions.Categorical``
on every call: argument checks, broadcasting and lazy properties around a handful of tensor
operations. At ``train.py``'s defaults the policy acts on 128 observations per env step,
and that wrapper costs about as much as the network itself.

:class:`CategoricalActorCriticPolicy` computes the same tensors with the same operations in
the same order, without the wrapper:

    log_probs = logits - logsumexp(logits)              (batch, n_actions)
    probs     = softmax(log_probs)
    action    = multinomial(probs, 1)  or  argmax(probs)   (deterministic)
    log_prob  = log_probs[action]
    entropy   = -sum(max(log_probs, float32 min) * probs)

so a run trains to the same weights bit for bit (``tests/test_policy.py``), on the same
random draws, as with SB3's class; only the time differs. Everything else (``predict``,
``get_distribution``, saving and loading) is SB3's.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import Tensor


def normalized_logits(logits: Tensor) -> Tensor:
    """(batch, n_actions) logits -> log-probabilities, as ``Categorical(logits=...)`` stores them."""
    return logits - logits.logsumexp(dim=-1, keepdim=True)


class CategoricalActorCriticPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` whose ``forward`` and ``evaluate_actions`` skip the distribution object.

    Takes SB3's ``ActorCriticPolicy`` arguments; the action space must be ``Discrete``.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, *args: Any, **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"CategoricalActorCriticPolicy needs a Discrete action space, got {action_space}")
        super().__init__(observation_space, action_space, *args, **kwargs)

    def _latents(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """(batch, obs_dim) -> the policy's and the value function's latent codes."""
        features = self.extract_features(obs)
        if self.share_features_extractor:
            return self.mlp_extractor(features)
        pi_features, vf_features = features
        return self.mlp_extractor.forward_actor(pi_features), self.mlp_extractor.forward_critic(vf_features)

    def forward(self, obs: Tensor, deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Actions (batch,), values (batch, 1) and the actions' log-probabilities (batch,)."""
        latent_pi, latent_vf = self._latents(obs)
        values = self.value_net(latent_vf)
        log_probs = normalized_logits(self.action_net(latent_pi))
        probs = torch.softmax(log_probs, dim=-1)
        actions = probs.argmax(dim=1) if deterministic else torch.multinomial(probs, 1, True).squeeze(1)
        return actions, values, log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)

    def evaluate_actions(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Values (batch, 1), log-probabilities (batch,) and entropies (batch,) of ``actions`` (batch,)."""
        latent_pi, latent_vf = self._latents(obs)
        # the order of SB3's evaluate_actions: the same autograd graph, so the same float sums
        log_probs = normalized_logits(self.action_net(latent_pi))
        log_prob = log_probs.gather(1, actions.long().reshape(-1, 1)).squeeze(1)
        values = self.value_net(latent_vf)
        clamped = torch.clamp(log_probs, min=torch.finfo(log_probs.dtype).min)
        entropy = -(clamped * torch.softmax(log_probs, dim=-1)).sum(-1)
        return values, log_prob, entropy
