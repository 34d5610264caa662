"""The score every recipe in ``examples/`` reports: self-play on the batched core.

One policy plays both seats of ``n_games`` games of ``config.max_steps`` steps, sampling
its actions (as in training; a greedy policy can lock into a loop). The figure is the
mean final score per player, in points; the scripted policy makes about 418 and uniform
random play about 114 in 500-step games (``python benchmarks/scripted_score.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from frogtoad_env import EnvConfig, core
from frogtoad_env.observations import observe

#: ``(n, obs_dim) float32 observations -> (n, n_actions) logits``.
Logits = Callable[[torch.Tensor], torch.Tensor]


def self_play_score(logits: Logits, config: EnvConfig | None = None, n_games: int = 64, seed: int = 10_000) -> float:
    """Mean final score per player (points) of ``logits`` playing both seats, sampled actions."""
    config = config if config is not None else EnvConfig()
    stream = core.RandomStream(seed)
    generator = torch.Generator().manual_seed(seed)
    games = core.new_games(n_games, config.rules)
    with torch.no_grad():
        for _ in range(config.max_steps):
            obs = torch.from_numpy(observe(games, config.obs_mode, config.veil, stream).reshape(2 * n_games, -1))
            probs = torch.softmax(logits(obs), dim=-1)
            actions = torch.multinomial(probs, 1, generator=generator).reshape(n_games, 2)
            core.step(games, actions.numpy().astype(np.int64), config.rules, stream)
    return float(games.score.mean())
