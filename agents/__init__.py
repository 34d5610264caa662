"""RL agents for Frog and Toad: the coupled policy network, the batched self-play VecEnv
and the training library behind ``python train.py``.

- :mod:`agents.coupled`: :class:`~agents.coupled.CoupledExtractor` and
  :func:`~agents.coupled.coupled_policy_kwargs` (the self/other coupling knob).
- :mod:`agents.vec_env`: :class:`~agents.vec_env.FrogToadVecEnv`, ``n_games`` games as
  ``2 * n_games`` SB3 env slots.
- :mod:`agents.training`: :class:`~agents.training.TrainConfig`,
  :func:`~agents.training.train`, :func:`~agents.training.resume`, the run-folder layout.

Submodules are imported on demand (``from agents.training import train``), so importing
one of them does not pull in the others.
"""

from __future__ import annotations

__all__ = ["coupled", "training", "vec_env"]
