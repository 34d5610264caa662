"""What every recipe in ``examples/`` reports about its trained policy: score and CMNI.

- :func:`self_play_score`: one policy plays both seats of ``n_games`` games of
  ``config.max_steps`` steps on the batched core, sampling its actions (as in training; a
  greedy policy can lock into a loop). The figure is the mean final score per player,
  in points; the scripted policy makes about 418 and uniform random play about 114 in
  500-step games (``python benchmarks/scripted_score.py``).
- :func:`report`: that score, then the CMNI of the network on the standard probe set
  (1,000 states per scenario, seed 0) with its nulls: 10 untrained networks of the same
  architecture (mean +/- sd) and 200 label permutations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from cmni.probe import measure_policy, untrained_null
from cmni.probe_set import build_probe_set
from cmni.recorder import Forward

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


def report(
    net: nn.Module,
    layers: Mapping[str, nn.Module],
    forward: Forward | None = None,
    factory: Callable[[], nn.Module] | None = None,
    seed: int = 0,
) -> None:
    """Print the self-play score and the CMNI of ``net`` (obs -> logits, or through ``forward``)."""
    logits: Logits = (lambda obs: forward(net, obs)) if forward is not None else net
    print(f"self-play score: {self_play_score(logits):.1f} points per player (64 games, sampled actions)")
    probe_set = build_probe_set(EnvConfig(), per_scenario=1000, seed=0)
    measured = measure_policy(net, probe_set, n_permutations=200, seed=0, layers=layers, forward=forward)
    null = untrained_null(net, probe_set, seed=seed, layers=layers, forward=forward, factory=factory)
    r, perm = measured.result, measured.permutation
    print(f"CMNI {r.cmni:.4f} ({r.n_candidates}/{r.n_neurons} mirror candidates), untrained {null.mean:.4f} "
          f"+/- {null.sd:.4f} ({null.cmni.size} draws), permutation null {perm.null_mean:.4f} (p = {perm.p_value:.3f})")  # fmt: skip


def tanh_layers(net: nn.Module, within: str = "") -> dict[str, nn.Module]:
    """The tanh modules of ``net`` whose qualified name contains ``within``, as ``pi.0``, ``pi.1``, ..."""
    found = [m for name, m in net.named_modules() if within in name and isinstance(m, nn.Tanh)]
    return {f"pi.{i}": m for i, m in enumerate(found)}
