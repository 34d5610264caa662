"""The evaluation report of a supervised classifier's run (``train.py --method supervised``).

:func:`generate_classifier_report` writes the PPO report's files about the evaluated model
(:func:`evaluation.report.write_model_files`: neurons, candidates, circuits, behaviour,
replay), ``cmni_over_training.csv``, ``metrics.json`` and ``report.md``, and adds what a
classifier has (file names in :class:`experiment.run_folder.EvalFiles`):

================================  ==========================================================
file                              content
================================  ==========================================================
``confusion_matrix.csv``          the paper's Table 3: rows the true label (hop, jump, leap,
                                  help), columns the predicted one, counts and row shares
``cmni_vs_validation_loss.png``   the paper's Fig. 2 (:func:`evaluation.figures.plot_cmni_vs_loss`)
``neuron_table.csv``              the paper's Table 4: per hidden unit, the mean activation in
                                  each scenario, 'both'/'none' and the mirror flags
================================  ==========================================================

Everything about the network is measured on the run's balanced test split (the states the
per-epoch CMNI of ``cmni.csv`` was measured on), with the same code as during training:
:func:`supervised.classifier.evaluate`, :func:`cmni.metric.compute_cmni`,
:func:`cmni.stats.permutation_test` and :func:`supervised.training.untrained_null`. In the
game, the classifier is a player (:class:`ClassifierActor`): it sees what the env shows
its seat, minus what its training data hid (:func:`supervised.dataset.classifier_input`),
and takes the most likely of the 4 actions; it is played with its partner (itself by
default, in both seats) and beside the scripted and the random policy on the same seeded
games (:func:`evaluation.behaviour.evaluate_behaviour`).

Imports torch (through :mod:`supervised.classifier`); ``evaluate.py`` imports this module
only once :func:`experiment.resolve.resolve_run` has found a supervised run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cmni.metric import SCENARIO_NAMES, CMNIResult, compute_cmni
from cmni.neurons import STRONG_MIRROR_RATIO, CheckpointCMNI, both_none_ratio, mirror_units
from cmni.stats import permutation_test
from experiment.resolve import ResolvedRun
from experiment.run_folder import EvalFiles, RunError, RunFolder, one_line
from frogtoad_env.core import ACTION_NAMES
from supervised.classifier import MLPClassifier, evaluate, layer_names
from supervised.config import SupervisedConfig
from supervised.dataset import DatasetError, LabelledDataset, Split, classifier_input
from supervised.training import new_classifier, untrained_null

from .behaviour import BehaviourReport, evaluate_behaviour
from .episodes import ROLES
from .cmni_curve import CMNICurve, read_curve
from .figures import plot_cmni_vs_loss
from .markdown import render_classifier_markdown
from .options import ReportOptions
from .report import (
    ReportOutputs,
    analyse_circuits,
    behaviour_metrics,
    check_out_dir,
    curve_rows,
    neuron_metrics,
    settings_metrics,
    write_csv,
    write_metrics_and_report,
    write_model_files,
)

__all__ = ["STRONG_MIRROR_RATIO", "ClassifierActor", "ClassifierReportOutputs", "load_classifier",
           "generate_classifier_report", "neuron_table", "confusion_rows"]  # fmt: skip

def load_classifier(resolved: ResolvedRun, n_inputs: int) -> MLPClassifier:
    """The classifier of ``resolved.model_path`` (a supervised run's ``final_model.pt`` or
    epoch checkpoint) in eval mode, built as its run trained it (coupled first layer
    included); RunError (one line) if it does not load."""
    config: SupervisedConfig = resolved.config  # type: ignore[assignment]
    model = new_classifier(config, n_inputs, config.seed)
    try:
        saved = torch.load(resolved.model_path, weights_only=True)
        model.load_state_dict(saved["model"] if "model" in saved else saved)  # an epoch checkpoint holds more
    except Exception as error:  # zip, pickle and shape errors come in many kinds
        raise RunError(f"cannot load the classifier {resolved.model_path}: {one_line(error)}") from None
    return model.eval()


def read_result(run: RunFolder) -> dict[str, Any]:
    """The run's ``result.json`` ({} when absent: training has not finished); RunError if unreadable."""
    try:
        return json.loads(run.result_path.read_text(encoding="utf-8")) if run.result_path.is_file() else {}
    except (OSError, ValueError) as error:
        raise RunError(f"cannot read {run.result_path}: {one_line(error)}") from None


