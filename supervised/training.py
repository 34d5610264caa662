"""Train one supervised classifier, with the CMNI measured after every epoch; resumable.

One run lives in one folder, laid out by :mod:`experiment.run_folder`: ``config.json``
(the SupervisedConfig), ``dataset.npz``, ``checkpoints/epoch_<04d>.pt`` (weights,
optimizer, RNG state, early-stopping state and the rows so far), ``cmni.csv`` (one row per
epoch, columns :func:`epoch_columns`; the per-epoch test accuracy is for reading only: the
best epoch is chosen by validation loss), ``tb/`` (loss/*, accuracy/*, cmni/*),
``final_model.pt`` (the best epoch's weights) and ``result.json``.

Every file is written atomically (a temporary file, then ``os.replace``). Each epoch
draws its shuffle from a generator seeded by ``(seed, epoch)`` and dropout from the
global torch RNG, whose state the checkpoint keeps, so a run resumed from the checkpoint
of epoch ``k`` ends with the same weights as one that never stopped.

The CMNI of an epoch is measured on the hidden layers' post-activation outputs over the
test states, grouped by their scenario (0 none, 1 self, 2 other, 3 both), with the
permutation null (scenario labels shuffled) and the untrained null (the mean CMNI of
``untrained_seeds`` freshly initialised networks of the same shape).
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cmni.callback import limit_blas_threads
from cmni.metric import compute_cmni
from cmni.probe import UntrainedNull, csv_row
from cmni.recorder import RecordedActivations
from cmni.stats import permutation_test
from experiment.atomic import atomic_write_bytes, atomic_write_text
from experiment.cmni_csv import cmni_csv_columns, write_cmni_csv
from experiment.run_folder import RunError, RunFolder, one_line
from supervised.classifier import Evaluation, MLPClassifier, evaluate, layer_names, make_classifier, train_epoch
from supervised.config import SupervisedConfig
from supervised.dataset import DatasetError, LabelledDataset, Split, build_dataset

#: Columns a classifier adds to the probe's cmni.csv columns.
EPOCH_EXTRA_COLUMNS: tuple[str, ...] = ("epoch", "train_loss", "val_loss", "val_accuracy", "test_accuracy")
#: Offset of the untrained nulls' seeds from the run's seed (the run's own net uses ``seed``).
UNTRAINED_SEED_OFFSET = 10_000


def epoch_columns(layers: list[str]) -> list[str]:
    """Header of the supervised ``cmni.csv``: the probe's columns (``step`` = training states
    seen; ``mean_episode_score`` is NaN, nothing is played) and :data:`EPOCH_EXTRA_COLUMNS`."""
    return [*cmni_csv_columns(layers, egocentric=False), *EPOCH_EXTRA_COLUMNS]


@dataclass
class TrainingState:
    """What a checkpoint holds besides the weights and the optimizer."""

    epoch: int = 0
    best_val_loss: float = math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    best_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    rows: list[dict[str, float]] = field(default_factory=list)


@dataclass
class SupervisedResult:
    """What :func:`train_supervised` leaves behind.

    Attributes:
        run_dir: the run folder.
        model: the classifier with the best epoch's weights (the last epoch's if interrupted).
        epochs_run: epochs finished over all sessions.
        best_epoch: epoch with the lowest validation loss.
        interrupted: a KeyboardInterrupt stopped training; the last finished epoch's
            checkpoint is on disk and ``resume=True`` continues from it.
        test_accuracy, test_confusion: the best epoch's weights on the balanced test set
            (NaN / None when interrupted).
        rows: the cmni.csv rows, one per epoch.
        null_untrained: CMNI of each untrained network of the same shape.
        wall_time_s: seconds this session spent training.
    """

    run_dir: Path
    model: MLPClassifier
    epochs_run: int
    best_epoch: int
    interrupted: bool
    test_accuracy: float
    test_confusion: np.ndarray | None
    rows: list[dict[str, float]]
    null_untrained: list[float]
    wall_time_s: float

    @property
    def num_timesteps(self) -> int:
        """Training states seen over all epochs (``cmni.csv``'s ``step``), named as a PPO run's count."""
        return int(self.rows[-1]["step"]) if self.rows else 0


def _tensors(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(split.observations), torch.from_numpy(split.labels)


def new_classifier(config: SupervisedConfig, n_inputs: int, seed: int) -> MLPClassifier:
    """A freshly initialised classifier of the run's shape (coupled first layer included), weights from ``seed``."""
    return make_classifier(n_inputs, config.net_arch, config.activation, config.dropout, seed, config.coupling, config.width)


def _epoch_generator(config: SupervisedConfig, epoch: int) -> torch.Generator:
    seed = int(np.random.SeedSequence([config.seed, 2, epoch]).generate_state(1)[0])
    return torch.Generator().manual_seed(seed)


def untrained_null(config: SupervisedConfig, test: Split) -> UntrainedNull:
    """The CMNI on the test states of ``config.untrained_seeds`` untrained networks of the run's shape."""
    x, y = _tensors(test)
    values, counts = [], []
    first: tuple[Any, RecordedActivations] | None = None
    for k in range(config.untrained_seeds):
        untrained = evaluate(new_classifier(config, x.shape[1], config.seed + UNTRAINED_SEED_OFFSET + k), x, y)
        result = compute_cmni(untrained.layers, test.scenarios)
        values.append(result.cmni)
        counts.append(result.n_candidates)
        first = first or (result, RecordedActivations(untrained.layers, untrained.logits))
    assert first is not None
    return UntrainedNull(np.asarray(values), np.asarray(counts, dtype=np.float64), *first)


def _open_run(config: SupervisedConfig, run: RunFolder, resume: bool) -> LabelledDataset:
    """Read back (resume) or build and save (new run) the dataset.

    A new run writes config.json last, once its dataset is on disk, so a run stopped while
    its data was being made leaves a folder that a new run may take over.
    """
    if resume:
        try:
            return LabelledDataset.load(run.dataset_path, config)
        except DatasetError as error:
            raise RunError(str(error)) from None
    run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(config)
    dataset.save(run.dataset_path)
    run.save_config(config)
    return dataset


def save_checkpoint(run: RunFolder, model: MLPClassifier, optimizer: torch.optim.Optimizer, state: TrainingState) -> Path:
    buffer = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "state": state.__dict__,
        },
        buffer,
    )
    return atomic_write_bytes(run.epoch_checkpoint_path(state.epoch), buffer.getvalue(), fsync=False)


