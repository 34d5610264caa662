"""Wall-time overhead of the CMNI probe during PPO training.

Trains the same PPO run (``agents.training.make_model`` at the defaults of
:class:`experiment.config.TrainConfig`: games, rollout, minibatch, epochs, learning rate,
reward scale; same seed) with and without :class:`cmni.CMNICallback` at the default probe
interval, probe-set size, permutations and untrained-null draws, so the probed run also
pays for the probe-set build and the untrained-network null once. Both stream to
TensorBoard, as ``train.py`` does. It prints both wall times and the overhead in percent.
Target: <= 5 %.

Runs alternate (plain, probed, probed, plain, ...) so that load from other processes
hits both alike; medians over ``--repeats`` are reported. Each run has a fresh process, as
a ``train.py`` run does, after an untimed warm-up in it (torch's first calls, the probe
set): runs that followed each other in one process drifted apart by more than the probe
costs (docs/training.md, "Probe overhead at the defaults, today").

Example::

    python benchmarks/probe_overhead.py --timesteps 2000000 --repeats 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from statistics import median

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.training import make_env, make_model  # noqa: E402
from cmni import CMNICallback  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402


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


def train_in_fresh_process(
    config: TrainConfig, probed: bool, workdir: Path, run: int, threads: int
) -> tuple[float, float, float, float, int]:
    """:func:`train_once` in a new Python process, after an untimed 20k-step warm-up there."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(warm_up_and_train, config, probed, workdir, run, threads).result()


def warm_up_and_train(
    config: TrainConfig, probed: bool, workdir: Path, run: int, threads: int
) -> tuple[float, float, float, float, int]:
    torch.set_num_threads(threads)
    train_once(replace(config, timesteps=20_000), True, workdir / f"warm_up_{run}_{int(probed)}", run)
    return train_once(config, probed, workdir, run)


def train_once(config: TrainConfig, probed: bool, workdir: Path, run: int) -> tuple[float, float, float, float, int]:
    """Train one run; returns (wall s of ``learn``, CPU s of ``learn``, wall s and CPU s
    inside the callback, probes made)."""
    model = make_model(config, make_env(config))
    model.tensorboard_log = str(workdir / f"tb_{run}_{int(probed)}")
    callback = None
    if probed:
        callback = TimedCMNICallback(
            workdir / f"run_{run}", config.env, probe_every=config.probe_interval, seed=config.seed,
            per_scenario=config.probe_per_scenario, n_permutations=config.probe_permutations,
            n_null_draws=config.probe_null_draws,
        )  # fmt: skip
    start, cpu_start = time.perf_counter(), time.process_time()
    model.learn(config.timesteps, callback=callback)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    model.get_env().close()
    if callback is None:
        return elapsed, cpu, 0.0, 0.0, 0
    return elapsed, cpu, callback.inside_s, callback.inside_cpu_s, len(callback.history)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = TrainConfig()
    parser.add_argument("--timesteps", type=int, default=defaults.timesteps, help="agent-steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind, alternating; medians are reported")
    parser.add_argument("--probe-every", type=int, default=defaults.probe_interval, help="agent-steps between probes")
    parser.add_argument("--threads", type=int, default=defaults.torch_threads, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = replace(defaults, timesteps=args.timesteps, probe_every=args.probe_every, seed=args.seed)
    print(
        f"train.py's defaults: {config.timesteps} agent-steps, {config.n_games} games x {config.n_steps} steps, "
        f"minibatch {config.batch_size}, {config.n_epochs} epochs; probe every {config.probe_interval} steps, "
        f"{config.probe_per_scenario} states/scenario, {config.probe_permutations} permutations, "
        f"{config.probe_null_draws} untrained-null draws; torch threads {args.threads}"
    )
    plain: list[tuple[float, float]] = []
    probed: list[tuple[float, float]] = []
    inside: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for run in range(args.repeats):
            order = (False, True) if run % 2 == 0 else (True, False)  # alternate to cancel drift
            for with_probe in order:
                wall, cpu, in_wall, in_cpu, probes = train_in_fresh_process(config, with_probe, workdir, run, args.threads)
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
