"""The evaluation report of one model: every figure, table and number in one folder.

:func:`generate_report` runs the whole evaluation (behaviour, CMNI over training, the
neurons of the model, circuits) and writes into one folder (file names in
:class:`experiment.run_folder.EvalFiles`):

=============================  ==============================================================
file                           content
=============================  ==============================================================
``cmni_over_training.png``     :func:`evaluation.figures.plot_cmni_over_training`
``cmni_over_training.csv``     the curve's numbers (:mod:`evaluation.cmni_curve`)
``neurons_<layer>.png``        :func:`evaluation.figures.plot_neurons`
``candidates_<layer>.csv``     per mirror candidate: deltas, MNS, both/none ratio, and mean,
                               variance, skewness, excess kurtosis per scenario
                               (:func:`cmni.neurons.candidate_table`)
``circuits.png``               :func:`evaluation.figures.plot_circuits`
``circuits.csv``               every strong path with its class and z-scores
                               (:func:`cmni.circuits.find_paths`)
``behaviour.csv``              one row per role / reference policy, counts included
                               (:mod:`evaluation.behaviour`)
``metrics.json``               all figures above, machine-readable (NaN/inf as null)
``report.md``                  the numbers tied together, with the figures
                               (:mod:`evaluation.markdown`)
``replay.txt``, ``replay.gif`` game 0 step by step (:func:`evaluation.figures.write_replay`)
``interventions.png``          with ``interventions``: :func:`evaluation.figures.plot_interventions`
``interventions.csv``          with ``interventions``: one row per target x kind x partner
                               (:mod:`evaluation.interventions`)
=============================  ==============================================================

Settings are validated once, by :class:`evaluation.options.ReportOptions` (ValueError naming the bad value).
Importing this module loads no torch; :func:`generate_report` does, when it loads the model.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cmni.circuits import PATH_COLUMNS, CircuitAnalysis, find_paths
from cmni.interventions import KINDS, ProbeStatistics, check_units, target_sets
from cmni.metric import CMNIResult
from cmni.neurons import CheckpointCMNI, analyse_checkpoint, candidate_columns, candidate_table, mirror_units, partner_specific_units
from cmni.probe_set import ProbeSet, build_probe_set
from experiment.resolve import ResolvedRun
from experiment.run_folder import EvalFiles, RunError, one_line
from frogtoad_env.core import ACTION_NAMES

from .behaviour import BehaviourReport, evaluate_behaviour
from .cmni_curve import CMNICurve, read_curve, recompute_curve
from .episodes import play_episodes
from .figures import plot_circuits, plot_cmni_over_training, plot_interventions, plot_neurons, write_replay
from .interventions import InterventionStudy, run_interventions
from .markdown import render_markdown
from .options import ReportOptions
from .partners import ModelPolicy

__all__ = ["ReportOutputs", "generate_report", "build_metrics", "behaviour_metrics", "neuron_metrics", "write_csv",
           "json_safe"]

#: permutations per checkpoint when the curve is recomputed (each checkpoint is probed again)
MAX_CURVE_PERMUTATIONS = 100


@dataclass
class ReportOutputs:
    """What :func:`generate_report` produced.

    Attributes:
        out_dir: the folder written.
        files: every file written, in order.
        metrics: the content of ``metrics.json`` (before NaN -> null).
        behaviour, checkpoint, curve, circuits: the computed results.
        notes: remarks for the user (also in the report).
        warnings: the notes that say the run's data is damaged (e.g. unreadable ``cmni.csv`` rows).
    """

    out_dir: Path
    files: list[Path]
    metrics: dict[str, Any]
    behaviour: BehaviourReport
    checkpoint: CheckpointCMNI
    curve: CMNICurve
    circuits: CircuitAnalysis
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interventions: InterventionStudy | None = None

    @property
    def headline(self) -> str:
        """One line for the terminal: score, help rates, CMNI against its nulls, strong paths."""
        agent, ck = self.behaviour.agent, self.checkpoint
        return (
            f"score {agent.score_mean:.1f} (95% CI {agent.score_ci_low:.1f}-{agent.score_ci_high:.1f}); "
            f"help when partner distressed {agent.help_rate_partner_distressed:.3f} vs ok {agent.help_rate_partner_ok:.3f}; "
            f"CMNI {ck.result.cmni:.5f} (untrained {ck.untrained.cmni:.5f}, p {ck.permutation.p_value:.3f}); "
            f"{len(self.circuits.paths)} strong paths"
        )


# --------------------------------------------------------------------------- orchestration


def generate_report(
    resolved: ResolvedRun,
    out_dir: str | Path | None = None,
    options: ReportOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> ReportOutputs:
    """Evaluate ``resolved``'s model and write every artefact into ``out_dir``.

    Args:
        resolved: from :func:`experiment.resolve.resolve_run`.
        out_dir: output folder; default :attr:`~experiment.resolve.ResolvedRun.default_eval_dir`.
        options: the settings (defaults: :class:`~evaluation.options.ReportOptions`).
        log: progress messages (e.g. ``print``); silent when None.

    Raises:
        experiment.run_folder.RunError: a model cannot be loaded or does not fit the env,
            ``out_dir`` is a file, no probe set can be built, interventions on a run
            without its ``probe_set.npz``.
        cmni.interventions.UnitError: ``intervention_units`` names a layer or unit the model lacks.
    """
    from agents.checkpoints import load_ppo  # torch loads here, after every input was checked
    from cmni.weights import policy_weight_chain

    options = options or ReportOptions()
    say = log or (lambda _msg: None)
    notes: list[str] = list(resolved.notes)
    warnings: list[str] = []
    files = EvalFiles(Path(out_dir) if out_dir is not None else resolved.default_eval_dir)
    check_out_dir(files)
    cfg = resolved.config.env
    if options.interventions:
        _check_probe_set_file(resolved)

    say(f"loading {resolved.model_path}")
    model = load_ppo(resolved.model_path, env_config=cfg)
    if options.intervention_units:
        check_units(_layer_sizes(model), dict(options.intervention_units))

    say(f"playing {options.episodes} episodes of {cfg.max_steps} steps (partner: {options.partner})")
    behaviour = evaluate_behaviour(model, cfg, options.partner, options.episodes, options.seed, options.deterministic)

    probe_set, probe_source = _probe_set(resolved, options, notes)
    say(f"probing the CMNI on {probe_set.n_states} states ({probe_source})")
    checkpoint = analyse_checkpoint(model, probe_set, options.n_permutations, options.seed, untrained_seed=resolved.config.seed)

    curve = _curve(resolved, options, probe_set, notes, warnings, say)

    try:
        names, weights = policy_weight_chain(model.policy)
    except ValueError as error:
        raise RunError(f"cannot read the policy's weights for the circuit analysis: {one_line(error)}") from None
    circuits, paths_per_action = analyse_circuits(names, weights, checkpoint.result, options.threshold)
    say(f"circuits: {len(circuits.paths)} strong paths to leap/help at |z| >= {options.threshold:g} (per action: {paths_per_action})")

    study = None
    if options.interventions:
        targets = target_sets(checkpoint.result, options.intervention_top_k, dict(options.intervention_units))
        say(f"interventions: {len(targets)} target sets x {len(KINDS)} kinds x 3 partners, {options.intervention_controls} "
            f"random controls each, {options.intervention_episodes} episodes per condition")  # fmt: skip
        study = run_interventions(model, cfg, targets, ProbeStatistics.of(checkpoint.layers, probe_set.scenarios),
                                  options.intervention_episodes, options.intervention_controls, options.steer_alpha,
                                  options.seed, options.deterministic)  # fmt: skip

    files.folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    written.append(plot_cmni_over_training(curve, files / files.CMNI_CURVE_PNG, checkpoint_step=resolved.checkpoint_step))
    written.append(write_csv(curve_rows(curve), files / files.CMNI_CURVE_CSV))
    written += write_model_files(files, checkpoint, circuits, behaviour, options)

    if study is not None:
        written.append(plot_interventions(study, files / files.INTERVENTIONS_PNG))
        written.append(write_csv([e.as_row() for e in study.effects], files / files.INTERVENTIONS_CSV))

    metrics = build_metrics(resolved, options, behaviour, checkpoint, curve, circuits, probe_source, notes)
    metrics["circuits"]["paths_per_action"] = paths_per_action
    if study is not None:
        metrics["interventions"] = study.summary()
    written += write_metrics_and_report(files, written, metrics, render_markdown(metrics, checkpoint, behaviour))
    return ReportOutputs(files.folder, written, metrics, behaviour, checkpoint, curve, circuits, notes, warnings, study)


def analyse_circuits(
    names: list[str], weights: list[np.ndarray], result: CMNIResult, threshold: float
) -> tuple[CircuitAnalysis, dict[str, int]]:
    """The strong paths from the mirror candidates and partner-specific units to leap and help
    (:func:`cmni.circuits.find_paths`), and the count of such paths to each action."""
    sources = {
        "mirror": {k: v for k, v in mirror_units(result).items() if k in names},
        "partner": {k: v for k, v in partner_specific_units(result).items() if k in names},
    }
    circuits = find_paths(names, weights, sources, threshold=threshold, action_names=ACTION_NAMES)
    every_action = find_paths(names, weights, sources, threshold=threshold, targets=ACTION_NAMES, action_names=ACTION_NAMES)
    return circuits, {a: sum(1 for p in every_action.paths if p.action == a) for a in ACTION_NAMES}


def write_model_files(
    files: EvalFiles, checkpoint: CheckpointCMNI, circuits: CircuitAnalysis, behaviour: BehaviourReport, options: ReportOptions
) -> list[Path]:
    """The files about the evaluated model: neurons and candidates per layer, circuits, behaviour, replay."""
    written = []
    for layer in checkpoint.result.layer_slices:
        written.append(plot_neurons(checkpoint.result, layer, files / files.neurons_png(layer)))
        written.append(write_csv(candidate_table(checkpoint.result, layer), files / files.candidates_csv(layer), candidate_columns()))
    written.append(plot_circuits(circuits, files / files.CIRCUITS_PNG, max_paths=options.max_drawn_paths))
    written.append(write_csv([p.as_row() for p in circuits.paths], files / files.CIRCUITS_CSV, PATH_COLUMNS))
    written.append(write_csv([row.as_dict() for row in behaviour.rows], files / files.BEHAVIOUR_CSV))
    if behaviour.main.replay is not None:
        written += write_replay(behaviour.main.replay, files / files.REPLAY_TXT, files / files.REPLAY_GIF,
                                options.gif_scale, options.gif_frame_ms)  # fmt: skip
    return written


def write_metrics_and_report(files: EvalFiles, written: list[Path], metrics: dict[str, Any], markdown: str) -> list[Path]:
    """``metrics.json`` (with the list of every file, ``metrics["files"]``) and ``report.md``."""
    metrics["files"] = [p.name for p in written] + [files.METRICS_JSON, files.REPORT_MD]
    return [
        _write_text(files / files.METRICS_JSON, json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n"),
        _write_text(files / files.REPORT_MD, markdown),
    ]


def check_out_dir(files: EvalFiles) -> None:
    """RunError when the output folder exists as a file."""
    if files.folder.exists() and not files.folder.is_dir():
        raise RunError(f"--out {str(files.folder)!r} exists and is not a folder")


def _check_probe_set_file(resolved: ResolvedRun) -> None:
    """Interventions replace units with values from the run's own probe set; RunError without one."""
    if resolved.run is None or not resolved.run.probe_set_path.is_file():
        where = resolved.run.probe_set_path if resolved.run is not None else "a run folder around the model"
        raise RunError(
            f"--interventions needs the run's probe set ({where}), which the CMNI probe writes during training: "
            "train without --no-probe, or write one with "
            "`cmni.probe_set.build_probe_set(config.env).save(RUN_DIR/probe_set.npz)`"
        )


