"""Wall time to the same policy quality: the old training defaults against the new ones.

    python benchmarks/time_to_score.py                        # old vs new, 3 seeds each, with the CMNI probe
    python benchmarks/time_to_score.py --seeds 1 --no-probe --stop-at 1500000 \\
        --candidate big:n_games=128,n_steps=32,learning_rate=2e-3,timesteps=2000000   # screening

Each run is a full :func:`agents.training.train` call (run folder, checkpoints, TensorBoard,
the CMNI probe with its untrained null) timed from before the call. The old defaults run
with the code they ran with (``benchmarks/old_code.py``: SB3's policy class, ``nn.Tanh``,
SB3's Adam, the three-product coupled layer), from training to the last greedy game; every
other config with today's (``benchmarks/code_speed.py`` times the difference).
Runs alternate between the configs inside every seed (old, new, old, new...), so load from
other processes hits both alike. For each run:

- the training curve: after every rollout, the wall time, the agent-step and the mean
  score per player of the last training episodes (SB3's ``ep_info_buffer``, the value
  TensorBoard shows as ``game/score``);
- **time to scripted**: the first wall time at which that score reaches the scripted
  policy's (``SCRIPTED_SCORE`` points per player);
- **time to final**: the first wall time at which it reaches ``--target-fraction`` (99 %)
  of the *old* defaults' median final score, one target for every config;
- **time to final, greedy**: the target (``--target``, else the fraction of 470, as the
  checkpoints are played before every old run is done), reached by the greedy policy of a
  checkpoint (the measure of the final score below). Every config saves a checkpoint every
  ``--checkpoint-every`` agent-steps (50,000; it keeps its own probe interval); after the
  run, the checkpoints are played in order, untimed, until one reaches the target, and
  its time is when that policy existed (the start of the next rollout);
- **final score**: the trained policy plays ``--eval-games`` seeded games in both seats,
  greedy; mean points per player with a 95 % Student-t interval over the players;
- **CMNI**: from ``cmni.csv``, the step of the largest ``excess_cmni`` (CMNI minus the
  untrained-network null), the number of probes up to it, and the last ``excess_cmni``.

Then per config the medians over seeds (a run that never reached a score counts as the
slowest for that time), and the ratios old / new of the medians.
The training score is updated only when episodes end (every ``max_steps`` env steps,
``2 * n_games * max_steps`` agent-steps), so the crossing times are late by up to one
episode of wall time; that resolution is printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from stable_baselines3.common.callbacks import BaseCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.training import train  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402
from experiment.cmni_csv import read_cmni_csv  # noqa: E402
from experiment.run_folder import RunFolder  # noqa: E402
from frogtoad_env.behaviour import episode_means  # noqa: E402
from old_code import old_code  # noqa: E402

#: points per player per 500-step episode of the scripted policy (benchmarks/scripted_score.py)
SCRIPTED_SCORE = 418.0
#: the defaults before the speed work (issue 15), spelled out so this script keeps measuring them
OLD_DEFAULTS: dict[str, Any] = dict(
    timesteps=5_000_000, n_games=16, n_steps=128, n_minibatches=4, n_epochs=4, learning_rate=1e-3,
    checkpoint_every=250_000, probe_every=None, reward_scale=1.0,
)  # fmt: skip


def final_score(model: Any, config: TrainConfig, n_games: int, seed: int) -> np.ndarray:
    """Points of every player, shape (2 * n_games,): the greedy policy in both seats of
    ``n_games`` seeded games of ``config.env``. The one place this script calls the evaluation code."""
    from evaluation.episodes import play_episodes
    from evaluation.partners import ModelPolicy

    policy = ModelPolicy(model, deterministic=True)
    return play_episodes(policy, policy, config.env, n_games, seed=seed).scores.reshape(-1).astype(np.float64)


def mean_interval(values: np.ndarray | list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student-t interval of the mean (NaN bounds for fewer than 2 values)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=stats.sem(x))
    return mean, float(low), float(high)


class CurveRecorder(BaseCallback):
    """After every rollout: (wall s since ``start``, CPU s of this process since then, agent-step,
    mean training score per player).
    Stops training once ``stop_at`` agent-steps are reached (the lr schedule is not changed)."""

    def __init__(self, start: float, cpu_start: float, stop_at: int | None = None) -> None:
        super().__init__()
        self.start, self.cpu_start = start, cpu_start
        self.stop_at = stop_at
        self.points: list[tuple[float, float, int, float]] = []
        #: agent-step -> (wall s, CPU s) when the policy trained on that many steps existed
        self.policy_times: dict[int, tuple[float, float]] = {}

    def _now(self) -> tuple[float, float]:
        return time.perf_counter() - self.start, time.process_time() - self.cpu_start

    def _on_rollout_start(self) -> None:
        self.policy_times[int(self.num_timesteps)] = self._now()

    def _on_training_end(self) -> None:
        self.policy_times.setdefault(int(self.num_timesteps), self._now())

    def _on_step(self) -> bool:
        return self.stop_at is None or self.num_timesteps < self.stop_at

    def _on_rollout_end(self) -> None:
        score = episode_means(self.model.ep_info_buffer).get("score", math.nan)
        self.points.append((*self._now(), int(self.num_timesteps), score))


@dataclass
class RunResult:
    """One measured run."""

    config: TrainConfig
    wall_s: float
    cpu_s: float
    steps: int
    curve: list[tuple[float, float, int, float]]
    scores: np.ndarray
    cmni: list[dict[str, float]] = field(default_factory=list)
    #: (wall s, CPU s, agent-step) of the first checkpoint whose greedy policy reached the target
    greedy_first: tuple[float, float, int] = (math.nan, math.nan, -1)

    def first_time(self, target: float) -> tuple[float, float, int]:
        """(wall s, CPU s, agent-step) at which the training score first reaches ``target``; NaN, NaN, -1 if never."""
        for wall, cpu, step, score in self.curve:
            if score >= target:
                return wall, cpu, step
        return math.nan, math.nan, -1

    def cmni_peak(self) -> tuple[int, int, float]:
        """(step of the largest excess_cmni, probes up to and including it, last excess_cmni)."""
        if not self.cmni:
            return -1, 0, math.nan
        excess = [row["excess_cmni"] for row in self.cmni]
        peak = int(np.nanargmax(excess))
        return int(self.cmni[peak]["step"]), peak + 1, excess[-1]


def run_once(config: TrainConfig, workdir: Path, name: str, stop_at: int | None, args: argparse.Namespace) -> RunResult:
    run_dir = workdir / f"{name}_s{config.seed}"
    start, cpu_start = time.perf_counter(), time.process_time()
    recorder = CurveRecorder(start, cpu_start, stop_at)
    with old_code() if name == "old" else contextlib.nullcontext():
        result = train(config, run_dir, progress_bar=False, callbacks=[recorder])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        scores = final_score(result.model, config, args.eval_games, args.eval_seed)
        run = RunFolder(run_dir)
        rows = read_cmni_csv(run.cmni_csv).rows if run.cmni_csv.is_file() else []
        greedy = first_greedy_checkpoint(run, config, recorder.policy_times, greedy_target(args), args)
    return RunResult(config, wall, cpu, result.num_timesteps, recorder.points, scores, rows, greedy)


def greedy_target(args: argparse.Namespace) -> float:
    """The score the checkpoints are played against: ``--target``, else the fraction of 470."""
    return args.target if args.target is not None else args.target_fraction * 470.0


def first_greedy_checkpoint(
    run: RunFolder, config: TrainConfig, policy_times: dict[int, tuple[float, float]], target: float,
    args: argparse.Namespace,
) -> tuple[float, float, int]:
    """(wall s, CPU s, agent-step) of the first checkpoint whose greedy policy scores ``target``
    on the evaluation games (the final score's measure); NaN, NaN, -1 if none does."""
    from agents.checkpoints import load_ppo

    for step, path in run.checkpoints():
        if step not in policy_times:
            continue
        if final_score(load_ppo(path, config), config, args.eval_games, args.eval_seed).mean() >= target:
            return (*policy_times[step], step)
    return math.nan, math.nan, -1


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value,key=value`` -> (name, overrides of TrainConfig fields)."""
    name, _, body = text.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        overrides[key] = None if value == "None" else number(value)
    return name, overrides


def number(text: str) -> int | float:
    """``64`` and ``2e6`` -> int (TrainConfig's counts must be ints), ``2e-3`` -> float."""
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e-" not in text else value


def median(values: list[float]) -> float:
    """Median of the values that are not NaN."""
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def median_time(times: list[float]) -> float:
    """Median time to a score, a run that never reached it (NaN) counting as slower than every
    other: dropping it instead would credit its config with its faster runs only. NaN when the
    median run did not reach it."""
    middle = statistics.median([math.inf if math.isnan(t) else t for t in times])
    return math.nan if math.isinf(middle) else middle


def report(name: str, runs: list[RunResult], target: float) -> dict[str, float]:
    """Print one config's runs and medians; returns the medians (wall and CPU seconds)."""
    config = runs[0].config
    round_steps = 2 * config.n_games * config.env.max_steps
    print(f"\n{name}: n_games {config.n_games}, n_steps {config.n_steps}, minibatch {config.batch_size}, "
          f"epochs {config.n_epochs}, lr {config.learning_rate:g} {config.lr_schedule}, budget {config.timesteps:,}, "
          f"probe every {config.probe_interval:,} (score resolution {round_steps:,} agent-steps)")  # fmt: skip
    print(f"  {'seed':>4} {'wall s':>7} {'CPU s':>7} {'steps/s':>8} {'to scripted':>20} {'to final':>20} "
          f"{'to final, greedy':>20} {'final score':>22} {'CMNI peak':>10} {'probes':>6} {'excess':>8}")  # fmt: skip
    figures: dict[str, list[float]] = {k: [] for k in (
        "wall", "cpu", "scripted", "scripted_cpu", "final", "final_cpu", "greedy", "greedy_cpu", "score", "peak",
        "excess")}  # fmt: skip
    for run in runs:
        t_scripted, c_scripted, s_scripted = run.first_time(SCRIPTED_SCORE)
        t_final, c_final, s_final = run.first_time(target)
        t_greedy, c_greedy, s_greedy = run.greedy_first
        mean, low, high = mean_interval(run.scores)
        peak, probes, excess = run.cmni_peak()
        print(f"  {run.config.seed:>4} {run.wall_s:>7.1f} {run.cpu_s:>7.1f} {run.steps / run.wall_s:>8,.0f} "
              f"{t_scripted:>6.1f}/{c_scripted:>5.1f} @{s_scripted / 1e6:>4.2f}M "
              f"{t_final:>6.1f}/{c_final:>5.1f} @{s_final / 1e6:>4.2f}M "
              f"{t_greedy:>6.1f}/{c_greedy:>5.1f} @{s_greedy / 1e6:>4.2f}M {mean:>7.1f} [{low:5.1f}, {high:5.1f}] "
              f"{peak:>10,} {probes:>6} {excess:>8.4f}")  # fmt: skip
        values = (run.wall_s, run.cpu_s, t_scripted, c_scripted, t_final, c_final, t_greedy, c_greedy, mean, peak,
                  excess)
        for key, value in zip(figures, values):
            figures[key].append(value)
    times = {"scripted", "scripted_cpu", "final", "final_cpu", "greedy", "greedy_cpu"}  # a run may never get there
    m = {key: (median_time if key in times else median)(values) for key, values in figures.items()}
    mean, low, high = mean_interval(figures["score"])
    print(f"  median (wall / CPU s): run {m['wall']:.1f} / {m['cpu']:.1f}, to scripted {m['scripted']:.1f} / "
          f"{m['scripted_cpu']:.1f}, to {target:.1f} {m['final']:.1f} / {m['final_cpu']:.1f}, greedy "
          f"{m['greedy']:.1f} / {m['greedy_cpu']:.1f}; final score "
          f"{m['score']:.1f} (mean over seeds {mean:.1f}, 95 % [{low:.1f}, {high:.1f}]); CMNI peak at step "
          f"{m['peak']:,.0f}, final excess {m['excess']:.4f}")  # fmt: skip
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per config (--first-seed, the next, ...)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of the seeds")
    parser.add_argument("--no-probe", action="store_true", help="train without the CMNI probe (screening)")
    parser.add_argument("--no-old", action="store_true", help="leave out the old defaults")
    parser.add_argument("--no-new", action="store_true", help="leave out the new defaults")
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME:KEY=V,...",
                        help="another config: TrainConfig fields over the new defaults (repeatable)")  # fmt: skip
    parser.add_argument("--stop-at", type=int, help="stop every run after this many agent-steps (screening)")
    parser.add_argument("--old-stop-at", type=int, help="stop the old defaults' runs after this many agent-steps "
                        "(their times to a score need only the curve up to it; give --target then)")  # fmt: skip
    parser.add_argument("--target-fraction", type=float, default=0.99, help="of the old defaults' final score")
    parser.add_argument("--target", type=float, help="score for 'time to final' (default: from the old runs)")
    parser.add_argument("--checkpoint-every", type=int, default=50_000,
                        help="agent-steps between the checkpoints played for 'to final, greedy' (every config)")
    parser.add_argument("--eval-games", type=int, default=64, help="evaluation games (2 players each)")
    parser.add_argument("--eval-seed", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args(argv)

    configs: dict[str, TrainConfig] = {}
    if not args.no_old:
        configs["old"] = TrainConfig(**OLD_DEFAULTS)
    if not args.no_new:
        configs["new"] = TrainConfig()
    for text in args.candidate:
        name, overrides = parse_candidate(text)
        configs[name] = replace(TrainConfig(), **overrides)
    if args.no_probe:
        configs = {name: replace(c, probe=False) for name, c in configs.items()}
    configs = {name: replace(c, checkpoint_every=args.checkpoint_every, probe_every=c.probe_interval)
               for name, c in configs.items()}  # fmt: skip
    print(f"{os.cpu_count()} CPUs, load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.seeds} seed(s), configs {list(configs)}, stop at {args.stop_at or 'the budget'}", flush=True)  # fmt: skip

    results: dict[str, list[RunResult]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        warm_up = replace(TrainConfig(), timesteps=1, checkpoint_every=1)  # numba compile, torch's first calls
        train(warm_up, workdir / "warm_up", progress_bar=False)
        running_target = greedy_target(args)  # the old runs' median is not known yet
        for index, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
            names = list(configs) if index % 2 == 0 else list(reversed(configs))  # alternate the order too
            for name in names:
                stop_at = args.old_stop_at if name == "old" and args.old_stop_at else args.stop_at
                run = run_once(replace(configs[name], seed=seed), workdir, name, stop_at, args)
                results[name].append(run)
                print(f"  done {name} seed {seed}: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, {run.steps:,} "
                      f"steps, final {run.scores.mean():.1f}; to {SCRIPTED_SCORE:.0f} / {running_target:.1f} "
                      f"(wall, CPU, step): {run.first_time(SCRIPTED_SCORE)} / {run.first_time(running_target)}, "
                      f"greedy {run.greedy_first}; CMNI peak step, probes to it, final excess: {run.cmni_peak()}; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    if args.target is not None:
        target = args.target
    elif "old" in results:
        target = args.target_fraction * median([float(r.scores.mean()) for r in results["old"]])
    else:
        target = args.target_fraction * 470.0
    print(f"\nscripted score {SCRIPTED_SCORE:.0f}; 'final' target {target:.1f} points per player")
    medians = {name: report(name, runs, target) for name, runs in results.items()}
    if "old" in medians:
        for name, m in medians.items():
            if name == "old":
                continue
            old = medians["old"]
            ratios = ", ".join(f"{label} {old[k] / m[k]:.2f}x / {old[k + '_cpu'] / m[k + '_cpu']:.2f}x"
                               for label, k in (("to scripted", "scripted"), ("to final score", "final"),
                                                ("to final score, greedy", "greedy")))  # fmt: skip
            print(f"\nratio old / {name} of the medians (wall / CPU): {ratios}, whole run "
                  f"{old['wall'] / m['wall']:.2f}x / {old['cpu'] / m['cpu']:.2f}x; final score "
                  f"{m['score'] - old['score']:+.1f} points")  # fmt: skip
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
