"""The run folder: the one contract between training, the CMNI probe and evaluation.

Every file name, the checkpoint naming and the ``cmni.csv`` columns are defined here and
nowhere else; the other modules ask this one for paths::

    run_dir/
        config.json                    the full TrainConfig (env knobs nested under "env")
        checkpoints/step_<012d>.zip    policies, named by the agent-steps they were trained on
        final_model.zip                the policy after the run's timesteps
        tb/                            TensorBoard events
        probe_set.npz                  the fixed probe states every checkpoint is measured on
        cmni.csv                       one row per probe (columns: :func:`cmni_csv_columns`)
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
import csv
import fcntl
import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
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


# --------------------------------------------------------------------------- cmni.csv


def cmni_csv_row(
    step: int,
    cmni_total: float,
    cmni_per_layer: Mapping[str, float],
    candidates: int,
    candidates_per_layer: Mapping[str, int],
    p_value: float,
    z_score: float,
    null_untrained: float,
    null_untrained_sd: float,
    excess_cmni: float,
    z_untrained: float,
    candidates_null_mean: float,
    candidates_null_sd: float,
    null_permutation_mean: float,
    overlap: Mapping[str, float],
    mean_episode_score: float,
) -> dict[str, float]:
    """One ``cmni.csv`` row (column -> value), in column order.

    - ``step``: agent-steps the probed policy was trained on.
    - ``cmni_total``, ``cmni_<layer>``: CMNI over all probed units, per layer.
    - ``candidates``, ``candidates_<layer>``: mirror candidates (both deltas > 0).
    - ``p_value``, ``z_score``: permutation test (scenario labels shuffled).
    - ``null_untrained``, ``null_untrained_sd``: mean and sample sd of the CMNI of K
      untrained networks of the same architecture; ``excess_cmni`` = cmni_total - mean,
      ``z_untrained`` = excess / sd; ``candidates_null_mean``, ``candidates_null_sd``: the
      same null for the candidate count.
    - ``null_permutation_mean``: mean CMNI under shuffled labels.
    - ``overlap_<layer>``, ``overlap_all``: self/other overlap (egocentric observations only;
      ``overlap`` is empty otherwise).
    - ``mean_episode_score``: points per player over the last training episodes (NaN when
      unknown, e.g. a checkpoint probed after a restart).
    """
    row: dict[str, float] = {"step": int(step), "cmni_total": float(cmni_total)}
    row.update({f"cmni_{n}": float(v) for n, v in cmni_per_layer.items()})
    row["candidates"] = int(candidates)
    row.update({f"candidates_{n}": int(v) for n, v in candidates_per_layer.items()})
    row.update(
        p_value=float(p_value), z_score=float(z_score), null_untrained=float(null_untrained),
        null_untrained_sd=float(null_untrained_sd), excess_cmni=float(excess_cmni), z_untrained=float(z_untrained),
        candidates_null_mean=float(candidates_null_mean), candidates_null_sd=float(candidates_null_sd),
        null_permutation_mean=float(null_permutation_mean),
    )  # fmt: skip
    row.update({f"overlap_{n}": float(v) for n, v in overlap.items()})
    row["mean_episode_score"] = float(mean_episode_score)
    return row


def cmni_csv_columns(layers: Sequence[str], egocentric: bool) -> list[str]:
    """Header of ``cmni.csv`` for the given probed layers (the keys of :func:`cmni_csv_row`)."""
    zeros = dict.fromkeys(layers, 0)
    overlap = {**zeros, "all": 0} if egocentric else {}
    return list(cmni_csv_row(0, 0, zeros, 0, zeros, *[0] * 9, overlap, 0))


def layers_from_cmni_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The probed layer names in a ``cmni.csv`` header (inverse of :func:`cmni_csv_columns`)."""
    return tuple(c[len("cmni_"):] for c in columns if c.startswith("cmni_") and c != "cmni_total")


@dataclass(frozen=True)
class CmniTable:
    """The content of a ``cmni.csv``.

    Attributes:
        columns: the header.
        rows: one dict per probe (column -> float, NaN for an empty cell), sorted by
            step; a step written twice keeps its last row.
        skipped: one line per row that could not be read (non-numeric, truncated).
    """

    columns: list[str]
    rows: list[dict[str, float]]
    skipped: list[str]