def _layer_sizes(model: Any) -> dict[str, int]:
    """Probed layer -> units of ``model``'s policy (one forward pass on a zero observation)."""
    from cmni.recorder import record_activations

    zero = np.zeros((1, *model.observation_space.shape), dtype=np.float32)
    return record_activations(model.policy, zero).layer_sizes


def _probe_set(resolved: ResolvedRun, options: ReportOptions, notes: list[str]) -> tuple[ProbeSet, str]:
    """The run's probe set when it was built for the run's env config, else a fresh one."""
    cfg = resolved.config.env
    if resolved.run is not None and resolved.run.probe_set_path.is_file():
        path = resolved.run.probe_set_path
        try:
            ps = ProbeSet.load(path)
            if ps.env_config == cfg.to_dict():
                return ps, f"the run's {path.name}"
            notes.append(f"{path} was built for another env config; built a fresh probe set")
        except (OSError, ValueError) as error:
            notes.append(f"cannot read {path} ({one_line(error)}); built a fresh probe set")
    try:
        ps = build_probe_set(cfg, per_scenario=options.probe_per_scenario, seed=options.seed)
    except RuntimeError as error:  # a scenario too rare in this env config
        raise RunError(f"cannot build a probe set: {one_line(error)}") from None
    return ps, f"built with per_scenario={options.probe_per_scenario}, seed={options.seed}"


