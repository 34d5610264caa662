"""``report.md``: the evaluation's numbers in prose and tables, with its figures linked."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cmni.circuits import PATH_KINDS
from cmni.neurons import CheckpointCMNI, candidate_table
from experiment.run_folder import EvalFiles
from frogtoad_env.core import AGENT_NAMES

from .behaviour import BehaviourReport

__all__ = ["render_markdown", "render_classifier_markdown"]


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


def render_markdown(metrics: dict[str, Any], checkpoint: CheckpointCMNI, behaviour: BehaviourReport) -> str:
    """``report.md``: the run, behaviour, CMNI, neurons, circuits and replay, with numbers.

    ``metrics`` is :func:`evaluation.report.build_metrics`' dict; the candidate tables come
    from ``checkpoint`` and the replay's seats from ``behaviour``.
    """
    run, settings, cv = metrics["run"], metrics["settings"], metrics["cmni"]["curve"]
    lines = ["# Evaluation report", ""]
    lines += [
        f"- model: `{run['model_path']}`" + (f" (step {run['checkpoint_step']})" if run["checkpoint_step"] is not None else ""),
        f"- env: {', '.join(f'{k}={v}' for k, v in run['env_config'].items())}",
        *_settings_lines(metrics),
    ]
    lines += behaviour_section(metrics)
    lines += ["## CMNI over training", "", f"![CMNI over training]({EvalFiles.CMNI_CURVE_PNG})", ""]
    if cv.get("n_probes", 0):
        lines += [
            f"Curve from {cv['source']} ({cv['n_probes']} probes, steps {cv['first_step']}-{cv['last_step']}): "
            f"CMNI {_fmt(cv['first_cmni'], 5)} at the first probe, peak {_fmt(cv['peak_cmni'], 5)} at step {cv['peak_step']} "
            f"(p {_fmt(cv['peak_p_value'])}), {_fmt(cv['last_cmni'], 5)} at the last; untrained-network null "
            f"{_fmt(cv['null_untrained'], 5)}, permutation-null mean at the last probe {_fmt(cv['last_null_permutation_mean'], 5)}.",
            "",
        ]
    lines += checkpoint_section(metrics, "Evaluated checkpoint")
    lines += neurons_section(metrics, checkpoint)
    lines += circuits_section(metrics)
    if "interventions" in metrics:
        lines += _interventions_section(metrics["interventions"])
    lines += replay_section(behaviour)
    return "\n".join(lines) + "\n"


def render_classifier_markdown(metrics: dict[str, Any], checkpoint: CheckpointCMNI, behaviour: BehaviourReport) -> str:
    """``report.md`` of a supervised classifier: the paper's Table 3, Fig. 2 and Table 4 first,
    then the PPO report's behaviour, neurons, circuits and replay sections.

    ``metrics`` is the dict :func:`evaluation.classifier.generate_classifier_report` writes.
    """
    run, c, cv = metrics["run"], metrics["classifier"], metrics["cmni"]["curve"]
    which = f"epoch {run['epoch']}" if run["epoch"] is not None else f"the best epoch ({run['best_epoch']}, lowest validation loss)"
    lines = ["# Evaluation report: supervised classifier", ""]
    lines += [
        f"- model: `{run['model_path']}`: {which}",
        f"- network: {' x '.join(str(u) for u in run['train_config']['net_arch'])} {run['train_config']['activation']}, "
        f"dropout {run['train_config']['dropout']}; env: {', '.join(f'{k}={v}' for k, v in run['env_config'].items())}",
        *_settings_lines(metrics),
    ]
    lines += ["", "## Test set (Table 3)", ""]
    lines += [
        f"**Test accuracy {_fmt(c['test_accuracy'], 4)}** on {c['test_states']} states (40 % hop, 40 % jump, 10 % leap, "
        "10 % help; the paper's case net: 0.921). Rows: the true label; columns: the predicted one; count (row share). "
        f"Also in `{EvalFiles.CONFUSION_CSV}`.",
        "",
        "| true \\ predicted | " + " | ".join(c["labels"]) + " |",
        "| --- |" + " --- |" * len(c["labels"]),
    ]
    for name, counts, shares in zip(c["labels"], c["confusion"], c["confusion_row_share"]):
        lines.append(f"| {name} | " + " | ".join(f"{int(n)} ({_fmt(s)})" for n, s in zip(counts, shares)) + " |")
    lines += ["", "## CMNI and validation loss over epochs (Fig. 2)", "", f"![CMNI vs validation loss]({EvalFiles.CMNI_VS_LOSS_PNG})", ""]
    if cv.get("n_probes", 0):
        lines += [
            f"From the run's {cv['source']} ({cv['n_probes']} epochs, measured on the test split after each): CMNI "
            f"{_fmt(cv['first_cmni'], 5)} at epoch {cv['first_epoch']}, peak {_fmt(cv['peak_cmni'], 5)} at epoch "
            f"{cv['peak_epoch']} (validation loss {_fmt(cv['val_loss_at_peak'], 4)}), {_fmt(cv['last_cmni'], 5)} at epoch "
            f"{cv['last_epoch']} (validation loss {_fmt(cv['last_val_loss'], 4)}; lowest {_fmt(cv['min_val_loss'], 4)}); "
            f"untrained networks {_fmt(cv['null_untrained'], 5)}. The paper's case net: 0.0053 at epoch 1, a peak of "
            "about 0.0082 early, once the validation loss fell below about 0.06, then 0.0054 at epoch 70 and 0.0035 at 170.",
            "",
        ]
    lines += checkpoint_section(metrics, "The evaluated classifier")
    lines += ["## Neuron table (Table 4)", ""]
    lines += [
        f"Mean activation of each unit of the first hidden layer per scenario, on the test states (every layer in "
        f"`{EvalFiles.NEURON_TABLE_CSV}`). both/none = mean in 'both' / mean in 'none' (where 'none' > 0); a mirror "
        "candidate has both deltas > 0; strong: also both/none >= 20 (the paper: 4 of 17 units, 21-47x).",
        "",
        "| unit | none | self | other | both | both/none | mirror candidate |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in next(iter(metrics["neuron_table"].values())):
        flag = "strong" if r["strong_mirror"] else ("yes" if r["mirror_candidate"] else "no")
        lines.append(
            f"| {r['unit']} | {_fmt(r['mean_none'], 4)} | {_fmt(r['mean_self'], 4)} | {_fmt(r['mean_other'], 4)} "
            f"| {_fmt(r['mean_both'], 4)} | {_fmt(r['both_none_ratio'], 1)} | {flag} |"
        )
    lines += behaviour_section(metrics, "In the game")
    lines += [
        f"The classifier as a player (the most likely of its 4 actions, from what its seat sees): "
        f"**{_fmt(c['score'], 1)}** points per player ({_fmt(c['score_ci'][0], 1)}-{_fmt(c['score_ci'][1], 1)}) with "
        f"{metrics['settings']['partner']} vs the scripted policy's {_fmt(c['scripted_score'], 1)} "
        f"({_fmt(c['scripted_score_ci'][0], 1)}-{_fmt(c['scripted_score_ci'][1], 1)}) in both seats, on the same seeds.",
        "",
    ]
    lines += neurons_section(metrics, checkpoint)
    lines += circuits_section(metrics)
    lines += replay_section(behaviour)
    return "\n".join(lines) + "\n"


def _settings_lines(metrics: dict[str, Any]) -> list[str]:
    """The episodes' settings and the notes, as list items."""
    settings = metrics["settings"]
    lines = [
        f"- {settings['episodes']} seeded episodes (seed {settings['seed']}) of {settings['steps_per_episode']} steps; "
        f"partner: {settings['partner']}; trained policy {'deterministic' if settings['deterministic'] else 'sampled'}; "
        f"{settings['seat_assignment']}.",
    ]
    return lines + [f"- note: {n}" for n in metrics["notes"]]


