"""Tests of the training entry point: flags, run folder, seeding, resume, interrupts, atomic saves."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import train as train_cli
from agents.checkpoints import load_ppo, save_ppo
from agents.training import resume, train
from experiment.config import TrainConfig
from experiment.run_folder import CONFIG_FILE, FINAL_MODEL, TB_DIR, RunError, RunFolder
from experiment.atomic import atomic_write_bytes
from frogtoad_env.config import EnvConfig
from tests.interrupts import InterruptAt

REPO = Path(__file__).resolve().parents[1]
#: a tiny run: 2 games (4 slots) x 128 steps = 512 agent-steps per rollout, 50-step episodes
TINY = TrainConfig(
    timesteps=2048, n_games=2, checkpoint_every=1024, probe=False, env=EnvConfig(max_steps=50), net_arch=(16, 16)
)
TINY_FLAGS = ["--timesteps", "2048", "--n-envs", "2", "--checkpoint-every", "1024", "--max-steps", "50",
              "--net-arch", "16,16", "--no-probe", "--no-progress"]


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def parameters(path: Path) -> dict[str, torch.Tensor]:
    return load_ppo(path, TINY).policy.state_dict()


def same_parameters(a: Path, b: Path) -> bool:
    pa, pb = parameters(a), parameters(b)
    return pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny run made through the CLI (read-only for the tests: copy before changing)."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    assert train_cli.main([*TINY_FLAGS, "--run-dir", str(run_dir)]) == 0
    return run_dir


# --------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--coupling", "1.5"),
        ("--coupling", "abc"),
        ("--timesteps", "-5"),
        ("--timesteps", "0"),
        ("--activation", "sigmoid"),
        ("--net-arch", "64,x"),
        ("--net-arch", "64,,64"),
        ("--net-arch", "0"),
        ("--veil", "2"),
        ("--dependency", "-0.1"),
        ("--prosocial", "1.01"),
        ("--n-envs", "0"),
        ("--max-steps", "1.5"),
        ("--checkpoint-every", "-1"),
        ("--ent-coef", "-0.01"),
    ],
)
def test_bad_flag_exits_2_naming_value(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main([flag, value, "--no-probe"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and value in err and len(err.strip().splitlines()[-1]) > len(flag)


def test_resume_rejects_config_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--resume", str(tmp_path), "--coupling", "0.2", "--timesteps", "99"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--coupling" in err and "--timesteps" in err and "config.json" in err


def test_flags_reach_config() -> None:
    args, config, run_dir = train_cli.parse(
        ["--coupling", "0.25", "--timesteps", "2e6", "--n-envs", "8", "--net-arch", "32,16,8", "--activation", "relu",
         "--veil", "0.5", "--dependency", "0.3", "--prosocial", "0.1", "--max-steps", "200", "--no-probe",
         "--run-dir", "somewhere"]
    )
    assert config is not None and run_dir == Path("somewhere")
    assert (config.coupling, config.timesteps, config.n_games, config.n_slots) == (0.25, 2_000_000, 8, 16)
    assert (config.net_arch, config.activation, config.probe) == ((32, 16, 8), "relu", False)
    assert config.env == EnvConfig(veil=0.5, dependency=0.3, prosocial=0.1, max_steps=200)
    assert config.probe_interval == config.checkpoint_every
    _, default, default_dir = train_cli.parse([])
    assert default == TrainConfig() and default_dir.parent == Path("runs") and default_dir.name.endswith("_c0.5")


def test_ppo_flags_reach_config() -> None:
    _, config, _ = train_cli.parse(["--n-steps", "64", "--learning-rate", "5e-4", "--ent-coef", "0.02",
                                    "--reward-scale", "0.5"])  # fmt: skip
    assert config is not None
    assert (config.n_steps, config.learning_rate, config.ent_coef, config.reward_scale) == (64, 5e-4, 0.02, 0.5)


def test_a_config_saved_before_reward_scale_existed_reads_as_unscaled() -> None:
    """Runs saved before the field trained on plain points; a new config takes the default."""
    saved = TrainConfig(reward_scale=0.3).to_dict()
    del saved["reward_scale"]
    old = TrainConfig.from_json(json.dumps(saved))
    assert old.reward_scale == 1.0
    assert old == TrainConfig(reward_scale=1.0)
    assert TrainConfig.from_dict(saved).reward_scale == TrainConfig().reward_scale


def test_learner_is_paid_scaled_points(tmp_path: Path) -> None:
    """PPO's rollout buffer holds points x reward_scale; the logged score stays in points."""
    scale = 0.3  # unscaled whole points divided by 0.3 would not be whole
    # episodes longer than the one rollout, so no truncated step adds SB3's bootstrapped value to a reward
    config = replace(TINY, reward_scale=scale, timesteps=200, env=EnvConfig(max_steps=2 * TINY.n_steps))
    result = train(config, tmp_path / "scaled", progress_bar=False)
    buffer = result.model.rollout_buffer
    points = buffer.rewards / scale  # hop points are whole numbers; anything else was not scaled by `scale`
    assert points.max() >= 1
    np.testing.assert_allclose(points, np.round(points), rtol=0, atol=1e-5)


