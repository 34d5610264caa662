"""``python evaluate.py RUN`` on a tiny supervised run: the classifier's report.

The expected numbers are computed here from the saved files alone (``final_model.pt``,
``dataset.npz``, ``cmni.csv``) with numpy: the network's forward pass by hand, the
confusion matrix by counting, the per-scenario means by grouping.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import evaluate
from evaluation.episodes import play_episodes
from evaluation.partners import ObservationPolicy
from experiment.config import TrainConfig
from experiment.resolve import ResolvedRun, resolve_run
from experiment.run_folder import EvalFiles, RunError
from frogtoad_env.observations import paper_layout
from supervised.config import CONFIG_CLASSES, SupervisedConfig
from supervised.training import train_supervised

ROOT = Path(__file__).resolve().parents[1]
TINY = SupervisedConfig(
    net_arch=(12, 6), dropout=0.0, batch_size=20, learning_rate=1e-2, epochs=3, patience=10,
    dataset_size=3_000, test_size=1_000, seed=3, probe_permutations=5, untrained_seeds=2, max_steps=80,
)  # fmt: skip
EPISODES = 4
SECTIONS = ("## Test set (Table 3)", "## CMNI and validation loss over epochs (Fig. 2)", "## Neuron table (Table 4)",
            "## In the game", "## Neurons", "## Circuits", "## Replay")  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("supervised") / "run"
    train_supervised(TINY, run, progress_bar=False)
    return run


@pytest.fixture(scope="module")
def report(run_dir: Path) -> tuple[Path, dict]:
    """``evaluate.py RUN`` as a user runs it: a subprocess, default output folder."""
    proc = subprocess.run(
        [sys.executable, "evaluate.py", str(run_dir), "--episodes", str(EPISODES), "--permutations", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    out = run_dir / "eval"
    return out, json.loads((out / EvalFiles.METRICS_JSON).read_text())


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    """``final_model.pt`` as float64 numpy arrays (keys as torch names them: body.0.weight, head.bias...)."""
    return {k: v.double().numpy() for k, v in torch.load(run_dir / "final_model.pt", weights_only=True).items()}


def load_test_split(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(run_dir / "dataset.npz") as data:
        return data["test_observations"].astype(np.float64), data["test_labels"], data["test_scenarios"]


def forward(w: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first hidden layer's ReLU outputs, logits) of the 2-layer net, no dropout (eval)."""
    h0 = np.maximum(x @ w["body.0.weight"].T + w["body.0.bias"], 0.0)
    h1 = np.maximum(h0 @ w["body.3.weight"].T + w["body.3.bias"], 0.0)
    return h0, h1 @ w["head.weight"].T + w["head.bias"]


def resolve(path: Path, checkpoint: str | None = None) -> ResolvedRun:
    """What evaluate.py resolves: a run of either method."""
    return resolve_run(path, checkpoint, CONFIG_CLASSES)


def test_the_run_and_its_models_resolve_as_a_supervised_run(run_dir: Path, tmp_path: Path) -> None:
    final = resolve(run_dir)
    assert final.method == "supervised" and final.config == TINY
    assert final.model_path == run_dir / "final_model.pt" and final.checkpoint_epoch is None
    assert final.default_eval_dir == run_dir / "eval"
    assert [e for e, _ in final.checkpoints] == [1, 2, 3]
    epoch2 = resolve(run_dir / "checkpoints" / "epoch_0002.pt")
    assert epoch2.run is not None and epoch2.run.path == run_dir.resolve() and epoch2.config == TINY
    assert epoch2.checkpoint_epoch == 2 and epoch2.default_eval_dir == run_dir.resolve() / "eval" / "epoch_0002"
    assert resolve(run_dir, "1").model_path == run_dir / "checkpoints" / "epoch_0001.pt"


def test_a_path_that_is_no_supervised_model_is_a_one_line_run_error(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError, match="is a supervised run; only ppo runs are read here"):
        resolve_run(run_dir)  # the PPO-only default, as benchmarks/learning.py uses it
    (tmp_path / "model.pt").write_bytes((run_dir / "final_model.pt").read_bytes())
    with pytest.raises(RunError, match="in no run folder"):
        resolve(tmp_path / "model.pt")
    ppo = tmp_path / "ppo"
    ppo.mkdir()
    (ppo / "config.json").write_text(json.dumps(TrainConfig().to_dict()))  # names no method: a PPO run
    (ppo / "final_model.zip").write_bytes(b"x")
    (ppo / "final_model.pt").write_bytes(b"x")
    assert resolve(ppo).method == "ppo" and resolve(ppo).model_path.name == "final_model.zip"
    with pytest.raises(RunError, match="final_model.pt is no model of .*, a ppo run"):
        resolve(ppo / "final_model.pt")


