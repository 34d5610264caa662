"""The answer of a sweep: ``results.csv`` (one row per run), ``summary.md`` (per level intervals,
tests, verdicts on the paper's claims) and the figures, all from the runs' own files.

Sources, per run: ``cmni.csv`` (every probe: CMNI, its untrained null, excess and z,
candidates, the training score), the TensorBoard events for the help rates
(``game/help_rate_partner_distressed`` and ``game/help_rate_partner_ok``: the mean over the
last training episodes, stochastic policy, as logged at the end of training) and the
cached mirror-ablation effect (:mod:`evaluation.ablation_effect`, written by the sweep's
worker when a run finishes). Per distinct env config, the signal complexity S
(:func:`frogtoad_env.complexity.signal_complexity`, torch-free, about a second).

Nothing is replayed, so the report needs no torch and takes seconds, except where a finished
run lacks its ablation effect (a sweep from before the effect existed, or a worker that
failed to measure it): :func:`write_report` measures it first (``backfill``, 5-15 CPU
seconds per run, torch loaded then) unless told not to.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from evaluation.ablation_effect import ABLATION_COLUMNS, ensure_ablation, measurable, read_ablation
from experiment.atomic import atomic_write_text
from experiment.cmni_csv import read_cmni_csv
from experiment.run_folder import RunError, RunFolder
from frogtoad_env.complexity import signal_complexity
from frogtoad_env.config import EnvConfig
from sweeps.grid import SEED, STATUS_DONE, Grid, Level, SweepFolder, level_number, level_text
from sweeps.stats import (
    ALPHA,
    NOT_TESTED,
    EffectTest,
    Verdict,
    direction_verdict,
    early_peak_verdict,
    effect_test,
    finite_mean_ci,
    interior_optimum_verdict,
)  # fmt: skip

RESULTS_CSV = "results.csv"
SUMMARY_MD = "summary.md"
FIGURE_DIR = "figures"
SIGNAL_COMPLEXITY = "signal_complexity"
HELP_TAGS = {"help_rate_distressed": "game/help_rate_partner_distressed", "help_rate_ok": "game/help_rate_partner_ok"}
#: results.csv columns after the factors: (column, meaning)
RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("status", "done, failed, partial (interrupted, resumable) or new"),
    ("steps", "agent-steps of the last probe"),
    ("final_score", "points per player per episode, last training episodes at the last probe"),
    ("peak_score", "highest such score over the probes"),
    ("final_cmni", "CMNI at the last probe"),
    ("peak_cmni", "highest CMNI over the probes"),
    ("peak_step", "agent-steps at the highest CMNI"),
    ("null_mean", "mean CMNI of K untrained networks of the same architecture"),
    ("null_sd", "their sample standard deviation"),
    ("excess_cmni", "final_cmni - null_mean"),
    ("z_untrained", "excess_cmni / null_sd"),
    ("candidates", "mirror candidates at the last probe"),
    ("candidates_null_mean", "mean candidates of the untrained networks"),
    ("help_rate_distressed", "helps per step with the partner in distress (TensorBoard, last value)"),
    ("help_rate_ok", "helps per step with the partner not in distress"),
    ("help_ratio", "help_rate_distressed / help_rate_ok"),
    *ABLATION_COLUMNS,
    (SIGNAL_COMPLEXITY, "S in bits: the scripted policy's action entropy in the run's game (frogtoad_env.complexity)"),
    ("error", "the failure, one line"),
)
#: the metrics summarised per level: (results.csv column, label)
SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("excess_cmni", "excess CMNI"), ("final_cmni", "raw CMNI"), ("final_score", "score"), ("help_ratio", "help ratio"),
    ("ablation_d_help", "Δ help, mirror ablated"), ("ablation_help_percentile", "its control percentile"),
)  # fmt: skip
DIGITS = {"excess_cmni": 4, "final_cmni": 4, "final_score": 1, "help_ratio": 2, "ablation_d_help": 4,
          "ablation_help_percentile": 0}  # fmt: skip
#: claim -> factor it is about (the direction claims; capacity and the early peak are special)
DIRECTION_CLAIMS = {
    "coupling raises shared representations": "coupling",
    "dependency raises them": "dependency",
    "the veil raises them": "veil",
}
CAPACITY_CLAIM, CAPACITY_FACTOR = "capacity has an interior optimum", "net_arch"
CAUSAL_FACTOR = "coupling"
PEAK_CLAIM = "CMNI peaks early, then declines"
#: judged on ablation_help_percentile, which falls as ablating the mirror units lowers helping more than random units
CAUSAL_CLAIM = "coupling raises the causal role of mirror units in helping (control percentile of Δ help falls)"


def levels_figure(factor: str) -> str:
    return f"{FIGURE_DIR}/levels_{factor}.png"


def curves_figure(factor: str) -> str:
    return f"{FIGURE_DIR}/cmni_curves_{factor}.png"


TRADEOFF_FIGURE = f"{FIGURE_DIR}/tradeoff.png"


@dataclass
class RunResult:
    """One run's row of ``results.csv`` and its CMNI curve."""

    name: str
    levels: Mapping[str, Level]
    values: dict[str, float | str] = field(default_factory=dict)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cmni: np.ndarray = field(default_factory=lambda: np.zeros(0))
    excess: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def number(self, column: str) -> float:
        value = self.values.get(column, math.nan)
        return float(value) if isinstance(value, (int, float)) else math.nan