def read_cmni_csv(path: Path | str) -> CmniTable:
    """Read a ``cmni.csv``; rows that are not all numbers, or of the wrong length, are
    skipped and reported in :attr:`CmniTable.skipped` (an empty cell reads as NaN).

    Raises:
        RunError: the file is missing, has no header, or lacks ``step`` / ``cmni_total``.
    """
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            lines = list(csv.reader(handle))
    except (OSError, csv.Error) as error:
        raise RunError(f"cannot read {path}: {one_line(error)}") from None
    if not lines or not lines[0]:
        raise RunError(f"{path} is empty; expected the {CMNI_CSV} header")
    header = lines[0]
    missing = [c for c in ("step", "cmni_total") if c not in header]
    if missing:
        raise RunError(f"{path} lacks the column(s) {missing}; is it a {CMNI_CSV}?")
    by_step: dict[int, dict[str, float]] = {}
    skipped: list[str] = []
    for number, values in enumerate(lines[1:], start=2):
        if not values:
            continue
        try:
            if len(values) != len(header):
                raise ValueError(f"{len(values)} cells, expected {len(header)}")
            row = {name: float(v) if v.strip() else math.nan for name, v in zip(header, values)}
            if not math.isfinite(row["step"]):
                raise ValueError("no step")
        except ValueError as error:
            skipped.append(f"{path.name} line {number}: {one_line(error)}")
            continue
        by_step[int(row["step"])] = row
    return CmniTable(header, [by_step[s] for s in sorted(by_step)], skipped)