def _curve(
    resolved: ResolvedRun,
    options: ReportOptions,
    probe_set: ProbeSet,
    notes: list[str],
    warnings: list[str],
    say: Callable[[str], None],
) -> CMNICurve:
    """The run's ``cmni.csv`` when it has readable rows (unless ``recompute_cmni``); else
    the curve recomputed from the checkpoints, or from the evaluated model alone."""
    from agents.checkpoints import load_ppo

    run = resolved.run
    if run is not None and run.cmni_csv.is_file() and not options.recompute_cmni:
        try:
            curve, skipped = read_curve(run)
            warnings += [f"{line}: left out of the CMNI curve" for line in skipped]
            notes += warnings
            if curve.n_probes > 0:
                return curve
            notes.append(f"{run.cmni_csv} has no readable rows; recomputed the curve from the checkpoints")
        except RunError as error:
            notes.append(f"{one_line(error)}; recomputed the curve from the checkpoints")
    cfg = resolved.config.env

    def score(model: Any) -> float:
        policy = ModelPolicy(model, deterministic=options.deterministic)
        return float(play_episodes(policy, policy, cfg, options.curve_episodes, options.seed).scores.mean())

    checkpoints = resolved.checkpoints
    if checkpoints:
        say(f"recomputing the CMNI at {len(checkpoints)} checkpoints")
    else:
        notes.append("no checkpoints to draw a curve from: the CMNI figure shows the evaluated model only")
        checkpoints = [(resolved.checkpoint_step or 0, resolved.model_path)]
    return recompute_curve(checkpoints, probe_set, lambda path: load_ppo(path, env_config=cfg),
                           n_permutations=min(options.n_permutations, MAX_CURVE_PERMUTATIONS), seed=options.seed,
                           untrained_seed=resolved.config.seed, score=score,
                           null_draws=resolved.config.probe_null_draws)  # fmt: skip


