"""PPO training speed on Frog and Toad next to CartPole-v1, measured side by side in one run.

    python benchmarks/train_speed.py                 # both geometries below, 3 repeats
    python benchmarks/train_speed.py --quick         # smoke run, a few seconds of timing
    python benchmarks/train_speed.py --geometry old --slots 64 --n-steps 64   # one geometry of your own

Two geometries (slots, ``n_steps``, ``batch_size``, ``n_epochs``), each measured on its own:

- ``old``: the training defaults before issue 15, 32 slots x 128 steps, minibatch 1024,
  4 epochs (or whatever ``--slots``, ``--n-steps``, ``--batch-size``, ``--n-epochs`` say);
- ``new``: the geometry of today's :class:`experiment.config.TrainConfig` defaults
  (``2 * n_games`` slots, ``n_steps``, ``batch_size``, ``n_epochs``).

What is compared (identical where it can be):

- the same SB3 PPO settings (``n_steps``, ``batch_size``, ``n_epochs``), the same number
  of env slots and the same torch thread count;
- Frog and Toad: the batched self-play :class:`agents.vec_env.FrogToadVecEnv` (``slots / 2``
  games) with the coupled policy ``net_arch=(64, 64)`` (coupled layer of 64 units, then
  a 64-unit layer for the policy and for the value function), tanh;
- CartPole-v1: SB3 ``make_vec_env("CartPole-v1", n_envs=slots)`` (a ``DummyVecEnv``)
  with ``MlpPolicy`` ``net_arch=[64, 64]`` and the same activation (the project's tanh,
  ``agents.fast_tanh.FastTanh``).

The figure is agent-steps per second of ``model.learn`` (rollouts and updates), one
fresh model per measurement, after a warm-up run of each setup (numba compilation,
torch's first calls). Every repeat runs all setups one after the other (alternating), and
the table shows medians. Frog and Toad is also measured with ``--other-threads`` (2) torch threads.
On a shared machine the figures are noisy; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.coupled import activation_class, coupled_policy_kwargs  # noqa: E402
from agents.vec_env import FrogToadVecEnv  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402
from frogtoad_env.config import EnvConfig  # noqa: E402


@dataclass(frozen=True)
class Setup:
    """One measured configuration: an env, a policy and a torch thread count."""

    name: str
    threads: int
    make_env: Callable[[int, int], VecEnv]  # (slots, seed) -> VecEnv
    policy_kwargs: Callable[[], dict]


def frogtoad_env(slots: int, seed: int) -> VecEnv:
    return FrogToadVecEnv(slots // 2, EnvConfig(), seed=seed)


def cartpole_env(slots: int, seed: int) -> VecEnv:
    return make_vec_env("CartPole-v1", n_envs=slots, seed=seed)


def frogtoad_policy() -> dict:
    return coupled_policy_kwargs(coupling=0.5, net_arch=(64, 64), activation="tanh")


def cartpole_policy() -> dict:
    return {"net_arch": [64, 64], "activation_fn": activation_class("tanh")}


def build(setup: Setup, args: argparse.Namespace, seed: int) -> PPO:
    return PPO(
        "MlpPolicy",
        setup.make_env(args.slots, seed),
        policy_kwargs=setup.policy_kwargs(),
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        seed=seed,
        device="cpu",
        verbose=0,
    )


def measure(setup: Setup, args: argparse.Namespace, timesteps: int, seed: int) -> float:
    """Agent-steps per second of ``learn(timesteps)`` on a fresh model (construction untimed)."""
    torch.set_num_threads(setup.threads)
    model = build(setup, args, seed)
    start = time.perf_counter()
    model.learn(timesteps)
    elapsed = time.perf_counter() - start
    model.env.close()
    return model.num_timesteps / elapsed


def env_only_rate(make_env: Callable[[int, int], VecEnv], slots: int, steps: int) -> float:
    """Agent-steps per second of the bare VecEnv with random actions (no policy, no PPO)."""
    env = make_env(slots, 0)
    env.reset()
    actions = np.random.default_rng(0).integers(0, env.action_space.n, size=(steps, slots))
    for a in actions[: max(steps // 10, 1)]:  # warm-up
        env.step(a)
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    elapsed = time.perf_counter() - start
    env.close()
    return steps * slots / elapsed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=131_072, help="agent-steps per measurement")
    parser.add_argument("--slots", type=int, default=32, help="env slots (Frog and Toad: slots / 2 games)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per setup (median reported)")
    parser.add_argument("--n-steps", type=int, default=128, help="PPO n_steps (per slot)")
    parser.add_argument("--batch-size", type=int, default=1024, help="PPO batch_size")
    parser.add_argument("--n-epochs", type=int, default=4, help="PPO n_epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the frogtoad/cartpole comparison")
    parser.add_argument("--other-threads", type=int, default=2,
                        help="also time Frog and Toad with this many torch threads (0: skip)")  # fmt: skip
    parser.add_argument("--geometry", choices=("old", "new", "both"), default="both",
                        help="old: the flags above; new: TrainConfig's defaults (slots, n_steps, batch, epochs)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a short smoke run: 1 repeat, few timesteps")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    if args.slots < 2 or args.slots % 2:
        parser.error(f"--slots must be an even number >= 2 (two players per game), got {args.slots}")
    if args.other_threads < 0:
        parser.error(f"--other-threads must be >= 0, got {args.other_threads}")
    for name in ("timesteps", "repeats", "n_steps", "batch_size", "n_epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def new_geometry(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the slots, n_steps, batch_size and n_epochs of TrainConfig's defaults."""
    config = TrainConfig()
    return argparse.Namespace(**{**vars(args), "slots": config.n_slots, "n_steps": config.n_steps,
                                 "batch_size": config.batch_size, "n_epochs": config.n_epochs})  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    geometries = {"old": [args], "new": [new_geometry(args)], "both": [args, new_geometry(args)]}[args.geometry]
    ratios = []
    for geometry in geometries:
        if args.quick:
            geometry.timesteps = min(geometry.timesteps, 4 * geometry.n_steps * geometry.slots)
        ratios.append((geometry, compare(geometry)))
    for geometry, ratio in ratios:
        print(f"ratio frogtoad / cartpole at {geometry.slots} slots, n_steps {geometry.n_steps}, batch "
              f"{geometry.batch_size}, {geometry.n_epochs} epochs: {ratio:.2f} (target >= 1.0)")  # fmt: skip


