"""Tests of ``sweep.py report`` on a hand-written sweep folder with known numbers, and of the
verdict rules on synthetic data. Expected values are computed here by hand (t quantiles from
a printed table), not by the code under test."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sweep as sweep_cli
from evaluation.ablation_effect import SETTING, final_model_digest, write_ablation
from experiment.cmni_csv import cmni_csv_columns, cmni_csv_row, write_cmni_csv
from experiment.run_folder import RunFolder
from frogtoad_env.complexity import scripted_action_counts
from sweeps.grid import Grid, SweepFolder
from sweeps.report import (
    RESULTS_CSV,
    SUMMARY_MD,
    TRADEOFF_FIGURE,
    backfill_ablation,
    collect,
    curves_figure,
    levels_figure,
)
from sweeps.stats import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    early_peak_verdict,
    effect_test,
    finite_mean_ci,
    interior_optimum_verdict,
)  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]
T_975 = {2: 4.302652729911275, 3: 3.182446305284263}  # Student's t, 0.975 quantile, by degrees of freedom
NULL_MEAN, NULL_SD = 0.02, 0.005
#: run name -> (CMNI at steps 100, 200, 300, 400; score at each probe)
CURVES = {
    "coupling=0_seed=0": ([0.030, 0.028, 0.026, 0.025], 400.0),
    "coupling=0_seed=1": ([0.031, 0.029, 0.027, 0.026], 410.0),
    "coupling=0_seed=2": ([0.029, 0.027, 0.025, 0.024], 420.0),
    "coupling=1_seed=0": ([0.070, 0.060, 0.052, 0.050], 380.0),
    "coupling=1_seed=1": ([0.072, 0.063, 0.055, 0.054], 390.0),
    "coupling=1_seed=2": ([0.068, 0.058, 0.049, 0.046], 370.0),
}
SCORE_STEPS = (0.0, 3.0, 1.0, 2.0)  # score at each probe = the run's score + this: peak at the second probe
HELP = (0.08, 0.01)  # help rate with the partner distressed / not, logged for coupling=1_seed=0
#: run name -> (Δ help with the partner distressed, its control percentile) of the cached mirror-ablation
#: effect; coupling=0_seed=2 has no probe set (a --no-probe run): no effect, an empty cell
ABLATION = {
    "coupling=0_seed=0": (-0.001, 60.0),
    "coupling=0_seed=1": (0.0, 50.0),
    "coupling=1_seed=0": (-0.02, 10.0),
    "coupling=1_seed=1": (-0.03, 5.0),
    "coupling=1_seed=2": (-0.025, 15.0),
}


def write_run(run: RunFolder, config: object, cmni: list[float], score: float) -> None:
    run.path.mkdir(parents=True)
    run.save_config(config)  # type: ignore[arg-type]
    rows = []
    for i, value in enumerate(cmni):
        excess = value - NULL_MEAN
        rows.append(cmni_csv_row(
            step=100 * (i + 1), cmni_total=value, cmni_per_layer={"coupled": value}, candidates=10 + i,
            candidates_per_layer={"coupled": 10 + i}, p_value=0.01, z_score=5.0, null_untrained=NULL_MEAN,
            null_untrained_sd=NULL_SD, excess_cmni=excess, z_untrained=excess / NULL_SD, candidates_null_mean=8.0,
            candidates_null_sd=1.0, null_permutation_mean=0.003, overlap={"coupled": 0.5, "all": 0.5},
            mean_episode_score=score + SCORE_STEPS[i],
        ))  # fmt: skip
    write_cmni_csv(run.cmni_csv, cmni_csv_columns(["coupled"], egocentric=True), rows)
    run.final_model.write_bytes(b"a finished run")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished sweep written by hand: coupling 0 and 1 x 3 seeds, 4 probes each, help rates
    in TensorBoard for one run; then ``sweep.py report`` on it."""
    folder = SweepFolder(tmp_path_factory.mktemp("sweeps") / "fixture")
    grid = Grid.from_values({"coupling": [0, 1], "seed": [0, 1, 2], "timesteps": 400})
    folder.path.mkdir()
    folder.save_grid(grid)
    for planned in grid.plan():
        run = folder.run(planned.name)
        write_run(run, planned.config, *CURVES[planned.name])
        if planned.name in ABLATION:
            d_help, percentile = ABLATION[planned.name]
            run.probe_set_path.write_bytes(b"a probe set")
            values = {"ablation_units": 7.0, "ablation_help_intact": 0.04, "ablation_d_help": d_help,
                      "ablation_d_help_random": -0.001, "ablation_help_percentile": percentile,
                      "ablation_d_score": -5.0}  # fmt: skip
            write_ablation(run, values, SETTING, cpu_s=1.0, model_digest=final_model_digest(run))
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder.run("coupling=1_seed=0").tb_dir))
    for step, scale in ((200, 0.5), (400, 1.0)):  # the report takes the last value
        writer.add_scalar("game/help_rate_partner_distressed", HELP[0] * scale, step)
        writer.add_scalar("game/help_rate_partner_ok", HELP[1], step)
    writer.close()
    assert sweep_cli.main(["report", str(folder.path)]) == 0
    return folder.path


