"""Where a default training run's CPU time goes, without a profiler: rollouts against PPO's update.

    python benchmarks/update_cost.py                  # 262,144 agent-steps after a 65,536-step warm-up
    python benchmarks/update_cost.py --timesteps 131072

Trains the default config (no probe, one torch thread) and adds up the process time spent
in SB3's ``PPO.collect_rollouts`` and ``PPO.train``, and inside them in the env's
``step_wait`` and the policy's ``forward`` (the per-step action choice). Then it times the
pieces of one minibatch update of the default size on random data (median of 50): the
forward pass of ``evaluate_actions``, forward and backward, and the whole step with the
gradient clip and Adam; and, for scale, one ``torch.tanh``, one
:class:`agents.fast_tanh.FastTanh` (the policy's tanh) and one 64 × 64 linear layer on a
minibatch of 64-unit activations. A cProfile run inflates the many small Python calls;
these figures do not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import torch
from stable_baselines3 import PPO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.fast_tanh import FastTanh  # noqa: E402
from agents.training import make_env, make_model  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402


def timed(owner: type, name: str, totals: dict[str, float], label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its process time to ``totals[label]``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - start

    setattr(owner, name, wrapper)


def milliseconds(step: Callable[[], Any], repeats: int = 50) -> float:
    """Median process time of ``step`` in ms, after one call to warm up."""
    step()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=262_144, help="agent-steps measured")
    parser.add_argument("--warm-up", type=int, default=65_536, help="agent-steps before measuring")
    args = parser.parse_args(argv)
    config = TrainConfig(probe=False)
    torch.set_num_threads(config.torch_threads)
    env = make_env(config)
    model = make_model(config, env)
    totals: dict[str, float] = defaultdict(float)
    timed(PPO, "collect_rollouts", totals, "collect_rollouts")
    timed(PPO, "train", totals, "train (the update)")
    timed(type(env.venv), "step_wait", totals, "  env step_wait")
    timed(type(model.policy), "forward", totals, "  policy forward (acting)")
    model.learn(args.warm_up)
    totals.clear()
    start = time.process_time()
    model.learn(args.timesteps, reset_num_timesteps=False)
    total = time.process_time() - start
    print(f"default config: {config.n_games} games x {config.n_steps} steps, minibatch {config.batch_size:,}, "
          f"{config.n_epochs} epochs; {args.timesteps:,} agent-steps in {total:.2f} CPU s "
          f"({args.timesteps / total:,.0f} agent-steps/s)")  # fmt: skip
    for label in ("collect_rollouts", "  env step_wait", "  policy forward (acting)", "train (the update)"):
        print(f"  {label:<26} {totals[label]:6.2f} s  {totals[label] / total:5.1%}")

    policy = model.policy
    rows = config.batch_size
    obs = torch.rand(rows, env.observation_space.shape[0])
    actions = torch.randint(0, env.action_space.n, (rows,))
    advantages, returns, old_log_prob = torch.randn(rows), torch.randn(rows), torch.randn(rows)

    def forward() -> Any:
        return policy.evaluate_actions(obs, actions)

    def forward_backward() -> None:
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        policy.optimizer.zero_grad()
        (log_prob.mean() + values.mean() + entropy.mean()).backward()

    def update() -> None:  # PPO's clipped loss, as SB3 computes it
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        ratio = torch.exp(log_prob - old_log_prob)
        clipped = torch.clamp(ratio, 1 - config.clip_range, 1 + config.clip_range)
        loss = (-torch.min(advantages * ratio, advantages * clipped).mean()
                + config.vf_coef * ((returns - values.flatten()) ** 2).mean() - config.ent_coef * entropy.mean())  # fmt: skip
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
        policy.optimizer.step()

    units = config.net_arch[0]
    hidden = torch.randn(rows, units)
    fast_tanh, linear = FastTanh(), torch.nn.Linear(units, units)
    print(f"one minibatch of {rows:,} (median of 50, ms):")
    pieces = {
        "evaluate_actions forward": forward,
        "forward + backward": forward_backward,
        "whole step (clip, Adam)": update,
        f"one torch.tanh ({rows} x {units})": lambda: torch.tanh(hidden),
        f"one FastTanh ({rows} x {units})": lambda: fast_tanh(hidden),
        f"one linear {units} x {units}": lambda: linear(hidden),
    }
    for label, piece in pieces.items():
        print(f"  {label:<28} {milliseconds(piece):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
