"""The evaluation report: figures, tables, metrics.json, report.md and an episode replay.

:func:`generate_report` runs the whole evaluation of one model (behaviour, CMNI over
training, neurons, circuits) and writes into one folder:

==========================  =================================================================
file                        content
==========================  =================================================================
``cmni_over_training.png``  CMNI (left axis) and mean episode score (right axis) against
                            training steps; untrained-network null (dashed), permutation
                            null mean (dotted) with its 2.5-97.5 % band; the peak marked
``cmni_over_training.csv``  the curve's numbers
``neurons_<layer>.png``     per unit, mean activation in the four scenarios; mirror
                            candidates shaded, partner-specific units hatched
``candidates_<layer>.csv``  per mirror candidate: deltas, MNS, both/none ratio, and mean,
                            variance, skewness, excess kurtosis per scenario
``circuits.png``            strong weight paths from mirror / partner-specific units to
                            leap and help (edge colour = sign, width = ``|z|``)
``circuits.csv``            every strong path with its class and z-scores
``behaviour.csv``           one row per role / reference policy (counts included)
``metrics.json``            all figures above, machine-readable (NaN/inf as null)
``report.md``               the numbers tied together, with the figures
``replay.txt``              game 0, every step as ANSI text
``replay.gif``              the same game animated
==========================  =================================================================

Figures use matplotlib's Agg backend (no display needed); the GIF is written by Pillow.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from agents.evaluation import (  # noqa: E402
    BehaviourReport,
    EvaluationError,
    ModelPolicy,
    Replay,
    RunSpec,
    evaluate_behaviour,
    load_policy_model,
    play_episodes,
    policy_weight_chain,
)
from cmni.analysis import (  # noqa: E402
    CheckpointCMNI,
    CMNICurve,
    analyse_checkpoint,
    candidate_table,
    mirror_units,
    partner_specific_units,
    permutation_band,
    read_cmni_csv,
    recompute_curve,
)
from cmni.circuits import PATH_KINDS, CircuitAnalysis, find_paths  # noqa: E402
from cmni.metric import SCENARIO_NAMES, CMNIResult  # noqa: E402
from cmni.probe_set import ProbeSet, build_probe_set  # noqa: E402
from frogtoad_env.core import ACTION_NAMES, AGENT_NAMES  # noqa: E402

__all__ = [
    "ReportOptions",
    "ReportOutputs",
    "generate_report",
    "plot_cmni_over_training",
    "plot_neurons",
    "plot_circuits",
    "write_replay",
    "write_csv",
    "json_safe",
]

SCENARIO_COLOURS = ("#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728")  # none, self, other, both
KIND_COLOURS = {"mirror": "#8e44ad", "partner": "#e67e22", "hidden": "#bdc3c7", "action": "#27ae60"}


@dataclass(frozen=True)
class ReportOptions:
    """Settings of one evaluation.

    Attributes:
        episodes: games per matchup (>= 1).
        seed: seeds the episodes, a freshly built probe set and the permutation test.
        partner: ``self``, ``scripted``, ``random`` or a model path.
        deterministic: the trained policy takes its most likely action.
        threshold: ``|z|`` above which a weight is a strong edge.
        n_permutations: shuffles of the permutation test.
        probe_per_scenario: states per scenario when a probe set must be built.
        recompute_cmni: recompute the curve from the checkpoints even if ``cmni.csv`` exists.
        curve_episodes: episodes per checkpoint for the score of a recomputed curve.
        gif_scale: pixel upscale of the replay frames.
        gif_frame_ms: duration of one GIF frame.
        max_drawn_paths: paths drawn in ``circuits.png`` (the strongest; all go to the CSV).
    """

    episodes: int = 32
    seed: int = 0
    partner: str = "self"
    deterministic: bool = True
    threshold: float = 2.0
    n_permutations: int = 200
    probe_per_scenario: int = 500
    recompute_cmni: bool = False
    curve_episodes: int = 8
    gif_scale: int = 2
    gif_frame_ms: int = 80
    max_drawn_paths: int = 40

    def __post_init__(self) -> None:
        for name in ("episodes", "n_permutations", "probe_per_scenario", "curve_episodes", "gif_scale", "gif_frame_ms", "max_drawn_paths"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EvaluationError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise EvaluationError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold) and self.threshold > 0):
            raise EvaluationError(f"threshold must be a positive number, got {self.threshold!r}")


@dataclass
class ReportOutputs:
    """What :func:`generate_report` produced.

    Attributes:
        out_dir: the folder written.
        files: every file written, in order.
        metrics: the content of ``metrics.json`` (before NaN -> null).
        behaviour, checkpoint, curve, circuits: the computed results.
        notes: remarks for the user.
    """

    out_dir: Path
    files: list[Path]
    metrics: dict[str, Any]
    behaviour: BehaviourReport
    checkpoint: CheckpointCMNI
    curve: CMNICurve
    circuits: CircuitAnalysis
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- orchestration


def generate_report(
    spec: RunSpec, out_dir: str | Path | None = None, options: ReportOptions | None = None, log: Callable[[str], None] | None = None
) -> ReportOutputs:
    """Evaluate ``spec``'s model and write every artefact into ``out_dir``.

    Args:
        spec: from :func:`agents.evaluation.resolve_run`.
        out_dir: output folder; default ``RUN_DIR/eval`` (or ``<model>_eval`` next to a
            lone checkpoint).
        options: the settings (defaults: :class:`ReportOptions`).
        log: progress messages (e.g. ``print``); silent when None.

    Raises:
        EvaluationError: the model cannot be loaded or does not fit the env, bad partner.
    """
    options = options or ReportOptions()
    say = log or (lambda _msg: None)
    notes = list(spec.notes)
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec)
    if out.exists() and not out.is_dir():
        raise EvaluationError(f"--out {str(out)!r} exists and is not a folder")
    cfg = spec.env_config

    say(f"loading {spec.model_path}")
    model = load_policy_model(spec.model_path, cfg)

    say(f"playing {options.episodes} episodes of {cfg.max_steps} steps (partner: {options.partner})")
    behaviour = evaluate_behaviour(model, cfg, options.partner, options.episodes, options.seed, options.deterministic)

    probe_set, probe_source = _probe_set(spec, options, notes)
    say(f"probing the CMNI on {probe_set.n_states} states ({probe_source})")
    checkpoint = analyse_checkpoint(model, probe_set, options.n_permutations, options.seed, untrained_seed=spec.seed)

    curve = _curve(spec, options, probe_set, checkpoint, notes, say)

    try:
        names, weights = policy_weight_chain(model.policy)
    except ValueError as error:
        raise EvaluationError(f"cannot read the policy's weights for the circuit analysis: {error}") from None
    sources = {
        "mirror": {k: v for k, v in mirror_units(checkpoint.result).items() if k in names},
        "partner": {k: v for k, v in partner_specific_units(checkpoint.result).items() if k in names},
    }
    circuits = find_paths(names, weights, sources, threshold=options.threshold, action_names=ACTION_NAMES)
    every_action = find_paths(names, weights, sources, threshold=options.threshold, targets=ACTION_NAMES, action_names=ACTION_NAMES)
    paths_per_action = {a: sum(1 for p in every_action.paths if p.action == a) for a in ACTION_NAMES}
    say(f"circuits: {len(circuits.paths)} strong paths to leap/help at |z| >= {options.threshold:g} (per action: {paths_per_action})")

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    files.append(plot_cmni_over_training(curve, out / "cmni_over_training.png", checkpoint_step=spec.checkpoint_step))
    files.append(write_csv(_curve_rows(curve), out / "cmni_over_training.csv"))
    for layer in checkpoint.result.layer_slices:
        files.append(plot_neurons(checkpoint.result, layer, out / f"neurons_{_safe(layer)}.png"))
        files.append(write_csv(candidate_table(checkpoint.result, layer), out / f"candidates_{_safe(layer)}.csv", _candidate_columns()))
    files.append(plot_circuits(circuits, out / "circuits.png", max_paths=options.max_drawn_paths))
    files.append(write_csv([p.as_row() for p in circuits.paths], out / "circuits.csv", _PATH_COLUMNS))
    files.append(write_csv([row.as_dict() for row in behaviour.rows], out / "behaviour.csv"))
    if behaviour.main.replay is not None:
        files += write_replay(behaviour.main.replay, out / "replay.txt", out / "replay.gif", options.gif_scale, options.gif_frame_ms)

    metrics = build_metrics(spec, options, behaviour, checkpoint, curve, circuits, probe_source, notes)
    metrics["circuits"]["paths_per_action"] = paths_per_action
    metrics["files"] = [p.name for p in files] + ["metrics.json", "report.md"]
    files.append(_write_text(out / "metrics.json", json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n"))
    files.append(_write_text(out / "report.md", render_markdown(metrics, checkpoint, circuits, behaviour)))
    return ReportOutputs(out, files, metrics, behaviour, checkpoint, curve, circuits, notes)


def default_out_dir(spec: RunSpec) -> Path:
    """``RUN_DIR/eval`` for the run's ``final_model.zip``, ``RUN_DIR/eval/<stem>`` for any
    other model of a run (e.g. ``eval/step_000000500000``), ``<stem>_eval`` beside a
    model that belongs to no run folder."""
    if spec.run_dir is None:
        return spec.model_path.with_name(f"{spec.model_path.stem}_eval")
    if spec.model_path.name == "final_model.zip":
        return spec.run_dir / "eval"
    return spec.run_dir / "eval" / spec.model_path.stem


def _probe_set(spec: RunSpec, options: ReportOptions, notes: list[str]) -> tuple[ProbeSet, str]:
    if spec.run_dir is not None and (spec.run_dir / "probe_set.npz").is_file():
        path = spec.run_dir / "probe_set.npz"
        try:
            ps = ProbeSet.load(path)
            if ps.env_config == spec.env_config.to_dict():
                return ps, f"the run's {path.name}"
            notes.append(f"{path} was built for another env config; built a fresh probe set")
        except (OSError, ValueError) as error:
            notes.append(f"cannot read {path} ({' '.join(str(error).split())}); built a fresh probe set")
    try:
        ps = build_probe_set(spec.env_config, per_scenario=options.probe_per_scenario, seed=options.seed)
    except RuntimeError as error:  # a scenario too rare in this env config
        raise EvaluationError(f"cannot build a probe set: {' '.join(str(error).split())}") from None
    return ps, f"built with per_scenario={options.probe_per_scenario}, seed={options.seed}"


def _curve(
    spec: RunSpec,
    options: ReportOptions,
    probe_set: ProbeSet,
    checkpoint: CheckpointCMNI,
    notes: list[str],
    say: Callable[[str], None],
) -> CMNICurve:
    csv_path = spec.run_dir / "cmni.csv" if spec.run_dir is not None else None
    if csv_path is not None and csv_path.is_file() and not options.recompute_cmni:
        try:
            curve = read_cmni_csv(csv_path)
            if curve.n_probes > 0:
                return permutation_band(spec.run_dir / "cmni", curve)  # type: ignore[operator]
            notes.append(f"{csv_path} has no rows; recomputed the curve from the checkpoints")
        except (OSError, ValueError) as error:
            notes.append(f"cannot read {csv_path} ({' '.join(str(error).split())}); recomputed the curve")
    cfg = spec.env_config

    def score(model: Any) -> float:
        policy = ModelPolicy(model, deterministic=options.deterministic)
        batch = play_episodes(policy, policy, cfg, options.curve_episodes, options.seed)
        return float(batch.scores.mean())

    if spec.checkpoints:
        say(f"recomputing the CMNI at {len(spec.checkpoints)} checkpoints")
        return recompute_curve(
            list(spec.checkpoints),
            probe_set,
            lambda path: load_policy_model(Path(path), cfg),
            n_permutations=min(options.n_permutations, 100),
            seed=options.seed,
            untrained_seed=spec.seed,
            score=score,
        )
    notes.append("no checkpoints to draw a curve from: the CMNI figure shows the evaluated model only")
    step = spec.checkpoint_step if spec.checkpoint_step is not None else 0
    return recompute_curve([(step, spec.model_path)], probe_set, lambda p: load_policy_model(Path(p), cfg),
                           n_permutations=min(options.n_permutations, 100), seed=options.seed,
                           untrained_seed=spec.seed, score=score)  # fmt: skip


# --------------------------------------------------------------------------- metrics and markdown


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
    spec: RunSpec,
    options: ReportOptions,
    behaviour: BehaviourReport,
    checkpoint: CheckpointCMNI,
    curve: CMNICurve,
    circuits: CircuitAnalysis,
    probe_source: str,
    notes: list[str],
) -> dict[str, Any]:
    """Everything of the report as one JSON-ready dict (NaN still present; see :func:`json_safe`)."""
    rows = [r.as_dict() for r in behaviour.rows]
    by_key = {"agent": rows[0], "partner": rows[1]}
    for row, key in zip(rows[2:], ("scripted", "random")):
        by_key[key] = row
    result = checkpoint.result
    ratio_rows = {
        layer: {str(r["unit"]): r["both_none_ratio"] for r in candidate_table(result, layer)}
        for layer in result.layer_slices
    }
    neurons = {
        layer: {
            "n_units": int(result.per_layer_n_neurons[layer]),
            "n_candidates": int(result.per_layer_n_candidates[layer]),
            "candidates": mirror_units(result)[layer],
            "partner_specific": partner_specific_units(result)[layer],
            "both_none_ratio": ratio_rows[layer],
            "cmni": float(result.per_layer[layer]),
        }
        for layer in result.layer_slices
    }
    return {
        "run": {
            "source": str(spec.source),
            "run_dir": str(spec.run_dir) if spec.run_dir is not None else None,
            "model_path": str(spec.model_path),
            "checkpoint_step": spec.checkpoint_step,
            "env_config": spec.env_config.to_dict(),
            "train_config": spec.train_config,
        },
        "settings": {
            "episodes": options.episodes,
            "steps_per_episode": spec.env_config.max_steps,
            "seed": options.seed,
            "partner": options.partner,
            "deterministic": options.deterministic,
            "seat_assignment": "agent plays the frog in even games, the toad in odd games",
            "score_ci": "95% Student-t interval over episodes",
            "threshold": options.threshold,
            "n_permutations": options.n_permutations,
            "probe_set": probe_source,
        },
        "behaviour": {**by_key, "rows": rows},
        "cmni": {"checkpoint": checkpoint.summary(), "curve": curve.summary()},
        "neurons": neurons,
        "circuits": {**circuits.summary(), "paths": [p.as_row() for p in circuits.paths]},
        "notes": list(notes),
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "n/a"
        if math.isinf(f):
            return "inf"
        if f != 0 and abs(f) < 10 ** (-digits):
            return f"{f:.2e}"
        return f"{f:.{digits}f}"
    return str(value)


def render_markdown(metrics: dict[str, Any], checkpoint: CheckpointCMNI, circuits: CircuitAnalysis, behaviour: BehaviourReport) -> str:
    """``report.md``: the run, behaviour, CMNI, neurons, circuits and replay, with numbers."""
    run, settings, cm = metrics["run"], metrics["settings"], metrics["cmni"]
    ck, cv = cm["checkpoint"], cm["curve"]
    lines = ["# Evaluation report", ""]
    lines += [
        f"- model: `{run['model_path']}`" + (f" (step {run['checkpoint_step']})" if run["checkpoint_step"] is not None else ""),
        f"- env: {', '.join(f'{k}={v}' for k, v in run['env_config'].items())}",
        f"- {settings['episodes']} seeded episodes (seed {settings['seed']}) of {settings['steps_per_episode']} steps; "
        f"partner: {settings['partner']}; trained policy {'deterministic' if settings['deterministic'] else 'sampled'}; "
        f"{settings['seat_assignment']}.",
    ]
    lines += [f"- note: {n}" for n in metrics["notes"]]
    lines += ["", "## Behaviour", ""]
    lines += [
        "Score: points per player per episode, mean and 95% Student-t interval over episodes. Help rates are "
        "counted: helps chosen while the partner's distress flag was set / steps with it set, and likewise when "
        "it was not; ratio = distressed / not distressed.",
        "",
        "| row | score (95% CI) | help rate | help when partner distressed | help when partner ok | ratio | stalled | leap on rough ahead |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in metrics["behaviour"]["rows"]:
        lines.append(
            f"| {row['label']} | {_fmt(row['score_mean'], 1)} ({_fmt(row['score_ci_low'], 1)}-{_fmt(row['score_ci_high'], 1)}) "
            f"| {_fmt(row['help_rate'])} | {_fmt(row['help_rate_partner_distressed'])} "
            f"({row['count_helps_partner_distressed']}/{row['count_partner_distressed_steps']}) "
            f"| {_fmt(row['help_rate_partner_ok'])} ({row['count_helps_partner_ok']}/"
            f"{row['count_steps'] - row['count_partner_distressed_steps']}) | {_fmt(row['help_ratio'], 1)} "
            f"| {_fmt(row['stalled_fraction'])} | {_fmt(row['leap_rate_rough_ahead'])} |"
        )
    lines += ["", "## CMNI over training", "", "![CMNI over training](cmni_over_training.png)", ""]
    if cv.get("n_probes", 0):
        lines += [
            f"Curve from {cv['source']} ({cv['n_probes']} probes, steps {cv['first_step']}-{cv['last_step']}): "
            f"CMNI {_fmt(cv['first_cmni'], 5)} at the first probe, peak {_fmt(cv['peak_cmni'], 5)} at step {cv['peak_step']} "
            f"(p {_fmt(cv['peak_p_value'])}), {_fmt(cv['last_cmni'], 5)} at the last; untrained-network null "
            f"{_fmt(cv['null_untrained'], 5)}, permutation-null mean at the last probe {_fmt(cv['last_null_permutation_mean'], 5)}.",
            "",
        ]
    lines += [
        f"Evaluated checkpoint, on {ck['probe_states']} probe states ({settings['probe_set']}): "
        f"**CMNI {_fmt(ck['cmni'], 5)}** vs untrained network {_fmt(ck['null_untrained'], 5)} and permutation null "
        f"{_fmt(ck['null_permutation_mean'], 5)} ± {_fmt(ck['null_permutation_std'], 5)} "
        f"(p = {_fmt(ck['p_value'])}, z = {_fmt(ck['z_score'], 2)}, {ck['n_permutations']} permutations). "
        f"{ck['n_candidates']} of {ck['n_neurons']} units are mirror candidates ({_fmt(100 * ck['candidate_fraction'], 1)}%; "
        f"about 25% by chance; untrained network: {ck['null_untrained_candidates']}). Absolute CMNI depends on the "
        "activation scale and the probe set: compare within one setup.",
        "",
        "| layer | CMNI | candidates | partner-specific | self-other overlap |",
        "| --- | --- | --- | --- | --- |",
    ]
    for layer, info in metrics["neurons"].items():
        lines.append(
            f"| {layer} | {_fmt(info['cmni'], 5)} | {info['n_candidates']}/{info['n_units']} "
            f"| {len(info['partner_specific'])} | {_fmt(ck['overlap'].get(layer))} |"
        )
    lines += ["", "## Neurons", ""]
    result = checkpoint.result
    for layer, info in metrics["neurons"].items():
        safe = _safe(layer)
        lines += [f"### {layer}", "", f"![neurons {layer}](neurons_{safe}.png)", ""]
        table = candidate_table(result, layer)
        if not table:
            lines += ["No mirror candidates in this layer.", ""]
            continue
        lines += [
            f"Mirror candidates (full statistics in `candidates_{safe}.csv`). both/none = mean in 'both' / mean in "
            "'none' (only where the 'none' mean is > 0; the paper reports 21-47x for its ReLU case net).",
            "",
            "| unit | Δself | Δother | MNS | mean none | mean self | mean other | mean both | both/none |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in sorted(table, key=lambda r: -r["mns"])[:20]:
            lines.append(
                f"| {r['unit']} | {_fmt(r['delta_self'], 4)} | {_fmt(r['delta_other'], 4)} | {_fmt(r['mns'], 4)} "
                f"| {_fmt(r['mean_none'])} | {_fmt(r['mean_self'])} | {_fmt(r['mean_other'])} | {_fmt(r['mean_both'])} "
                f"| {_fmt(r['both_none_ratio'], 1)} |"
            )
        if len(table) > 20:
            lines.append(f"| ... {len(table) - 20} more in the CSV | | | | | | | | |")
        lines.append("")
    cs = metrics["circuits"]
    lines += ["## Circuits", "", "![circuits](circuits.png)", ""]
    lines += [
        f"Weights leaving the mirror candidates and the partner-specific units (Δother > 0, Δself ≤ 0), as z-scores "
        f"against their layer's weight matrix, followed forward while |z| ≥ {_fmt(cs['threshold'], 1)}; "
        f"{cs['n_paths']} strong paths end at leap or help{' (truncated)' if cs['truncated'] else ''} "
        f"(strong paths from the same units to every action: "
        f"{', '.join(f'{a} {n}' for a, n in cs.get('paths_per_action', {}).items())}).",
        "",
        "| class | paths | strongest |",
        "| --- | --- | --- |",
    ]
    for kind in PATH_KINDS:
        strongest = "; ".join(f"`{name}`" for name in cs["strongest"][kind]) or "-"
        lines.append(f"| {kind} | {cs['counts'][kind]} | {strongest} |")
    lines += [
        "",
        "Classes: self-preservation = mirror unit → leap; tactical help = partner-specific unit → help; empathy = a "
        "help path through a hidden unit that both a mirror and a partner-specific unit reach; mirror help = mirror "
        "unit → help without that convergence; other = partner-specific unit → leap.",
        "",
        "## Replay",
        "",
    ]
    replay = behaviour.main.replay
    if replay is not None:
        seats = ", ".join(f"{AGENT_NAMES[s]}: {replay.seat_names[s]}" for s in (0, 1))
        lines += [f"Game 0 ({seats}): `replay.txt` (text) and", "", "![replay](replay.gif)", ""]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- tables


_PATH_COLUMNS = ["path", "kind", "source_kind", "source_layer", "source_unit", "action", "length", "z", "weights", "min_abs_z", "sign"]


def _candidate_columns() -> list[str]:
    cols = ["layer", "unit", "delta_self", "delta_other", "mns", "both_none_ratio"]
    for s in SCENARIO_NAMES:
        cols += [f"mean_{s}", f"variance_{s}", f"skewness_{s}", f"kurtosis_{s}"]
    return cols


def _curve_rows(curve: CMNICurve) -> list[dict[str, Any]]:
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


def _safe(layer: str) -> str:
    """A layer name as a file-name part (``pi.0`` stays ``pi.0``)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in layer)


