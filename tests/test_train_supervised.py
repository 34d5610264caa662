"""``train.py --method supervised``: flags, a tiny run end to end, resume after ``kill -9``, bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import train as train_cli
from experiment.config import TrainConfig
from experiment.run_folder import RunFolder
from frogtoad_env.observations import egocentric_layout, observation_space
from supervised.classifier import evaluate, make_classifier
from supervised.config import SupervisedConfig
from supervised.dataset import build_dataset

REPO = Path(__file__).resolve().parents[1]
#: 2,000 states: a balanced test set of 500, 1,350 to train on (135 steps of 10), 150 to validate on
TINY_FLAGS = ["--method", "supervised", "--net-arch", "8", "--dataset-size", "2000", "--test-size", "500",
              "--batch-size", "10", "--lr", "1e-2", "--epochs", "6", "--seed", "3", "--no-progress"]  # fmt: skip
TINY = SupervisedConfig(net_arch=(8,), dataset_size=2000, test_size=500, batch_size=10, learning_rate=1e-2, epochs=6, seed=3)


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = torch.load(a), torch.load(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny run made through the CLI (read-only for the tests: copy before changing)."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    assert train_cli.main([*TINY_FLAGS, "--run-dir", str(run_dir)]) == 0
    return run_dir


# --------------------------------------------------------------------------- flags


def test_supervised_flags_reach_the_supervised_config() -> None:
    _, config, run_dir = train_cli.parse(TINY_FLAGS + ["--dropout", "0.3", "--patience", "4", "--activation", "tanh",
                                                       "--seat", "both", "--max-steps", "200", "--run-dir", "here"])  # fmt: skip
    assert config == SupervisedConfig(net_arch=(8,), dataset_size=2000, test_size=500, batch_size=10, learning_rate=1e-2,
                                      epochs=6, seed=3, dropout=0.3, patience=4, activation="tanh", seat="both",
                                      max_steps=200)  # fmt: skip
    assert run_dir == Path("here")


def test_the_learning_rate_has_two_spellings_and_each_method_its_own_default() -> None:
    assert train_cli.parse(["--method", "supervised"])[1].learning_rate == 4e-6  # the paper's case net
    assert train_cli.parse([])[1].learning_rate == 2e-3
    assert train_cli.parse(["--method", "supervised", "--learning-rate", "1e-4"])[1].learning_rate == 1e-4
    assert train_cli.parse(["--lr", "1e-4"])[1] == TrainConfig(learning_rate=1e-4)


def test_egocentric_states_make_the_first_layer_the_coupled_one() -> None:
    _, config, run_dir = train_cli.parse(["--method", "supervised", "--obs-mode", "egocentric", "--coupling", "1"])
    assert (config.obs_mode, config.coupling) == ("egocentric", 1.0) and run_dir.name.endswith("_supervised_c1")
    n_inputs = observation_space("egocentric", config.width).shape[0]
    model = make_classifier(n_inputs, config.net_arch, config.activation, config.dropout, 0, config.coupling, config.width)
    x = torch.rand(50, n_inputs)
    layout = egocentric_layout(config.width)
    swapped = x.clone()
    swapped[:, layout["self"]], swapped[:, layout["other"]] = x[:, layout["other"]], x[:, layout["self"]]
    labels = torch.zeros(50, dtype=torch.int64)
    coupled, after_swap = evaluate(model, x, labels).layers, evaluate(model, swapped, labels).layers
    assert list(coupled) == ["coupled", "hidden.1"]
    # at c = 1 the partner's block goes through one's own weights: a self/other swap changes nothing
    assert np.array_equal(coupled["coupled"], after_swap["coupled"])
    assert not np.array_equal(coupled["coupled"], evaluate(model, torch.rand(50, n_inputs), labels).layers["coupled"])


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--method", "supervised", "--n-envs", "4"], "--n-envs"),
        (["--method", "supervised", "--timesteps", "9"], "--timesteps"),
        (["--method", "supervised", "--no-probe"], "--no-probe"),
        (["--method", "supervised", "--preset", "hard"], "--preset"),
        (["--method", "supervised", "--veil", "0.5"], "--veil"),
        (["--dropout", "0.2"], "--dropout"),
        (["--method", "ppo", "--epochs", "3"], "--epochs"),
        (["--obs-mode", "paper"], "--obs-mode"),
        (["--dataset-size", "5000"], "--dataset-size"),
    ],
)
def test_a_flag_of_the_other_method_exits_2_naming_it(
    flags: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(flags)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "--method" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "flags, minimum",
    [(["--dataset-size", "1999", "--test-size", "1000"], "2000"), (["--dataset-size", "100000"], "200000")],
)
def test_a_dataset_too_small_for_the_balanced_test_set_exits_2_naming_the_minimum(
    flags: list[str], minimum: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--method", "supervised", *flags, "--run-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--dataset-size" in err and f">= {minimum}" in err
    assert not (tmp_path / "run").exists()


def test_resume_takes_no_supervised_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--resume", str(tmp_path), "--method", "supervised", "--epochs", "9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--method" in err and "--epochs" in err


# --------------------------------------------------------------------------- a run


def test_a_tiny_run_through_the_cli_fills_its_run_folder(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunFolder(finished_run)
    assert run.method() == "supervised" and run.load_config(SupervisedConfig) == TINY
    assert json.loads(run.config_path.read_text())["method"] == "supervised"
    assert [epoch for epoch, _ in run.epoch_checkpoints()] == [1, 2, 3, 4, 5, 6]
    rows = run.cmni_csv.read_text().splitlines()
    assert len(rows) == 1 + 6
    result = json.loads(run.result_path.read_text())
    assert result["epochs_run"] == 6 and sum(map(sum, result["test_confusion"])) == 500
    assert run.final_classifier.is_file() and run.dataset_path.is_file()
    assert list(run.tb_dir.glob("events.out.tfevents.*"))


def test_resuming_a_finished_run_through_the_cli_trains_no_more(finished_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    before = snapshot(copy / "checkpoints")
    assert train_cli.main(["--resume", str(copy), "--no-progress"]) == 0
    assert snapshot(copy / "checkpoints") == before
    assert json.loads((copy / "result.json").read_text()) == json.loads((finished_run / "result.json").read_text())


def test_a_second_process_cannot_train_in_a_locked_run_folder(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    with RunFolder(copy).lock():  # as another process training there would hold it
        assert train_cli.main(["--resume", str(copy), "--no-progress"]) == 1
    assert "another process is using the run folder" in capsys.readouterr().err


def test_kill_9_mid_training_then_resume_ends_like_an_unbroken_run(finished_run: Path, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "killed")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *TINY_FLAGS, "--run-dir", str(run.path)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while proc.poll() is None and not run.epoch_checkpoint_path(1).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()[1].decode()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not run.final_classifier.exists(), "the kill landed after the run finished"

    assert train_cli.main(["--resume", str(run.path), "--no-progress"]) == 0
    assert run.cmni_csv.read_text() == (finished_run / "cmni.csv").read_text()
    assert run.result_path.read_text() == (finished_run / "result.json").read_text()
    assert same_weights(run.final_classifier, finished_run / "final_model.pt")
    assert [p for p in run.path.rglob("*") if p.name.endswith(".tmp")] == []


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:5000])


def _from_another_seed(path: Path) -> None:
    build_dataset(SupervisedConfig(**{**TINY.data_fields, "seed": TINY.seed + 1})).save(path)


@pytest.mark.parametrize("spoil", [_truncated, _from_another_seed])
def test_a_bad_dataset_stops_the_resume_with_status_1_naming_it_and_nothing_is_overwritten(
    spoil, finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = RunFolder(tmp_path / "copy")
    copy.checkpoint_dir.mkdir(parents=True)
    for name in ("config.json", "dataset.npz", "checkpoints/epoch_0002.pt"):
        shutil.copyfile(finished_run / name, copy.path / name)
    spoil(copy.dataset_path)
    before = snapshot(copy.path)
    assert train_cli.main(["--resume", str(copy.path), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(copy.dataset_path) in err[0]
    assert {k: v for k, v in snapshot(copy.path).items() if k != ".lock"} == before
