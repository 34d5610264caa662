"""Training throughput of the single-file PPO (``examples/cleanrl_ppo_core.py``) beside SB3's PPO.

    python benchmarks/lean_vs_sb3.py              # 3 alternating repeats of 131,072 agent-steps
    python benchmarks/lean_vs_sb3.py --quick      # smoke run

Both train the same thing: self-play on the batched core (16 games = 32 agent slots),
separate actor and critic MLPs of 64-64 tanh units, rollouts of 128 steps per slot,
4 minibatches, 4 epochs, one torch thread. SB3 runs ``PPO("MlpPolicy")`` on
:class:`agents.vec_env.FrogToadVecEnv`; the lean trainer steps :mod:`frogtoad_env.core`
directly. The figure is agent-steps per second of the whole training loop (rollouts and
updates), a fresh model each run, after one warm-up run of each (numba compilation,
torch's first calls); every repeat measures both, one after the other, and the table
shows medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]  # run from anywhere in the checkout

from agents.vec_env import FrogToadVecEnv  # noqa: E402
from cleanrl_ppo_core import PPOConfig, train  # noqa: E402
from frogtoad_env.config import EnvConfig  # noqa: E402


def sb3_rate(config: PPOConfig) -> float:
    """Agent-steps per second of SB3 ``learn`` (construction untimed)."""
    env = FrogToadVecEnv(config.n_games, EnvConfig(), seed=config.seed)
    rollout = config.n_steps * 2 * config.n_games
    model = PPO("MlpPolicy", env, n_steps=config.n_steps, batch_size=rollout // config.n_minibatches,
                n_epochs=config.n_epochs, learning_rate=config.learning_rate, ent_coef=config.ent_coef,
                policy_kwargs={"net_arch": list(config.hidden), "activation_fn": torch.nn.Tanh},
                seed=config.seed, device="cpu", verbose=0)  # fmt: skip
    start = time.perf_counter()
    model.learn(config.timesteps)
    return model.num_timesteps / (time.perf_counter() - start)


def lean_rate(config: PPOConfig) -> float:
    """Agent-steps per second of the single-file trainer (it trains whole rollouts)."""
    rollout = config.n_steps * 2 * config.n_games
    start = time.perf_counter()
    train(config, log=False)
    return max(config.timesteps // rollout, 1) * rollout / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=131_072, help="agent-steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat of 4 rollouts")
    args = parser.parse_args(argv)
    base = PPOConfig()
    rollout = base.n_steps * 2 * base.n_games
    timesteps, repeats = (4 * rollout, 1) if args.quick else (args.timesteps, args.repeats)
    if timesteps < rollout or repeats < 1:
        parser.error(f"--timesteps must be >= one rollout ({rollout}) and --repeats >= 1")
    torch.set_num_threads(1)
    print(f"PPO agent-steps/s, 32 slots, 64-64 tanh, {timesteps:,} agent-steps per run, {repeats} repeat(s); "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    warm = PPOConfig(timesteps=2 * rollout)
    sb3_rate(warm), lean_rate(warm)
    rates: dict[str, list[float]] = {"sb3": [], "lean": []}
    for repeat in range(repeats):
        config = PPOConfig(timesteps=timesteps, seed=repeat + 1)
        rates["sb3"].append(sb3_rate(config))
        rates["lean"].append(lean_rate(config))
    for name, runs in rates.items():
        print(f"{name:<5} median {statistics.median(runs):>9,.0f}  [{', '.join(f'{r:,.0f}' for r in runs)}]")
    ratio = statistics.median(rates["lean"]) / statistics.median(rates["sb3"])
    print(f"lean / sb3: {ratio:.2f}; load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
