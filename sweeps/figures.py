"""The sweep report's figures (matplotlib, written as PNG; file names in :mod:`sweeps.report`).

- ``levels_<factor>.png``: per metric, the factor's levels on x, one dot per run and the
  mean with its 95 % interval.
- ``cmni_curves_<factor>.png``: raw and excess CMNI over training, one line per level (mean
  across its runs at each probe step) with its 95 % band.
- ``tradeoff.png``: score against excess CMNI, one panel per varying factor, coloured by level.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweeps.grid import Grid, level_text  # noqa: E402
from sweeps.report import SUMMARY_METRICS, TRADEOFF_FIGURE, RunResult, curves_figure, levels_figure  # noqa: E402  # fmt: skip
from sweeps.stats import finite_mean_ci  # noqa: E402

_JITTER = 0.08


def plot_levels(path: Path, factor: str, levels: list[object], runs: list[RunResult]) -> Path:
    figure, axes = plt.subplots(1, len(SUMMARY_METRICS), figsize=(4 * len(SUMMARY_METRICS), 3.4))
    rng = np.random.default_rng(0)
    for axis, (column, label) in zip(axes, SUMMARY_METRICS):
        for x, level in enumerate(levels):
            values = [r.number(column) for r in runs if r.levels[factor] == level]
            axis.scatter(x + rng.uniform(-_JITTER, _JITTER, len(values)), values, s=14, color="tab:blue", alpha=0.6)
            mean, low, high = finite_mean_ci(values)
            if np.isfinite(low):
                axis.errorbar(x + 0.25, mean, yerr=[[mean - low], [high - mean]], fmt="o", color="black", capsize=4)
            elif np.isfinite(mean):
                axis.plot(x + 0.25, mean, "o", color="black")
        axis.set_xticks(range(len(levels)), [level_text(v) for v in levels])
        axis.set_xlabel(factor)
        axis.set_title(label)
        if column == "excess_cmni":
            axis.axhline(0.0, color="grey", lw=0.8, ls=":")
    figure.suptitle(f"{factor}: one dot per run; black: mean and 95 % interval")
    return _save(figure, path)


def plot_curves(path: Path, factor: str, levels: list[object], runs: list[RunResult]) -> Path:
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for attribute, axis, title in (
        ("cmni", axes[0], "CMNI"),
        ("excess", axes[1], "excess CMNI over the untrained null"),
    ):
        for colour, level in zip(plt.cm.viridis(np.linspace(0, 0.9, len(levels))), levels):
            at = [r for r in runs if r.levels[factor] == level]
            steps = np.unique(np.concatenate([r.steps for r in at])) if at else np.zeros(0)
            stats = [
                finite_mean_ci([getattr(r, attribute)[r.steps == s][0] for r in at if np.any(r.steps == s)])
                for s in steps
            ]
            if not stats:
                continue
            mean, low, high = (np.array(v) for v in zip(*stats))
            axis.plot(steps, mean, color=colour, label=f"{level_text(level)} ({len(at)} runs)")
            axis.fill_between(steps, low, high, color=colour, alpha=0.2)
        axis.set_xlabel("agent-steps")
        axis.set_title(title)
    axes[1].axhline(0.0, color="grey", lw=0.8, ls=":")
    axes[0].legend(title=factor, fontsize=8)
    figure.suptitle("mean across runs, 95 % band")
    return _save(figure, path)


def plot_tradeoff(path: Path, grid: Grid, runs: list[RunResult]) -> Path:
    factors = grid.varying
    figure, axes = plt.subplots(1, len(factors), figsize=(4.5 * len(factors), 3.6), squeeze=False)
    for axis, factor in zip(axes[0], factors):
        levels = grid.factors[factor]
        for colour, level in zip(plt.cm.viridis(np.linspace(0, 0.9, len(levels))), levels):
            at = [r for r in runs if r.levels[factor] == level]
            axis.scatter([r.number("excess_cmni") for r in at], [r.number("final_score") for r in at],
                         color=colour, label=level_text(level), s=18)  # fmt: skip
        axis.set_xlabel("excess CMNI")
        axis.set_ylabel("score per player")
        axis.legend(title=factor, fontsize=8)
    figure.suptitle("score vs excess CMNI, one dot per run")
    return _save(figure, path)


def write_figures(root: Path, grid: Grid, runs: list[RunResult]) -> list[Path]:
    written = []
    for factor in grid.varying:
        levels = list(grid.factors[factor])
        written.append(plot_levels(root / levels_figure(factor), factor, levels, runs))
        written.append(plot_curves(root / curves_figure(factor), factor, levels, runs))
    written.append(plot_tradeoff(root / TRADEOFF_FIGURE, grid, runs))
    return written


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