def read_run(folder: SweepFolder, name: str, levels: Mapping[str, Level]) -> RunResult:
    """A run's numbers from its ``cmni.csv`` and TensorBoard events (NaN where absent)."""
    result = RunResult(name, levels)
    result.values = {c: math.nan for c, _ in RESULT_COLUMNS}
    result.values.update(status=folder.status(name), error=folder.failure(name))
    run = folder.run(name)
    rows = read_cmni_csv(run.cmni_csv).rows if run.cmni_csv.is_file() else []
    if rows:
        last = rows[-1]
        result.steps = np.array([r["step"] for r in rows])
        result.cmni = np.array([r["cmni_total"] for r in rows])
        result.excess = np.array([r.get("excess_cmni", math.nan) for r in rows])
        scores = np.array([r.get("mean_episode_score", math.nan) for r in rows])
        finite = scores[np.isfinite(scores)]
        peak = int(np.argmax(result.cmni))
        result.values.update(
            steps=int(last["step"]), final_score=float(finite[-1]) if finite.size else math.nan,
            peak_score=float(finite.max()) if finite.size else math.nan, final_cmni=last["cmni_total"],
            peak_cmni=float(result.cmni[peak]), peak_step=int(result.steps[peak]),
            null_mean=last.get("null_untrained", math.nan), null_sd=last.get("null_untrained_sd", math.nan),
            excess_cmni=last.get("excess_cmni", math.nan), z_untrained=last.get("z_untrained", math.nan),
            candidates=last.get("candidates", math.nan),
            candidates_null_mean=last.get("candidates_null_mean", math.nan),
        )  # fmt: skip
    result.values.update(read_help_rates(run))
    distressed, ok = result.number("help_rate_distressed"), result.number("help_rate_ok")
    result.values["help_ratio"] = distressed / ok if ok > 0 else math.nan
    result.values.update(read_ablation(run) or {})
    return result


def read_help_rates(run: RunFolder) -> dict[str, float]:
    """The last logged value of each :data:`HELP_TAGS` tag in the run's TensorBoard folder."""
    if not run.tb_dir.is_dir():
        return {}
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    events = EventAccumulator(str(run.tb_dir), size_guidance={SCALARS: 0}).Reload()
    tags = set(events.Tags().get("scalars", []))
    return {column: float(events.Scalars(tag)[-1].value) for column, tag in HELP_TAGS.items() if tag in tags}


def collect(folder: SweepFolder) -> tuple[Grid, list[RunResult]]:
    """The grid and every planned run's result, with the signal complexity S of its env
    config (computed once per distinct config); RunError if the folder holds no sweep."""
    grid = load_grid(folder)
    complexity: dict[EnvConfig, float] = {}
    results = []
    for run in grid.plan():
        result = read_run(folder, run.name, run.levels)
        env = run.config.env
        if env not in complexity:
            complexity[env] = signal_complexity(env)
        result.values[SIGNAL_COMPLEXITY] = complexity[env]
        results.append(result)
    return grid, results