def weight_chain(model: MLPClassifier) -> tuple[list[str], list[np.ndarray]]:
    """The forward weights after the first hidden layer, for :func:`cmni.circuits.find_paths`.

    Returns:
        ``(layer_names(model), weights)``: ``weights[i]`` of shape ``(n_{i+1}, n_i)``, float64,
        from the probed layer ``i`` to the next, the last into the action logits. Only the
        Linear modules that follow the first hidden layer are read, so the first layer may
        be any module (a Linear, or the coupled layer).
    """
    names = layer_names(model)
    linears = [m for m in model.body if isinstance(m, torch.nn.Linear)]
    following = linears[len(linears) - (len(names) - 1) :] if len(names) > 1 else []
    return names, [m.weight.detach().cpu().numpy().astype(np.float64) for m in [*following, model.head]]


class ClassifierActor:
    """A classifier as a player, with SB3's ``predict`` (for :class:`evaluation.partners.ModelPolicy`).

    ``predict(observations)`` takes ``(n, obs_size)`` env observations, applies
    :func:`supervised.dataset.classifier_input` and returns the most likely action, or
    with ``deterministic=False`` one drawn from the softmax (seeded by ``seed``).
    """

    def __init__(self, model: MLPClassifier, config: SupervisedConfig, seed: int = 0) -> None:
        self.model = model
        self.config = config
        self.generator = torch.Generator().manual_seed(int(seed))

    @torch.no_grad()
    def predict(self, observations: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        logits = self.model(torch.from_numpy(classifier_input(np.asarray(observations, dtype=np.float32), self.config)))
        if deterministic:
            return logits.argmax(dim=1).numpy(), None
        return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=self.generator)[:, 0].numpy(), None


@dataclass
class ClassifierReportOutputs(ReportOutputs):
    """What :func:`generate_classifier_report` produced: :class:`evaluation.report.ReportOutputs`
    (no interventions), with the test-set figures in ``metrics["classifier"]``."""

    @property
    def headline(self) -> str:
        """One line for the terminal: test accuracy, score vs scripted, CMNI against its nulls."""
        c, ck = self.metrics["classifier"], self.checkpoint
        return (
            f"test accuracy {c['test_accuracy']:.4f} on {c['test_states']} states; score {c['score']:.1f} "
            f"(scripted {c['scripted_score']:.1f}); CMNI {ck.result.cmni:.5f} (untrained {ck.untrained.cmni:.5f}, "
            f"p {ck.permutation.p_value:.3f}); {len(self.circuits.paths)} strong paths"
        )


def generate_classifier_report(
    resolved: ResolvedRun,
    out_dir: str | Path | None = None,
    options: ReportOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> ClassifierReportOutputs:
    """Evaluate the classifier of ``resolved`` (a supervised run, from
    :func:`experiment.resolve.resolve_run`) and write every artefact into ``out_dir``
    (default :attr:`~experiment.resolve.ResolvedRun.default_eval_dir`).

    Raises:
        RunError: the dataset or the classifier cannot be loaded, ``cmni.csv`` cannot be
            read, ``out_dir`` is a file.
    """
    options = options or ReportOptions()
    say = log or (lambda _msg: None)
    config: SupervisedConfig = resolved.config  # type: ignore[assignment]
    run = resolved.run
    assert run is not None, "resolve_run puts every classifier in its run folder"
    notes: list[str] = list(resolved.notes)
    files = EvalFiles(Path(out_dir) if out_dir is not None else resolved.default_eval_dir)
    check_out_dir(files)
    try:
        test = LabelledDataset.load(run.dataset_path, config).test
    except DatasetError as error:
        raise RunError(str(error)) from None
    say(f"loading {resolved.model_path}")
    model = load_classifier(resolved, test.observations.shape[1])

    say(f"measuring the classifier on its {len(test)} test states")
    x, y = torch.from_numpy(test.observations), torch.from_numpy(test.labels)
    on_test = evaluate(model, x, y)
    result = compute_cmni(on_test.layers, test.scenarios)
    permutation = permutation_test(on_test.layers, test.scenarios, options.n_permutations, seed=options.seed)
    checkpoint = CheckpointCMNI(result, permutation, untrained_null(config, test).first, on_test.layers, on_test.logits, {}, None)

    curve, skipped = read_curve(run)
    best_epoch = read_result(run).get("best_epoch")
    warnings = [f"{line}: left out of the CMNI curve" for line in skipped]
    notes += warnings

    names, weights = weight_chain(model)
    circuits, paths_per_action = analyse_circuits(names, weights, result, options.threshold)

    env = config.env
    say(f"playing {options.episodes} episodes of {env.max_steps} steps (partner: {options.partner})")
    actor = ClassifierActor(model, config, options.seed)
    behaviour = evaluate_behaviour(actor, env, options.partner, options.episodes, options.seed, options.deterministic)

    files.folder.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(confusion_rows(on_test.confusion), files / files.CONFUSION_CSV),
        plot_cmni_vs_loss(curve, files / files.CMNI_VS_LOSS_PNG, evaluated_epoch=resolved.checkpoint_epoch or best_epoch),
        write_csv(curve_rows(curve), files / files.CMNI_CURVE_CSV),
        write_csv([row for rows in neuron_table(result).values() for row in rows], files / files.NEURON_TABLE_CSV),
    ]
    written += write_model_files(files, checkpoint, circuits, behaviour, options)

    probe_source = f"the run's balanced test split, {len(test)} states, per scenario {np.bincount(test.scenarios, minlength=4).tolist()}"
    metrics = {
        "run": {
            "source": str(resolved.source),
            "run_dir": str(run.path),
            "model_path": str(resolved.model_path),
            "method": resolved.method,
            "epoch": resolved.checkpoint_epoch,
            "best_epoch": best_epoch,
            "env_config": env.to_dict(),
            "train_config": config.to_dict(),
        },
        "settings": settings_metrics(options, env.max_steps, probe_source),
        "classifier": _classifier_metrics(on_test.accuracy, on_test.confusion, behaviour, test),
        "behaviour": behaviour_metrics(behaviour),
        "cmni": {"checkpoint": checkpoint.summary(), "curve": _curve_summary(curve)},
        "neurons": neuron_metrics(result),
        "neuron_table": neuron_table(result),
        "circuits": {**circuits.summary(), "paths": [p.as_row() for p in circuits.paths], "paths_per_action": paths_per_action},
        "notes": notes,
    }
    written += write_metrics_and_report(files, written, metrics, render_classifier_markdown(metrics, checkpoint, behaviour))
    return ClassifierReportOutputs(files.folder, written, metrics, behaviour, checkpoint, curve, circuits, notes, warnings)


