"""``method`` as a sweep factor: supervised runs planned, run and skipped like PPO ones."""

from __future__ import annotations

from pathlib import Path

import pytest

import sweep as sweep_cli
from experiment.config import TrainConfig
from frogtoad_env.config import EnvConfig
from supervised.config import SupervisedConfig
from sweeps.grid import STATUS_DONE, Grid, SweepFolder


def test_a_method_grid_gives_each_run_its_methods_config_with_the_factors_it_has() -> None:
    grid = Grid.from_values({"method": ["ppo", "supervised"], "net_arch": [17, 17], "learning_rate": 1e-3,
                             "timesteps": 4096, "max_steps": 200, "epochs": 3, "seed": [0]})  # fmt: skip
    planned = {run.name: run.config for run in grid.plan()}
    assert planned == {
        "method=ppo_seed=0": TrainConfig(net_arch=(17, 17), learning_rate=1e-3, timesteps=4096, env=EnvConfig(max_steps=200)),
        "method=supervised_seed=0": SupervisedConfig(net_arch=(17, 17), learning_rate=1e-3, epochs=3, max_steps=200),
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"method": ["ppo", "supervised"], "dropout": [0.1, 0.2]}, "'dropout' varies, but method ppo has no dropout"),
        ({"method": ["ppo", "supervised"], "n_games": [8, 16]}, "'n_games' varies, but method supervised has no n_games"),
        ({"dropout": [0.1]}, "'dropout' is not a setting of method ppo"),
        ({"method": "supervised", "veil": [0.5]}, "'veil' is not a setting of method supervised"),
        ({"method": ["ppo", "rl"]}, "method must be one of"),
    ],
)
def test_a_factor_no_run_of_the_grid_takes_or_that_varies_for_one_method_only_is_refused(values, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Grid.from_values({**values, "seed": [0]})


def test_a_supervised_sweep_runs_through_sweep_py_and_a_rerun_skips_its_finished_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--method", "supervised", "--net-arch", "6", "--dataset-size", "2000", "--test-size", "500", "--epochs", "2",
             "--batch-size", "50", "--lr", "1e-2", "--seeds", "1", "--workers", "1", "--no-progress",
             "--sweep-dir", str(tmp_path / "sweep")]  # fmt: skip
    assert sweep_cli.main(flags) == 0
    folder = SweepFolder(tmp_path / "sweep")
    run = folder.run("seed=0")
    assert run.load_config(SupervisedConfig) == SupervisedConfig(
        net_arch=(6,), dataset_size=2000, test_size=500, epochs=2, batch_size=50, learning_rate=1e-2, seed=0
    )
    assert folder.status("seed=0") == STATUS_DONE and run.final_classifier.is_file()
    assert "seed=0: done" in capsys.readouterr().out
    assert sweep_cli.main(flags) == 0
    assert "seed=0: done" not in capsys.readouterr().out  # finished: not trained again