def load_grid(folder: SweepFolder) -> Grid:
    grid = folder.load_grid()
    if grid is None:
        raise RunError(f"{str(folder.path)!r} is not a sweep folder: it has no grid.json")
    return grid


def backfill_ablation(folder: SweepFolder, log: Callable[[str], None] = print) -> int:
    """Measure the ablation effect of every finished run that lacks it
    (:func:`evaluation.ablation_effect.ensure_ablation`); a run that cannot be measured
    is logged and keeps an empty column. Returns the runs measured."""
    runs = [folder.run(r.name) for r in load_grid(folder).plan() if folder.status(r.name) == STATUS_DONE]
    todo = [run for run in runs if measurable(run) and read_ablation(run) is None]
    if todo:
        log(f"measuring the mirror-ablation effect of {len(todo)} finished run(s) that lack it "
            "(5-15 CPU seconds each; `sweep.py report --no-backfill` skips this)")  # fmt: skip
    measured = 0
    for run in todo:
        try:
            ensure_ablation(run)
            measured += 1
            log(f"  {run.path.name}: ablation effect measured")
        except RunError as error:
            log(f"  warning: {error}")
    return measured


def results_csv_text(grid: Grid, results: list[RunResult]) -> str:
    """``results.csv``: the run name, every factor, then :data:`RESULT_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", *grid.factors, *(c for c, _ in RESULT_COLUMNS)])
    for r in results:
        cells = [_cell(r.values[c]) for c, _ in RESULT_COLUMNS]
        writer.writerow([r.name, *(level_text(r.levels[k]) for k in grid.factors), *cells])
    return buffer.getvalue()


def _cell(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


# --------------------------------------------------------------------------- statistics per factor


def done_runs(results: list[RunResult]) -> list[RunResult]:
    """Finished runs with at least one probe: what the statistics use."""
    return [r for r in results if r.values["status"] == STATUS_DONE and r.steps.size]


def factor_test(runs: list[RunResult], factor: str, column: str) -> EffectTest:
    levels = [r.levels[factor] for r in runs]
    return effect_test(
        [level_text(v) for v in levels], [level_number(v) for v in levels], [r.number(column) for r in runs]
    )


def verdicts(grid: Grid, runs: list[RunResult]) -> list[Verdict]:
    """The paper's claims, judged on the excess CMNI of the finished runs, and the causal
    claim on the control percentile of the mirror-ablation effect on helping."""
    seeds = len(grid.seeds)
    found: list[Verdict] = []
    if CAPACITY_FACTOR in grid.varying:
        capacity = [level_number(r.levels[CAPACITY_FACTOR]) or math.nan for r in runs]
        found.append(interior_optimum_verdict(CAPACITY_CLAIM, capacity, [r.number("excess_cmni") for r in runs], seeds))
    else:
        found.append(direction_verdict(CAPACITY_CLAIM, None, seeds))
    for claim, factor in DIRECTION_CLAIMS.items():
        test = factor_test(runs, factor, "excess_cmni") if factor in grid.varying else None
        found.append(direction_verdict(claim, test, seeds))
    found.append(early_peak_verdict(PEAK_CLAIM, [(r.steps, r.cmni) for r in runs], seeds))
    causal = factor_test(runs, CAUSAL_FACTOR, "ablation_help_percentile") if CAUSAL_FACTOR in grid.varying else None
    if causal is not None and causal.n == 0:
        found.append(Verdict(CAUSAL_CLAIM, NOT_TESTED, "no finished run has a mirror-ablation effect (no probe set)"))
    else:
        found.append(direction_verdict(CAUSAL_CLAIM, causal, seeds, rises=False))
    return found


def _axis_section(
    title: str, order: list[str], labels: list[str], numbers: list[float | None], runs: list[RunResult]
) -> list[str]:
    """A ``## title`` table: per level (``order``; ``labels`` gives each run's) the runs and
    the mean and 95 % interval of each :data:`SUMMARY_METRICS`, then each metric's effect
    test (``numbers``: each run's level on a numeric axis, None for none)."""
    header = "| level | runs | " + " | ".join(label for _, label in SUMMARY_METRICS) + " |"
    lines = ["", f"## {title}", "", header, "| --- | --- |" + " --- |" * len(SUMMARY_METRICS)]
    for level in order:
        at = [r for r, label in zip(runs, labels) if label == level]
        cells = [_interval([r.number(c) for r in at], DIGITS[c]) for c, _ in SUMMARY_METRICS]
        lines.append(f"| {level} | {len(at)} | " + " | ".join(cells) + " |")
    tests = [(label, effect_test(labels, numbers, [r.number(c) for r in runs])) for c, label in SUMMARY_METRICS]
    return lines + [""] + [f"- {label}: {test.text()}" for label, test in tests]


def _interval(values: list[float], digits: int) -> str:
    mean, low, high = finite_mean_ci(values)
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary_markdown(folder: SweepFolder, grid: Grid, results: list[RunResult]) -> str:
    """``summary.md``: counts, the verdict table, per factor the level table with 95 %
    intervals and the tests, the figures, the failures."""
    runs = done_runs(results)
    status = [r.values["status"] for r in results]
    fixed = ", ".join(f"{k} = {level_text(v[0])}" for k, v in grid.factors.items() if len(v) == 1 and k != SEED)
    s_values = sorted({v for r in results if math.isfinite(v := r.number(SIGNAL_COMPLEXITY))})
    s_text = f"{s_values[0]:.3f} in every run" if len(s_values) == 1 else f"{len(s_values)} values, a section below"
    lines = [
        f"# Sweep {folder.path.name}",
        "",
        f"{len(results)} runs: {status.count(STATUS_DONE)} done, {status.count('failed')} failed, "
        f"{len(results) - status.count(STATUS_DONE) - status.count('failed')} unfinished; "
        f"{len(grid.seeds)} seeds; varying {', '.join(grid.varying) or 'nothing but the seed'}; fixed {fixed or '-'}.",
        "Statistics use the finished runs. Intervals: mean and 95 % t interval across runs at that level "
        "(pooled over the other factors' levels). Tests are two-sided at "
        f"alpha = {ALPHA}; excess CMNI = CMNI - mean CMNI of untrained networks of the same architecture.",
        "",
        f"S = signal complexity of the game (bits; docs/environment.md): {s_text}.",
        "",
        "## Verdicts on the paper's claims (excess CMNI; the causal claim: mirror-ablation effect on helping)",
        "",
        "| claim | verdict | numbers |",
        "| --- | --- | --- |",
        *(f"| {v.claim} | {v.verdict} | {v.numbers} |" for v in verdicts(grid, runs)),
    ]
    for factor in grid.varying:
        order, labels = [level_text(v) for v in grid.factors[factor]], [level_text(r.levels[factor]) for r in runs]
        lines += _axis_section(factor, order, labels, [level_number(r.levels[factor]) for r in runs], runs)
        lines += ["", f"![levels]({levels_figure(factor)})", f"![CMNI over training]({curves_figure(factor)})"]
    complexity = [r.number(SIGNAL_COMPLEXITY) for r in runs]
    if len({round(v, 3) for v in complexity if math.isfinite(v)}) > 1:
        order = [f"{v:.3f}" for v in sorted({v for v in complexity if math.isfinite(v)})]
        title = "signal complexity S (bits): the runs grouped by their game's S"
        lines += _axis_section(title, list(dict.fromkeys(order)), [f"{v:.3f}" for v in complexity], complexity, runs)
    if grid.varying:
        lines += ["", "## Score vs excess CMNI", "", f"![trade-off]({TRADEOFF_FIGURE})"]
    failed = [r for r in results if r.values["status"] == "failed"]
    if failed:
        lines += ["", "## Failed runs", ""] + [f"- {r.name}: {r.values['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def write_report(folder: SweepFolder, backfill: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Write ``results.csv``, ``summary.md`` and the figures; returns the paths written.
    With ``backfill``, first measure the ablation effect of finished runs that lack it
    (:func:`backfill_ablation`; progress through ``log``)."""
    from sweeps.figures import write_figures

    if backfill:
        backfill_ablation(folder, log)
    grid, results = collect(folder)
    written = [
        atomic_write_text(folder.path / RESULTS_CSV, results_csv_text(grid, results), fsync=False),
        atomic_write_text(folder.path / SUMMARY_MD, summary_markdown(folder, grid, results), fsync=False),
    ]
    runs = done_runs(results)
    if runs and grid.varying:
        written += write_figures(folder.path, grid, runs)
    return written