# --------------------------------------------------------------------------- metrics and tables


def json_safe(value: Any) -> Any:
    """Recursively turn numpy scalars/arrays into Python values and NaN/inf into None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def build_metrics(
    resolved: ResolvedRun,
    options: ReportOptions,
    behaviour: BehaviourReport,
    checkpoint: CheckpointCMNI,
    curve: CMNICurve,
    circuits: CircuitAnalysis,
    probe_source: str,
    notes: list[str],
) -> dict[str, Any]:
    """Everything of the report as one JSON-ready dict (NaN still present; see :func:`json_safe`)."""
    return {
        "run": {
            "source": str(resolved.source),
            "run_dir": str(resolved.run.path) if resolved.run is not None else None,
            "model_path": str(resolved.model_path),
            "checkpoint_step": resolved.checkpoint_step,
            "env_config": resolved.config.env.to_dict(),
            "train_config": resolved.config.to_dict() if resolved.run is not None else None,
        },
        "settings": settings_metrics(options, resolved.config.env.max_steps, probe_source),
        "behaviour": behaviour_metrics(behaviour),
        "cmni": {"checkpoint": checkpoint.summary(), "curve": curve.summary()},
        "neurons": neuron_metrics(checkpoint.result),
        "circuits": {**circuits.summary(), "paths": [p.as_row() for p in circuits.paths]},
        "notes": list(notes),
    }


def settings_metrics(options: ReportOptions, steps_per_episode: int, probe_source: str) -> dict[str, Any]:
    """The evaluation's settings, as ``metrics.json`` lists them."""
    return {
        "episodes": options.episodes,
        "steps_per_episode": steps_per_episode,
        "seed": options.seed,
        "partner": options.partner,
        "deterministic": options.deterministic,
        "seat_assignment": "agent plays the frog in even games, the toad in odd games",
        "score_ci": "95% Student-t interval over episodes",
        "threshold": options.threshold,
        "n_permutations": options.n_permutations,
        "probe_set": probe_source,
    }


def behaviour_metrics(behaviour: BehaviourReport) -> dict[str, Any]:
    """The behaviour table as ``{"agent", "partner", "scripted", "random": row, "rows": [row, ...]}``."""
    rows = [r.as_dict() for r in behaviour.rows]
    by_key = {"agent": rows[0], "partner": rows[1]}
    for row, key in zip(rows[2:], ("scripted", "random")):
        by_key[key] = row
    return {**by_key, "rows": rows}


def neuron_metrics(result: CMNIResult) -> dict[str, dict[str, Any]]:
    """Layer -> units, candidates, partner-specific units, both/none ratio per candidate, CMNI."""
    return {
        layer: {
            "n_units": int(result.per_layer_n_neurons[layer]),
            "n_candidates": int(result.per_layer_n_candidates[layer]),
            "candidates": mirror_units(result)[layer],
            "partner_specific": partner_specific_units(result)[layer],
            "both_none_ratio": {str(r["unit"]): r["both_none_ratio"] for r in candidate_table(result, layer)},
            "cmni": float(result.per_layer[layer]),
        }
        for layer in result.layer_slices
    }


def curve_rows(curve: CMNICurve) -> list[dict[str, Any]]:
    """The curve's columns as ``cmni_over_training.csv`` rows."""
    return [{name: values[i] for name, values in curve.columns.items()} for i in range(curve.n_probes)]


def write_csv(rows: Sequence[dict[str, Any]], path: Path, columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` with a header (``columns``, else the keys in first-seen order).

    Lists are written as space-separated values; a header is written even without rows.
    """
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c, "")) for c in columns])
    return path


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(str(_cell(v)) for v in value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