def test_config_json_round_trip() -> None:
    config = TrainConfig(coupling=0.3, net_arch=(8, 4), env=EnvConfig(veil=0.2), probe_every=77)
    assert TrainConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown config key"):
        TrainConfig.from_dict({**config.to_dict(), "nope": 1})
    with pytest.raises(ValueError, match="egocentric"):
        TrainConfig(env=EnvConfig(obs_mode="paper"))


# --------------------------------------------------------------------------- a run


def test_run_writes_folder(finished_run: Path) -> None:
    assert RunFolder(finished_run).load_config() == TrainConfig.from_dict({**TINY.to_dict(), "probe": False})
    steps = [step for step, _ in RunFolder(finished_run).checkpoints()]
    assert steps == [1024, 2048]
    assert (finished_run / FINAL_MODEL).is_file()
    assert same_parameters(finished_run / FINAL_MODEL, RunFolder(finished_run).latest_checkpoint()[1])
    events = list((finished_run / TB_DIR).glob("events.out.tfevents.*"))
    assert len(events) == 1
    assert not tmp_files(finished_run)


def test_tensorboard_has_game_and_loss_tags(finished_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(finished_run / TB_DIR)).Reload().Tags()["scalars"]
    for tag in ("game/score", "game/help_rate", "game/help_rate_partner_distressed", "game/help_rate_partner_ok",
                "game/stalled_fraction", "game/leap_rate_rough_ahead", "train/loss", "rollout/ep_rew_mean"):
        assert tag in tags


def test_same_seed_same_parameters(tmp_path: Path, finished_run: Path) -> None:
    again = tmp_path / "again"
    assert train_cli.main([*TINY_FLAGS, "--run-dir", str(again)]) == 0
    for (step_a, a), (step_b, b) in zip(RunFolder(finished_run).checkpoints(), RunFolder(again).checkpoints(), strict=True):
        assert step_a == step_b and same_parameters(a, b)
    other = train(TrainConfig.from_dict({**TINY.to_dict(), "seed": 1}), tmp_path / "other", progress_bar=False)
    assert not same_parameters(finished_run / FINAL_MODEL, other.model_path)


