"""Train on Frog and Toad: coupled PPO agents (``python train.py --coupling 0.5``), or the
paper's supervised classifier on labelled states (``python train.py --method supervised``).

Parsing and wiring only: the flags become a :class:`experiment.config.TrainConfig` (PPO) or
a :class:`supervised.config.SupervisedConfig`, which validate every value; training lives
in :mod:`agents.training` and :mod:`supervised.training`. A flag of the other method is a
bad flag. ``--resume RUN_DIR`` reads the method from the run's ``config.json``.
Exit status: 0 done, 1 run-folder error (one line on stderr), 2 bad flags, 130 interrupted
(Ctrl-C or SIGTERM; a checkpoint was saved, continue with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import os
import signal
import sys


def _exit_while_starting(signum: int, frame: object) -> None:
    print("train.py: interrupted while starting; nothing was written", file=sys.stderr)
    os._exit(130)


if __name__ == "__main__":  # Ctrl-C or SIGTERM while the libraries load: one line, no traceback
    signal.signal(signal.SIGINT, _exit_while_starting)
    signal.signal(signal.SIGTERM, _exit_while_starting)

import argparse  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402
from dataclasses import fields  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, NoReturn, Sequence  # noqa: E402

from experiment.config import ACTIVATION_NAMES, METHODS, TrainConfig  # noqa: E402
from experiment.run_folder import RunError, RunFolder, default_run_dir  # noqa: E402
from frogtoad_env.config import EnvConfig  # noqa: E402
from frogtoad_env.core import RulesConfig, knob_docs  # noqa: E402
from frogtoad_env.observations import OBS_MODES  # noqa: E402
from frogtoad_env.presets import PRESET_KNOBS, PRESETS, preset  # noqa: E402
from supervised.config import CONFIG_CLASSES, SEATS, SupervisedConfig  # noqa: E402

PPO, SUPERVISED = TrainConfig.METHOD, SupervisedConfig.METHOD
DEFAULTS = TrainConfig()
SUPERVISED_DEFAULTS = SupervisedConfig()
ENV_KEYS = frozenset(f.name for f in fields(EnvConfig))
#: flags that may be combined with --resume (they change nothing in the run's config)
RESUME_COMPATIBLE = {"resume", "no_progress"}
SCRIPTED_SCORE = 418  # points per player per 500-step episode of the scripted policy (docs/training.md)


# --------------------------------------------------------------------------- text -> value (no range checks here)


def integer(text: str) -> int:
    """An integer, written ``6000000``, ``6_000_000`` or ``6e6``."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not math.isfinite(value) or not value.is_integer():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    return int(value)