def results(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / RESULTS_CSV, newline="") as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


def test_results_csv_has_one_row_per_run_with_final_and_peak_numbers(sweep_dir: Path) -> None:
    rows = results(sweep_dir)
    assert len(rows) == 6
    row = rows["coupling=1_seed=2"]
    assert (row["coupling"], row["seed"], row["status"], row["steps"]) == ("1", "2", "done", "400")
    assert float(row["final_cmni"]) == pytest.approx(0.046) and float(row["peak_cmni"]) == pytest.approx(0.068)
    assert row["peak_step"] == "100"
    assert float(row["excess_cmni"]) == pytest.approx(0.046 - NULL_MEAN)
    assert float(row["z_untrained"]) == pytest.approx((0.046 - NULL_MEAN) / NULL_SD)
    assert float(row["final_score"]) == 372.0 and float(row["peak_score"]) == 373.0
    assert (row["candidates"], float(row["candidates_null_mean"])) == ("13", 8.0)
    helped = rows["coupling=1_seed=0"]
    assert float(helped["help_rate_distressed"]) == pytest.approx(HELP[0])
    assert float(helped["help_ratio"]) == pytest.approx(HELP[0] / HELP[1])
    assert row["help_ratio"] == ""  # no TensorBoard events: unknown, not zero


def test_summary_gives_mean_and_t_interval_per_level(sweep_dir: Path) -> None:
    excess = [CURVES[f"coupling=1_seed={s}"][0][-1] - NULL_MEAN for s in range(3)]
    mean = sum(excess) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in excess) / 2)
    half = T_975[2] * sd / math.sqrt(3)
    text = (sweep_dir / SUMMARY_MD).read_text()
    assert f"| 1 | 3 | {mean:.4f} [{mean - half:.4f}, {mean + half:.4f}] |" in text
    assert "| coupling raises shared representations | supported |" in text
    assert "| dependency raises them | not tested |" in text
    assert "| CMNI peaks early, then declines |" in text
    for figure in (levels_figure("coupling"), curves_figure("coupling"), TRADEOFF_FIGURE):
        assert (sweep_dir / figure).stat().st_size > 1000


def test_the_interval_is_the_t_interval_of_the_known_values() -> None:
    values = [1.0, 2.0, math.nan, 4.0, 7.0]  # a run whose metric is unknown is left out
    mean, sd = 3.5, math.sqrt(((2.5**2) + (1.5**2) + (0.5**2) + (3.5**2)) / 3)
    assert finite_mean_ci(values) == pytest.approx((mean, mean - T_975[3] * sd / 2, mean + T_975[3] * sd / 2))
    assert math.isnan(finite_mean_ci([1.0])[1]) and math.isnan(finite_mean_ci([])[0])


