"""Tests of sweep.py: grid expansion and naming, bad input before any run, the sweep folder's
grid check and lock, and a real tiny sweep (a failed run recorded, a killed run resumed, a
finished one skipped)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import sweep as sweep_cli
from evaluation.ablation_effect import ABLATION_COLUMNS
from experiment.cmni_csv import read_cmni_csv
from experiment.run_folder import RunError
from sweeps.grid import GRID_FILE, Grid, SweepFolder
from sweeps.report import RESULTS_CSV, SUMMARY_MD

#: a tiny run: 2 games x 128 steps = 512 agent-steps per rollout, checkpoints at 1024 and 2048
TINY_TOML = """
seeds = 1
timesteps = 2048
n_games = 2
checkpoint_every = 1024
max_steps = 50
net_arch = [8, 8]
probe_per_scenario = 20
probe_permutations = 5
probe_null_draws = 2
"""


def test_grid_expands_every_combination_with_names_from_the_varying_factors() -> None:
    grid = Grid.from_values(
        {"coupling": [0, 0.5, 1], "net_arch": [[17, 17], [64, 64]], "seed": [0, 1], "timesteps": 1000}
    )
    runs = grid.plan()
    expected = {
        f"coupling={c}_net_arch={a}_seed={s}" for c in ("0", "0.5", "1") for a in ("17-17", "64-64") for s in (0, 1)
    }
    assert [r.name for r in runs][:2] == ["coupling=0_net_arch=17-17_seed=0", "coupling=0_net_arch=17-17_seed=1"]
    assert {r.name for r in runs} == expected and len(runs) == 12
    run = next(r for r in runs if r.name == "coupling=0.5_net_arch=64-64_seed=1")
    assert (run.config.coupling, run.config.net_arch, run.config.seed, run.config.timesteps) == (0.5, (64, 64), 1, 1000)
    assert grid.varying == ["coupling", "net_arch"]


def test_a_list_of_numbers_is_one_level_of_net_arch_and_env_keys_reach_the_env() -> None:
    runs = Grid.from_values({"net_arch": [17, 17], "veil": [0, 1], "seed": [3]}).plan()
    assert [r.name for r in runs] == ["veil=0_seed=3", "veil=1_seed=3"]
    assert [r.config.env.veil for r in runs] == [0.0, 1.0] and runs[0].config.net_arch == (17, 17)


def test_the_command_line_takes_comma_lists_and_space_separated_net_archs(tmp_path: Path) -> None:
    parser = sweep_cli.build_parser()
    given = vars(parser.parse_args(["--coupling", "0,0.5,1", "--net-arch", "17,17", "64,64", "--veil", "0", "1",
                                    "--seeds", "2", "--timesteps", "1_000_000"]))  # fmt: skip
    grid = sweep_cli.grid_from_args(given)
    assert grid.factors["coupling"] == (0.0, 0.5, 1.0) and grid.factors["net_arch"] == ((17, 17), (64, 64))
    assert grid.factors["veil"] == (0.0, 1.0) and grid.seeds == (0, 1) and grid.factors["timesteps"] == (1_000_000,)
    assert len(grid.plan()) == 24


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--coupling", "0,1", "--veil", "0,1.5"], "1.5"),  # out of range in some combinations only
        (["--coupling", "0,,1"], "'0,,1'"),  # an empty value
        (["--coupling", "0,0.5,0.50"], "0.5 twice"),
        (["--net-arch", "17,x"], "17,x"),
        (["--seeds", "2", "--seed", "1"], "--seeds"),
        (["--gamma", "0.9"], "--gamma"),  # not a train.py flag
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_input_exits_2_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      flags: list[str], named: str) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        sweep_cli.main([*flags, "--sweep-dir", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize(("toml", "named"), [("cuopling = [0, 1]", "'cuopling'"), ("coupling = []", "empty")])
def test_a_bad_grid_file_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, named: str
) -> None:
    (tmp_path / "grid.toml").write_text(toml)
    with pytest.raises(SystemExit) as exit_info:
        sweep_cli.main(["--grid", str(tmp_path / "grid.toml"), "--sweep-dir", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_a_folder_with_another_grid_exits_1_and_is_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = SweepFolder(tmp_path / "sweep")
    folder.path.mkdir()
    saved = Grid.from_values({"coupling": [0, 1], "seed": [0], "timesteps": 512, "n_games": 2}).to_json()
    folder.grid_path.write_text(saved)
    tiny = ["--timesteps", "512", "--n-envs", "2", "--no-progress"]  # should the check fail, the runs are short
    assert sweep_cli.main(["--coupling", "0,0.5", "--seeds", "1", *tiny, "--sweep-dir", str(folder.path)]) == 1
    error = capsys.readouterr().err
    assert "coupling: the folder has [0, 1], the command gives [0, 0.5]" in error
    assert folder.grid_path.read_text() == saved
    assert sorted(p.name for p in folder.path.iterdir() if p.name != ".sweep.lock") == [GRID_FILE]


def test_a_second_sweep_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    folder = SweepFolder(tmp_path / "sweep")
    with folder.lock():
        with pytest.raises(RunError, match="another sweep"):
            with SweepFolder(tmp_path / "sweep").lock():
                pass
    with folder.lock():  # released when the first sweep ends
        pass


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sweep_cli.main(["--coupling", "0,1", "--seeds", "2", "--timesteps", "350000", "--workers", "2",
                           "--dry-run", "--sweep-dir", str(tmp_path / "sweep")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "coupling=1_seed=1" in out and "4 to run on 2 worker(s)" in out
    assert not (tmp_path / "sweep").exists()


def read_results(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / RESULTS_CSV, newline="") as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


def check_tensorboard(tb_dir: Path) -> None:
    """The run's factors in the HParams tab, the CMNI layout, and band edges at mean -/+ 2 sd."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tb_dir)).Reload()
    plugins = {tag: meta.plugin_data.plugin_name for tag, meta in events.summary_metadata.items()}
    assert plugins["_hparams_/session_start_info"] == "hparams" and "custom_scalars" in plugins.values()
    tags = ("cmni/null_untrained", "cmni/null_untrained_sd", "cmni/null_untrained_low", "cmni/null_untrained_high")
    last = {tag: events.Scalars(tag)[-1].value for tag in tags}
    mean, sd = last["cmni/null_untrained"], last["cmni/null_untrained_sd"]
    assert last["cmni/null_untrained_low"] == pytest.approx(mean - 2 * sd, rel=1e-5)
    assert last["cmni/null_untrained_high"] == pytest.approx(mean + 2 * sd, rel=1e-5)


