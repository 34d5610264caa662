"""Training throughput with SB3's ``ActorCriticPolicy`` against ``agents.policy``'s, side by side.

    python benchmarks/policy_speed.py                       # 3 alternating pairs of 163,840 agent-steps
    python benchmarks/policy_speed.py --repeats 5 --timesteps 81920

Both classes compute the same numbers (``tests/test_policy.py`` trains one run with each to
the same weights, bit for bit), so the only difference is time. For each geometry (today's
defaults, and the old 16 games x 128 steps with minibatches of 1,024) it trains a fresh PPO
of one seed with each class in turn, after one warm-up rollout, no probe, one torch thread,
and prints the agent-steps per second of every run, the medians and their ratio. Then it
times one acting call (``policy(obs)`` on the observations of one env step, no gradient)
and one ``evaluate_actions`` on a minibatch, alternating, medians of 300 calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable
from unittest import mock

import torch
from stable_baselines3.common.policies import ActorCriticPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

import agents.training  # noqa: E402
from agents.policy import CategoricalActorCriticPolicy  # noqa: E402
from agents.training import make_env, make_model  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402

CLASSES: dict[str, type[ActorCriticPolicy]] = {"SB3": ActorCriticPolicy, "ours": CategoricalActorCriticPolicy}
GEOMETRIES: dict[str, TrainConfig] = {
    "defaults (64 games x 64 steps, minibatch 2,048)": TrainConfig(probe=False),
    "old (16 games x 128 steps, minibatch 1,024)": TrainConfig(probe=False, n_games=16, n_steps=128, learning_rate=1e-3),
}


def model_for(config: TrainConfig, policy_class: type[ActorCriticPolicy]):  # noqa: ANN201 -- an SB3 PPO
    with mock.patch.object(agents.training, "POLICY_CLASS", policy_class):
        return make_model(config, make_env(config))


def steps_per_second(config: TrainConfig, policy_class: type[ActorCriticPolicy], timesteps: int) -> float:
    model = model_for(config, policy_class)
    model.learn(config.rollout_size)  # warm-up: torch's first calls
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    return timesteps / (time.perf_counter() - start)


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
    parser.add_argument("--timesteps", type=int, default=163_840, help="agent-steps timed per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per class and geometry (seeds 0, 1, ...)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for label, geometry in GEOMETRIES.items():
        rates: dict[str, list[float]] = {name: [] for name in CLASSES}
        for seed in range(args.repeats):
            for name, policy_class in CLASSES.items():
                rates[name].append(steps_per_second(replace(geometry, seed=seed), policy_class, args.timesteps))
        medians = {name: statistics.median(r) for name, r in rates.items()}
        print(f"{label}: agent-steps/s, {args.timesteps:,} steps per run")
        for name, r in rates.items():
            print(f"  {name:<5} {', '.join(f'{x:,.0f}' for x in r)}  (median {medians[name]:,.0f})")
        print(f"  ours / SB3: {medians['ours'] / medians['SB3']:.2f}x")

    config = TrainConfig(probe=False)
    models = {name: model_for(config, policy_class) for name, policy_class in CLASSES.items()}
    step_obs = torch.rand(2 * config.n_games, models["SB3"].observation_space.shape[0])
    batch_obs = torch.rand(config.batch_size, step_obs.shape[1])
    actions = torch.randint(0, 5, (config.batch_size,))

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