def write_cmni_csv(path: Path | str, columns: Sequence[str], rows: Sequence[Mapping[str, float]]) -> Path:
    """Replace ``path`` (atomically) by a ``cmni.csv`` with ``columns`` and ``rows``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(c, row[c]) for c in columns] for row in rows])
    return atomic_write_text(path, buffer.getvalue(), fsync=False)


def _cell(column: str, value: float) -> float | int:
    """Counts (``step``, ``candidates*``) as integers, so a rewritten file reads as the original."""
    is_count = column == "step" or (column.startswith("candidates") and "null" not in column)
    return int(value) if is_count and math.isfinite(value) and float(value).is_integer() else value


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
        folder = self.checkpoint_dir
        if not folder.is_dir():
            return []
        found = [(step, p) for p in folder.iterdir() if p.is_file() and (step := checkpoint_step(p)) is not None]
        return sorted(found)

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
        folder = self.checkpoint_dir
        if not folder.is_dir():
            return []
        found = [(epoch, p) for p in folder.iterdir() if p.is_file() and (epoch := checkpoint_epoch(p)) is not None]
        return sorted(found)

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


# --------------------------------------------------------------------------- what evaluate.py reads


@dataclass(frozen=True)
class ResolvedRun:
    """A user's path resolved to a model and its run, of either training method.

    Attributes:
        source: the path the user gave.
        run: the run folder, or None for a model ``.zip`` outside any run folder.
        model_path: the model to evaluate (a PPO ``.zip`` or a classifier's ``.pt``).
        checkpoint_step: training step of ``model_path`` when it is ``step_<012d>.zip``.
        config: the run's settings: a TrainConfig (the defaults for a lone model), or a
            ``supervised.config.SupervisedConfig`` for a supervised run.
        notes: remarks for the user (e.g. "no config.json: using the default config").
        checkpoint_epoch: epoch of ``model_path`` when it is a supervised ``epoch_<04d>.pt``.
    """

    source: Path
    run: RunFolder | None
    model_path: Path
    checkpoint_step: int | None
    config: SettingsJson
    notes: tuple[str, ...] = ()
    checkpoint_epoch: int | None = None

    @property
    def method(self) -> str:
        """``"ppo"`` or ``"supervised"`` (:data:`experiment.config.METHODS`)."""
        return self.config.METHOD

    @property
    def checkpoints(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of a PPO run's checkpoints, ``(epoch, path)`` of a supervised run's."""
        return self.run.saved_models(self.method)[1] if self.run is not None else []

    @property
    def default_eval_dir(self) -> Path:
        """``RUN_DIR/eval`` for the run's final model, ``RUN_DIR/eval/<stem>`` for any
        other model of a run (e.g. ``eval/step_000000500000``, ``eval/epoch_0003``),
        ``<stem>_eval`` beside a model that belongs to no run folder."""
        if self.run is None:
            return self.model_path.with_name(f"{self.model_path.stem}_eval")
        if self.model_path.name == self.run.saved_models(self.method)[0].name:
            return self.run.eval_dir
        return self.run.eval_dir / self.model_path.stem


def resolve_run(
    path: Path | str, checkpoint: str | int | None = None, config_classes: Mapping[str, type[SettingsJson]] | None = None
) -> ResolvedRun:
    """Find the model and config behind ``path``.

    Args:
        path: a run folder, or a model file: a PPO ``.zip`` or a classifier's ``.pt``. A
            lone model takes its config from the enclosing run folder (the file's folder,
            or its parent when the file sits in ``checkpoints/``); a lone ``.zip`` outside
            any run takes the defaults (a note says so).
        checkpoint: with a run folder, a checkpoint number (a PPO run's training step,
            ``checkpoints/step_<012d>.zip``; a supervised run's epoch,
            ``checkpoints/epoch_<04d>.pt``) or a model path; default the final model,
            else the latest checkpoint.
        config_classes: the settings class of each method the caller can read (default
            ``{"ppo": TrainConfig}``; ``supervised.config.CONFIG_CLASSES`` has both).

    Raises:
        RunError: the path does not exist, the folder is not a run or is another method's
            run, no such checkpoint.
    """
    classes = config_classes or {TrainConfig.METHOD: TrainConfig}
    source = Path(path)
    if not str(path).strip() or not source.exists():
        raise RunError(f"{str(path)!r} does not exist")
    notes: list[str] = []
    if source.is_dir():
        run: RunFolder | None = RunFolder(source)
        config = _load_config(run, classes)
        model_path = _pick_model(run, checkpoint, config.METHOD)
    else:
        if checkpoint is not None:
            raise RunError("--checkpoint needs a run folder, not a model file")
        method = MODEL_SUFFIX_METHOD.get(source.suffix)
        if method is None:
            raise RunError(f"{str(source)!r} is neither a run folder nor a model ({' or '.join(MODEL_SUFFIX_METHOD)})")
        model_path = source
        run = _enclosing_run(source)
        if run is None:
            if method != _PPO:
                raise RunError(f"{str(source)!r} is in no run folder; a classifier is read with its run's {CONFIG_FILE}")
            config = TrainConfig()
            notes.append(f"no {CONFIG_FILE} next to {source.name}: using the default config")
        else:
            config = _load_config(run, classes)
            if config.METHOD != method:
                raise RunError(f"{source.name} is no model of {str(run.path)!r}, a {config.METHOD} run")
            notes.append(f"config from {run.config_path}")
    if config.METHOD == _SUPERVISED:
        return ResolvedRun(source, run, model_path, None, config, tuple(notes), checkpoint_epoch(model_path))
    return ResolvedRun(source, run, model_path, checkpoint_step(model_path), config, tuple(notes))


def _load_config(run: RunFolder, classes: Mapping[str, type[SettingsJson]]) -> SettingsJson:
    """The run's config as the class of its method; RunError if ``classes`` has none for it."""
    method = run.method()
    if method not in classes:
        raise RunError(f"{str(run.path)!r} is a {method} run; only {' or '.join(classes)} runs are read here")
    return run.load_config(classes[method])


def _enclosing_run(model: Path) -> RunFolder | None:
    folder = model.resolve().parent
    for candidate in (folder, folder.parent) if folder.name == CHECKPOINT_DIR else (folder,):
        if RunFolder(candidate).is_run():
            return RunFolder(candidate)
    return None


def _pick_model(run: RunFolder, checkpoint: str | int | None, method: str) -> Path:
    """The model a ``--checkpoint`` value names in ``run``, a ``method`` run.

    Args:
        checkpoint: None (the final model, else the latest checkpoint), a number (the
            checkpoint of that step or epoch: :meth:`RunFolder.saved_models`) or a path
            (as given, in the run folder or in its ``checkpoints/``).

    Raises:
        RunError: no such model (the message lists the saved numbers).
    """
    final, checkpoints, unit = run.saved_models(method)
    suffix = final.suffix
    if checkpoint is None:
        if final.is_file():
            return final
        if checkpoints:
            return checkpoints[-1][1]
        raise RunError(f"{str(run.path)!r} holds no model yet: no {final.name} and no {CHECKPOINT_DIR}/{unit}_*{suffix}")
    text = str(checkpoint).strip()
    if text.isdigit():
        for number, p in checkpoints:
            if number == int(text):
                return p
        known = ", ".join(str(n) for n, _ in checkpoints) or "none"
        raise RunError(f"no checkpoint at {unit} {int(text)} in {run.checkpoint_dir} ({unit}s: {known})")
    for p in (Path(text), run.path / text, run.checkpoint_dir / text):
        if p.is_file():
            return p
    raise RunError(f"checkpoint {text!r} is neither a {unit} number nor an existing {suffix}")