def compare(args: argparse.Namespace) -> float:
    """Measure every setup at ``args``' geometry, print the table; returns frogtoad / cartpole."""
    setups = [
        Setup("frogtoad (coupled 64,64)", args.threads, frogtoad_env, frogtoad_policy),
        Setup("cartpole (mlp 64,64)", args.threads, cartpole_env, cartpole_policy),
    ]
    if args.other_threads and args.other_threads != args.threads:
        setups.append(Setup("frogtoad (coupled 64,64)", args.other_threads, frogtoad_env, frogtoad_policy))

    rollout = args.n_steps * args.slots
    print(
        f"PPO agent-steps/s, {args.slots} slots, n_steps={args.n_steps}, batch_size={args.batch_size}, "
        f"n_epochs={args.n_epochs}, {args.timesteps} agent-steps per run, {args.repeats} repeat(s), tanh\n"
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average before: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("warming up (numba compile, torch first calls)...", flush=True)
    for setup in setups:
        measure(setup, args, timesteps=2 * rollout, seed=0)

    rates: dict[int, list[float]] = {i: [] for i in range(len(setups))}
    for repeat in range(args.repeats):
        for i, setup in enumerate(setups):  # alternate setups inside every repeat
            rates[i].append(measure(setup, args, args.timesteps, seed=repeat + 1))

    width = max(len(s.name) for s in setups)
    print(f"\n{'setup':<{width}}  threads  {'median':>9}  runs")
    medians = {}
    for i, setup in enumerate(setups):
        medians[i] = statistics.median(rates[i])
        runs = ", ".join(f"{r:,.0f}" for r in rates[i])
        print(f"{setup.name:<{width}}  {setup.threads:>7}  {medians[i]:>9,.0f}  [{runs}]")

    ratio = medians[0] / medians[1]
    print(f"\nratio frogtoad / cartpole at {args.threads} thread(s): {ratio:.2f} (target >= 1.0)")
    if len(setups) > 2:
        one, other = medians[0], medians[2]
        print(f"frogtoad threads: {args.threads} -> {one:,.0f}/s, {args.other_threads} -> {other:,.0f}/s "
              f"({args.other_threads} / {args.threads} = {other / one:.2f})")  # fmt: skip

    torch.set_num_threads(args.threads)
    steps = max(args.timesteps // args.slots // 4, 100)
    ft, cp = env_only_rate(frogtoad_env, args.slots, steps), env_only_rate(cartpole_env, args.slots, steps)
    print(f"bare VecEnv, random actions: frogtoad {ft:,.0f}/s, cartpole {cp:,.0f}/s")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(figures measured on a shared machine are noisy)\n")  # fmt: skip
    return ratio


if __name__ == "__main__":
    main()