def test_the_report_has_the_classifier_sections_and_files(report: tuple[Path, dict]) -> None:
    out, metrics = report
    text = (out / EvalFiles.REPORT_MD).read_text()
    positions = [text.find(section) for section in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), positions
    for name in (EvalFiles.CONFUSION_CSV, EvalFiles.CMNI_VS_LOSS_PNG, EvalFiles.NEURON_TABLE_CSV, EvalFiles.CIRCUITS_CSV,
                 EvalFiles.BEHAVIOUR_CSV, EvalFiles.neurons_png("hidden.0"), EvalFiles.REPLAY_GIF):  # fmt: skip
        assert (out / name).is_file() and name in metrics["files"], name
    assert metrics["run"]["method"] == "supervised"


def test_accuracy_and_confusion_matrix_are_the_saved_model_on_the_test_split(run_dir: Path, report: tuple[Path, dict]) -> None:
    _, metrics = report
    c = metrics["classifier"]
    assert c["test_accuracy"] == json.loads((run_dir / "result.json").read_text())["test_accuracy"]
    x, labels, _ = load_test_split(run_dir)
    predicted = forward(weights(run_dir), x)[1].argmax(axis=1)
    expected = np.zeros((4, 4), dtype=np.int64)
    np.add.at(expected, (labels, predicted), 1)
    confusion = np.array(c["confusion"])
    assert (confusion == expected).all() and confusion.sum() == TINY.test_size == c["test_states"]
    assert np.trace(confusion) / confusion.sum() == pytest.approx(c["test_accuracy"], abs=1e-12)
    np.testing.assert_allclose(c["confusion_row_share"], expected / expected.sum(axis=1, keepdims=True))
    assert 0 < np.trace(expected) < TINY.test_size  # the tiny net learned something and still errs


def test_neuron_table_is_the_first_layers_mean_activation_per_scenario(run_dir: Path, report: tuple[Path, dict]) -> None:
    _, metrics = report
    x, _, scenarios = load_test_split(run_dir)
    h0, _ = forward(weights(run_dir), x)
    rows = metrics["neuron_table"]["hidden.0"]
    assert [r["unit"] for r in rows] == list(range(TINY.net_arch[0]))
    for code, name in enumerate(("none", "self", "other", "both")):
        expected = h0[scenarios == code].mean(axis=0)
        np.testing.assert_allclose([r[f"mean_{name}"] for r in rows], expected, rtol=1e-5, atol=1e-6)
    for r in rows:
        if r["mean_none"] > 0:
            assert r["both_none_ratio"] == pytest.approx(r["mean_both"] / r["mean_none"])
        delta_self, delta_other = r["mean_self"] - r["mean_none"], r["mean_other"] - r["mean_none"]
        if abs(delta_self) > 1e-6 and abs(delta_other) > 1e-6:
            assert r["mirror_candidate"] == (delta_self > 0 and delta_other > 0)


