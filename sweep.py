"""Run a grid of training runs (factors x seeds) and answer the paper's claims with intervals.

    python sweep.py --coupling 0,0.5,1 --net-arch 17,17 64,64 --veil 0,1 --seeds 3 --timesteps 1_000_000
    python sweep.py --grid grid.toml --sweep-dir runs/sweeps/capacity --workers 2
    python sweep.py --preset paper-claims
    python sweep.py report SWEEP_DIR [--no-backfill]

Parsing and wiring only: the grid, the sweep folder and resuming live in
:mod:`sweeps.grid`, running the runs in :mod:`sweeps.execute`, the report in
:mod:`sweeps.report`. Exit status: 0 done, 1 sweep-folder error or a failed run,
2 bad flags or grid (before any run starts), 130 interrupted (checkpoints saved; the same
command resumes).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import tomllib

from experiment.run_folder import RunError
from frogtoad_env.checks import check_int
from supervised.config import SupervisedConfig
from sweeps.grid import FAILED_DIR, PRESETS, SEED, Grid, SweepFolder, estimate_seconds, level_text
from train import ALIASES, CONFIG_FLAGS, SUPERVISED_FLAGS, OneLineErrorParser, folder, int_list, integer

#: train.py's flags (PPO's, then the supervised method's) and the method itself, each a factor
FACTOR_FLAGS = (*CONFIG_FLAGS, *SUPERVISED_FLAGS, ("--method", "method", str, "ppo (the default) or supervised"))

DEFAULT_ROOT = Path("runs") / "sweeps"
BACKENDS = ("local", "ray")
DEFAULT_SEEDS = 3


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="sweep.py",
        description="Train one run per combination of the factors' levels and seed, then write the report. "
        "Every train.py flag takes one value or several (comma list, or space-separated; net-arch: space-separated).",
        argument_default=argparse.SUPPRESS,
        allow_abbrev=False,
        epilog="`python sweep.py report SWEEP_DIR` rewrites the report of a sweep. Exit status: 0 done, "
        "1 sweep-folder error or a failed run, 2 bad flags or grid, 130 interrupted. See docs/sweeps.md.",
    )
    for flag, key, _, text in FACTOR_FLAGS:
        parser.add_argument(flag, *ALIASES.get(key, ()), dest=key, metavar="V", nargs="+", action="extend", help=text)
    parser.add_argument(
        "--seeds", type=integer, metavar="N", help=f"seeds 0..N-1 (default {DEFAULT_SEEDS}; or --seed S S...)"
    )
    parser.add_argument("--grid", type=folder, metavar="FILE.toml", help="factors from a TOML file (flags override it)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named grid (flags override it)")
    parser.add_argument(
        "--sweep-dir", type=folder, metavar="DIR", help=f"sweep folder (default {DEFAULT_ROOT}/<timestamp>)"
    )
    parser.add_argument("--workers", type=integer, metavar="N", help="runs at a time (default: number of cores)")
    parser.add_argument("--backend", choices=BACKENDS, help="local processes (default) or Ray tasks")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: a local Ray instance)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and the estimated time; run nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (one line per finished run)")
    return parser


def levels_from_flags(given: dict[str, Any]) -> dict[str, list[Any]]:
    """Config key -> levels parsed by train.py's types; ValueError naming the flag and value."""
    kinds = {key: (flag, kind) for flag, key, kind, _ in FACTOR_FLAGS}
    levels: dict[str, list[Any]] = {}
    for key, texts in given.items():
        if key not in kinds:
            continue
        flag, kind = kinds[key]
        parts = texts if kind is int_list else [p for t in texts for p in t.split(",")]
        if any(not p.strip() for p in parts):
            raise ValueError(f"{flag}: an empty value in {' '.join(texts)!r}; give values like 0,0.5,1")
        try:
            levels[key] = [kind(p.strip()) for p in parts]
        except argparse.ArgumentTypeError as error:
            raise ValueError(f"{flag}: {error}") from None
    return levels