def test_new_run_refuses_existing_run(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(finished_run)
    assert train_cli.main([*TINY_FLAGS, "--run-dir", str(finished_run)]) == 1
    err = capsys.readouterr().err.strip()
    assert "already holds a run" in err and len(err.splitlines()) == 1
    assert snapshot(finished_run) == before


# --------------------------------------------------------------------------- interrupt and resume


def test_interrupt_saves_checkpoint_then_resume_finishes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = TrainConfig.from_dict({**TINY.to_dict(), "timesteps": 4096})
    stopped = train(config, run_dir, progress_bar=False, callbacks=[InterruptAt(1500)])
    assert stopped.interrupted and 1500 <= stopped.num_timesteps < 4096
    assert not (run_dir / FINAL_MODEL).exists() and not tmp_files(run_dir)
    step, path = RunFolder(run_dir).latest_checkpoint()
    assert step == stopped.num_timesteps and path == stopped.model_path
    assert load_ppo(path, config).num_timesteps == step

    resumed = resume(run_dir, progress_bar=False)
    assert not resumed.interrupted and resumed.num_timesteps >= 4096 > step
    assert RunFolder(run_dir).latest_checkpoint()[0] == resumed.num_timesteps
    assert load_ppo(run_dir / FINAL_MODEL, config).num_timesteps == resumed.num_timesteps
    assert len(list((run_dir / TB_DIR).glob("events.out.tfevents.*"))) == 2  # same folder, one file per session


def test_resume_cli_continues_step_count(tmp_path: Path, finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finished 2048-step run whose config.json now asks for 4096 continues from step 2048."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    (run_dir / FINAL_MODEL).unlink()
    config = RunFolder(run_dir).load_config()
    (run_dir / CONFIG_FILE).write_text(TrainConfig.from_dict({**config.to_dict(), "timesteps": 4096}).to_json())
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "final mean score" in out
    assert RunFolder(run_dir).latest_checkpoint()[0] == 4096
    assert load_ppo(run_dir / FINAL_MODEL, config).num_timesteps == 4096


def test_resume_complete_run_changes_nothing(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(finished_run)
    assert train_cli.main(["--resume", str(finished_run), "--no-progress"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert snapshot(finished_run) == before


@pytest.mark.parametrize("problem", ["missing", "no_config", "bad_config"])
def test_resume_errors_exit_1_one_line(
    problem: str, tmp_path: Path, finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    if problem != "missing":
        shutil.copytree(finished_run, run_dir)
    if problem == "no_config":
        (run_dir / CONFIG_FILE).unlink()
    elif problem == "bad_config":
        (run_dir / CONFIG_FILE).write_text('{"coupling": 3}')
    before = snapshot(run_dir) if run_dir.exists() else None
    assert train_cli.main(["--resume", str(run_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(run_dir) in err or "checkpoint" in err
    assert (snapshot(run_dir) if run_dir.exists() else None) == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_interrupt_signal_exits_130_with_checkpoint(tmp_path: Path, signum: signal.Signals) -> None:
    """A real SIGINT (Ctrl-C) or SIGTERM to ``python train.py``: one line, status 130, a loadable checkpoint."""
    run_dir = tmp_path / "run"
    flags = ["--timesteps", "100000000", "--n-envs", "2", "--checkpoint-every", "512", "--net-arch", "16,16",
             "--no-probe", "--no-progress", "--run-dir", str(run_dir)]
    proc = subprocess.Popen([sys.executable, "train.py", *flags], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not RunFolder(run_dir).checkpoints() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = out.strip().splitlines()[-1]
    assert last.startswith("interrupted at step") and f"--resume {run_dir}" in last
    step, path = RunFolder(run_dir).latest_checkpoint()
    assert load_ppo(path, RunFolder(run_dir).load_config()).num_timesteps == step
    assert not tmp_files(run_dir)


# --------------------------------------------------------------------------- atomic saves


def test_atomic_write_replaces_and_leaves_no_tmp(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["file.bin"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def interrupted_replace(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["file.bin"]


def test_atomic_save_model_loads(tmp_path: Path, finished_run: Path) -> None:
    model = load_ppo(finished_run / FINAL_MODEL, TINY)
    path = save_ppo(model, tmp_path / "copy.zip")
    assert same_parameters(path, finished_run / FINAL_MODEL) and os.listdir(tmp_path) == ["copy.zip"]


def test_run_error_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RunError) as error:
        RunFolder(tmp_path / "nowhere").load_config()
    assert "\n" not in str(error.value)


# --------------------------------------------------------------------------- CMNI wiring


def test_probe_callback_writes_cmni_files(tmp_path: Path) -> None:
    pytest.importorskip("cmni.callback")
    config = TrainConfig.from_dict(
        {**TINY.to_dict(), "probe": True, "probe_every": 1024, "probe_per_scenario": 20, "probe_permutations": 5}
    )
    result = train(config, tmp_path / "run", progress_bar=False)
    assert not result.interrupted
    assert (tmp_path / "run" / "probe_set.npz").is_file()
    rows = (tmp_path / "run" / "cmni.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,") and len(rows) >= 3  # header + a probe at ~1024 and at ~2048
