"""Reliability of a training run: every bad input is one line, nothing on disk is lost,
a run folder is never a dead end. Each test is one failure a user met (kill timing,
crash before the first checkpoint, corrupt files, full disk, signals while starting)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train as train_cli
from agents.training import resume, train
from experiment import atomic
from experiment.atomic import FILE_MODE
from experiment.config import TrainConfig
from experiment.cmni_csv import read_cmni_csv, write_cmni_csv
from experiment.run_folder import RunError, RunFolder
from frogtoad_env.config import EnvConfig
from tests.interrupts import InterruptAt

REPO = Path(__file__).resolve().parents[1]
#: 2 games x 128 steps = 512 agent-steps per rollout, checkpoints at 1024, 2048 (and 3072)
TINY = TrainConfig(timesteps=2048, n_games=2, checkpoint_every=1024, probe=False, env=EnvConfig(max_steps=50), net_arch=(8, 8))
PROBED = TrainConfig.from_dict({**TINY.to_dict(), "timesteps": 3072, "probe": True, "probe_per_scenario": 20,
                                "probe_permutations": 5})  # fmt: skip


def cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and stderr of ``train.py argv``."""
    try:
        status = train_cli.main(argv)
    except SystemExit as exit_info:
        status = int(exit_info.code or 0)
    return status, capsys.readouterr().err


