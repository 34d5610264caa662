"""How fast Frog and Toad steps, next to Gymnasium's CartPole-v1 on the same machine.

Measured in one run, side by side: every repeat times each row once, in turn, so a change in
the machine's load hits all rows alike (random actions, auto reset, medians over repeats):

- the single PettingZoo parallel env: env-steps/s (one step moves both players);
- the batched rules core (``core.step`` + egocentric ``observations.observe``) at
  batch 1024 and 4096: agent-steps/s (two per game-step);
- CartPole-v1: one ``gymnasium.make`` env in a loop, and gymnasium's own vectorised
  CartPole (``make_vec(..., vectorization_mode="vector_entry_point")``) at 1024 and
  4096 envs, plus a ``SyncVectorEnv`` of 1024 envs; one CartPole step is one agent-step.

Ratios divide ours by the CartPole row of the same shape. Targets: the single env at least
0.5x CartPole's ``make()`` env (what TorchRL, Tianshou and RLlib users step one game at a
time), the batched core at least 2,000,000 agent-steps/s with observations.

Usage: ``python benchmarks/env_speed.py [--quick] [--repeats N]``. Torch-free.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import gymnasium
import numba
import numpy as np

import frogtoad_env
from frogtoad_env import core, observations

SINGLE_RATIO_TARGET = 0.5
BATCH_TARGET = 2_000_000.0
EPISODE_STEPS = 500


@dataclass
class Row:
    """One benchmark: per-repeat rates by wall clock and by this process's CPU time."""

    name: str
    batch: int
    run: Callable[[], int]
    unit: str
    baseline: str | None = None
    target: float | None = None
    ratio_target: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def time_once(self) -> None:
        """Call ``run`` once and record its rate (units / s) by wall clock (``time.perf_counter``)
        and by this process's CPU time (``time.process_time``, the steadier estimate on a busy
        shared machine of what an idle core would do)."""
        start, start_cpu = time.perf_counter(), time.process_time()
        units = self.run()
        self.wall.append(units / (time.perf_counter() - start))
        self.cpu.append(units / max(time.process_time() - start_cpu, 1e-9))


def measure_alternating(rows: list[Row], repeats: int) -> None:
    """Time every row once per repeat, in turn, ``repeats`` times."""
    for _ in range(repeats):
        for row in rows:
            row.time_once()


def frogtoad_single(steps: int, seed: int = 0) -> Callable[[], int]:
    """Env-steps of the single parallel env with uniform random actions, resetting when done."""
    env = frogtoad_env.parallel_env()
    env.reset(seed=seed)
    table = np.random.default_rng(seed).integers(0, core.N_ACTIONS, (steps, 2)).tolist()

    def run() -> int:
        for frog, toad in table:
            if not env.agents:
                env.reset()
            env.step({"frog": frog, "toad": toad})
        return steps

    return run


def frogtoad_batched(batch: int, steps: int, seed: int = 0) -> Callable[[], int]:
    """Agent-steps of ``batch`` games stepped by the core, with egocentric observations."""
    config = core.RulesConfig()
    stream = core.RandomStream(seed)
    rng = np.random.default_rng(seed)
    pool = [rng.integers(0, core.N_ACTIONS, (batch, 2)) for _ in range(16)]
    state = [core.new_games(batch, config)]

    def run() -> int:
        for t in range(steps):
            if state[0].steps[0] >= EPISODE_STEPS:
                state[0] = core.new_games(batch, config)
            core.step(state[0], pool[t % len(pool)], config, stream)
            observations.observe(state[0], "egocentric")
        return 2 * batch * steps

    return run


def cartpole_single(steps: int, seed: int = 0) -> Callable[[], int]:
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=seed)
    table = np.random.default_rng(seed).integers(0, 2, steps).tolist()

    def run() -> int:
        for action in table:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return steps

    return run