def test_two_levels_give_welch_t_with_cohens_d() -> None:
    low, high = [1.0, 2.0, 3.0], [4.0, 6.0, 8.0]
    pooled = math.sqrt((2 * 1.0 + 2 * 4.0) / 4)  # sample variances 1 and 4
    test = effect_test(["a"] * 3 + ["b"] * 3, [0.0] * 3 + [1.0] * 3, low + high)
    assert test.test == "Welch t" and test.effect == pytest.approx((6.0 - 2.0) / pooled)
    t = (6.0 - 2.0) / math.sqrt(1.0 / 3 + 4.0 / 3)
    df = (1.0 / 3 + 4.0 / 3) ** 2 / ((1.0 / 3) ** 2 / 2 + (4.0 / 3) ** 2 / 2)  # Welch-Satterthwaite: 50/17
    assert test.statistic == pytest.approx(t) and df == pytest.approx(50 / 17)
    assert test.p_value == pytest.approx(2 * stats.t.sf(t, df))


def test_three_numeric_levels_give_spearman() -> None:
    test = effect_test(["5", "5", "17", "17", "64", "64"], [5.0, 5.0, 17.0, 17.0, 64.0, 64.0], [1, 2, 3, 4, 5, 6])
    # Pearson of the ranks: x ranks 1.5,1.5,3.5,3.5,5.5,5.5 (ties), y ranks 1..6
    rho = 16 / math.sqrt(16 * 17.5)
    assert test.test == "Spearman" and test.effect == pytest.approx(rho) and test.effect_name == "rho"


def test_capacity_verdict_needs_an_interior_best_that_beats_both_ends() -> None:
    capacity = [5.0] * 4 + [17.0] * 4 + [64.0] * 4
    peaked = [0.0, 0.1, 0.0, 0.1] + [1.0, 1.1, 1.0, 1.1] + [0.2, 0.3, 0.2, 0.3]
    assert interior_optimum_verdict("c", capacity, peaked, 4).verdict == SUPPORTED
    rising = [0.0, 0.1, 0.0, 0.1] + [0.5, 0.6, 0.5, 0.6] + [1.0, 1.1, 1.0, 1.1]
    assert interior_optimum_verdict("c", capacity, rising, 4).verdict == NOT_SUPPORTED
    noisy = [0.0, 1.0, 0.5, 0.2] + [0.6, 0.1, 0.9, 0.4] + [0.3, 0.8, 0.1, 0.5]
    assert interior_optimum_verdict("c", capacity, noisy, 4).verdict.startswith(INCONCLUSIVE)


def test_early_peak_verdict() -> None:
    steps = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    declining = [(steps, np.array([3, 5, 4, 3, 2.5, 2, 2, 1.5]) + 0.1 * k) for k in range(6)]
    assert early_peak_verdict("p", declining, 6).verdict == SUPPORTED
    rising = [(steps, steps * (1 + 0.1 * k)) for k in range(6)]
    assert early_peak_verdict("p", rising, 6).verdict == NOT_SUPPORTED


def test_results_carry_the_cached_ablation_effect_and_the_games_signal_complexity(sweep_dir: Path) -> None:
    rows = results(sweep_dir)
    assert float(rows["coupling=1_seed=1"]["ablation_d_help"]) == -0.03
    assert float(rows["coupling=1_seed=1"]["ablation_help_percentile"]) == 5.0
    assert rows["coupling=1_seed=1"]["ablation_units"] == "7"
    assert rows["coupling=0_seed=2"]["ablation_d_help"] == ""  # nothing to measure: unknown, not zero
    counts = scripted_action_counts(Grid.from_values({"coupling": [0], "seed": [0]}).plan()[0].config.env)
    p = counts / counts.sum()
    expected = -sum(x * math.log2(x) for x in p if x > 0)  # the action entropy in bits, by hand
    assert [float(r["signal_complexity"]) for r in rows.values()] == pytest.approx([expected] * 6, abs=5e-6)