def row_shares(confusion: np.ndarray) -> np.ndarray:
    """``(4, 4)`` each row of a confusion matrix divided by its sum (0 for an empty row)."""
    return confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)


def confusion_rows(confusion: np.ndarray) -> list[dict[str, Any]]:
    """The paper's Table 3 as CSV rows: per true label, the count and the row share of each predicted label."""
    shares = row_shares(confusion)
    return [
        {"true": name, **{f"predicted_{p}": int(n) for p, n in zip(ACTION_NAMES, counts)},
         **{f"share_{p}": float(s) for p, s in zip(ACTION_NAMES, row)}}
        for name, counts, row in zip(ACTION_NAMES, confusion, shares)
    ]  # fmt: skip


def neuron_table(result: CMNIResult) -> dict[str, list[dict[str, Any]]]:
    """The paper's Table 4 for every layer: per unit, the mean activation in each scenario
    (none, self, other, both), 'both'/'none' (:func:`cmni.neurons.both_none_ratio`), whether
    it is a mirror candidate and whether a strong one (ratio >= :data:`STRONG_MIRROR_RATIO`)."""
    ratio = both_none_ratio(result)
    candidates = mirror_units(result)
    table = {}
    for layer, sl in result.layer_slices.items():
        rows = []
        for unit in range(sl.stop - sl.start):
            n = sl.start + unit
            is_mirror = bool(unit in candidates[layer])
            rows.append({
                "layer": layer, "unit": unit,
                **{f"mean_{s}": float(result.mean[code, n]) for code, s in enumerate(SCENARIO_NAMES)},
                "both_none_ratio": float(ratio[n]), "mirror_candidate": is_mirror,
                "strong_mirror": is_mirror and bool(ratio[n] >= STRONG_MIRROR_RATIO),
            })  # fmt: skip
        table[layer] = rows
    return table


def _classifier_metrics(accuracy: float, confusion: np.ndarray, behaviour: BehaviourReport, test: Split) -> dict[str, Any]:
    """Test accuracy, Table 3, and the classifier's score in the game beside the scripted policy's."""
    scripted = next(row for row in behaviour.rows if row.policy == "scripted" and row.roles == ROLES)
    return {
        "test_states": len(test),
        "test_accuracy": accuracy,
        "labels": list(ACTION_NAMES),
        "confusion": confusion,
        "confusion_row_share": row_shares(confusion),
        "score": behaviour.agent.score_mean,
        "score_ci": [behaviour.agent.score_ci_low, behaviour.agent.score_ci_high],
        "scripted_score": scripted.score_mean,
        "scripted_score_ci": [scripted.score_ci_low, scripted.score_ci_high],
    }


def _curve_summary(curve: CMNICurve) -> dict[str, Any]:
    """The curve's summary with epochs: first, peak and last CMNI, and the validation loss there."""
    summary = curve.summary()
    if curve.n_probes == 0:
        return summary
    epochs, loss = curve.columns["epoch"], curve.columns["val_loss"]
    _, _, peak = curve.peak()
    return {
        **summary,
        "first_epoch": int(epochs[0]),
        "peak_epoch": int(epochs[peak]),
        "last_epoch": int(epochs[-1]),
        "val_loss_at_peak": float(loss[peak]),
        "last_val_loss": float(loss[-1]),
        "min_val_loss": float(np.nanmin(loss)),
    }