def grid_from_args(given: dict[str, Any]) -> Grid:
    """The grid: preset, then TOML file, then flags (each overriding the keys it sets)."""
    values: dict[str, Any] = dict(PRESETS[given["preset"]]) if "preset" in given else {}
    if "grid" in given:
        try:
            with open(given["grid"], "rb") as handle:
                values.update(tomllib.load(handle))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"--grid {given['grid']}: {error}") from None
    values.update(levels_from_flags(given))
    file_seeds = values.pop("seeds", None)
    if "seeds" in given and "seed" in given:
        raise ValueError("give either --seeds N or --seed S S..., not both")
    if "seeds" in given or SEED not in values:
        count = given.get("seeds", DEFAULT_SEEDS if file_seeds is None else file_seeds)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"--seeds must be a positive integer, got {count!r}")
        values[SEED] = list(range(count))
    return Grid.from_values(values)


def dry_run(folder: SweepFolder, grid: Grid, workers: int) -> None:
    runs = grid.plan()
    print(f"sweep folder: {folder.path}; {len(runs)} runs, varying {', '.join(grid.varying) or 'the seed only'}")
    todo = []
    for run in runs:
        status = folder.status(run.name)
        length = f"{run.config.epochs:>7} epochs" if isinstance(run.config, SupervisedConfig) else f"{run.config.timesteps:>13,} steps"
        print(f"  {run.name:<48} {length}  {status}")
        todo += [run.config] if status != "done" else []
    fixed = ", ".join(f"{k}={level_text(v[0])}" for k, v in grid.factors.items() if len(v) == 1 and k != SEED)
    print(f"fixed: {fixed or 'nothing (TrainConfig defaults)'}")
    seconds = estimate_seconds(todo, workers)
    took = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    print(f"{len(todo)} to run on {workers} worker(s): about {took} on an idle machine")


def main_report(argv: Sequence[str]) -> int:
    parser = OneLineErrorParser(
        prog="sweep.py report",
        description="Write results.csv, summary.md and figures; first measure the mirror-ablation effect of "
        "finished runs that lack it.",
    )
    parser.add_argument("sweep_dir", type=folder, metavar="SWEEP_DIR")
    parser.add_argument("--no-backfill", action="store_true",
                        help="do not measure the mirror-ablation effect of finished runs that lack it (their columns "
                        "stay empty; the report then needs no torch)")  # fmt: skip
    args = parser.parse_args(argv)
    from sweeps.report import write_report

    try:
        written = write_report(SweepFolder(args.sweep_dir), backfill=not args.no_backfill)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(f"wrote {p}" for p in written))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:
        return main_report(argv[1:])
    parser = build_parser()
    given = vars(parser.parse_args(argv))
    workers = given.get("workers", os.cpu_count() or 1)
    try:
        check_int("--workers", workers)
        grid = grid_from_args(given)
        runs = grid.plan()
    except ValueError as error:
        parser.error(str(error))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = SweepFolder(given.get("sweep_dir", DEFAULT_ROOT / stamp))
    try:
        if given.get("dry_run"):
            folder.check(grid, runs)
            dry_run(folder, grid, workers)
            return 0
        from sweeps.execute import run_sweep

        print(f"sweep folder: {folder.path} ({len(runs)} runs); watch with: tensorboard --logdir {folder.path}")
        result = run_sweep(folder, grid, runs, given.get("backend", "local"), workers, given.get("address"),
                           progress=not given.get("no_progress"))  # fmt: skip
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    again = shlex.join(["sweep.py", *argv] + ([] if "sweep_dir" in given else ["--sweep-dir", str(folder.path)]))
    if result.interrupted:
        print(f"interrupted; checkpoints saved. Resume with: python {again}", file=sys.stderr)
        return 130
    status = main_report([str(folder.path)])
    if result.failed:
        failures = folder.path / FAILED_DIR
        print(f"{len(result.failed)} run(s) failed (errors in {failures}); retry: python {again}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