def behaviour_section(metrics: dict[str, Any], title: str = "Behaviour") -> list[str]:
    """The behaviour table: one row per role / reference policy."""
    lines = ["", f"## {title}", ""]
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
    return lines + [""]


def checkpoint_section(metrics: dict[str, Any], what: str) -> list[str]:
    """The evaluated model's CMNI against its nulls, and the per-layer table."""
    ck, settings = metrics["cmni"]["checkpoint"], metrics["settings"]
    lines = [
        f"{what}, on {ck['probe_states']} probe states ({settings['probe_set']}): "
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
    return lines + [""]


def neurons_section(metrics: dict[str, Any], checkpoint: CheckpointCMNI) -> list[str]:
    """Per layer: the neurons figure and the mirror candidates' table."""
    lines = ["## Neurons", ""]
    result = checkpoint.result
    for layer in metrics["neurons"]:
        lines += [f"### {layer}", "", f"![neurons {layer}]({EvalFiles.neurons_png(layer)})", ""]
        table = candidate_table(result, layer)
        if not table:
            lines += ["No mirror candidates in this layer.", ""]
            continue
        lines += [
            f"Mirror candidates (full statistics in `{EvalFiles.candidates_csv(layer)}`). both/none = mean in 'both' / mean in "
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
    return lines


def circuits_section(metrics: dict[str, Any]) -> list[str]:
    """The strong weight paths from the mirror and partner-specific units, by class."""
    cs = metrics["circuits"]
    lines = ["## Circuits", "", f"![circuits]({EvalFiles.CIRCUITS_PNG})", ""]
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
    return lines + [
        "",
        "Classes: self-preservation = mirror unit → leap; tactical help = partner-specific unit → help; empathy = a "
        "help path through a hidden unit that both a mirror and a partner-specific unit reach; mirror help = mirror "
        "unit → help without that convergence; other = partner-specific unit → leap.",
        "",
    ]


def replay_section(behaviour: BehaviourReport) -> list[str]:
    """Where game 0's replay is, with the GIF inline."""
    lines = ["## Replay", ""]
    replay = behaviour.main.replay
    if replay is not None:
        seats = ", ".join(f"{AGENT_NAMES[s]}: {replay.seat_names[s]}" for s in (0, 1))
        lines += [f"Game 0 ({seats}): `{EvalFiles.REPLAY_TXT}` (text) and", "", f"![replay]({EvalFiles.REPLAY_GIF})", ""]
    return lines


def _interventions_section(study: dict[str, Any]) -> list[str]:
    """The interventions table: target x kind x partner -> effects with 95% intervals and control percentiles."""
    lines = [
        "## Interventions",
        "",
        f"![interventions]({EvalFiles.INTERVENTIONS_PNG})",
        "",
        f"Each target set is ablated or steered in the evaluated policy, which then plays {study['episodes']} seeded "
        f"episodes per partner (self: intervened in both seats; scripted; intact: the unintervened policy). "
        f"Δ = intervened − intact on the same seeds, 95% interval over episodes (Student-t on paired score "
        f"differences, paired bootstrap for rates). pct = percentile of Δ among {study['controls']} random sets of "
        f"as many units from the same layers (near 0 or 100: the target is unusual). Steering adds "
        f"{_fmt(study['steer_alpha'], 2)} × (mean in 'both' − mean in 'none'). All figures in `{EvalFiles.INTERVENTIONS_CSV}`.",
        "",
        "| target (units) | intervention | partner | Δscore (95% CI) | Δhelp when distressed (95% CI) | pct | Δhelp ratio | pct |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def with_ci(effect: dict[str, Any], key: str, digits: int) -> str:
        low, high = effect["ci"][key]
        return f"{_fmt(effect['delta'][key], digits)} ({_fmt(low, digits)} to {_fmt(high, digits)})"

    for e in study["effects"]:
        pct = e["control_percentile"]
        lines.append(
            f"| {e['target']} ({e['n_units']}) | {e['kind']} | {e['partner']} | {with_ci(e, 'score', 1)} "
            f"| {with_ci(e, 'help_rate_partner_distressed', 4)} | {_fmt(pct['help_rate_partner_distressed'], 0)} "
            f"| {_fmt(e['delta']['help_ratio'], 1)} | {_fmt(pct['help_ratio'], 0)} |"
        )
    return lines + [""]
