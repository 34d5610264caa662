"""What each preset and knob level does to the game: the table of docs/environment.md.

For each row (a preset, or the ``paper`` preset with one knob changed) it plays ``--games``
seeded episodes of ``--steps`` steps per policy in the batched core and prints, per player
and episode, the mean score of

- ``random``, ``hop-only`` and ``scripted`` (the policies of ``scripted_score.py``);
- ``no-help``: the scripted policy with its help replaced by a hop, which does nothing at
  the right edge where the scripted rule helps, i.e. it waits;

then ``help gain``, the scripted score minus the no-help score (with its 95% confidence
interval, the two sets of games taken as independent): how much helping changes the
outcome; ``helps/1k``, the scripted policy's effective helps per 1000 player-steps;
``stall``, the share of the scripted policy's player-steps that end at 0 energy; and ``S``,
the signal complexity of :func:`frogtoad_env.complexity.signal_complexity`.

Usage: ``python benchmarks/difficulty.py [--games N] [--steps T] [--seed S]`` (from the
repository root, with the package installed or ``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from scripted_score import POLICIES, Policy, play

from frogtoad_env import core
from frogtoad_env.complexity import signal_complexity
from frogtoad_env.config import EnvConfig
from frogtoad_env.presets import PRESETS, preset
from frogtoad_env.scripted import scripted_actions

#: One knob changed from ``paper`` per row: knob -> levels.
KNOB_LEVELS: dict[str, tuple[float, ...]] = {
    "rough_rate_max": (0.0, 0.15, 0.3),
    "fly_spawn_probability": (0.005, 0.02),
    "fly_energy": (2, 8),
    "help_energy": (6,),
    "help_leap_probability": (0.0, 1.0),
}


def no_help(state: core.GameState, rng: np.random.Generator) -> np.ndarray:
    """The scripted policy with every help replaced by a hop."""
    actions = scripted_actions(state)
    actions[actions == core.HELP] = core.HOP
    return actions


def rows() -> list[tuple[str, EnvConfig]]:
    """(label, config) of every table row: the presets, then one knob level per row."""
    table = [(name, EnvConfig(**preset(name))) for name in PRESETS]
    paper = EnvConfig(**preset("paper"))
    table += [
        (f"{knob} = {level}", replace(paper, **{knob: level}))
        for knob, levels in KNOB_LEVELS.items()
        for level in levels
    ]
    return table


def measure(config: EnvConfig, games: int, steps: int, seed: int) -> dict[str, float]:
    """Every column of one row."""
    rules = config.rules
    policies: dict[str, Policy] = {**POLICIES, "no-help": no_help}
    outcomes = {name: play(policy, games, steps, seed, rules) for name, policy in policies.items()}
    per_game = {name: outcome.scores.mean(axis=1) for name, outcome in outcomes.items()}
    with_help, without = per_game["scripted"], per_game["no-help"]
    gain = with_help.mean() - without.mean()
    half_width = 1.96 * np.sqrt(with_help.var(ddof=1) / games + without.var(ddof=1) / games)
    scripted = outcomes["scripted"]
    return {
        **{name: float(scores.mean()) for name, scores in per_game.items()},
        "gain": float(gain),
        "gain_ci": float(half_width),
        "helps_per_1k": 1000 * scripted.helps / (2 * games * steps),
        "stall": scripted.stall_fraction,
        "S": signal_complexity(config, games, steps, seed),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=500, help="episodes per policy and row (default 500)")
    parser.add_argument("--steps", type=int, default=500, help="steps per episode (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(
        f"{args.games} episodes x {args.steps} steps per policy and row, seed {args.seed}; points per player and episode"
    )
    print("| row | random | hop-only | scripted | no-help | help gain (95% CI) | helps/1k | stall | S (bits) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    start = time.perf_counter()
    for label, config in rows():
        results[label] = r = measure(config, args.games, args.steps, args.seed)
        print(
            f"| {label} | {r['random']:.1f} | {r['hop-only']:.1f} | {r['scripted']:.1f} | {r['no-help']:.1f} | "
            f"{r['gain']:+.1f} ± {r['gain_ci']:.1f} | {r['helps_per_1k']:.2f} | {r['stall']:.3f} | {r['S']:.3f} |",
            flush=True,
        )
    print(f"{time.perf_counter() - start:.0f} s")
    return results


if __name__ == "__main__":
    main()