def test_a_failed_run_is_recorded_the_others_finish_and_a_killed_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("the failing run asks for CUDA, which this machine has")
    (tmp_path / "grid.toml").write_text(TINY_TOML + 'device = ["cpu", "cuda"]\n')
    command = [
        "--grid",
        str(tmp_path / "grid.toml"),
        "--sweep-dir",
        str(tmp_path / "sweep"),
        "--workers",
        "2",
        "--no-progress",
    ]
    assert sweep_cli.main(command) == 1  # one run failed
    assert "measuring the mirror-ablation effect" not in capsys.readouterr().out  # the worker did, not the report
    folder = SweepFolder(tmp_path / "sweep")
    assert folder.status("device=cpu_seed=0") == "done" and folder.status("device=cuda_seed=0") == "failed"
    assert "cuda" in folder.failure("device=cuda_seed=0") and "\n" not in folder.failure("device=cuda_seed=0").strip()
    results = read_results(folder.path)
    assert (
        results["device=cuda_seed=0"]["status"] == "failed"
        and "not available" in results["device=cuda_seed=0"]["error"]
    )
    assert results["device=cpu_seed=0"]["status"] == "done" and results["device=cpu_seed=0"]["steps"] == "2048"
    assert (folder.path / SUMMARY_MD).is_file()
    check_tensorboard(folder.run("device=cpu_seed=0").tb_dir)

    # kill -9 after the first checkpoint: only checkpoints/step_1024 and the config are left
    run = folder.run("device=cpu_seed=0")
    run.final_model.unlink()
    run.checkpoint_path(2048).unlink()
    first = run.checkpoint_path(1024).read_bytes()
    assert folder.status("device=cpu_seed=0") == "partial"
    assert sweep_cli.main(command) == 1
    assert folder.status("device=cpu_seed=0") == "done" and run.checkpoint_path(2048).is_file()
    assert run.checkpoint_path(1024).read_bytes() == first  # resumed from it, not started over

    # a finished run is skipped: nothing in its folder changes
    before = {p: p.stat().st_mtime_ns for p in run.path.rglob("*") if p.is_file()}
    assert sweep_cli.main(command) == 1
    assert {p: p.stat().st_mtime_ns for p in run.path.rglob("*") if p.is_file()} == before
    assert json.loads(folder.grid_path.read_text())["factors"]["device"] == ["cpu", "cuda"]

    # the worker measured the finished run's mirror-ablation effect; the report measures it where it is missing
    effect = [column for column, _ in ABLATION_COLUMNS]
    measured = read_results(folder.path)["device=cpu_seed=0"]
    assert float(measured["ablation_units"]) == read_cmni_csv(run.cmni_csv).rows[-1]["candidates"] > 0
    assert measured["ablation_d_help"] != "" and measured["ablation_help_percentile"] != ""
    assert read_results(folder.path)["device=cuda_seed=0"]["ablation_units"] == ""  # a failed run has none
    run.ablation_effect_path.unlink()
    assert sweep_cli.main(["report", str(folder.path), "--no-backfill"]) == 0
    assert {read_results(folder.path)["device=cpu_seed=0"][c] for c in effect} == {""}
    assert sweep_cli.main(["report", str(folder.path)]) == 0
    again = read_results(folder.path)["device=cpu_seed=0"]
    assert {c: again[c] for c in effect} == {c: measured[c] for c in effect}  # the same seeded games
