"""The run folder: the one contract between training, the CMNI probe and evaluation.

Every file name of a run folder and the checkpoint naming are defined here and nowhere
else; the other modules ask this one for paths. Two neighbours read and write what is in
it: :mod:`experiment.cmni_csv` (the ``cmni.csv`` columns, reader and writer) and
:mod:`experiment.resolve` (a user's path resolved to a run and a model)::

    run_dir/
        config.json                    the full TrainConfig (env knobs nested under "env")
        checkpoints/step_<012d>.zip    policies, named by the agent-steps they were trained on
        final_model.zip                the policy after the run's timesteps
        tb/                            TensorBoard events
        probe_set.npz                  the fixed probe states every checkpoint is measured on
        cmni.csv                       one row per probe (columns: :func:`experiment.cmni_csv.cmni_csv_columns`)
        cmni/step_<012d>.npz           per-checkpoint CMNI statistics
        cmni/null_untrained.npz        the same statistics for the untrained network
        ablation_effect.json           the mirror-ablation effect a sweep reports (evaluation.ablation_effect)
        eval/                          what ``evaluate.py`` writes (:class:`EvalFiles`)

A supervised run (``train.py --method supervised``, :mod:`supervised.training`) shares
``config.json`` (a SupervisedConfig), ``tb/``, ``cmni.csv`` (its columns plus the
classifier's own) and the lock, and has instead of the PPO models::

    run_dir/
        dataset.npz                    the labelled states and their split (made once)
        checkpoints/epoch_<04d>.pt     after every epoch: weights, optimizer, RNG, rows so far
        final_model.pt                 weights of the epoch with the lowest validation loss
        result.json                    test accuracy, confusion matrix, best epoch, nulls

Torch-free: reading a run folder never loads a network library.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from experiment.atomic import atomic_write_text, remove_stale_temporaries
from experiment.config import METHODS, SettingsJson, TrainConfig, saved_method

Settings = TypeVar("Settings", bound=SettingsJson)

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
FINAL_MODEL = "final_model.zip"
TB_DIR = "tb"
PROBE_SET_FILE = "probe_set.npz"
CMNI_CSV = "cmni.csv"
CMNI_STATS_DIR = "cmni"
NULL_UNTRAINED_FILE = "null_untrained.npz"
#: key of the permutation null's ``(n_permutations,)`` CMNI values in ``cmni/step_<012d>.npz``
NULL_PERMUTATION_KEY = "null_permutation"
EVAL_DIR = "eval"
ABLATION_EFFECT_FILE = "ablation_effect.json"
LOCK_FILE = ".lock"
_STEP_NAME = "step_{:012d}"
_STEP_RE = re.compile(r"^step_(\d{12})\.(zip|npz)$")
# a supervised run's own files (the rest of its folder is named above)
DATASET_FILE = "dataset.npz"
FINAL_MODEL_FILE = "final_model.pt"
RESULT_FILE = "result.json"
_EPOCH_RE = re.compile(r"^epoch_(\d{4})\.pt$")
_PPO, _SUPERVISED = METHODS
#: the suffix of each method's model files, and so the method a model file given alone belongs to
MODEL_SUFFIX_METHOD: dict[str, str] = {".zip": _PPO, ".pt": _SUPERVISED}


class RunError(Exception):
    """A run folder that cannot be created, read or resumed; the message is one line for the user."""


def one_line(error: BaseException) -> str:
    """``"TypeName: message"`` on one line, for error messages meant for the user."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__



# --------------------------------------------------------------------------- one run folder


