"""Mean score per player of three fixed policies, over seeded episodes of the batched core.

Policies (both players play the same one):

- ``scripted``: :func:`frogtoad_env.scripted.scripted_actions` (jump at 0 energy, help a
  stalled partner from the right edge, leap over rough ahead, else hop);
- ``hop-only``: always hop;
- ``random``: uniform actions.

Each game is one episode of ``--steps`` steps (default 500) from the start state. The 95%
confidence interval is over games, with the mean of a game's two players as the unit
(players of one game are not independent): ``mean +- 1.96 * sd / sqrt(games)``.
An earlier throwaway prototype of these rules measured, for comparison: random ~ 112,
hop-only ~ 144, scripted ~ 414 (the ``prototype`` column).

Usage: ``python benchmarks/scripted_score.py [--games N] [--steps T] [--seed S] [--dependency D] [--width W]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, NamedTuple

import numpy as np

from frogtoad_env import core
from frogtoad_env.scripted import scripted_actions

Policy = Callable[[core.GameState, np.random.Generator], np.ndarray]

POLICIES: dict[str, Policy] = {
    "scripted": lambda state, rng: scripted_actions(state),
    "hop-only": lambda state, rng: np.full((state.batch_size, 2), core.HOP, dtype=np.int64),
    "random": lambda state, rng: rng.integers(0, core.N_ACTIONS, (state.batch_size, 2)),
}
PROTOTYPE_FIGURES = {"scripted": 414, "hop-only": 144, "random": 112}


class Outcome(NamedTuple):
    """What ``games`` seeded episodes of one policy produced."""

    scores: np.ndarray  # (games, 2) float64, final points of frog and toad
    stall_fraction: float  # share of player-steps that ended at 0 energy
    helps: int  # player-steps whose help took effect


def play(policy: Policy, games: int, steps: int, seed: int, config: core.RulesConfig) -> Outcome:
    """Play ``games`` seeded episodes of ``steps`` steps from the start state."""
    state = core.new_games(games, config)
    stream, rng = core.RandomStream(seed), np.random.default_rng(seed)
    stalled = helps = 0
    for _ in range(steps):
        events = core.step(state, policy(state, rng), config, stream)
        stalled += int(state.stalled.sum())
        helps += int(events.helped.sum())
    return Outcome(state.score.astype(np.float64), stalled / (2 * games * steps), helps)


def summary(scores: np.ndarray) -> dict[str, float]:
    per_game = scores.mean(axis=1)
    half_width = 1.96 * per_game.std(ddof=1) / np.sqrt(len(per_game))
    return {
        "mean": float(per_game.mean()),
        "ci_low": float(per_game.mean() - half_width),
        "ci_high": float(per_game.mean() + half_width),
        "frog": float(scores[:, core.FROG].mean()),
        "toad": float(scores[:, core.TOAD].mean()),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=2000, help="episodes per policy (default 2000)")
    parser.add_argument("--steps", type=int, default=500, help="steps per episode (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dependency", type=float, default=1.0)
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args(argv)
    config = core.RulesConfig(width=args.width, dependency=args.dependency)

    results = {}
    print(f"{args.games} episodes x {args.steps} steps per policy, seed {args.seed}, width {args.width}, dependency {args.dependency}")
    header = f"{'policy':<10} {'points/player':>13}  {'95% CI':<18} {'frog':>8} {'toad':>8}  {'prototype':>9}  {'seconds':>7}"
    print(header)
    print("-" * len(header))
    for name, policy in POLICIES.items():
        start = time.perf_counter()
        results[name] = row = summary(play(policy, args.games, args.steps, args.seed, config).scores)
        seconds = time.perf_counter() - start
        ci = f"[{row['ci_low']:.1f}, {row['ci_high']:.1f}]"
        print(
            f"{name:<10} {row['mean']:>13.1f}  {ci:<18} {row['frog']:>8.1f} {row['toad']:>8.1f}  "
            f"{PROTOTYPE_FIGURES[name]:>9}  {seconds:>7.2f}"
        )
    return results


if __name__ == "__main__":
    main()