def test_the_cmni_curve_is_the_runs_cmni_csv_by_epoch(run_dir: Path, report: tuple[Path, dict]) -> None:
    _, metrics = report
    with open(run_dir / "cmni.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cmni = [float(r["cmni_total"]) for r in rows]
    curve = metrics["cmni"]["curve"]
    assert curve["n_probes"] == TINY.epochs and curve["peak_epoch"] == 1 + int(np.argmax(cmni))
    assert curve["last_val_loss"] == float(rows[-1]["val_loss"])


def test_the_classifier_plays_both_seats_with_its_hidden_own_status(run_dir: Path, report: tuple[Path, dict]) -> None:
    """The same seeded games, played by the hand-written forward pass on observations whose
    own-status number is zeroed as in the training data, give the report's score."""
    _, metrics = report
    w = weights(run_dir)
    own_status = paper_layout(TINY.width)["own_status"]

    def act(observations: np.ndarray) -> np.ndarray:
        seen = observations.astype(np.float64)
        seen[:, own_status] = 0.0
        return forward(w, seen)[1].argmax(axis=1)

    policy = ObservationPolicy(act, name="by hand")
    played = play_episodes(policy, policy, TINY.env, EPISODES, seed=0)
    assert metrics["classifier"]["score"] == pytest.approx(played.scores[:, 0].mean())
    scripted = next(r for r in metrics["behaviour"]["rows"] if r["label"] == "scripted (both seats)")
    assert metrics["classifier"]["scripted_score"] == scripted["score_mean"]


def test_the_player_zeroes_its_own_status_as_the_training_data_did(run_dir: Path) -> None:
    """A distressed player's own-status number (9 where the env shows distress) is hidden
    from the classifier, as in its training states; the raw number would change its choices."""
    from evaluation.classifier import ClassifierActor, load_classifier

    resolved = resolve(run_dir)
    x, _, _ = load_test_split(run_dir)
    own_status = paper_layout(TINY.width)["own_status"]
    shown = x.copy()
    shown[:, own_status] = 9.0
    w = weights(run_dir)
    hidden_choice = forward(w, x)[1].argmax(axis=1)  # the test split's own status is already 0
    assert (forward(w, shown)[1].argmax(axis=1) != hidden_choice).any()
    actor = ClassifierActor(load_classifier(resolved, x.shape[1]), resolved.config)
    assert (actor.predict(shown.astype(np.float32))[0] == hidden_choice).all()


def test_circuits_read_the_weights_from_each_hidden_layer_to_the_next_and_to_the_logits(run_dir: Path) -> None:
    from evaluation.classifier import load_classifier, weight_chain

    w = weights(run_dir)
    names, chain = weight_chain(load_classifier(resolve(run_dir), w["body.0.weight"].shape[1]))
    assert names == ["hidden.0", "hidden.1"]
    np.testing.assert_array_equal(chain[0], w["body.3.weight"])
    np.testing.assert_array_equal(chain[1], w["head.weight"])


def test_an_epoch_checkpoint_is_evaluated_with_that_epochs_test_accuracy(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "epoch1"
    assert evaluate.main([str(run_dir), "--checkpoint", "1", "--episodes", "2", "--permutations", "5", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / EvalFiles.METRICS_JSON).read_text())
    with open(run_dir / "cmni.csv", newline="") as handle:
        epoch1 = next(csv.DictReader(handle))
    assert metrics["run"]["epoch"] == 1
    assert metrics["classifier"]["test_accuracy"] == pytest.approx(float(epoch1["test_accuracy"]), abs=1e-12)


@pytest.mark.parametrize("flags", [["--interventions"], ["--recompute-cmni"], ["--steer-alpha", "2"], ["--intervention-units", "hidden.0:1"]])
def test_ppo_only_flags_exit_2_naming_the_flag(run_dir: Path, flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main([str(run_dir), *flags])
    assert exit_info.value.code == 2
    assert f"{flags[0]} applies to PPO runs only" in capsys.readouterr().err


def test_a_missing_epoch_exits_1_listing_the_saved_ones(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main([str(run_dir), "--checkpoint", "9", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint at epoch 9" in err and "(epochs: 1, 2, 3)" in err


def test_an_egocentric_run_is_evaluated_with_its_coupled_first_layer(tmp_path: Path) -> None:
    """The report rebuilds the coupled layer the run trained (named ``coupled``, as in the
    PPO agents): the saved weights load, and the test accuracy is the one training saved."""
    config = SupervisedConfig(**{**TINY.to_dict(), "net_arch": (8, 5), "epochs": 2, "obs_mode": "egocentric",
                                 "coupling": 0.25, "width": 16})  # fmt: skip
    run = tmp_path / "ego"
    train_supervised(config, run, progress_bar=False)
    out = tmp_path / "report"
    assert evaluate.main([str(run), "--episodes", "2", "--permutations", "5", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / EvalFiles.METRICS_JSON).read_text())
    assert metrics["run"]["train_config"]["coupling"] == 0.25
    assert [len(metrics["neuron_table"][layer]) for layer in ("coupled", "hidden.1")] == [8, 5]
    assert metrics["classifier"]["test_accuracy"] == json.loads((run / "result.json").read_text())["test_accuracy"]
    assert (out / EvalFiles.neurons_png("coupled")).is_file()