def load_checkpoint(path: Path, model: MLPClassifier, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore weights, optimizer and the global torch RNG; RunError (one line) if the file is unusable."""
    try:
        saved = torch.load(path, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = TrainingState(**saved["state"])
        torch.set_rng_state(saved["torch_rng"])
    except Exception as error:  # zip, pickle and shape errors come in many kinds
        raise RunError(f"cannot load checkpoint {path}: {one_line(error)}") from None
    if RunFolder(path.parent.parent).epoch_checkpoint_path(state.epoch) != path:
        raise RunError(f"checkpoint {path} holds epoch {state.epoch}, not the one its name says")
    return state


def _measure_epoch(
    config: SupervisedConfig, epoch: int, n_train: int, train_loss: float, val: Evaluation, test: Evaluation,
    scenarios: np.ndarray, null: UntrainedNull,
) -> dict[str, float]:  # fmt: skip
    """The CSV row of one epoch: the probe's CMNI columns and the classifier's own."""
    result = compute_cmni(test.layers, scenarios)
    permutation = permutation_test(test.layers, scenarios, config.probe_permutations, seed=config.seed + epoch)
    row = csv_row(epoch * n_train, result, permutation, {}, null, math.nan)
    row.update(epoch=epoch, train_loss=train_loss, val_loss=val.loss, val_accuracy=val.accuracy, test_accuracy=test.accuracy)
    return row


def _log_scalars(writer: Any, row: dict[str, float], layers: list[str]) -> None:
    epoch = int(row["epoch"])
    writer.add_scalar("loss/train", row["train_loss"], epoch)
    writer.add_scalar("loss/validation", row["val_loss"], epoch)
    writer.add_scalar("accuracy/validation", row["val_accuracy"], epoch)
    writer.add_scalar("accuracy/test", row["test_accuracy"], epoch)
    writer.add_scalar("cmni/total", row["cmni_total"], epoch)
    for layer in layers:
        writer.add_scalar(f"cmni/{layer}", row[f"cmni_{layer}"], epoch)
    for key in ("null_untrained", "null_untrained_sd", "excess_cmni", "z_untrained", "null_permutation_mean",
                "p_value", "z_score", "candidates"):
        writer.add_scalar(f"cmni/{key}", row[key], epoch)


def _save_final(run: RunFolder, model: MLPClassifier, state: TrainingState, test: Evaluation, nulls: list[float]) -> None:
    """final_model.pt (the best epoch's weights) and result.json."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(run.final_classifier, buffer.getvalue())
    summary = {
        "test_accuracy": test.accuracy,
        "test_confusion": test.confusion.tolist(),
        "best_epoch": state.best_epoch,
        "epochs_run": state.epoch,
        "null_untrained": nulls,
    }
    atomic_write_text(run.result_path, json.dumps(summary, indent=2) + "\n")


def train_supervised(
    config: SupervisedConfig, run_dir: Path | str, resume: bool = False, progress_bar: bool = True
) -> SupervisedResult:
    """Train (or continue) a supervised run until ``config.epochs`` or early stopping.

    Args:
        config: the run's config; with ``resume=True`` it must equal the folder's config.json.
        run_dir: the run folder (created for a new run; must not hold a run already).
        resume: continue from the latest epoch checkpoint, or from the start if the run
            stopped before its first epoch ended (the dataset is read back).
        progress_bar: show a tqdm bar over epochs.

    Returns:
        SupervisedResult; ``interrupted=True`` when Ctrl-C stopped training.

    Raises:
        RunError: the folder cannot be used (holds a run already, or for resume: no
            config.json, another config, a corrupted dataset or checkpoint); nothing is
            overwritten then.
    """
    run = RunFolder(run_dir)
    with run.training(config, resume):
        return _train_locked(config, run, resume, progress_bar)


def _train_locked(config: SupervisedConfig, run: RunFolder, resume: bool, progress_bar: bool) -> SupervisedResult:
    """:func:`train_supervised` once ``run`` is locked."""
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(config.torch_threads)
    dataset = _open_run(config, run, resume)
    x_train, y_train = _tensors(dataset.train)
    x_val, y_val = _tensors(dataset.validation)
    x_test, y_test = _tensors(dataset.test)
    model = new_classifier(config, x_train.shape[1], config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=True)
    found = run.epoch_checkpoints() if resume else []
    if found:
        state = load_checkpoint(found[-1][1], model, optimizer)
    else:  # a new run, or one stopped before its first epoch ended
        torch.manual_seed(config.seed)
        state = TrainingState()
    layers = layer_names(model)
    columns = epoch_columns(layers)
    with limit_blas_threads(config.torch_threads):
        null = untrained_null(config, dataset.test)

    write_cmni_csv(run.cmni_csv, columns, state.rows)  # drops rows of an epoch whose checkpoint was never written
    writer = SummaryWriter(str(run.tb_dir), purge_step=state.epoch + 1)
    bar = tqdm(total=config.epochs, initial=state.epoch, desc="epochs", disable=not progress_bar)
    start = time.perf_counter()
    interrupted = False
    try:
        while state.epoch < config.epochs and state.epochs_without_improvement < config.patience:
            epoch = state.epoch + 1
            train_loss = train_epoch(model, optimizer, x_train, y_train, config.batch_size, _epoch_generator(config, epoch))
            val = evaluate(model, x_val, y_val)
            with limit_blas_threads(config.torch_threads):
                row = _measure_epoch(
                    config, epoch, len(dataset.train), train_loss, val, evaluate(model, x_test, y_test),
                    dataset.test.scenarios, null,
                )  # fmt: skip
            state.epoch = epoch
            state.rows.append(row)
            if val.loss < state.best_val_loss:
                state.best_val_loss, state.best_epoch, state.epochs_without_improvement = val.loss, epoch, 0
                state.best_weights = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                state.epochs_without_improvement += 1
            save_checkpoint(run, model, optimizer, state)
            write_cmni_csv(run.cmni_csv, columns, state.rows)
            _log_scalars(writer, row, layers)
            bar.update(1)
            bar.set_postfix(val_loss=f"{val.loss:.4f}", val_acc=f"{val.accuracy:.3f}", cmni=f"{row['cmni_total']:.5f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        wall = time.perf_counter() - start
        bar.close()
        writer.close()
    accuracy, confusion = math.nan, None
    if not interrupted and state.best_weights:
        model.load_state_dict(state.best_weights)
        final = evaluate(model, x_test, y_test)
        accuracy, confusion = final.accuracy, final.confusion
        _save_final(run, model, state, final, null.cmni.tolist())
    return SupervisedResult(
        run.path, model, state.epoch, state.best_epoch, interrupted, accuracy, confusion, state.rows, null.cmni.tolist(), wall
    )
