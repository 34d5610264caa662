"""What ``evaluate.py`` reads: a user's path resolved to a run and a model of either
training method (:func:`resolve_run`). The names of the files the evaluation writes are in
:class:`experiment.run_folder.EvalFiles`. Torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from experiment.config import METHODS, SettingsJson, TrainConfig
from experiment.run_folder import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    MODEL_SUFFIX_METHOD,
    RunError,
    RunFolder,
    checkpoint_epoch,
    checkpoint_step,
)

_PPO, _SUPERVISED = METHODS


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
