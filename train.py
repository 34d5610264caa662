"""Train coupled PPO agents on Frog and Toad: ``python train.py --coupling 0.5``.

Argument parsing and wiring only; the training itself lives in :mod:`agents.training`.
Exit status: 0 done, 1 run-folder error (one line on stderr), 2 bad flags, 130 interrupted
(Ctrl-C or SIGTERM; a checkpoint was saved, continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

from agents.coupled import ACTIVATIONS
from agents.training import RunError, TrainConfig, TrainResult, default_run_dir, load_config, train
from frogtoad_env.config import EnvConfig
from frogtoad_env.core import RulesConfig, knob_docs
from frogtoad_env.presets import PRESET_KNOBS, PRESETS, preset

DEFAULTS = TrainConfig()
#: flags that may be combined with --resume (they change nothing in the run's config)
RESUME_COMPATIBLE = {"resume", "no_progress"}
SCRIPTED_SCORE = 418  # points per player per 500-step episode (docs/training.md)


# --------------------------------------------------------------------------- argument types


def unit_interval(text: str) -> float:
    """A float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; allowed: a number in [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is outside [0, 1]; allowed: a number in [0, 1]")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (underscores allowed: ``6_000_000``; also ``2e6`` if it is whole)."""
    try:
        value = float(text.replace("_", "")) if any(c in text for c in "eE.") else int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: an integer >= 1") from None
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: an integer >= 1")
    return int(value)


def seed_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; allowed: an integer >= 0")
    return value


def net_arch(text: str) -> tuple[int, ...]:
    """A comma list of positive ints, e.g. ``64,64``."""
    parts = text.split(",")
    if not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is malformed; allowed: a comma list of positive integers like 64,64 "
            "(first = coupled layer units, rest = MLP layers)"
        )
    return tuple(int(p) for p in parts)


def activation(text: str) -> str:
    if text not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an activation; allowed: {', '.join(sorted(ACTIVATIONS))}")
    return text


