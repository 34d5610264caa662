"""Training throughput with SB3's ``ActorCriticPolicy`` against ``agents.policy``'s, side by side.

    python benchmarks/policy_speed.py                     # 491,520 agent-steps per class and geometry
    python benchmarks/policy_speed.py --timesteps 163840

Both classes compute the same numbers (``tests/test_policy.py`` trains one run with each to
the same weights, bit for bit), so the only difference is time. For each geometry (today's
defaults, and the old 16 games x 128 steps with minibatches of 1,024) it trains a fresh PPO
of seed 0 with each class, both alive at once, after one warm-up rollout each (no probe, one
torch thread), and alternates between them one rollout at a time, so the machine's drift in
speed (it is large here, from one minute to the next) hits both alike. It prints each
class's agent-steps per second over all its rollouts, their ratio, and the median of the
per-pair ratios. Then it times one acting call (``policy(obs)`` on 128 random
observations, one env step's worth, no gradient) and one ``evaluate_actions`` on a
minibatch, alternating, medians of 300 calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

import agents.training  # noqa: E402
from agents.policy import CategoricalActorCriticPolicy  # noqa: E402
from agents.training import make_env, make_model  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402

CLASSES: dict[str, type[ActorCriticPolicy]] = {"SB3": ActorCriticPolicy, "ours": CategoricalActorCriticPolicy}
GEOMETRIES: dict[str, TrainConfig] = {
    "defaults (64 games x 64 steps, minibatch 2,048)": TrainConfig(probe=False),
    "old (16 games x 128 steps, minibatch 1,024)": TrainConfig(
        probe=False, n_games=16, n_steps=128, learning_rate=1e-3
    ),
}


def model_for(config: TrainConfig, policy_class: type[ActorCriticPolicy]) -> PPO:
    with mock.patch.object(agents.training, "POLICY_CLASS", policy_class):
        return make_model(config, make_env(config))


def seconds_per_rollout(config: TrainConfig, timesteps: int) -> dict[str, list[float]]:
    """Class name -> wall seconds of each of its rollouts (collection and update), alternating."""
    models = {name: model_for(config, policy_class) for name, policy_class in CLASSES.items()}
    for model in models.values():
        model.learn(config.rollout_size)  # warm-up: torch's first calls
    seconds: dict[str, list[float]] = {name: [] for name in CLASSES}
    for _ in range(max(timesteps // config.rollout_size, 1)):
        for name, model in models.items():
            start = time.perf_counter()
            model.learn(config.rollout_size, reset_num_timesteps=False)
            seconds[name].append(time.perf_counter() - start)
    return seconds


def alternating_medians(calls: dict[str, Callable[[], object]], repeats: int = 300) -> dict[str, float]:
    """Median wall time of each call in ms, the calls interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=491_520, help="agent-steps timed per class and geometry")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for label, geometry in GEOMETRIES.items():
        seconds = seconds_per_rollout(geometry, args.timesteps)
        rates = {name: geometry.rollout_size * len(t) / sum(t) for name, t in seconds.items()}
        pair_ratios = [sb3 / ours for sb3, ours in zip(seconds["SB3"], seconds["ours"])]
        print(f"{label}: {len(pair_ratios)} alternating rollouts of {geometry.rollout_size:,} agent-steps per class")
        low, middle, high = np.percentile(pair_ratios, [25, 50, 75])
        print("  agent-steps/s: " + ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items())
              + f"; ours / SB3 {rates['ours'] / rates['SB3']:.2f}x (median of the pairs {middle:.2f}x, "
              f"quartiles {low:.2f}-{high:.2f})")  # fmt: skip

    config = TrainConfig(probe=False)
    models = {name: model_for(config, policy_class) for name, policy_class in CLASSES.items()}
    step_obs = torch.rand(2 * config.n_games, models["SB3"].observation_space.shape[0])
    batch_obs = torch.rand(config.batch_size, step_obs.shape[1])
    actions = torch.randint(0, models["SB3"].action_space.n, (config.batch_size,))

    def act(policy: ActorCriticPolicy) -> Callable[[], object]:
        def call() -> object:
            with torch.no_grad():
                return policy(step_obs)

        return call

    acting = alternating_medians({name: act(m.policy) for name, m in models.items()})
    evaluating = alternating_medians({name: (lambda p=m.policy: p.evaluate_actions(batch_obs, actions))
                                      for name, m in models.items()})  # fmt: skip
    print(f"one acting call on {len(step_obs)} observations, ms: "
          + ", ".join(f"{name} {t:.3f}" for name, t in acting.items()))  # fmt: skip
    print(f"one evaluate_actions on {config.batch_size:,} (forward only), ms: "
          + ", ".join(f"{name} {t:.3f}" for name, t in evaluating.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
