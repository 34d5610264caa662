"""RL agents for Frog and Toad: the coupled policy network, the batched self-play VecEnv
and the training library behind ``python train.py``.

- :mod:`agents.coupled`: :class:`~agents.coupled.CoupledExtractor` and
  :func:`~agents.coupled.coupled_policy_kwargs` (the self/other coupling knob).
- :mod:`agents.policy`: :class:`~agents.policy.CategoricalActorCriticPolicy`, SB3's
  actor-critic policy with the categorical distribution written out (same numbers, faster).
- :mod:`agents.fast_tanh`: :class:`~agents.fast_tanh.FastTanh`, the network's tanh computed
  as ``2 * sigmoid(2x) - 1`` (within float32 rounding, faster on a CPU).
- :mod:`agents.vec_env`: :class:`~agents.vec_env.FrogToadVecEnv`, ``n_games`` games as
  ``2 * n_games`` SB3 env slots.
- :mod:`agents.checkpoints`: :func:`~agents.checkpoints.load_ppo` and
  :func:`~agents.checkpoints.save_ppo`, the one place that loads and saves a PPO policy.
- :mod:`agents.training`: :func:`~agents.training.train` and :func:`~agents.training.resume`
  (the settings are :class:`experiment.config.TrainConfig`, the files :mod:`experiment.run_folder`).

Submodules are imported on demand (``from agents.training import train``), so importing
one of them does not pull in the others.
"""

from __future__ import annotations

__all__ = ["checkpoints", "coupled", "fast_tanh", "policy", "training", "vec_env"]