def device(text: str) -> str:
    """``auto`` or anything ``torch.device`` accepts (cpu, cuda, cuda:1, mps...)."""
    if text == "auto":
        return text
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device; allowed: cpu, cuda, cuda:N, mps, auto") from None
    return text


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """Every flag defaults to ``argparse.SUPPRESS``: the namespace holds only what was given,
    and the defaults come from :class:`TrainConfig` (shown in --help)."""
    d, e = DEFAULTS, DEFAULTS.env
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train coupled PPO agents (one shared policy, self-play) on Frog and Toad.",
        argument_default=argparse.SUPPRESS,
        epilog="Exit status: 0 done, 1 run-folder error, 2 bad flags, 130 interrupted (checkpoint saved; "
        "continue with --resume RUN_DIR). See docs/training.md.",
    )
    add: Callable[..., argparse.Action] = p.add_argument
    add("--coupling", metavar="C", type=unit_interval, help=f"self/other weight coupling c in [0, 1] (default {d.coupling})")
    add("--timesteps", metavar="N", type=positive_int,
        help=f"total agent-steps to train; each env step is 2 per game (default {d.timesteps:_})")
    add("--seed", metavar="S", type=seed_int, help=f"seed of torch, numpy and the games (default {d.seed})")
    add("--n-envs", "--n-games", metavar="GAMES", dest="n_games", type=positive_int,
        help=f"number of GAMES stepped together; SB3 sees 2x as many env slots, "
        f"one per player (default {d.n_games} games = {d.n_slots} slots)")
    add("--net-arch", metavar="A,B,...", type=net_arch,
        help=f"comma list: first = coupled layer units, rest = policy/value MLP layers "
        f"(default {','.join(map(str, d.net_arch))})")
    add("--activation", metavar="{relu,tanh}", type=activation, help=f"{' or '.join(sorted(ACTIVATIONS))} (default {d.activation})")
    add("--veil", metavar="I", type=unit_interval, help=f"veil of ignorance I in [0, 1] (default {e.veil})")
    add("--dependency", metavar="D", type=unit_interval, help=f"mutual dependency D in [0, 1] (default {e.dependency})")
    add("--prosocial", metavar="W", type=unit_interval, help=f"weight of the partner's points in the reward, in [0, 1] (default {e.prosocial})")
    add("--max-steps", metavar="T", type=positive_int, help=f"episode length in steps (default {e.max_steps})")
    add("--preset", choices=list(PRESETS), help="named rules knobs (default paper); knob flags override it")
    for name, doc in knob_docs().items():
        if name in PRESET_KNOBS:
            add(f"--{name.replace('_', '-')}", type=type(getattr(RulesConfig, name)), help=f"{doc} (default {getattr(e, name)})")
    add("--checkpoint-every", metavar="N", type=positive_int, help=f"agent-steps between checkpoints (default {d.checkpoint_every:_})")
    add("--probe-every", metavar="N", type=positive_int, help="agent-steps between CMNI probes (default: = --checkpoint-every)")
    add("--no-probe", action="store_true", help="do not run the CMNI probe callback")
    add("--run-dir", metavar="DIR", type=Path, help="run folder (default runs/<timestamp>_c<coupling>)")
    add("--resume", type=Path, metavar="RUN_DIR",
        help="continue RUN_DIR from its latest checkpoint with its config.json (up to the timesteps "
        "saved there); only --no-progress may be combined with it")
    add("--device", metavar="DEVICE", type=device, help=f"torch device (default {d.device})")
    add("--torch-threads", metavar="T", type=positive_int, help=f"torch.set_num_threads (default {d.torch_threads})")
    add("--no-progress", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the given flags (absent ones keep the TrainConfig defaults)."""
    given = vars(args)
    env_keys = {"veil", "dependency", "prosocial", "max_steps", *PRESET_KNOBS}
    knobs = preset(given["preset"]) if "preset" in given else {}
    env = EnvConfig.from_kwargs({**DEFAULTS.env.to_dict(), **knobs, **{k: v for k, v in given.items() if k in env_keys}})
    top = {k: v for k, v in given.items() if k in {f for f in DEFAULTS.to_dict()} and k not in env_keys}
    if given.get("no_probe"):
        top["probe"] = False
    return TrainConfig.from_dict({**DEFAULTS.to_dict(), **top, "env": env.to_dict()})


def parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, TrainConfig | None, Path]:
    """Parse flags; returns (args, config, run_dir); config is None when resuming (read later)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    given = vars(args)
    if "resume" in given:
        extra = sorted(f"--{k.replace('_', '-')}" for k in given if k not in RESUME_COMPATIBLE)
        if extra:
            parser.error(
                f"--resume continues the run with its saved config.json; drop {', '.join(extra)} "
                "(only --no-progress may be combined with --resume)"
            )
        return args, None, args.resume
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    run_dir = given.get("run_dir") or default_run_dir(config.coupling)
    return args, config, run_dir


# --------------------------------------------------------------------------- main


def report(result: TrainResult, config: TrainConfig) -> str:
    if result.interrupted:
        return (
            f"interrupted at step {result.num_timesteps:,} of {config.timesteps:,}; checkpoint saved to "
            f"{result.model_path}; continue with: python train.py --resume {result.run_dir}"
        )
    if result.already_complete:
        return f"run already complete ({result.num_timesteps:,} of {config.timesteps:,} steps); model: {result.model_path}"
    score = "n/a" if math.isnan(result.mean_score) else f"{result.mean_score:.1f}"
    return (
        f"done: {result.num_timesteps:,} steps in {result.wall_time_s:.0f} s; final mean score per player "
        f"{score} (last training episodes; scripted policy ~{SCRIPTED_SCORE}); model: {result.model_path}"
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args, config, run_dir = parse(argv)
    resuming = config is None
    # A scheduler's SIGTERM (preemption, `kill`) saves a checkpoint just like Ctrl-C.
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if resuming:
            config = load_config(run_dir)
        print(f"run folder: {run_dir}" + (" (resuming)" if resuming else ""))
        print(f"watch with: tensorboard --logdir {Path(run_dir) / 'tb'}")
        result = train(config, run_dir, resume=resuming, progress_bar=not getattr(args, "no_progress", False))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted outside training; checkpoints already in {Path(run_dir) / 'checkpoints'} are intact", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
    print(report(result, config))
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
