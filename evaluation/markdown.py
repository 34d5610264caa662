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

__all__ = ["render_markdown"]


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
    lines += ["", "## CMNI over training", "", f"![CMNI over training]({EvalFiles.CMNI_CURVE_PNG})", ""]
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
    cs = metrics["circuits"]
    lines += ["## Circuits", "", f"![circuits]({EvalFiles.CIRCUITS_PNG})", ""]
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
    ]
    if "interventions" in metrics:
        lines += _interventions_section(metrics["interventions"])
    lines += ["## Replay", ""]
    replay = behaviour.main.replay
    if replay is not None:
        seats = ", ".join(f"{AGENT_NAMES[s]}: {replay.seat_names[s]}" for s in (0, 1))
        lines += [f"Game 0 ({seats}): `{EvalFiles.REPLAY_TXT}` (text) and", "", f"![replay]({EvalFiles.REPLAY_GIF})", ""]
    return "\n".join(lines) + "\n"


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