# --------------------------------------------------------------------------- figures


def plot_cmni_over_training(curve: CMNICurve, path: Path, checkpoint_step: int | None = None) -> Path:
    """CMNI and mean episode score against training steps (two y-axes), nulls, peak."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    steps, cmni = curve.steps, curve.cmni
    col = curve.columns
    ax.plot(steps, cmni, "o-", color="#8e44ad", lw=2, ms=4, label="CMNI", zorder=3)
    low, high = col.get("null_permutation_low"), col.get("null_permutation_high")
    if low is not None and high is not None and np.isfinite(low).any():
        ax.fill_between(steps, low, high, color="#95a5a6", alpha=0.3, lw=0, label="permutation null 2.5-97.5%")
    if np.isfinite(col["null_permutation_mean"]).any():
        ax.plot(steps, col["null_permutation_mean"], ":", color="#7f8c8d", lw=1.5, label="permutation null mean")
    untrained = col["null_untrained"]
    if np.isfinite(untrained).any():
        ax.axhline(float(np.nanmean(untrained)), ls="--", color="#34495e", lw=1.2, label="untrained network")
    if curve.n_probes and np.isfinite(cmni).any():
        step, value, _ = curve.peak()
        ax.plot([step], [value], marker="*", ms=16, color="#c0392b", zorder=4, ls="none", label=f"peak {value:.4g} @ {step:,}")
    ax.set_xlabel("training steps (agent-steps)")
    ax.set_ylabel("CMNI", color="#8e44ad")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    score = col["mean_episode_score"]
    if np.isfinite(score).any():
        ax2 = ax.twinx()
        ax2.plot(steps, score, "s-", color="#16a085", lw=1.5, ms=3, alpha=0.85, label="mean episode score")
        ax2.set_ylabel("mean episode score (points per player)", color="#16a085")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if checkpoint_step is not None:
        ax.axvline(checkpoint_step, color="#e67e22", lw=1, alpha=0.6)
    ax.legend(handles, labels, fontsize=7, loc="best", framealpha=0.85)
    ax.set_title(f"CMNI over training ({curve.source})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_neurons(result: CMNIResult, layer: str, path: Path, units_per_row: int = 32) -> Path:
    """Bar chart of each unit's mean activation in the four scenarios; mirror candidates
    shaded (and their unit numbers bold), partner-specific units hatched. Layers wider
    than ``units_per_row`` are wrapped over several rows."""
    sl = result.layer_slices[layer]
    means = np.asarray(result.mean)[:, sl]  # (4, units)
    n = means.shape[1]
    mirror = set(mirror_units(result)[layer].tolist())
    partner = set(partner_specific_units(result)[layer].tolist())
    n_rows = max(1, math.ceil(n / units_per_row))
    per_row = math.ceil(n / n_rows)
    fig, axes = plt.subplots(n_rows, 1, figsize=(max(6.0, 0.36 * per_row + 1.5), 2.9 * n_rows + 0.6), dpi=100, squeeze=False)
    finite = means[np.isfinite(means)]
    low, high = (min(0.0, float(finite.min())), max(0.0, float(finite.max()))) if finite.size else (-1.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    width = 0.2
    for r, ax in enumerate(axes[:, 0]):
        units = np.arange(r * per_row, min(n, (r + 1) * per_row))
        for u in units:
            if u in mirror:
                ax.axvspan(u - 0.5, u + 0.5, color="#d7bde2", alpha=0.6, lw=0, zorder=0)
            elif u in partner:
                ax.axvspan(u - 0.5, u + 0.5, facecolor="none", edgecolor="#e59866", hatch="//", lw=0, zorder=0)
        for code, name in enumerate(SCENARIO_NAMES):
            ax.bar(units + (code - 1.5) * width, np.nan_to_num(means[code, units]), width, color=SCENARIO_COLOURS[code], label=name, zorder=2)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(units)
        ax.set_xticklabels([str(u) for u in units], fontsize=8)
        for u, tick in zip(units, ax.get_xticklabels()):
            if u in mirror:
                tick.set_fontweight("bold")
                tick.set_color("#6c3483")
        ax.set_xlim(units[0] - 0.6, units[0] + per_row - 0.4)
        ax.set_ylim(low - pad, high + pad)
        ax.set_ylabel("mean activation")
    axes[-1, 0].set_xlabel("unit")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [Patch(color="#d7bde2", label="mirror candidate"), Patch(facecolor="none", edgecolor="#e59866", hatch="//", label="partner-specific")]
    fig.legend(handles=handles, fontsize=8, ncol=6, loc="lower center", framealpha=0.85)
    fig.suptitle(
        f"{layer}: mean activation per scenario — {len(mirror)}/{n} mirror candidates, "
        f"{len(partner)} partner-specific, CMNI {result.per_layer[layer]:.4g}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06 if n_rows == 1 else 0.035, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_circuits(analysis: CircuitAnalysis, path: Path, max_paths: int = 40) -> Path:
    """Network diagram of the strongest paths: one column per layer, edges coloured by the
    sign of their z-score (red +, blue -) with width proportional to ``|z|``."""
    paths = list(analysis.paths[:max_paths])
    columns = list(analysis.layer_names)
    fig, ax = plt.subplots(figsize=(2.6 * len(columns) + 2, 5.5), dpi=110)
    ax.set_axis_off()
    if not paths:
        ax.text(0.5, 0.5, f"no strong paths (|z| >= {analysis.threshold:g}) from mirror or partner-specific units\n"
                "to leap or help", ha="center", va="center", fontsize=11, transform=ax.transAxes)  # fmt: skip
        ax.set_title("circuits")
        fig.savefig(path)
        plt.close(fig)
        return path
    kinds: dict[tuple[str, int], str] = {}
    nodes_per_col: dict[str, list[int]] = {c: [] for c in columns}
    for p in paths:
        for i, node in enumerate(p.nodes):
            if node[1] not in nodes_per_col[node[0]]:
                nodes_per_col[node[0]].append(node[1])
            if i == 0:
                kinds[node] = p.source_kind
            else:
                kinds.setdefault(node, "action" if node[0] == "action" else "hidden")
    nodes_per_col["action"] = list(range(len(analysis.action_names)))
    pos: dict[tuple[str, int], tuple[float, float]] = {}
    for ci, col in enumerate(columns):
        units = sorted(nodes_per_col[col])
        for k, u in enumerate(units):
            pos[(col, u)] = (float(ci), 1.0 - (k + 1) / (len(units) + 1))
    edges: dict[tuple[tuple[str, int], tuple[str, int]], float] = {}
    for p in paths:
        for (a, b), z in zip(zip(p.nodes[:-1], p.nodes[1:]), p.z):
            edges[(a, b)] = z
    zmax = max(abs(z) for z in edges.values())
    for (a, b), z in edges.items():
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.plot([x0, x1], [y0, y1], color="#c0392b" if z > 0 else "#2e86c1", lw=0.5 + 3.5 * abs(z) / zmax, alpha=0.75, zorder=1)
        if len(edges) <= 30:
            ax.text(x0 + 0.6 * (x1 - x0), y0 + 0.6 * (y1 - y0), f"{z:.1f}", fontsize=6, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}, zorder=2)  # fmt: skip
    for node, (x, y) in pos.items():
        kind = kinds.get(node, "action" if node[0] == "action" else "hidden")
        ax.scatter([x], [y], s=260, color=KIND_COLOURS[kind], edgecolor="black", lw=0.6, zorder=2)
        label = analysis.action_names[node[1]] if node[0] == "action" else str(node[1])
        ax.text(x + (0.09 if node[0] == "action" else 0), y, label, ha="left" if node[0] == "action" else "center",
                va="center", fontsize=7 if node[0] != "action" else 9, zorder=3)  # fmt: skip
    for ci, col in enumerate(columns):
        ax.text(ci, 1.02, col, ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xlim(-0.5, len(columns) - 0.3)
    ax.set_ylim(-0.05, 1.08)
    counts = {}
    for p in analysis.paths:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    legend = [
        Line2D([0], [0], marker="o", ls="none", color=KIND_COLOURS[k], markeredgecolor="black", label=lbl, ms=9)
        for k, lbl in (("mirror", "mirror candidate"), ("partner", "partner-specific"), ("hidden", "hidden unit"), ("action", "action logit"))
    ] + [Line2D([0], [0], color="#c0392b", lw=2, label="z > 0"), Line2D([0], [0], color="#2e86c1", lw=2, label="z < 0")]
    ax.legend(handles=legend, loc="lower left", fontsize=7, ncol=3, framealpha=0.85)
    shown = f"{len(paths)} of {len(analysis.paths)}" if len(paths) < len(analysis.paths) else f"{len(paths)}"
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    ax.set_title(f"strong paths (|z| >= {analysis.threshold:g}), {shown} shown — {summary}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- replay


def write_replay(replay: Replay, text_path: Path, gif_path: Path, scale: int = 2, frame_ms: int = 80) -> list[Path]:
    """``replay.txt`` (every step via ``render_ansi``) and ``replay.gif`` (``render_rgb``
    frames upscaled ``scale`` times, with a caption of the step and both actions)."""
    names = replay.seat_names
    header = (
        f"replay of game 0: frog = {names[0]}{' (agent)' if replay.agent_seat == 0 else ''}, "
        f"toad = {names[1]}{' (agent)' if replay.agent_seat == 1 else ''}; "
        "'*' fly, F frog, T toad, & both, '=' solid, '~' rough, '!' distress\n"
    )
    chunks = [header, "\n-- start --\n", replay.ansi[0]]
    for t, (frog, toad) in enumerate(replay.actions, start=1):
        chunks += [f"\n-- step {t}: frog {ACTION_NAMES[frog]}, toad {ACTION_NAMES[toad]} --\n", replay.ansi[t]]
    text_path.write_text("".join(chunks), encoding="utf-8")

    images = []
    for t, frame in enumerate(replay.frames):
        big = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
        canvas = Image.new("RGB", (big.shape[1], big.shape[0] + 14), (255, 255, 255))
        canvas.paste(Image.fromarray(big), (0, 14))
        caption = f"step {t}"
        if t > 0:
            frog, toad = replay.actions[t - 1]
            caption += f"  frog: {ACTION_NAMES[frog]}  toad: {ACTION_NAMES[toad]}"
        if t < len(replay.scores):
            caption += f"   score {replay.scores[t][0]} / {replay.scores[t][1]}"
        ImageDraw.Draw(canvas).text((3, 1), caption, fill=(0, 0, 0))
        images.append(canvas.quantize(colors=64, method=Image.Quantize.MEDIANCUT))
    images[0].save(gif_path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0, optimize=False)
    return [text_path, gif_path]
