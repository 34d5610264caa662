"""The Ray backend on a local Ray instance: a tiny sweep (2 configs x 1 seed) runs as Ray tasks
into ordinary run folders, and the report follows. Skipped where Ray is not installed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("ray", reason='Ray is an optional extra: pip install -c constraints.txt -e ".[ray]"')

import sweep as sweep_cli  # noqa: E402
from sweeps.grid import SweepFolder  # noqa: E402
from sweeps.report import RESULTS_CSV  # noqa: E402

GRID = """
coupling = [0, 1]
seeds = 1
timesteps = 4096
n_games = 2
checkpoint_every = 2048
max_steps = 50
net_arch = [8, 8]
probe_per_scenario = 20
probe_permutations = 5
probe_null_draws = 2
"""


def test_a_tiny_sweep_runs_as_ray_tasks(tmp_path: Path) -> None:
    (tmp_path / "grid.toml").write_text(GRID)
    folder = SweepFolder(tmp_path / "sweep")
    command = ["--grid", str(tmp_path / "grid.toml"), "--sweep-dir", str(folder.path), "--backend", "ray",
               "--workers", "2", "--no-progress"]  # fmt: skip
    assert sweep_cli.main(command) == 0
    for name in ("coupling=0_seed=0", "coupling=1_seed=0"):
        assert folder.status(name) == "done"
        assert folder.run(name).checkpoint_path(4096).is_file()
    with open(folder.path / RESULTS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["run"], r["status"], r["steps"]) for r in rows] == [
        ("coupling=0_seed=0", "done", "4096"), ("coupling=1_seed=0", "done", "4096"),
    ]  # fmt: skip
    assert sweep_cli.main(command) == 0  # again: both finished, nothing to run
