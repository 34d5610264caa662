"""Wall-time overhead of the CMNI probe during PPO training.

Trains the same PPO run (same seed, same env, same policy) with and without
:class:`cmni.CMNICallback`, by default at the training defaults of
:class:`experiment.config.TrainConfig` (games, rollout, minibatch, epochs, probe interval,
probe-set size, permutations, untrained-null draws), so the probed run also pays for the
probe-set build and the untrained-network null once, and prints both wall times and the
overhead in percent. Target: <= 5 %.

The env is the batched ``agents.vec_env.FrogToadVecEnv`` when it exists, else a
``DummyVecEnv`` of ``FrogToad-v0``; the policy is the coupled network
(``agents.coupled.coupled_policy_kwargs``) when it exists, else SB3's ``MlpPolicy``, in
``train.py``'s policy class (``agents.training.POLICY_CLASS``) when it exists.
Runs alternate (plain, probed, plain, probed, ...) so that load from other processes
hits both alike; the minimum over ``--repeats`` is reported.

Example::

    python benchmarks/probe_overhead.py --timesteps 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from cmni import CMNICallback  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402
from frogtoad_env.config import EnvConfig  # noqa: E402


def make_env(config: EnvConfig, n_games: int, seed: int) -> tuple[VecEnv, str]:
    """The fastest available vector env and its description."""
    try:
        from agents.vec_env import FrogToadVecEnv
    except ImportError:
        import gymnasium
        from stable_baselines3.common.env_util import make_vec_env

        import frogtoad_env  # noqa: F401  (registers FrogToad-v0)

        env = make_vec_env(gymnasium.make, n_envs=n_games, seed=seed, env_kwargs=dict(id="FrogToad-v0", **config.to_dict()))
        return env, f"DummyVecEnv of FrogToad-v0 x {n_games}"
    return FrogToadVecEnv(n_games, config, seed=seed), f"FrogToadVecEnv({n_games} games, {2 * n_games} slots)"


def policy_kwargs(config: EnvConfig) -> tuple[dict[str, Any], str]:
    try:
        from agents.coupled import coupled_policy_kwargs
    except ImportError:
        return {}, "MlpPolicy 64x64 tanh"
    if config.obs_mode != "egocentric":
        return {}, "MlpPolicy 64x64 tanh"
    return coupled_policy_kwargs(coupling=0.5, width=config.width), "coupled 64 + MLP 64, tanh"


def policy_class() -> Any:
    """``train.py``'s policy class, else SB3's ``"MlpPolicy"``."""
    try:
        from agents.training import POLICY_CLASS
    except ImportError:
        return "MlpPolicy"
    return POLICY_CLASS


class TimedCMNICallback(CMNICallback):
    """CMNICallback that adds up the wall and CPU time spent inside its hooks."""

    inside_s: float = 0.0
    inside_cpu_s: float = 0.0

    def _on_training_start(self) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        super()._on_training_start()
        self.inside_s += time.perf_counter() - start
        self.inside_cpu_s += time.process_time() - cpu

    def probe(self) -> dict[str, float]:
        start, cpu = time.perf_counter(), time.process_time()
        row = super().probe()
        self.inside_s += time.perf_counter() - start
        self.inside_cpu_s += time.process_time() - cpu
        return row


def train_once(
    args: argparse.Namespace, config: EnvConfig, probed: bool, workdir: Path, run: int
) -> tuple[float, float, float, float, int]:
    """Train one run; returns (wall s of ``learn``, CPU s of ``learn``, wall s and CPU s
    inside the callback, probes made)."""
    env, _ = make_env(config, args.n_games, args.seed)
    kwargs, _ = policy_kwargs(config)
    model = PPO(
        policy_class(), env, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs, seed=args.seed,
        device="cpu", policy_kwargs=kwargs, tensorboard_log=str(workdir / f"tb_{run}_{int(probed)}"), verbose=0,
    )  # fmt: skip
    callback = None
    if probed:
        callback = TimedCMNICallback(
            workdir / f"run_{run}", config, probe_every=args.probe_every, seed=args.seed,
            per_scenario=args.per_scenario, n_permutations=args.n_permutations, n_null_draws=args.null_draws,
        )  # fmt: skip
    start, cpu_start = time.perf_counter(), time.process_time()
    model.learn(args.timesteps, callback=callback)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    env.close()
    if callback is None:
        return elapsed, cpu, 0.0, 0.0, 0
    return elapsed, cpu, callback.inside_s, callback.inside_cpu_s, len(callback.history)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = TrainConfig()
    parser.add_argument("--timesteps", type=int, default=defaults.timesteps, help="agent-steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind, alternating; medians are reported")
    parser.add_argument("--n-games", type=int, default=defaults.n_games, help="games (FrogToadVecEnv: 2 slots each)")
    parser.add_argument("--n-steps", type=int, default=defaults.n_steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--n-epochs", type=int, default=defaults.n_epochs)
    parser.add_argument("--probe-every", type=int, default=defaults.probe_interval, help="agent-steps between probes")
    parser.add_argument("--per-scenario", type=int, default=defaults.probe_per_scenario)
    parser.add_argument("--n-permutations", type=int, default=defaults.probe_permutations)
    parser.add_argument("--null-draws", type=int, default=defaults.probe_null_draws, help="untrained-null networks")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = EnvConfig()
    probe_env, env_name = make_env(config, args.n_games, args.seed)
    probe_env.close()
    _, policy_name = policy_kwargs(config)
    print(f"env: {env_name}; policy: {policy_name}")
    print(
        f"{args.timesteps} timesteps, n_steps {args.n_steps}, batch {args.batch_size}, epochs {args.n_epochs}; "
        f"probe every {args.probe_every} steps, {args.per_scenario} states/scenario, "
        f"{args.n_permutations} permutations, {args.null_draws} untrained-null draws; torch threads {args.threads}"
    )
    plain: list[tuple[float, float]] = []
    probed: list[tuple[float, float]] = []
    inside: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        warm_up = argparse.Namespace(**{**vars(args), "timesteps": 20_000})
        train_once(warm_up, config, True, workdir, -1)  # numba compile, torch first calls, probe set
        for run in range(args.repeats):
            order = (False, True) if run % 2 == 0 else (True, False)  # alternate to cancel drift
            for with_probe in order:
                wall, cpu, in_wall, in_cpu, probes = train_once(args, config, with_probe, workdir, run)
                (probed if with_probe else plain).append((wall, cpu))
                if with_probe:
                    inside.append((in_wall, in_cpu))
                    n_probes = probes
            print(
                f"run {run}: without probe {plain[-1][0]:.2f} s wall / {plain[-1][1]:.2f} s CPU; with probe "
                f"{probed[-1][0]:.2f} s wall / {probed[-1][1]:.2f} s CPU, of which {inside[-1][0]:.2f} s wall / "
                f"{inside[-1][1]:.2f} s CPU inside the callback ({n_probes} probes)"
            )
    for label, k in (("wall", 0), ("CPU", 1)):
        base, with_probe = median(t[k] for t in plain), median(t[k] for t in probed)
        overhead = 100.0 * (with_probe - base) / base
        print(f"{label:>4} median: without CMNICallback {base:.2f} s, with {with_probe:.2f} s -> overhead {overhead:+.1f} %")
    for label, k in (("wall", 0), ("CPU", 1)):
        spent, base = median(t[k] for t in inside), median(t[k] for t in plain)
        print(f"time inside the callback ({label}, median): {spent:.2f} s = {100.0 * spent / base:.1f} % of the run without it")
    print("target: overhead <= 5 % (on a shared machine, CPU time is the steadier measure)")


if __name__ == "__main__":
    main()
