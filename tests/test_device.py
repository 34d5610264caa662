"""The torch device setting reaches every part of a run: training, the CMNI probe, resume.

On a machine without CUDA the ``cuda`` case is skipped; ``cpu`` and ``auto`` run the
same code path that ``--device cuda`` takes (resolve, build or load on the device, probe
a copy, save, resume), so a device string that went missing anywhere fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.training import make_model, make_env, resolve_device, resume, train
from experiment.config import TrainConfig
from experiment.cmni_csv import read_cmni_csv
from experiment.run_folder import RunError, RunFolder
from frogtoad_env.config import EnvConfig

#: 2 games x 2 slots x 32 steps = 128 agent-steps per rollout, probes every 256
TINY = TrainConfig(
    timesteps=1024, n_games=2, n_steps=32, n_minibatches=2, checkpoint_every=256, probe_every=256,
    probe_per_scenario=10, probe_permutations=5, probe_null_draws=2, env=EnvConfig(max_steps=50), net_arch=(8, 8),
)  # fmt: skip
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


class StopAt(BaseCallback):
    """Ends ``learn`` at the first step at or past ``step`` (as a crash would, minus the crash)."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def _on_step(self) -> bool:
        return self.num_timesteps < self.step


class DeviceSeen(BaseCallback):
    """Records the policy's device whenever a rollout ends."""

    def __init__(self) -> None:
        super().__init__()
        self.devices: set[str] = set()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.devices.add(self.model.policy.device.type)


def expected_type(device: str) -> str:
    """The torch device type a run with ``device`` must use on this machine."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.partition(":")[0]


@pytest.mark.parametrize("device", ["cpu", "auto", pytest.param("cuda", marks=CUDA)])
def test_train_probe_and_resume_on_device(tmp_path: Path, device: str) -> None:
    config = TrainConfig.from_dict({**TINY.to_dict(), "device": device})
    run_dir = tmp_path / "run"
    first, stop = DeviceSeen(), StopAt(512)
    stopped = train(config, run_dir, progress_bar=False, callbacks=[stop, first])
    assert stopped.num_timesteps < config.timesteps
    second = DeviceSeen()
    finished = resume(run_dir, progress_bar=False, callbacks=[second])

    assert first.devices == second.devices == {expected_type(device)}
    assert finished.num_timesteps >= config.timesteps and finished.model.policy.device.type == expected_type(device)
    run = RunFolder(run_dir)
    assert run.load_config().device == device  # the setting is saved as given, resolved on every start
    rows = read_cmni_csv(run.cmni_csv).rows
    assert [int(r["step"]) for r in rows] == sorted({int(r["step"]) for r in rows}) and len(rows) >= 4
    assert all(r["cmni_total"] == r["cmni_total"] for r in rows)  # probed on the device: numbers, not NaN


def test_auto_picks_cuda_only_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_missing_cuda_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RunError, match="'cuda:1' is not available"):
        resolve_device("cuda:1")


def test_model_is_built_on_the_resolved_device() -> None:
    config = TrainConfig.from_dict({**TINY.to_dict(), "device": resolve_device("auto")})
    env = make_env(config)
    try:
        assert make_model(config, env).policy.device.type == expected_type("auto")
    finally:
        env.close()
