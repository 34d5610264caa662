"""The layout of a run folder, shared by training and evaluation (no torch import).

::

    run_dir/
        config.json                  the full TrainConfig (env knobs nested under "env")
        checkpoints/step_<012d>.zip  SB3 PPO saves, named by the agent-steps they were trained on
        final_model.zip              the policy after the run's timesteps
        tb/                          TensorBoard events
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
FINAL_MODEL = "final_model.zip"
TB_DIR = "tb"
_CHECKPOINT_RE = re.compile(r"^step_(\d{12})\.zip$")


def checkpoint_path(run_dir: Path | str, step: int) -> Path:
    """``run_dir/checkpoints/step_<012d>.zip``."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:012d}.zip"


def checkpoint_step(path: Path | str) -> int | None:
    """The step in a checkpoint's file name, or None if the name is not ``step_<012d>.zip``."""
    match = _CHECKPOINT_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(run_dir: Path | str) -> list[tuple[int, Path]]:
    """``(step, path)`` of every checkpoint in the run folder, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(step, p) for p in folder.iterdir() if p.is_file() and (step := checkpoint_step(p)) is not None]
    return sorted(found)


def latest_checkpoint(run_dir: Path | str) -> tuple[int, Path] | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def one_line(error: BaseException) -> str:
    """``"TypeName: message"`` on one line, for error messages meant for the user."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
