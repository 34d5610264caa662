"""Training throughput of today's code against the code before the speed work, one change at a time.

    python benchmarks/code_speed.py                 # 40 alternating rollouts of 8,192 agent-steps per variant
    python benchmarks/code_speed.py --rollouts 20

At ``train.py``'s defaults (no probe, one torch thread) it builds one PPO of seed 0 per
variant, all alive at once:

- ``old code``: the four changes of ``benchmarks/old_code.py`` undone;
- ``+ policy class``, ``+ tanh``, ``+ adam``, ``+ coupled matmul``: each change added on top
  of the variant before it; the last is today's code.

After one warm-up rollout each, it alternates between the variants one rollout (collection
and update) at a time, so the machine's drift in speed, large here from one minute to the
next, hits all alike. It prints each variant's agent-steps per second over all its
rollouts, the seconds of its rollouts spent in PPO's update, and its speed as a ratio to
the old code and to the variant before it (with the median of the per-rollout ratios).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.training import make_env, make_model  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402
from old_code import CHANGES, old_code  # noqa: E402

#: variant name -> the changes still undone in it
VARIANTS: dict[str, tuple[str, ...]] = {"old code": CHANGES} | {
    f"+ {change}": CHANGES[index + 1 :] for index, change in enumerate(CHANGES)
}


def timed_update(model: PPO, seconds: list[float]) -> None:
    """Make ``model.train`` (PPO's update) add its wall time to ``seconds[0]``."""
    update = model.train

    def train() -> None:
        start = time.perf_counter()
        update()
        seconds[0] += time.perf_counter() - start

    model.train = train  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=40, help="rollouts timed per variant")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = TrainConfig(probe=False)
    models: dict[str, PPO] = {}
    for name, undone in VARIANTS.items():
        with old_code(undone):
            models[name] = make_model(config, make_env(config))
            models[name].learn(config.rollout_size)  # warm-up: torch's first calls
    rollout_seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    update_seconds: dict[str, list[float]] = {name: [0.0] for name in VARIANTS}
    for name, model in models.items():
        timed_update(model, update_seconds[name])
    for _ in range(args.rollouts):
        for name, model in models.items():
            with old_code(VARIANTS[name]):
                start = time.perf_counter()
                model.learn(config.rollout_size, reset_num_timesteps=False)
                rollout_seconds[name].append(time.perf_counter() - start)

    print(f"train.py's defaults ({config.n_games} games x {config.n_steps} steps, minibatch {config.batch_size:,}, "
          f"{config.n_epochs} epochs, no probe, 1 torch thread): {args.rollouts} alternating rollouts of "
          f"{config.rollout_size:,} agent-steps per variant")  # fmt: skip
    print(f"  {'variant':<18} {'agent-steps/s':>13} {'in update':>9} {'x old':>6} {'x previous (median pair)':>25}")
    names = list(VARIANTS)
    for index, name in enumerate(names):
        seconds = rollout_seconds[name]
        rate = config.rollout_size * len(seconds) / sum(seconds)
        previous = rollout_seconds[names[max(index - 1, 0)]]
        pairs = statistics.median(p / s for p, s in zip(previous, seconds))
        print(f"  {name:<18} {rate:>13,.0f} {update_seconds[name][0] / sum(seconds):>9.1%} "
              f"{sum(rollout_seconds['old code']) / sum(seconds):>5.2f}x "
              f"{sum(previous) / sum(seconds):>11.2f}x ({pairs:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