def number(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """A comma list of integers, e.g. ``64,64``."""
    try:
        return tuple(integer(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers like 64,64") from None


def folder(text: str) -> Path:
    """A non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not a folder; give a folder name")
    return Path(text)


# --------------------------------------------------------------------------- parser

#: (flag, config key, type, help); the default shown in --help comes from TrainConfig / EnvConfig
CONFIG_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--coupling", "coupling", number, "self/other weight coupling c in [0, 1]"),
    ("--timesteps", "timesteps", integer, "total agent-steps to train; each env step is 2 per game"),
    ("--seed", "seed", integer, "seed of torch, numpy and the games, in [0, 2**32 - 1]"),
    ("--n-envs", "n_games", integer, "games stepped together; SB3 sees 2x as many env slots, one per player"),
    ("--net-arch", "net_arch", int_list, "comma list: first = coupled layer units, rest = policy/value MLP layers"),
    ("--activation", "activation", str, f"{' or '.join(ACTIVATION_NAMES)}"),
    ("--veil", "veil", number, "veil of ignorance I in [0, 1]"),
    ("--dependency", "dependency", number, "mutual dependency D in [0, 1]"),
    ("--prosocial", "prosocial", number, "weight of the partner's points in the reward, in [0, 1]"),
    ("--max-steps", "max_steps", integer, "episode length in steps"),
    *(
        (f"--{key.replace('_', '-')}", key, integer if isinstance(getattr(RulesConfig, key), int) else number, doc)
        for key, doc in knob_docs().items()
        if key in PRESET_KNOBS
    ),
    ("--checkpoint-every", "checkpoint_every", integer, "agent-steps between checkpoints"),
    ("--probe-every", "probe_every", integer, "agent-steps between CMNI probes (default: = --checkpoint-every)"),
    ("--probe-null-draws", "probe_null_draws", integer, "untrained networks in the CMNI probe's untrained null"),
    ("--n-steps", "n_steps", integer, "env steps per slot per PPO rollout (rollout = n_steps x 2 x games)"),
    ("--learning-rate", "learning_rate", number, "Adam step size at the start; decays linearly to 0 at --timesteps"),
    ("--ent-coef", "ent_coef", number, "weight of the policy's entropy bonus in PPO's loss (SB3 ent_coef), >= 0"),
    ("--reward-scale", "reward_scale", number, "PPO learns from points times this, > 0 (scores stay in points)"),
    ("--device", "device", str, "torch device: cpu, cuda, cuda:N, mps or auto"),
    ("--torch-threads", "torch_threads", integer, "torch.set_num_threads"),
)
#: keys of CONFIG_FLAGS that --method supervised takes too -> what they mean there (None: the same)
SHARED_HELP: dict[str, str | None] = {
    "seed": None,
    "net_arch": "the hidden layers",
    "activation": None,
    "coupling": "the first hidden layer's, with --obs-mode egocentric only",
    "max_steps": "of the played games the states come from",
    "learning_rate": "constant",
    "torch_threads": None,
}
#: other spellings of a flag (the paper's name for the learning rate)
ALIASES: dict[str, tuple[str, ...]] = {"learning_rate": ("--lr",)}
#: (flag, config key, type, help) of the flags only --method supervised has; defaults from SupervisedConfig
SUPERVISED_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--dropout", "dropout", number, "dropout probability in [0, 1) after every hidden activation"),
    ("--batch-size", "batch_size", integer, "states per Adam step"),
    ("--epochs", "epochs", integer, "most passes over the training set"),
    ("--patience", "patience", integer, "stop after this many epochs without a lower validation loss"),
    ("--dataset-size", "dataset_size", integer, "distinct labelled states in all, at least 2 x --test-size"),
    ("--test-size", "test_size", integer, "states of the balanced test set (40/40/10/10 %% hop/jump/leap/help)"),
    ("--obs-mode", "obs_mode", str, f"{' or '.join(OBS_MODES)}; egocentric makes the first layer the coupled one"),
    ("--seat", "seat", str, f"whose point of view the states are seen from: {', '.join(SEATS)}"),
)
FLAG_OF_KEY = {key: flag for flag, key, _, _ in CONFIG_FLAGS + SUPERVISED_FLAGS}
#: the method each method-specific option belongs to (dest -> method)
METHOD_OF_KEY: dict[str, str] = {
    **{key: PPO for _, key, _, _ in CONFIG_FLAGS if key not in SHARED_HELP},
    "preset": PPO,
    "no_probe": PPO,
    **{key: SUPERVISED for _, key, _, _ in SUPERVISED_FLAGS},
}


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _shown(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def build_parser() -> argparse.ArgumentParser:
    """Every flag defaults to ``argparse.SUPPRESS``: the namespace holds only what was given,
    and the defaults come from :class:`TrainConfig` / :class:`SupervisedConfig` (shown in --help)."""
    parser = OneLineErrorParser(
        prog="train.py",
        description="Train coupled PPO agents (one shared policy, self-play) on Frog and Toad, or (--method "
        "supervised) the paper's MLP classifier on heuristically labelled states, with the CMNI after every epoch.",
        argument_default=argparse.SUPPRESS,
        epilog="Exit status: 0 done, 1 run-folder error, 2 bad flags, 130 interrupted (checkpoint saved; "
        "continue with --resume RUN_DIR). See docs/training.md and docs/supervised.md.",
    )
    parser.add_argument("--method", choices=METHODS, help=f"what to train (default {PPO})")
    both = parser.add_argument_group("both methods")
    ppo = parser.add_argument_group(f"--method {PPO} only")
    supervised = parser.add_argument_group(f"--method {SUPERVISED} only")
    defaults = {**DEFAULTS.to_dict(), **DEFAULTS.env.to_dict()}
    for flag, key, kind, text in CONFIG_FLAGS:
        shown = f"default {_shown(defaults[key])}"
        if SHARED_HELP.get(key):
            text = f"{PPO}: {text}; {SUPERVISED}: {SHARED_HELP[key]}"
        supervised_default = getattr(SUPERVISED_DEFAULTS, key, None)
        if key in SHARED_HELP and supervised_default not in (None, defaults[key]):
            shown += f"; {SUPERVISED}: {_shown(supervised_default)}"
        group = both if key in SHARED_HELP else ppo
        group.add_argument(flag, *ALIASES.get(key, ()), dest=key, metavar=key.upper(), type=kind, help=f"{text} ({shown})")
    ppo.add_argument("--preset", choices=list(PRESETS),
                     help="named values of the rules knobs --rough-rate-start ... --help-leap-probability "
                     "(default paper); a knob flag given too overrides its value")  # fmt: skip
    ppo.add_argument("--no-probe", action="store_true", help="do not run the CMNI probe callback")
    for flag, key, kind, text in SUPERVISED_FLAGS:
        shown = _shown(getattr(SUPERVISED_DEFAULTS, key))
        supervised.add_argument(flag, dest=key, metavar=key.upper(), type=kind, help=f"{text} (default {shown})")
    both.add_argument("--run-dir", type=folder, metavar="DIR", help="run folder (default runs/<timestamp>_<what>)")
    both.add_argument("--resume", type=folder, metavar="RUN_DIR",
                      help="continue RUN_DIR from its latest checkpoint with its config.json, whichever its method; "
                      "only --no-progress may be combined with it")  # fmt: skip
    both.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def config_from_args(given: dict[str, Any], method: str = PPO) -> TrainConfig | SupervisedConfig:
    """The config of ``method`` from the given flags (absent ones keep the defaults); ValueError names the bad flag."""
    try:
        if method == SUPERVISED:
            return SupervisedConfig.from_dict({k: v for k, v in given.items() if k in FLAG_OF_KEY})
        env = {
            **(preset(given["preset"]) if "preset" in given else {}),
            **{k: v for k, v in given.items() if k in ENV_KEYS},
        }
        top = {k: v for k, v in given.items() if k in FLAG_OF_KEY and k not in ENV_KEYS}
        if given.get("no_probe"):
            top["probe"] = False
        return TrainConfig.from_dict({**DEFAULTS.to_dict(), **top, "env": {**DEFAULTS.env.to_dict(), **env}})
    except ValueError as error:
        message = str(error)
        flag = next((f for k, f in FLAG_OF_KEY.items() if message.startswith(k)), None)
        raise ValueError(f"{flag}: {message}" if flag else message) from None


def _flag(key: str) -> str:
    return FLAG_OF_KEY.get(key, f"--{key.replace('_', '-')}")


def parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, TrainConfig | SupervisedConfig | None, Path]:
    """Parse flags; returns (args, config, run_dir); config is None when resuming (read later)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    given = vars(args)
    if "resume" in given:
        extra = sorted(_flag(k) for k in given if k not in RESUME_COMPATIBLE)
        if extra:
            parser.error(
                f"--resume continues the run with its saved config.json; drop {', '.join(extra)} "
                "(only --no-progress may be combined with --resume)"
            )
        return args, None, args.resume
    method = given.get("method", PPO)
    foreign = sorted(_flag(k) for k in given if METHOD_OF_KEY.get(k, method) != method)
    if foreign:
        other = next(m for m in METHODS if m != method)
        what, it = ("is a flag", "it") if len(foreign) == 1 else ("are flags", "them")
        parser.error(f"{', '.join(foreign)} {what} of --method {other}, not of --method {method}; drop {it} or change --method")
    try:
        config = config_from_args(given, method)
    except ValueError as error:
        parser.error(str(error))
    run_dir = given.get("run_dir") or default_run_dir(run_label(config))
    return args, config, run_dir


def run_label(config: TrainConfig | SupervisedConfig) -> str:
    """The end of a default run folder's name: ``c0.5`` (PPO), ``supervised`` or ``supervised_c0.5``."""
    coupling = "" if config.coupling is None else f"c{config.coupling:g}"
    return "_".join(part for part in (SUPERVISED if isinstance(config, SupervisedConfig) else "", coupling) if part)


# --------------------------------------------------------------------------- main


def report(result: Any, config: TrainConfig) -> str:
    """The closing line for a :class:`agents.training.TrainResult`."""
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


def report_supervised(result: Any, config: SupervisedConfig) -> str:
    """The closing line for a :class:`supervised.training.SupervisedResult`."""
    run = RunFolder(result.run_dir)
    if result.interrupted:
        saved = (f"epochs 1-{result.epochs_run} are saved ({run.epoch_checkpoint_path(result.epochs_run)})"
                 if result.epochs_run else "no epoch had finished")  # fmt: skip
        return (
            f"interrupted in epoch {result.epochs_run + 1} of at most {config.epochs}; {saved}; "
            f"continue with: python train.py --resume {result.run_dir}"
        )
    early = f" (stopped early: {config.patience} without a lower validation loss)" if result.epochs_run < config.epochs else ""
    return (
        f"done: {result.epochs_run} epochs{early} in {result.wall_time_s:.0f} s; best epoch {result.best_epoch} "
        f"by validation loss; test accuracy {result.test_accuracy:.3f} on the balanced test set; "
        f"model: {run.final_classifier}"
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args, config, run_dir = parse(argv)
    resuming = config is None
    # A scheduler's SIGTERM (preemption, `kill`) saves a checkpoint just like Ctrl-C.
    previous_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_showwarning, warnings.showwarning = warnings.showwarning, _one_line_warning
    try:
        run = RunFolder(run_dir)
        if resuming:
            config = run.load_config(CONFIG_CLASSES[run.method()])
        print(f"run folder: {run.path}" + (" (resuming)" if resuming else ""))
        print(f"watch with: tensorboard --logdir {run.tb_dir}")
        progress = not getattr(args, "no_progress", False)
        if isinstance(config, SupervisedConfig):
            from supervised.training import train_supervised

            result = train_supervised(config, run.path, resume=resuming, progress_bar=progress)
        else:
            from agents.training import train

            result = train(config, run.path, resume=resuming, progress_bar=progress)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # disk full, read-only folder: the checkpoints already saved stay intact
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot write{where}: {error.strerror or error}; the run stops here and can be resumed "
              f"with --resume {run_dir} once the disk is writable", file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        if RunFolder(run_dir).is_run():
            print(f"interrupted before training started; continue with --resume {run_dir}", file=sys.stderr)
        else:  # a supervised run saves its config.json once its dataset is made
            print(f"interrupted before the run was saved; start it again with the same flags (the folder {run_dir} "
                  "may be reused)", file=sys.stderr)  # fmt: skip
        return 130
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
        signal.signal(signal.SIGTERM, previous_sigterm)
        warnings.showwarning = previous_showwarning
    print(report_supervised(result, config) if isinstance(config, SupervisedConfig) else report(result, config))
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
