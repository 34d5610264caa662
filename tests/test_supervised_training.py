"""A tiny supervised run end to end: its files, the per-epoch CMNI, early stopping, Ctrl-C and resume."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from cmni.metric import compute_cmni
from experiment.run_folder import DATASET_FILE, FINAL_MODEL_FILE, RESULT_FILE, RunError, RunFolder
from supervised import training
from supervised.classifier import evaluate, make_classifier
from supervised.config import SupervisedConfig
from supervised.dataset import LabelledDataset
from supervised.training import SupervisedResult, epoch_columns, train_supervised

def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    return RunFolder(run_dir).epoch_checkpoint_path(epoch)


TINY = SupervisedConfig(
    net_arch=(8,), dropout=0.1, batch_size=20, learning_rate=2e-2, epochs=3, patience=10,
    dataset_size=2_000, test_size=500, seed=5, probe_permutations=5, untrained_seeds=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> SupervisedResult:
    return train_supervised(TINY, tmp_path_factory.mktemp("runs") / "run", progress_bar=False)


def read_rows(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(run_dir / "cmni.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_a_tiny_run_writes_every_file_of_its_folder(finished: SupervisedResult) -> None:
    run = finished.run_dir
    assert SupervisedConfig.from_json((run / "config.json").read_text()) == TINY
    assert [checkpoint_path(run, e).is_file() for e in (1, 2, 3)] == [True, True, True]
    assert (run / DATASET_FILE).is_file() and (run / FINAL_MODEL_FILE).is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    header, rows = read_rows(run)
    assert header == epoch_columns(["hidden.0"])
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [int(r["step"]) for r in rows] == [1350, 2700, 4050]  # training states seen: 1350 per epoch


def test_evaluation_reads_the_networks_own_forward_pass_and_counts_true_rows_by_predicted_columns() -> None:
    model = make_classifier(6, (5, 4), "tanh", 0.5, seed=1)
    x = torch.randn(300, 6)
    y = torch.randint(0, 4, (300,))
    result = evaluate(model, x, y)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    assert torch.allclose(torch.from_numpy(result.logits), expected)
    assert list(result.layers) == ["hidden.0", "hidden.1"] and result.layers["hidden.1"].shape == (300, 4)
    weights = model.state_dict()  # each hidden layer is tanh(W h + b) of the one before, dropout off
    first = torch.tanh(x @ weights["body.0.weight"].T + weights["body.0.bias"])
    second = torch.tanh(first @ weights["body.3.weight"].T + weights["body.3.bias"])
    assert torch.allclose(torch.from_numpy(result.layers["hidden.0"]).float(), first, atol=1e-6)
    assert torch.allclose(torch.from_numpy(result.layers["hidden.1"]).float(), second, atol=1e-6)
    predicted = expected.argmax(dim=1)
    for true in range(4):
        for guess in range(4):
            assert result.confusion[true, guess] == int(((y == true) & (predicted == guess)).sum())
    assert result.loss == pytest.approx(float(torch.nn.functional.cross_entropy(expected, y)), rel=1e-6)


def test_training_lowers_the_training_loss(finished: SupervisedResult) -> None:
    losses = [row["train_loss"] for row in finished.rows]
    assert losses[-1] < 0.9 * losses[0]


def test_the_test_result_is_on_the_balanced_test_set(finished: SupervisedResult) -> None:
    confusion = finished.test_confusion
    assert confusion.sum(axis=1).tolist() == [200, 200, 50, 50]  # rows are the true labels
    assert finished.test_accuracy == pytest.approx(confusion.trace() / 500)
    saved = json.loads((finished.run_dir / RESULT_FILE).read_text())
    assert saved["test_confusion"] == confusion.tolist() and saved["best_epoch"] == finished.best_epoch


def test_the_final_model_is_the_epoch_with_the_lowest_validation_loss(finished: SupervisedResult) -> None:
    val_losses = [row["val_loss"] for row in finished.rows]
    best = 1 + val_losses.index(min(val_losses))
    assert finished.best_epoch == best
    final = torch.load(finished.run_dir / FINAL_MODEL_FILE)
    for name, tensor in torch.load(checkpoint_path(finished.run_dir, best))["model"].items():
        assert torch.equal(final[name], tensor), name


def test_each_epochs_cmni_is_that_checkpoints_hidden_layer_on_the_test_states(finished: SupervisedResult) -> None:
    test = LabelledDataset.load(finished.run_dir / DATASET_FILE, TINY).test
    _, rows = read_rows(finished.run_dir)
    for epoch in (1, 3):
        model = make_classifier(100, TINY.net_arch, TINY.activation, TINY.dropout, seed=0)
        model.load_state_dict(torch.load(checkpoint_path(finished.run_dir, epoch))["model"])
        layers = evaluate(model, torch.from_numpy(test.observations), torch.from_numpy(test.labels)).layers
        assert float(rows[epoch - 1]["cmni_total"]) == pytest.approx(compute_cmni(layers, test.scenarios).cmni, rel=1e-9)


def test_the_untrained_null_is_fresh_networks_of_the_same_shape(finished: SupervisedResult) -> None:
    test = LabelledDataset.load(finished.run_dir / DATASET_FILE, TINY).test
    x, y = torch.from_numpy(test.observations), torch.from_numpy(test.labels)
    for k, value in enumerate(finished.null_untrained):
        fresh = make_classifier(100, TINY.net_arch, TINY.activation, TINY.dropout, TINY.seed + 10_000 + k)
        assert value == pytest.approx(compute_cmni(evaluate(fresh, x, y).layers, test.scenarios).cmni, rel=1e-9)


def test_training_stops_after_patience_epochs_without_a_lower_validation_loss(tmp_path, monkeypatch) -> None:
    def ruin_weights_after_epoch_1(model, *args) -> float:
        if ruin_weights_after_epoch_1.calls:
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.mul_(-10.0)  # the validation loss can only get worse than epoch 1's
        ruin_weights_after_epoch_1.calls += 1
        return 0.0

    ruin_weights_after_epoch_1.calls = 0
    monkeypatch.setattr(training, "train_epoch", ruin_weights_after_epoch_1)
    result = train_supervised(dataclasses.replace(TINY, epochs=10, patience=2), tmp_path / "run", progress_bar=False)
    assert (result.epochs_run, result.best_epoch) == (3, 1)
    final = torch.load(tmp_path / "run" / FINAL_MODEL_FILE)
    first = torch.load(checkpoint_path(tmp_path / "run", 1))["model"]
    assert all(torch.equal(final[name], tensor) for name, tensor in first.items())


def test_ctrl_c_keeps_the_last_epoch_and_resume_ends_bit_for_bit_like_an_unbroken_run(
    finished: SupervisedResult, tmp_path, monkeypatch
) -> None:
    real_train_epoch = training.train_epoch
    calls = []

    def killed_in_epoch_3(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train_epoch(*args)

    run = tmp_path / "run"
    monkeypatch.setattr(training, "train_epoch", killed_in_epoch_3)
    broken = train_supervised(TINY, run, progress_bar=False)
    assert (broken.interrupted, broken.epochs_run) == (True, 2)
    assert not checkpoint_path(run, 3).exists() and not (run / FINAL_MODEL_FILE).exists()
    monkeypatch.setattr(training, "train_epoch", real_train_epoch)

    torch.manual_seed(12345)  # a new process would start from another global RNG state
    resumed = train_supervised(TINY, run, resume=True, progress_bar=False)
    assert not resumed.interrupted and resumed.epochs_run == 3
    for name, tensor in finished.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    assert (run / "cmni.csv").read_text() == (finished.run_dir / "cmni.csv").read_text()


def test_a_run_stopped_in_its_first_epoch_resumes_from_the_start(finished: SupervisedResult, tmp_path, monkeypatch) -> None:
    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_epoch", killed)
    assert train_supervised(TINY, tmp_path / "run", progress_bar=False).epochs_run == 0
    monkeypatch.undo()
    resumed = train_supervised(TINY, tmp_path / "run", resume=True, progress_bar=False)
    assert (tmp_path / "run" / "cmni.csv").read_text() == (finished.run_dir / "cmni.csv").read_text()
    assert resumed.test_accuracy == finished.test_accuracy


def test_resuming_a_finished_run_trains_no_more(finished: SupervisedResult) -> None:
    again = train_supervised(TINY, finished.run_dir, resume=True, progress_bar=False)
    assert again.epochs_run == 3 and again.test_accuracy == finished.test_accuracy


def test_a_corrupted_dataset_stops_the_resume_naming_it_and_overwrites_nothing(finished: SupervisedResult, tmp_path) -> None:
    run = tmp_path / "copy"
    run.mkdir()
    for name in ("config.json", DATASET_FILE):
        (run / name).write_bytes((finished.run_dir / name).read_bytes())
    checkpoint_path(run, 1).parent.mkdir()
    checkpoint_path(run, 1).write_bytes(checkpoint_path(finished.run_dir, 1).read_bytes())
    broken = (run / DATASET_FILE).read_bytes()[:5000]
    (run / DATASET_FILE).write_bytes(broken)
    with pytest.raises(RunError, match=r"dataset file '.*dataset\.npz'"):
        train_supervised(TINY, run, resume=True, progress_bar=False)
    assert (run / DATASET_FILE).read_bytes() == broken
    assert sorted(p.name for p in checkpoint_path(run, 1).parent.iterdir()) == ["epoch_0001.pt"]


def test_a_corrupted_checkpoint_stops_the_resume_naming_it(finished: SupervisedResult, tmp_path) -> None:
    run = tmp_path / "copy"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.json", DATASET_FILE):
        (run / name).write_bytes((finished.run_dir / name).read_bytes())
    checkpoint_path(run, 2).write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="epoch_0002.pt"):
        train_supervised(TINY, run, resume=True, progress_bar=False)


def test_a_folder_holding_a_run_is_not_reused_and_resume_needs_the_same_config(finished: SupervisedResult) -> None:
    with pytest.raises(RunError, match="already holds a run"):
        train_supervised(TINY, finished.run_dir, progress_bar=False)
    with pytest.raises(RunError, match="config differs"):
        train_supervised(dataclasses.replace(TINY, epochs=4), finished.run_dir, resume=True, progress_bar=False)
    with pytest.raises(RunError, match="config.json"):
        train_supervised(TINY, finished.run_dir / "checkpoints", resume=True, progress_bar=False)