@contextlib.contextmanager
def folder_lock(folder: Path, name: str, busy: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/name`` (folder created if absent) for the block;
    RunError(``busy``) at once if another process holds it. A killed process releases it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / name, "a")
    except OSError as error:
        raise RunError(f"cannot use the folder {str(folder)!r}: {one_line(error)}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(busy) from None
        yield


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run folder (nothing is created or read until asked)."""

    path: Path

    def __init__(self, path: Path | str) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def final_model(self) -> Path:
        return self.path / FINAL_MODEL

    @property
    def tb_dir(self) -> Path:
        return self.path / TB_DIR

    @property
    def probe_set_path(self) -> Path:
        return self.path / PROBE_SET_FILE

    @property
    def cmni_csv(self) -> Path:
        return self.path / CMNI_CSV

    @property
    def stats_dir(self) -> Path:
        return self.path / CMNI_STATS_DIR

    @property
    def null_untrained_path(self) -> Path:
        return self.stats_dir / NULL_UNTRAINED_FILE

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    @property
    def ablation_effect_path(self) -> Path:
        return self.path / ABLATION_EFFECT_FILE

    def checkpoint_path(self, step: int) -> Path:
        """``checkpoints/step_<012d>.zip``: the policy after ``step`` agent-steps."""
        return self.checkpoint_dir / f"{_STEP_NAME.format(int(step))}.zip"

    def stats_path(self, step: int) -> Path:
        """``cmni/step_<012d>.npz``: the CMNI statistics of the checkpoint at ``step``."""
        return self.stats_dir / f"{_STEP_NAME.format(int(step))}.npz"

    def checkpoints(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every checkpoint, oldest first."""
        return self._numbered_checkpoints(checkpoint_step)

    def _numbered_checkpoints(self, number_of: Callable[[Path], int | None]) -> list[tuple[int, Path]]:
        """``(number, path)`` of the files in ``checkpoints/`` whose name ``number_of`` parses, in order."""
        folder = self.checkpoint_dir
        if not folder.is_dir():
            return []
        return sorted((n, p) for p in folder.iterdir() if p.is_file() and (n := number_of(p)) is not None)

    def latest_checkpoint(self) -> tuple[int, Path] | None:
        found = self.checkpoints()
        return found[-1] if found else None

    # ----------------------------------------------------------------- a supervised run's files

    @property
    def dataset_path(self) -> Path:
        return self.path / DATASET_FILE

    @property
    def final_classifier(self) -> Path:
        return self.path / FINAL_MODEL_FILE

    @property
    def result_path(self) -> Path:
        return self.path / RESULT_FILE

    def epoch_checkpoint_path(self, epoch: int) -> Path:
        """``checkpoints/epoch_<04d>.pt``: a supervised run after ``epoch`` epochs."""
        return self.checkpoint_dir / f"epoch_{int(epoch):04d}.pt"

    def epoch_checkpoints(self) -> list[tuple[int, Path]]:
        """``(epoch, path)`` of every epoch checkpoint of a supervised run, oldest first."""
        return self._numbered_checkpoints(checkpoint_epoch)

    def saved_models(self, method: str) -> tuple[Path, list[tuple[int, Path]], str]:
        """A ``method`` run's final model, its checkpoints ``(number, path)`` oldest first, and
        what the numbers count (``"step"`` for PPO, ``"epoch"`` for a supervised run)."""
        if method == _SUPERVISED:
            return self.final_classifier, self.epoch_checkpoints(), "epoch"
        return self.final_model, self.checkpoints(), "step"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder (created if absent) for the block, so two
        processes never train in one run folder; RunError at once if another holds it.
        The lock is the kernel's (``flock``): a killed process releases it."""
        busy = f"another process is using the run folder {str(self.path)!r}; wait for it or stop it first"
        with folder_lock(self.path, LOCK_FILE, busy):
            yield

    @contextlib.contextmanager
    def training(self, config: SettingsJson, resume: bool) -> Iterator[None]:
        """Hold the folder for one training session: RunError unless it can take ``config``
        (resume: it holds a run saved with exactly ``config``; else: it holds no run), then
        :meth:`lock` it for the block, after removing the temporary files a killed writer left."""
        if resume:
            self.check_resumable(config)
        else:
            self.check_new()
        with self.lock():
            remove_stale_temporaries(self.path)
            yield

    def is_run(self) -> bool:
        return self.config_path.is_file()

    def check_new(self) -> None:
        """RunError unless this folder can hold a new run (absent, or a folder without a config.json)."""
        if self.is_run():
            raise RunError(f"{str(self.path)!r} already holds a run; continue it with --resume {self.path} or pick another --run-dir")
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{str(self.path)!r} exists and is not a folder")

    def check_resumable(self, config: SettingsJson) -> None:
        """RunError unless this folder holds a run saved with exactly ``config``."""
        if self.load_config(type(config)) != config:
            raise RunError(f"config differs from {self.config_path}; resume with the saved config")

    def save_config(self, config: SettingsJson) -> Path:
        return atomic_write_text(self.config_path, config.to_json())

    def _config_text(self) -> str:
        if not self.path.is_dir():
            raise RunError(f"run folder {str(self.path)!r} does not exist")
        if not self.config_path.is_file():
            raise RunError(f"{str(self.path)!r} is not a run folder: it has no {CONFIG_FILE}")
        try:
            return self.config_path.read_text(encoding="utf-8")
        except OSError as error:
            raise RunError(f"cannot read {self.config_path}: {one_line(error)}") from None

    def method(self) -> str:
        """The training method of the run (``"ppo"`` or ``"supervised"``, from its ``config.json``)."""
        try:
            return saved_method(self._config_text())
        except ValueError as error:
            raise RunError(f"cannot read {self.config_path}: {one_line(error)}") from None

    def load_config(self, kind: type[Settings] = TrainConfig) -> Settings:  # type: ignore[assignment]
        """The run's ``config.json`` as ``kind`` (TrainConfig, or supervised.config.SupervisedConfig);
        RunError (one line) if the folder or file is missing or bad, or the run is another method's."""
        text = self._config_text()
        try:
            return kind.from_json(text)
        except (ValueError, TypeError) as error:
            raise RunError(f"cannot read {self.config_path}: {one_line(error)}") from None


def checkpoint_step(path: Path | str) -> int | None:
    """The step in a checkpoint's (or its statistics') file name, or None for any other name."""
    match = _STEP_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


def checkpoint_epoch(path: Path | str) -> int | None:
    """The epoch in a supervised run's checkpoint name (``epoch_<04d>.pt``), or None for any other name."""
    match = _EPOCH_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


def default_run_dir(label: str, root: Path | str = "runs", now: datetime | None = None) -> Path:
    """``runs/<YYYYmmdd-HHMMSS>_<label>`` (e.g. ``_c0.5``), with ``-2``, ``-3``... if that folder exists."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}_{label}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


# --------------------------------------------------------------------------- what evaluate.py writes


@dataclass(frozen=True)
class EvalFiles:
    """The files ``evaluate.py`` writes into one folder (``RUN_DIR/eval`` by default).

    The names are class attributes (``report.md`` links the figures by name); the
    properties are paths in :attr:`folder`. One figure and one table per probed layer
    are named by :meth:`neurons_png` and :meth:`candidates_csv`.
    """

    folder: Path

    CMNI_CURVE_PNG: ClassVar[str] = "cmni_over_training.png"
    CMNI_CURVE_CSV: ClassVar[str] = "cmni_over_training.csv"
    CIRCUITS_PNG: ClassVar[str] = "circuits.png"
    CIRCUITS_CSV: ClassVar[str] = "circuits.csv"
    BEHAVIOUR_CSV: ClassVar[str] = "behaviour.csv"
    METRICS_JSON: ClassVar[str] = "metrics.json"
    REPORT_MD: ClassVar[str] = "report.md"
    REPLAY_TXT: ClassVar[str] = "replay.txt"
    REPLAY_GIF: ClassVar[str] = "replay.gif"
    INTERVENTIONS_PNG: ClassVar[str] = "interventions.png"
    INTERVENTIONS_CSV: ClassVar[str] = "interventions.csv"
    # a supervised classifier's run adds these (and has no cmni_over_training.png: its curve is per epoch)
    CONFUSION_CSV: ClassVar[str] = "confusion_matrix.csv"
    CMNI_VS_LOSS_PNG: ClassVar[str] = "cmni_vs_validation_loss.png"
    NEURON_TABLE_CSV: ClassVar[str] = "neuron_table.csv"

    @staticmethod
    def neurons_png(layer: str) -> str:
        """``neurons_<layer>.png``: mean activation per unit and scenario of one layer."""
        return f"neurons_{file_part(layer)}.png"

    @staticmethod
    def candidates_csv(layer: str) -> str:
        """``candidates_<layer>.csv``: the mirror candidates of one layer."""
        return f"candidates_{file_part(layer)}.csv"

    def __truediv__(self, name: str) -> Path:
        """``files / EvalFiles.REPORT_MD``: the path of a file in :attr:`folder`."""
        return self.folder / name


def file_part(layer: str) -> str:
    """A layer name as a file-name part (``pi.0`` stays ``pi.0``; other characters become ``_``)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in layer)