def cartpole_vector(envs: gymnasium.vector.VectorEnv, steps: int, seed: int = 0) -> Callable[[], int]:
    """Env-steps of a vector CartPole (its own autoreset)."""
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    pool = [rng.integers(0, 2, envs.num_envs) for _ in range(16)]

    def run() -> int:
        for t in range(steps):
            envs.step(pool[t % len(pool)])
        return envs.num_envs * steps

    return run


def warm_up() -> None:
    """Load (or compile) the numba kernels before anything is timed."""
    frogtoad_batched(8, 3)()
    frogtoad_single(3)()


def fmt_rate(rate: float) -> str:
    return f"{rate:>13,.0f}"


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and 2 repeats: a smoke run, not a measurement")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per row (default 5, quick 2)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    single_steps = 2_000 if args.quick else 20_000
    batch_steps = {1024: 10 if args.quick else 200, 4096: 5 if args.quick else 60}
    sync_steps = 5 if args.quick else 20

    warm_up()
    rows = [
        Row("frogtoad parallel env (1 game)", 1, frogtoad_single(single_steps), "env-steps/s",
            "cartpole make() env", ratio_target=SINGLE_RATIO_TARGET),
        Row("cartpole make() env", 1, cartpole_single(single_steps), "env-steps/s"),
    ]  # fmt: skip
    vector_envs = []
    for batch, steps in batch_steps.items():
        vec = gymnasium.make_vec("CartPole-v1", num_envs=batch, vectorization_mode="vector_entry_point")
        vector_envs.append(vec)
        rows.append(
            Row(f"frogtoad core.step+observe {batch}", batch, frogtoad_batched(batch, steps), "agent-steps/s",
                f"cartpole vector_entry_point {batch}", BATCH_TARGET)
        )  # fmt: skip
        rows.append(Row(f"cartpole vector_entry_point {batch}", batch, cartpole_vector(vec, steps), "env-steps/s"))
    sync = gymnasium.make_vec("CartPole-v1", num_envs=1024, vectorization_mode="sync")
    vector_envs.append(sync)
    rows.append(Row("cartpole SyncVectorEnv 1024", 1024, cartpole_vector(sync, sync_steps), "env-steps/s"))
    measure_alternating(rows, repeats)
    for vec in vector_envs:
        vec.close()

    by_name = {row.name: row for row in rows}
    print(
        f"python {platform.python_version()}  numpy {np.__version__}  numba {numba.__version__}  "
        f"gymnasium {gymnasium.__version__}  cpus {os.cpu_count()}  repeats {repeats}{'  (QUICK: smoke run)' if args.quick else ''}"
    )
    header = (
        f"{'benchmark':<34} {'batch':>5} {'median':>13} {'min':>13} {'max':>13} {'per CPU-s':>13}  "
        f"{'unit':<14} {'vs CartPole':>11}  target (wall medians)"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio, target = "", ""
        if row.baseline:
            ratio_value = row.median / by_name[row.baseline].median
            ratio = f"{ratio_value:>10.2f}x"
            if row.ratio_target:
                target = f">= {row.ratio_target:.2f}x {'PASS' if ratio_value >= row.ratio_target else 'MISS'}"
        if row.target:
            target = f">= {row.target:,.0f} {'PASS' if row.median >= row.target else 'MISS'}"
        print(
            f"{row.name:<34} {row.batch:>5} {fmt_rate(row.median)} {fmt_rate(min(row.wall))} {fmt_rate(max(row.wall))} "
            f"{fmt_rate(row.cpu_median)}  "
            f"{row.unit:<14} {ratio:>11}  {target}"
        )
    print(
        "median/min/max: wall clock over the repeats, every row timed once per repeat in turn;\n"
        "per CPU-s: units per second of this process's CPU time.\n"
        "agent-steps count both players (2 per game-step); one CartPole env-step is one agent-step;\n"
        "ratios compare wall medians. Timings on a shared machine are noisy."
    )
    return rows


if __name__ == "__main__":
    main()