def assert_one_line(err: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# --------------------------------------------------------------------------- the probe belongs to the checkpoint


def test_a_checkpoint_saved_before_its_probe_is_probed_on_resume(tmp_path: Path) -> None:
    """A kill between saving step_N.zip and writing its cmni.csv row loses the row; resume probes it."""
    run = RunFolder(tmp_path / "run")
    train(PROBED, run.path, progress_bar=False, callbacks=[InterruptAt(2100)])
    table = read_cmni_csv(run.cmni_csv)
    assert [int(r["step"]) for r in table.rows] == [1024, 2048]
    write_cmni_csv(run.cmni_csv, table.columns, table.rows[:1])  # as if killed before the probe of 2048
    run.stats_path(2048).unlink()
    resume(run.path, progress_bar=False)
    steps = [int(r["step"]) for r in read_cmni_csv(run.cmni_csv).rows]
    assert steps == [step for step, _ in run.checkpoints()]
    assert {2048, 2100} <= set(steps)  # the lost probe and the Ctrl-C checkpoint's, which never had one
    assert all(run.stats_path(step).is_file() for step in steps)


# --------------------------------------------------------------------------- no dead-end run folder


def test_a_run_that_crashed_before_its_first_checkpoint_resumes_from_scratch(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.save_config(TINY)  # the crash happened right after config.json was written
    result = resume(run.path, progress_bar=False)
    assert result.num_timesteps >= TINY.timesteps and run.final_model.is_file()
    fresh = train(TINY, tmp_path / "fresh", progress_bar=False)
    assert result.mean_score == fresh.mean_score  # the same run as a new one with that seed


def test_resume_removes_temporary_files_left_by_a_kill(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    train(TINY, run.path, progress_bar=False, callbacks=[InterruptAt(1100)])
    stale = [run.checkpoint_dir / ".step_000000002048.zip.abc123.tmp", run.path / ".config.json.x1.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    resume(run.path, progress_bar=False)
    assert not any(p.exists() for p in stale)
    assert not list(run.path.rglob("*.tmp"))


def test_a_corrupt_latest_checkpoint_is_named_and_the_previous_one_is_used(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    train(TINY, run.path, progress_bar=False, callbacks=[InterruptAt(1500)])
    latest = run.latest_checkpoint()
    assert latest is not None and latest[0] > 1024
    latest[1].write_bytes(latest[1].read_bytes()[:100])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match=latest[1].name):
        result = resume(run.path, progress_bar=False)
    assert result.num_timesteps >= TINY.timesteps and run.final_model.is_file()


def test_two_processes_cannot_train_in_one_run_folder(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    with run.lock():
        with pytest.raises(RunError, match="another process"):
            train(TINY, run.path, progress_bar=False)


# --------------------------------------------------------------------------- files


def test_tensorboard_shows_no_step_twice_after_a_resume(tmp_path: Path) -> None:
    """The killed session logged steps after its last checkpoint; the resumed one logs them again."""
    run = RunFolder(tmp_path / "run")
    train(TINY, run.path, progress_bar=False)
    run.checkpoint_path(2048).unlink()  # as if killed after TensorBoard's 2048 but before that checkpoint
    run.final_model.unlink()
    resume(run.path, progress_bar=False)
    events = EventAccumulator(str(run.tb_dir))
    events.Reload()
    for tag in events.Tags()["scalars"]:
        steps = [e.step for e in events.Scalars(tag)]
        assert steps == sorted(set(steps)), (tag, steps)


def test_written_files_follow_the_umask_like_open_does(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    train(TINY, run.path, progress_bar=False)
    plain = tmp_path / "plain"
    plain.write_text("")  # what open() gives under this umask
    expected = plain.stat().st_mode & 0o777
    assert FILE_MODE == expected
    for path in (run.config_path, run.final_model, run.checkpoint_path(1024)):
        assert path.stat().st_mode & 0o777 == expected, path


# --------------------------------------------------------------------------- bad input: one line, nothing written


@pytest.mark.parametrize(
    "flags",
    [
        ["--timesteps", "1e400"],
        ["--checkpoint-every", "1e400"],
        ["--probe-every", "inf"],
        ["--n-envs", "1e400"],
        ["--seed", "4294967296"],
        ["--n-envs", "100000000"],
        ["--net-arch", "2000000000"],
        ["--device", "tpu"],
        ["--run-dir", ""],
    ],
)
def test_bad_flags_exit_2_with_one_line_before_anything_is_written(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = flags if "--run-dir" in flags else [*flags, "--run-dir", str(tmp_path / "run")]
    status, err = cli_error([*argv, "--no-progress"], capsys)
    assert status == 2
    assert_one_line(err)
    assert flags[0] in err
    assert list(tmp_path.iterdir()) == []


def test_an_unavailable_device_is_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    status, err = cli_error(["--device", "cuda", "--run-dir", str(tmp_path / "run"), "--no-progress"], capsys)
    assert status == 1 and "not available" in err
    assert not (tmp_path / "run").exists()


def test_a_run_folder_that_cannot_be_created_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    status, err = cli_error(["--run-dir", str(blocker / "run"), "--no-progress", "--no-probe"], capsys)
    assert status == 1 and str(blocker) in err
    assert_one_line(err)


def test_a_full_disk_mid_run_stops_cleanly_and_the_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    real_write = atomic.atomic_write_bytes

    def full_disk_at_second_checkpoint(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
        if Path(path).name == "step_000000002048.zip":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data, fsync)

    monkeypatch.setattr("agents.checkpoints.atomic_write_bytes", full_disk_at_second_checkpoint)
    flags = ["--timesteps", "3072", "--n-envs", "2", "--checkpoint-every", "1024", "--max-steps", "50",
             "--net-arch", "8,8", "--no-probe", "--no-progress", "--run-dir", str(run_dir)]  # fmt: skip
    status, err = cli_error(flags, capsys)
    assert status == 1 and "step_000000002048.zip" in err and "--resume" in err
    assert_one_line(err)
    assert [step for step, _ in RunFolder(run_dir).checkpoints()] == [1024]
    monkeypatch.setattr("agents.checkpoints.atomic_write_bytes", real_write)
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0
    assert RunFolder(run_dir).final_model.is_file()


def test_ctrl_c_while_the_libraries_load_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "--run-dir", str(tmp_path / "run"), "--no-progress"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.3)  # importing torch, SB3 and numba takes seconds
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_copied_finished_run_resumes_to_complete_without_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "run"
    train(TINY, source, progress_bar=False)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert train_cli.main(["--resume", str(copy), "--no-progress"]) == 0
    assert "already complete" in capsys.readouterr().out
