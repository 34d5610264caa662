"""Fault injection: ``kill -9`` a real training process at seeded random moments, resume it
each time, and check that the run folder ends whole.

What must hold after any number of kills and resumes:
- the final model loads;
- ``cmni.csv`` has exactly one row per checkpoint, with strictly increasing steps;
- no temporary file is left;
- TensorBoard reads with no step of any scalar shown twice.

Not checked: that the result equals an uninterrupted run bit for bit. SB3's checkpoint holds
the policy and optimiser but not the env's games, its random stream or the rollout in
progress, so a resumed session starts fresh episodes, seeded with ``seed + step`` (see
``agents.training.open_resumed_model``): reproducible, but not the same trajectory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.checkpoints import load_ppo
from experiment.config import TrainConfig
from experiment.cmni_csv import read_cmni_csv
from experiment.run_folder import RunFolder
from frogtoad_env.config import EnvConfig

REPO = Path(__file__).resolve().parents[1]
CONFIG = TrainConfig(
    timesteps=8192, n_games=2, checkpoint_every=1024, env=EnvConfig(max_steps=50), net_arch=(8, 8),
    probe_per_scenario=20, probe_permutations=5, probe_null_draws=2,
)  # fmt: skip
KILLS = 4


def start_training(run: RunFolder) -> subprocess.Popen[bytes]:
    """``train.py --resume RUN``: a folder holding only config.json starts from scratch."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "--resume", str(run.path), "--no-progress"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip


def kill_when(proc: subprocess.Popen[bytes], run: RunFolder, files_before: int, delay: float) -> bool:
    """Wait until the run folder has grown (training is under way), then ``delay`` seconds,
    then SIGKILL; False if the process had already finished."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if sum(1 for _ in run.path.rglob("*")) > files_before:
            break
        time.sleep(0.05)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


@pytest.mark.parametrize("seed", [0])
def test_kill_9_at_random_moments_then_resume_leaves_a_whole_run(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.save_config(CONFIG)
    kills = 0
    for _ in range(KILLS):
        proc = start_training(run)
        files_before = sum(1 for _ in run.path.rglob("*"))
        kills += kill_when(proc, run, files_before, delay=float(rng.uniform(0.0, 2.5)))
        if run.final_model.exists():
            break
    assert kills >= 1, "no kill landed: the run finished before the first one"
    proc = start_training(run)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()

    model = load_ppo(run.final_model, CONFIG)
    assert model.num_timesteps >= CONFIG.timesteps

    table = read_cmni_csv(run.cmni_csv)
    steps = [int(row["step"]) for row in table.rows]
    assert table.skipped == []
    assert steps == sorted(set(steps))
    assert steps == [step for step, _ in run.checkpoints()]
    assert all(run.stats_path(step).is_file() for step in steps)

    assert [p for p in run.path.rglob("*") if p.name.endswith(".tmp")] == []

    events = EventAccumulator(str(run.tb_dir))
    events.Reload()
    for tag in events.Tags()["scalars"]:
        logged = [e.step for e in events.Scalars(tag)]
        assert logged == sorted(set(logged)), (tag, logged)
