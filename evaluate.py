"""Evaluate a trained Frog and Toad run: behaviour, CMNI over training, neurons, circuits.

    python evaluate.py RUN_DIR_OR_CHECKPOINT [--episodes N] [--seed S]
        [--partner self|scripted|random|PATH] [--checkpoint STEP_OR_PATH] [--out DIR]

Parsing and wiring only: the flags become an :class:`evaluation.options.ReportOptions`,
which validates every value; :func:`experiment.resolve.resolve_run` finds the model and
its run's method. The evaluation lives in :mod:`evaluation.report`, for a supervised
classifier's run in :mod:`evaluation.classifier` (a PPO-only flag,
:data:`evaluation.options.PPO_ONLY_OPTIONS`, then exits 2). Writes
figures, tables, ``metrics.json``, ``report.md`` and an episode replay into ``--out``
(default ``RUN_DIR/eval/``); see docs/evaluate.md.
Exit status: 0 done, 1 the run cannot be evaluated (a missing path, a folder that is not a
run, a model that does not fit the env, ``--interventions`` without the run's probe set; one
line on stderr), 2 bad flags (also an ``--intervention-units`` layer or unit that the loaded
model lacks). Damaged run data
that the report works around (e.g. unreadable ``cmni.csv`` rows) prints a warning line on
stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cmni.interventions import UnitError, parse_unit_list
from evaluation.options import ReportOptions
from experiment.resolve import ResolvedRun, resolve_run
from experiment.run_folder import RunError
from frogtoad_env.checks import check_int
from supervised.config import CONFIG_CLASSES, SupervisedConfig

if TYPE_CHECKING:  # imported at run time, after the flags and the path were checked
    from evaluation.classifier import ClassifierReportOutputs
    from evaluation.report import ReportOutputs

#: ReportOptions field (or other checked value) -> the flag that sets it, to name the flag in an error
FLAG_OF_FIELD = {"episodes": "--episodes", "seed": "--seed", "partner": "--partner", "threshold": "--threshold",
                 "n_permutations": "--permutations", "threads": "--threads",
                 "intervention_episodes": "--intervention-episodes", "intervention_controls": "--intervention-controls",
                 "intervention_top_k": "--intervention-top-k", "steer_alpha": "--steer-alpha",
                 "a unit list": "--intervention-units", "recompute_cmni": "--recompute-cmni",
                 "interventions": "--interventions", "intervention_units": "--intervention-units"}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Evaluate a trained run or checkpoint: behaviour, CMNI over training, neurons, circuits, replay.",
    )
    parser.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT", help="a run folder (config.json + models), a PPO model .zip or a classifier's .pt in a run folder")
    parser.add_argument("--episodes", type=int, default=32, help="seeded episodes per matchup (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the episodes, probe set and permutations (default 0)")
    parser.add_argument("--partner", default="self", help="self (default), scripted, random or a model .zip path")
    parser.add_argument("--checkpoint", default=None, help="a PPO run's training step (checkpoints/step_<n>.zip), a supervised run's epoch "
                        "(checkpoints/epoch_<n>.pt) or a model path; default the final model")
    parser.add_argument("--out", default=None, help="output folder (default RUN_DIR/eval)")
    parser.add_argument("--stochastic", action="store_true", help="sample the trained policy's actions instead of taking the most likely")
    parser.add_argument("--threshold", type=float, default=2.0, help="|z| of a strong weight in the circuit analysis (default 2)")
    parser.add_argument("--permutations", type=int, default=200, help="shuffles of the CMNI permutation test (default 200)")
    parser.add_argument("--recompute-cmni", action="store_true", help="recompute the CMNI curve from the checkpoints even if cmni.csv exists")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: fastest for these small nets)")
    parser.add_argument("--interventions", action="store_true",
                        help="ablate / steer the mirror, top-MNS and partner-specific units against random-unit controls")
    parser.add_argument("--intervention-episodes", type=int, default=16, help="episodes per intervention condition and partner (default 16)")
    parser.add_argument("--intervention-controls", type=int, default=20, help="random-unit control sets per target set (default 20)")
    parser.add_argument("--intervention-top-k", type=int, default=5, help="size of the top-MNS target set (default 5)")
    parser.add_argument("--steer-alpha", type=float, default=1.0, help="steering strength alpha (default 1)")
    parser.add_argument("--intervention-units", action="append", default=[], metavar="LAYER:U1,U2",
                        help="an extra target set, e.g. coupled:3,17 (repeat for more layers)")
    parser.add_argument("--quiet", action="store_true", help="print only the output folder")
    return parser


def options_from_args(args: argparse.Namespace) -> ReportOptions:
    """ReportOptions from the parsed flags; ValueError names the bad flag."""
    try:
        check_int("threads", args.threads)
        units = tuple(parse_unit_list(text) for text in args.intervention_units)
        return ReportOptions(episodes=args.episodes, seed=args.seed, partner=args.partner, deterministic=not args.stochastic,
                             threshold=args.threshold, n_permutations=args.permutations,
                             recompute_cmni=args.recompute_cmni, interventions=args.interventions,
                             intervention_episodes=args.intervention_episodes,
                             intervention_controls=args.intervention_controls,
                             intervention_top_k=args.intervention_top_k, steer_alpha=args.steer_alpha,
                             intervention_units=units)  # fmt: skip
    except ValueError as error:
        message = str(error)
        flag = next((f for k, f in FLAG_OF_FIELD.items() if message.startswith(k)), None)
        raise ValueError(f"{flag}: {message}" if flag else message) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, resolve the run, write the report; 0 on success, 1 when the run cannot
    be evaluated (bad flags exit 2 through argparse)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    log = None if args.quiet else (lambda msg: print(f"[evaluate] {msg}", flush=True))
    try:
        resolved = resolve_run(args.path, args.checkpoint, CONFIG_CLASSES)  # fails fast, before torch is imported
        if resolved.method == SupervisedConfig.METHOD and (ppo_only := options.ppo_only_set()):
            parser.error(f"{FLAG_OF_FIELD[ppo_only[0]]} applies to PPO runs only; {args.path} is a supervised classifier's run")
        for note in resolved.notes:
            if log:
                log(note)
        outputs = _generate(args, options, log, resolved)
    except (RunError, OSError) as error:  # OSError: e.g. --out is not writable
        print(f"evaluate.py: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except UnitError as error:  # a flag that only the loaded model can refute
        print(f"evaluate.py: error: --intervention-units: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for warning in outputs.warnings:
        print(f"evaluate.py: warning: {warning}", file=sys.stderr)
    if args.quiet:
        print(outputs.out_dir)
        return 0
    print(f"[evaluate] {outputs.headline}")
    print(f"[evaluate] wrote {len(outputs.files)} files to {outputs.out_dir}")
    return 0


def _generate(
    args: argparse.Namespace, options: ReportOptions, log: Callable[[str], None] | None, resolved: ResolvedRun
) -> ReportOutputs | ClassifierReportOutputs:
    """The report of ``resolved``: a PPO run's (:func:`evaluation.report.generate_report`) or a
    classifier's (:func:`evaluation.classifier.generate_classifier_report`), with ``--threads``
    torch threads (restored after)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        if resolved.method == SupervisedConfig.METHOD:
            from evaluation.classifier import generate_classifier_report

            return generate_classifier_report(resolved, args.out, options, log)
        from evaluation.report import generate_report

        return generate_report(resolved, args.out, options, log=log)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    sys.exit(main())
