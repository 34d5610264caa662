"""A sweep: factors x seeds, each combination an ordinary run folder inside one sweep folder.

Torch-free: planning, naming, resuming decisions and the dry run never load a network
library (the runs themselves happen in :mod:`sweeps.execute`). Layout::

    sweep_dir/
        grid.json                       the grid (factor -> levels), written once, checked on every rerun
        .sweep.lock                     held while a sweep runs in the folder
        failed/<run>.txt                the one-line error of a run that failed (removed once it succeeds)
        <run>/                          an ordinary train.py run folder (experiment.run_folder)
        results.csv, summary.md, figures/   written by ``sweep.py report`` (sweeps.report)

A *factor* is a :class:`~experiment.config.TrainConfig` key, or an env key (``veil``,
``dependency``...), with one or more *levels*. ``method`` is a factor too (``ppo``, the
default, or ``supervised``); with it, the keys of a
:class:`~supervised.config.SupervisedConfig` (``dropout``, ``epochs``...) are factors, each
applied to the runs of the method that has it. A run's folder is named from the factors with
more than one level, then the seed: ``coupling=0.5_net_arch=17-17_seed=1``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from experiment.atomic import atomic_write_text
from experiment.config import METHOD_KEY, TrainConfig
from experiment.run_folder import FINAL_MODEL, RunError, RunFolder, folder_lock, one_line
from frogtoad_env.checks import check_choice
from frogtoad_env.config import EnvConfig
from supervised.config import CONFIG_CLASSES, SupervisedConfig

GRID_FILE = "grid.json"
SWEEP_LOCK_FILE = ".sweep.lock"
FAILED_DIR = "failed"
SEED = "seed"
#: agent-steps per second of one worker on one idle core (default 64-64 net, probes on;
#: docs/training.md measures 37-40k), and the fixed cost of a run (start-up, untrained
#: null, final probe): the basis of ``--dry-run``'s time estimate
STEPS_PER_SECOND = 35_000
RUN_OVERHEAD_S = 15.0
#: seconds per Adam step of a supervised run (the 2 x 17 case net at batch 25, docs/supervised.md)
SUPERVISED_STEP_S = 0.0025

#: named grids (``sweep.py --preset NAME``), in the form of a TOML grid file.
#: paper-claims: the abstract's two claims, capacity (first, coupled layer 5 to 64 units)
#: and coupling, 3 x 3 levels x 3 seeds; 2 M agent-steps a run pass the score plateau (about
#: 1 M) and the CMNI's early peak (0.5 M), leaving 1.5 M to show a decline; 27 runs in about
#: 20 to 30 min on 2 idle cores (docs/sweeps.md)
PRESETS: dict[str, dict[str, Any]] = {
    "paper-claims": {
        "net_arch": [[5, 64], [17, 64], [64, 64]],
        "coupling": [0.0, 0.5, 1.0],
        "seed": [0, 1, 2],
        "timesteps": 2_000_000,
        "checkpoint_every": 200_000,
    },
}

Level = int | float | str | bool | tuple[int, ...]
_DEFAULTS_ENV: dict[str, Any] = EnvConfig().to_dict()
_DEFAULTS: dict[str, Any] = {**SupervisedConfig().to_dict(), **TrainConfig().to_dict(), **_DEFAULTS_ENV}
_DEFAULTS[METHOD_KEY] = TrainConfig.METHOD
del _DEFAULTS["env"]
_ENV_KEYS = frozenset(f.name for f in fields(EnvConfig))
#: method -> the factors its runs take
_METHOD_KEYS: dict[str, frozenset[str]] = {
    TrainConfig.METHOD: frozenset(f.name for f in fields(TrainConfig) if f.name != "env") | _ENV_KEYS,
    SupervisedConfig.METHOD: frozenset(f.name for f in fields(SupervisedConfig)),
}
#: every key a grid may set
FACTOR_KEYS: tuple[str, ...] = tuple(_DEFAULTS)
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


# --------------------------------------------------------------------------- levels


def check_factor(key: str) -> str:
    """``key`` if a grid may vary it, else ValueError listing the factors."""
    if key not in _DEFAULTS:
        raise ValueError(f"unknown factor {key!r}; factors are method, TrainConfig, env and SupervisedConfig keys: "
                         f"{', '.join(FACTOR_KEYS)}")
    return key


def normalise_level(key: str, value: Any) -> Level:
    """``value`` in the type of ``key``'s default: ``1`` -> ``1.0`` for a float key, a list
    -> a tuple for ``net_arch``; range checks are TrainConfig's job."""
    check_factor(key)
    default = _DEFAULTS[key]
    if isinstance(value, list):
        return tuple(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def is_single_level(key: str, value: Any) -> bool:
    """Whether ``value`` (as read from a TOML or JSON grid) is one level of ``key`` rather
    than a list of levels: a list of numbers is one level for a list-valued key (``net_arch``)."""
    if isinstance(_DEFAULTS.get(key), list):
        return isinstance(value, (list, tuple)) and all(not isinstance(v, (list, tuple)) for v in value)
    return not isinstance(value, list)


def level_text(value: Level) -> str:
    """A level as it appears in a run name and in tables: ``0.5``, ``17-17``, ``tanh``."""
    if isinstance(value, tuple):
        return "-".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def level_number(value: Level) -> float | None:
    """The level on a numeric axis (the first layer's units for ``net_arch``), or None."""
    if isinstance(value, tuple):
        return float(value[0]) if value else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its folder name, its factor levels and its validated config."""

    name: str
    levels: Mapping[str, Level]
    config: TrainConfig | SupervisedConfig


@dataclass(frozen=True)
class Grid:
    """Factor -> levels (the seed is a factor like the others), in the order given.

    Raises ValueError (one line naming the bad value) for an unknown factor, an empty or
    repeated list of levels.
    """

    factors: Mapping[str, tuple[Level, ...]]

    def __post_init__(self) -> None:
        if SEED not in self.factors:
            raise ValueError("a grid needs seeds: give --seeds N or a list of seeds")
        for key, levels in self.factors.items():
            check_factor(key)
            if len(levels) == 0:
                raise ValueError(f"factor {key!r} has an empty list of levels; give at least one value")
            texts = [level_text(v) for v in levels]
            repeated = sorted({t for t in texts if texts.count(t) > 1})
            if repeated:
                raise ValueError(f"factor {key!r} lists the level {repeated[0]} twice; give each level once")
        methods = self.factors.get(METHOD_KEY, (TrainConfig.METHOD,))
        for method in methods:
            check_choice("method", method, CONFIG_CLASSES)
        for key, levels in self.factors.items():
            lacking = [m for m in methods if key not in _METHOD_KEYS[m] | {METHOD_KEY}]
            if len(lacking) == len(methods):
                raise ValueError(f"factor {key!r} is not a setting of method {', '.join(lacking)}")
            if lacking and len(levels) > 1:
                raise ValueError(f"factor {key!r} varies, but method {lacking[0]} has no {key}; give it one level "
                                 "(it then applies to the other method's runs) or sweep it in a grid of one method")  # fmt: skip

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Grid:
        """From raw values (one level, or a list of levels, per key), as a TOML file gives them."""
        factors: dict[str, tuple[Level, ...]] = {}
        for key, value in values.items():
            levels = [value] if is_single_level(key, value) else list(value)
            factors[key] = tuple(normalise_level(key, v) for v in levels)
        return cls(factors)

    @property
    def varying(self) -> list[str]:
        """Factors with more than one level, the seed left out."""
        return [k for k, levels in self.factors.items() if len(levels) > 1 and k != SEED]

    @property
    def seeds(self) -> tuple[Level, ...]:
        return self.factors[SEED]

    def to_json(self) -> str:
        return json.dumps({"factors": {k: [list(v) if isinstance(v, tuple) else v for v in levels]
                                       for k, levels in self.factors.items()}}, indent=2) + "\n"  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Grid:
        data = json.loads(text)
        return cls({k: tuple(normalise_level(k, v) for v in levels) for k, levels in data["factors"].items()})

    def differences(self, other: Grid) -> list[str]:
        """One line per factor whose levels differ between ``self`` (saved) and ``other`` (asked)."""
        keys = list(self.factors) + [k for k in other.factors if k not in self.factors]
        saved, asked = self.shown(), other.shown()
        return [f"{k}: the folder has {saved.get(k, 'the default')}, the command gives {asked.get(k, 'the default')}"
                for k in keys if saved.get(k) != asked.get(k)]  # fmt: skip

    def shown(self) -> dict[str, str]:
        """Factor -> its levels as text, ``[0, 0.5, 1]``."""
        return {k: "[" + ", ".join(level_text(v) for v in levels) + "]" for k, levels in self.factors.items()}

    def plan(self) -> list[PlannedRun]:
        """Every combination as a validated run; ValueError naming the run and the bad value
        before anything runs."""
        keys = list(self.factors)
        named = [*self.varying, SEED]
        runs: list[PlannedRun] = []
        for combination in itertools.product(*(self.factors[k] for k in keys)):
            levels = dict(zip(keys, combination))
            name = "_".join(f"{k}={_UNSAFE.sub('-', level_text(levels[k]))}" for k in named)
            try:
                config = config_from_levels(levels)
            except ValueError as error:
                raise ValueError(f"run {name}: {error}") from None
            runs.append(PlannedRun(name, levels, config))
        return runs


def config_from_levels(levels: Mapping[str, Level]) -> TrainConfig | SupervisedConfig:
    """The config of the run's method (``ppo`` unless ``levels`` say otherwise) with the
    levels of that method's keys set (env keys go to a TrainConfig's ``env``) and defaults elsewhere."""
    method = str(levels.get(METHOD_KEY, TrainConfig.METHOD))
    own = {k: list(v) if isinstance(v, tuple) else v for k, v in levels.items() if k in _METHOD_KEYS[method]}
    if method == SupervisedConfig.METHOD:
        return SupervisedConfig.from_dict(own)
    top = {k: v for k, v in own.items() if k not in _ENV_KEYS}
    env = {k: v for k, v in own.items() if k in _ENV_KEYS}
    return TrainConfig.from_dict({**top, "env": {**_DEFAULTS_ENV, **env}})


def run_seconds(config: TrainConfig | SupervisedConfig) -> float:
    """Wall seconds of one run on an idle core: PPO by :data:`STEPS_PER_SECOND`, a supervised
    run by :data:`SUPERVISED_STEP_S` for all its epochs (early stopping only shortens it)."""
    if isinstance(config, SupervisedConfig):
        train_states = (config.dataset_size - config.test_size) * (1 - config.val_fraction)
        return config.epochs * math.ceil(train_states / config.batch_size) * SUPERVISED_STEP_S + RUN_OVERHEAD_S
    return config.timesteps / STEPS_PER_SECOND + RUN_OVERHEAD_S


def estimate_seconds(configs: Sequence[TrainConfig | SupervisedConfig], workers: int) -> float:
    """Wall seconds for ``configs`` on ``workers`` idle cores (see :func:`run_seconds`)."""
    seconds = [run_seconds(c) for c in configs]
    return max(sum(seconds) / max(workers, 1), max(seconds, default=0.0))


# --------------------------------------------------------------------------- the sweep folder

#: what a run folder holds, as the sweep sees it (torch-free: from its files alone)
STATUS_DONE, STATUS_FAILED, STATUS_PARTIAL, STATUS_NEW = "done", "failed", "partial", "new"


@dataclass(frozen=True)
class SweepFolder:
    """Paths of a sweep folder; nothing is created until asked."""

    path: Path

    def __init__(self, path: Path | str) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def grid_path(self) -> Path:
        return self.path / GRID_FILE

    def run(self, name: str) -> RunFolder:
        return RunFolder(self.path / name)

    def failure_path(self, name: str) -> Path:
        return self.path / FAILED_DIR / f"{name}.txt"

    def status(self, name: str) -> str:
        """:data:`STATUS_DONE` (``final_model.zip``, or a supervised run's ``final_model.pt``, written), :data:`STATUS_FAILED` (a failure
        record), :data:`STATUS_PARTIAL` (a ``config.json``: resumed from its checkpoints) or
        :data:`STATUS_NEW`."""
        run = self.run(name)
        if (run.path / FINAL_MODEL).is_file() or run.final_classifier.is_file():
            return STATUS_DONE
        if self.failure_path(name).is_file():
            return STATUS_FAILED
        return STATUS_PARTIAL if run.is_run() else STATUS_NEW

    def failure(self, name: str) -> str:
        path = self.failure_path(name)
        return path.read_text(encoding="utf-8").strip() if path.is_file() else ""

    def record_failure(self, name: str, message: str) -> None:
        atomic_write_text(self.failure_path(name), " ".join(message.split()) + "\n", fsync=False)

    def clear_failure(self, name: str) -> None:
        self.failure_path(name).unlink(missing_ok=True)

    def load_grid(self) -> Grid | None:
        """The saved grid, or None for a folder without one; RunError for an unreadable one."""
        if not self.grid_path.is_file():
            return None
        try:
            return Grid.from_json(self.grid_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise RunError(f"cannot read {self.grid_path}: {one_line(error)}") from None

    def check(self, grid: Grid, runs: Sequence[PlannedRun]) -> None:
        """RunError (nothing written) unless the folder is new, or holds this very grid and
        runs whose ``config.json`` match the plan."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{str(self.path)!r} exists and is not a folder")
        saved = self.load_grid()
        if saved is None:
            if self.path.is_dir() and any(p.name != SWEEP_LOCK_FILE for p in self.path.iterdir()):
                raise RunError(f"{str(self.path)!r} is not empty and holds no {GRID_FILE}; pick another --sweep-dir")
            return
        differences = saved.differences(grid)
        if differences:
            raise RunError(f"{self.path} holds another grid ({'; '.join(differences)}); rerun with the same "
                           "factors to resume it, or pick another --sweep-dir")  # fmt: skip
        for planned in runs:
            run = self.run(planned.name)
            if run.is_run() and run.load_config(type(planned.config)) != planned.config:
                raise RunError(f"{run.config_path} differs from the grid's config for {planned.name} "
                               "(was it edited, or did a default change?); pick another --sweep-dir")  # fmt: skip

    def save_grid(self, grid: Grid) -> None:
        if not self.grid_path.is_file():
            atomic_write_text(self.grid_path, grid.to_json())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the sweep's lock (``flock``, released by the kernel if the process dies);
        RunError at once if another sweep runs in this folder."""
        busy = (f"another sweep is running in {str(self.path)!r}; wait for it or stop it (Ctrl-C saves checkpoints) "
                "first")  # fmt: skip
        with folder_lock(self.path, SWEEP_LOCK_FILE, busy):
            yield
