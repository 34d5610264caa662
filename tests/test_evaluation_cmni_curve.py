"""The CMNI curve read from a run folder (evaluation.cmni_curve): rows, skipped rows, the null band."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.cmni_curve import curve_from_rows, null_band, read_curve
from experiment.cmni_csv import cmni_csv_columns, cmni_csv_row, write_cmni_csv
from experiment.run_folder import RunError, RunFolder

# 41 evenly spaced null values 0, 1, ..., 40: with linear interpolation the q-quantile is 40 * q,
# so the central 95 % band is [1, 39].
NULL_0_TO_40 = np.arange(41.0)


def _row(step: int, cmni: float, score: float) -> dict[str, float]:
    return cmni_csv_row(step, cmni, {"l": cmni}, 1, {"l": 1}, p_value=0.5, z_score=1.0, null_untrained=0.01,
                        null_untrained_sd=0.001, excess_cmni=cmni - 0.01, z_untrained=(cmni - 0.01) / 0.001,
                        candidates_null_mean=1.0, candidates_null_sd=0.5, null_permutation_mean=0.02, overlap={},
                        mean_episode_score=score)  # fmt: skip


def _run(tmp_path: Path, rows: list[dict[str, float]]) -> RunFolder:
    run = RunFolder(tmp_path)
    write_cmni_csv(run.cmni_csv, cmni_csv_columns(["l"], egocentric=False), rows)
    return run


def test_null_band_is_the_central_95_percent() -> None:
    assert null_band(NULL_0_TO_40) == (1.0, 39.0)
    assert null_band(NULL_0_TO_40[::-1]) == (1.0, 39.0)  # order does not matter


def test_band_from_the_callbacks_statistics_files(tmp_path: Path) -> None:
    run = _run(tmp_path, [_row(20, 0.3, 2.0), _row(10, 0.1, 1.0)])
    run.stats_dir.mkdir()
    np.savez(run.stats_path(10), null_permutation=NULL_0_TO_40)  # step 20 has no file
    curve, skipped = read_curve(run)
    assert skipped == [] and curve.source == "cmni.csv" and curve.layers == ("l",)
    assert curve.steps.tolist() == [10, 20] and curve.cmni.tolist() == [0.1, 0.3]
    assert curve.columns["null_permutation_low"][0] == 1.0 and curve.columns["null_permutation_high"][0] == 39.0
    assert math.isnan(curve.columns["null_permutation_low"][1]) and math.isnan(curve.columns["null_permutation_high"][1])


def test_unreadable_rows_are_left_out_and_named(tmp_path: Path) -> None:
    run = _run(tmp_path, [_row(10, 0.1, 1.0), _row(20, 0.3, 2.0), _row(30, 0.2, 3.0)])
    lines = run.cmni_csv.read_text().splitlines()
    lines[2] = lines[2].replace("0.3", "x")
    run.cmni_csv.write_text("\n".join(lines) + "\n")
    curve, skipped = read_curve(run)
    assert curve.steps.tolist() == [10, 30]
    assert len(skipped) == 1 and skipped[0].startswith("cmni.csv line 3: ")


def test_missing_file_is_a_run_error(tmp_path: Path) -> None:
    with pytest.raises(RunError):
        read_curve(RunFolder(tmp_path))


def test_summary_peak_first_and_last() -> None:
    curve = curve_from_rows([_row(30, 0.2, 3.0), _row(10, 0.1, 1.0), _row(20, 0.3, 2.0)], "test")
    s = curve.summary()
    assert (s["first_step"], s["last_step"], s["n_probes"]) == (10, 30, 3)
    assert (s["peak_step"], s["peak_cmni"], s["first_cmni"], s["last_cmni"]) == (20, 0.3, 0.1, 0.2)
    assert s["last_mean_episode_score"] == 3.0 and s["null_untrained"] == 0.01
    assert curve_from_rows([], "none").summary() == {"source": "none", "n_probes": 0}
