"""Learning benchmark: does the default ``python train.py --coupling 0.5`` beat 90 % of scripted play?

Trains the default :class:`agents.training.TrainConfig` (optionally with another
``--timesteps``), or loads an existing model (``--model``), then plays the same seeded
evaluation games (``--eval-games`` games x ``max_steps`` steps in the batched core) with

- the trained policy controlling both players (self-play), greedy (deterministic: the
  most likely action, the main figure, as ``evaluate.py`` does by default) and sampled
  (stochastic: the policy PPO trained, whose score ``train.py`` prints at the end);
- the scripted rule controlling both players (the reference), plus random and hop-only
  for scale;

and prints the mean points per player (± standard error over players), the ratio to the
scripted score and the training wall time.

Examples::

    python benchmarks/learning.py                         # the default run, then evaluation
    python benchmarks/learning.py --timesteps 18000000    # a longer budget
    python benchmarks/learning.py --model runs/<run>/final_model.zip
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agents.checkpoints import load_ppo  # noqa: E402
from agents.training import train  # noqa: E402
from evaluation.episodes import play_episodes  # noqa: E402
from evaluation.partners import ModelPolicy, ObservationPolicy, RandomPolicy, ScriptedPolicy, SeatPolicy  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402
from experiment.resolve import resolve_run  # noqa: E402
from experiment.run_folder import default_run_dir  # noqa: E402
from frogtoad_env.config import EnvConfig  # noqa: E402
from frogtoad_env.core import HOP  # noqa: E402


def points_per_player(policy: SeatPolicy, env_config: EnvConfig, n_games: int, seed: int) -> np.ndarray:
    """Points of every player, shape (2 * n_games,), with ``policy`` in both seats of each game."""
    return play_episodes(policy, policy, env_config, n_games, seed=seed).scores.reshape(-1).astype(np.float64)


def line(name: str, scores: np.ndarray, reference: float) -> str:
    sem = scores.std(ddof=1) / np.sqrt(scores.size)
    return f"{name:<24} {scores.mean():7.1f} ± {sem:4.1f}   {100 * scores.mean() / reference:6.1f} %"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, help="evaluate this .zip instead of training")
    p.add_argument("--timesteps", type=int, help=f"training budget (default {TrainConfig().timesteps:_})")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--run-dir", type=Path, help="run folder (default runs/<timestamp>_c0.5)")
    p.add_argument("--no-probe", action="store_true", help="train without the CMNI callback")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--eval-games", type=int, default=64, help="evaluation games (default 64, so 128 players)")
    p.add_argument("--eval-seed", type=int, default=10_000, help="seed of the evaluation games (default 10000)")
    args = p.parse_args(argv)

    wall = float("nan")
    if args.model is not None:
        resolved = resolve_run(args.model)  # the config of the enclosing run folder, else the defaults
        for note in resolved.notes:
            print(f"note: {note}", file=sys.stderr)
        config = resolved.config
        model = load_ppo(args.model, config)
        print(f"model: {args.model} ({model.num_timesteps:_} agent-steps)")
    else:
        config = TrainConfig(seed=args.seed, probe=not args.no_probe)
        if args.timesteps is not None:
            config = replace(config, timesteps=args.timesteps)
        run_dir = args.run_dir or default_run_dir(f"c{config.coupling:g}")
        print(f"training the default config ({config.timesteps:_} agent-steps, probe={config.probe}) in {run_dir}")
        start = time.perf_counter()
        result = train(config, run_dir, progress_bar=not args.no_progress)
        wall = time.perf_counter() - start
        if result.interrupted:
            print(f"interrupted at step {result.num_timesteps:_}; evaluating that checkpoint")
        model = result.model

    env, n, seed = config.env, args.eval_games, args.eval_seed
    start = time.perf_counter()
    scripted = points_per_player(ScriptedPolicy(), env, n, seed)
    reference = float(scripted.mean())
    hop_only = ObservationPolicy(lambda obs: np.full(obs.shape[0], HOP), name="hop-only")
    rows = [
        ("policy, deterministic", points_per_player(ModelPolicy(model, deterministic=True), env, n, seed)),
        ("policy, stochastic", points_per_player(ModelPolicy(model, deterministic=False), env, n, seed)),
        ("scripted (reference)", scripted),
        ("hop-only", points_per_player(hop_only, env, n, seed)),
        ("random", points_per_player(RandomPolicy(seed), env, n, seed)),
    ]
    print(f"\nevaluation: {n} games x {env.max_steps} steps, seed {seed}, both players controlled by the row's policy")
    print(f"{'':<24} {'points/player':>15}   {'of scripted':>8}")
    for name, scores in rows:
        print(line(name, scores, reference))
    ratio = rows[0][1].mean() / reference
    print(f"\nmain figure (deterministic): {100 * ratio:.1f} % of scripted (target >= 90 %)")
    timing = f"training wall time: {wall:.0f} s, " if np.isfinite(wall) else ""
    print(f"{timing}evaluation: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