def test_summary_gives_the_ablation_effect_per_level_and_the_causal_verdict(sweep_dir: Path) -> None:
    def cell(values: list[float], t: float, digits: int) -> str:
        mean = sum(values) / len(values)
        half = t * float(np.std(values, ddof=1)) / math.sqrt(len(values))
        return f"{mean:.{digits}f} [{mean - half:.{digits}f}, {mean + half:.{digits}f}]"

    t_1 = 12.706204736174707  # Student's t, 0.975 quantile, 1 degree of freedom
    lines = (sweep_dir / SUMMARY_MD).read_text().splitlines()
    high = [ABLATION[f"coupling=1_seed={s}"] for s in range(3)]
    low = [ABLATION[f"coupling=0_seed={s}"] for s in range(2)]  # seed 2 has no effect: left out, not a zero
    row_1 = next(line for line in lines if line.startswith("| 1 | 3 |"))
    assert row_1.endswith(f"| {cell([d for d, _ in high], T_975[2], 4)} | {cell([p for _, p in high], T_975[2], 0)} |")
    row_0 = next(line for line in lines if line.startswith("| 0 | 3 |"))
    assert row_0.endswith(f"| {cell([d for d, _ in low], t_1, 4)} | {cell([p for _, p in low], t_1, 0)} |")
    verdict = next(line for line in lines if "causal role of mirror units in helping" in line)
    assert "| supported |" in verdict and "n = 5" in verdict  # the percentile falls with coupling: 55 -> 10
    assert "S = signal complexity of the game (bits; docs/environment.md): " in "\n".join(lines)


def test_the_signal_complexity_is_computed_once_per_distinct_game(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sweeps.report as report

    calls: list[object] = []
    real = report.signal_complexity
    monkeypatch.setattr(report, "signal_complexity", lambda env: calls.append(env) or real(env))
    folder = SweepFolder(tmp_path / "sweep")
    grid = Grid.from_values({"rough_rate_max": [0.0, 0.2], "coupling": [0, 1], "seed": [0, 1], "timesteps": 400})
    folder.path.mkdir()
    folder.save_grid(grid)
    for k, planned in enumerate(grid.plan()):
        write_run(folder.run(planned.name), planned.config, [0.03 + 0.01 * k] * 4, 400.0 + k)
    _, found = collect(folder)
    assert len(found) == 8 and len(calls) == 2  # two games, eight runs
    by_game = {r.levels["rough_rate_max"]: r.values["signal_complexity"] for r in found}
    assert by_game[0.0] == 0.0 and by_game[0.2] > 0  # no rough ground: the scripted rule only hops
    assert sweep_cli.main(["report", str(folder.path)]) == 0
    text = (folder.path / SUMMARY_MD).read_text()
    assert "## signal complexity S (bits)" in text and f"| {by_game[0.2]:.3f} | 4 |" in text and "| 0.000 | 4 |" in text


def test_a_report_with_every_effect_cached_loads_no_torch(sweep_dir: Path) -> None:
    code = f"import sys, sweep; assert sweep.main(['report', {str(sweep_dir)!r}]) == 0; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "False"


def test_a_run_whose_effect_cannot_be_measured_is_named_and_keeps_empty_cells(sweep_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    broken = SweepFolder(copy).run("coupling=0_seed=2")
    broken.probe_set_path.write_bytes(b"a probe set")  # measurable now, but its final_model.zip is no model
    said: list[str] = []
    assert backfill_ablation(SweepFolder(copy), said.append) == 0
    assert any("warning" in line and "coupling=0_seed=2" in line for line in said)
    assert not broken.ablation_effect_path.exists()
