"""The evaluation's figures: CMNI over training, neurons per layer, circuits, the replay.

- :func:`plot_cmni_over_training`: CMNI (left axis) and mean episode score (right axis)
  against training steps; untrained-network null (dashed), permutation-null mean (dotted)
  with its central 95 % band; the peak marked.
- :func:`plot_cmni_vs_loss`: a classifier's CMNI (left axis) and validation loss (right
  axis) against epochs, as the paper's Fig. 2; the nulls and the peak as above.
- :func:`plot_neurons`: per unit, mean activation in the four scenarios; mirror
  candidates shaded, partner-specific units hatched.
- :func:`plot_circuits`: strong weight paths from mirror / partner-specific units to the
  action logits (edge colour = sign, width = ``|z|``).
- :func:`plot_interventions`: the effect of each intervention on help (partner distressed)
  for each target set against its random-unit controls, one panel per kind.
- :func:`write_replay`: one game step by step as ANSI text and as an animated GIF.

Figures use matplotlib's Agg backend (no display needed); the GIF is written by Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cmni.circuits import CircuitAnalysis  # noqa: E402
from cmni.metric import SCENARIO_NAMES, CMNIResult  # noqa: E402
from cmni.neurons import mirror_units, partner_specific_units  # noqa: E402
from frogtoad_env.core import ACTION_NAMES  # noqa: E402

from .cmni_curve import NULL_BAND, NULL_HIGH, NULL_LOW, CMNICurve  # noqa: E402
from .episodes import Replay  # noqa: E402
from .interventions import InterventionStudy  # noqa: E402

__all__ = ["plot_cmni_over_training", "plot_cmni_vs_loss", "plot_neurons", "plot_circuits", "plot_interventions", "write_replay"]

SCENARIO_COLOURS = ("#9e9e9e", "#1f77b4", "#ff7f0e", "#d62728")  # none, self, other, both
KIND_COLOURS = {"mirror": "#8e44ad", "partner": "#e67e22", "hidden": "#bdc3c7", "action": "#27ae60"}


def plot_cmni_over_training(curve: CMNICurve, path: Path, checkpoint_step: int | None = None) -> Path:
    """CMNI and mean episode score against training steps (two y-axes), nulls, peak."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    steps, cmni = curve.steps, curve.cmni
    col = curve.columns
    ax.plot(steps, cmni, "o-", color="#8e44ad", lw=2, ms=4, label="CMNI", zorder=3)
    low, high = col.get(NULL_LOW), col.get(NULL_HIGH)
    if low is not None and high is not None and np.isfinite(low).any():
        band = "-".join(f"{100 * q:g}" for q in NULL_BAND)
        ax.fill_between(steps, low, high, color="#95a5a6", alpha=0.3, lw=0, label=f"permutation null {band}%")
    _nulls_and_peak(ax, curve, steps, "untrained network", lambda step: f"{int(step):,}")
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


def _nulls_and_peak(ax: Any, curve: CMNICurve, x: np.ndarray, untrained_label: str, where: Callable[[Any], str]) -> None:
    """On ``ax`` against ``x``: the permutation null's mean (dotted), the untrained networks'
    mean (dashed) and the CMNI's peak (star, labelled ``peak <value> @ where(x)``)."""
    col = curve.columns
    if np.isfinite(col["null_permutation_mean"]).any():
        ax.plot(x, col["null_permutation_mean"], ":", color="#7f8c8d", lw=1.5, label="permutation null mean")
    untrained = col["null_untrained"]
    if np.isfinite(untrained).any():
        ax.axhline(float(np.nanmean(untrained)), ls="--", color="#34495e", lw=1.2, label=untrained_label)
    if curve.n_probes and np.isfinite(curve.cmni).any():
        _, value, i = curve.peak()
        ax.plot([x[i]], [value], marker="*", ms=16, color="#c0392b", zorder=4, ls="none", label=f"peak {value:.4g} @ {where(x[i])}")


def plot_cmni_vs_loss(curve: CMNICurve, path: Path, evaluated_epoch: int | None = None) -> Path:
    """A classifier's CMNI and validation loss against epochs (two y-axes), nulls, peak.

    ``curve`` holds the supervised ``cmni.csv`` columns ``epoch`` and ``val_loss``; the
    evaluated epoch, when given, is marked by a vertical line.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    col = curve.columns
    epochs, cmni = col["epoch"], curve.cmni
    ax.plot(epochs, cmni, "o-", color="#8e44ad", lw=2, ms=4, label="CMNI", zorder=3)
    _nulls_and_peak(ax, curve, epochs, "untrained networks", lambda epoch: f"epoch {int(epoch)}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("CMNI", color="#8e44ad")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(epochs, col["val_loss"], "s-", color="#16a085", lw=1.5, ms=3, alpha=0.85, label="validation loss")
    ax2.set_ylabel("validation loss (cross-entropy)", color="#16a085")
    if evaluated_epoch is not None:
        ax.axvline(evaluated_epoch, color="#e67e22", lw=1, alpha=0.6)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, fontsize=7, loc="best", framealpha=0.85)
    ax.set_title("CMNI and validation loss over epochs")
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


def plot_interventions(study: InterventionStudy, path: Path, figure: str = "help_rate_partner_distressed",
                       partner: str = "self") -> Path:  # fmt: skip
    """Per kind (one panel each): for every target set, the effect on ``figure`` with
    ``partner`` (red star, with its 95 % interval) against its random-unit controls (grey dots)."""
    effects = [e for e in study.effects if e.partner == partner]
    kinds = list(dict.fromkeys(e.kind for e in effects))
    targets = list(dict.fromkeys(e.target for e in effects))
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(3.2 * max(1, len(kinds)) + 0.8, 4.0), dpi=110, squeeze=False, sharey=True)
    jitter = np.random.default_rng(0)
    for ax, kind in zip(axes[0], kinds):
        labels = []
        for x, target in enumerate(targets):
            e = next(e for e in effects if e.kind == kind and e.target == target)
            controls = e.controls[figure]
            ax.scatter(x + jitter.uniform(-0.15, 0.15, controls.size), controls, s=12, color="#95a5a6", zorder=2,
                       label="random units" if x == 0 else None)  # fmt: skip
            low, high = e.ci[figure]
            if np.isfinite(low) and np.isfinite(high):
                ax.plot([x, x], [low, high], color="#c0392b", lw=1.2, zorder=3)
            ax.plot([x], [e.delta[figure]], marker="*", ms=13, color="#c0392b", ls="none", zorder=4,
                    label="target (95% CI)" if x == 0 else None)  # fmt: skip
            pct = e.percentile[figure]
            labels.append(f"{target}\npct {'n/a' if math.isnan(pct) else f'{pct:.0f}'}")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(range(len(targets)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(kind, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel(f"Δ {figure.replace('_', ' ')}\n(intervened − intact)")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(f"interventions with partner '{partner}': target vs {study.controls} random-unit controls "
                 f"({study.episodes} episodes each; pct = target's percentile among the controls)", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_replay(replay: Replay, text_path: Path, gif_path: Path, scale: int = 2, frame_ms: int = 80) -> list[Path]:
    """The game as text at ``text_path`` (every step via ``render_ansi``) and as a GIF at
    ``gif_path`` (``render_rgb`` frames upscaled ``scale`` times, with a caption of the step,
    both actions and the scores; ``frame_ms`` per frame)."""
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
