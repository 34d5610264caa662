"""Runs per hour of one small sweep three ways: 1 local worker, 2 local workers, Ray with 2 CPUs.

    python benchmarks/sweep_scaling.py                   # 4 runs x 200k agent-steps each way
    python benchmarks/sweep_scaling.py --runs 4 --timesteps 100000 --repeats 2

Targets: 2 workers >= 1.8x the runs/hour of 1 worker; Ray within 10 % of the 2-worker pool.
Each way trains the same runs in a fresh temporary sweep folder; with ``--repeats`` the ways
alternate and the median is reported. Ray is skipped (said so) when it is not installed.
Measure on an otherwise idle machine: other load takes cores from the pool.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweeps.execute import run_sweep  # noqa: E402
from sweeps.grid import Grid, SweepFolder  # noqa: E402


def one_sweep(grid: Grid, backend: str, workers: int) -> float:
    """Runs per hour of ``grid`` trained from scratch with ``backend`` and ``workers``."""
    with tempfile.TemporaryDirectory() as root:
        folder = SweepFolder(Path(root) / "sweep")
        runs = grid.plan()
        start = time.perf_counter()
        outcome = run_sweep(folder, grid, runs, backend, workers, progress=False, echo=lambda line: None)
        wall = time.perf_counter() - start
    if outcome.failed or outcome.interrupted:
        raise SystemExit(f"{backend} x {workers}: {outcome.failed[0].message if outcome.failed else 'interrupted'}")
    return 3600 * len(runs) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="runs in the sweep (seeds)")
    parser.add_argument("--timesteps", type=int, default=200_000, help="agent-steps per run")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    grid = Grid.from_values({"seed": list(range(args.runs)), "timesteps": args.timesteps,
                             "checkpoint_every": args.timesteps // 2})  # fmt: skip
    ways = [("local", 1), ("local", 2)] + ([("ray", 2)] if find_spec("ray") else [])
    if not find_spec("ray"):
        print('ray is not installed (pip install -c constraints.txt -e ".[ray]"): the Ray way is skipped')
    rates: dict[tuple[str, int], list[float]] = {way: [] for way in ways}
    for _ in range(args.repeats):
        for way in ways:
            rates[way].append(one_sweep(grid, *way))
            print(f"{way[0]:>5} x {way[1]}: {rates[way][-1]:7.1f} runs/hour", flush=True)
    median = {way: statistics.median(r) for way, r in rates.items()}
    print(f"\n{args.runs} runs x {args.timesteps:,} agent-steps, median of {args.repeats}:")
    for way, rate in median.items():
        print(f"  {way[0]:>5} x {way[1]} worker(s): {rate:7.1f} runs/hour")
    print(f"  2 workers / 1 worker: {median[('local', 2)] / median[('local', 1)]:.2f}x (target >= 1.8x)")
    if ("ray", 2) in median:
        print(f"  Ray / local, 2 CPUs:  {median[('ray', 2)] / median[('local', 2)]:.2f} (target 0.9 to 1.1)")


if __name__ == "__main__":
    main()
