"""Resolving what ``evaluate.py`` was given (experiment.resolve.resolve_run) and where it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiment.config import TrainConfig
from experiment.resolve import resolve_run
from experiment.run_folder import EvalFiles, RunError
from frogtoad_env.config import EnvConfig


def _write_config(folder: Path, **env: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(TrainConfig(seed=3, env=EnvConfig(**env)).to_json())


def test_paths_that_are_not_runs_are_run_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="does not exist"):
        resolve_run(tmp_path / "nope")
    with pytest.raises(RunError, match="not a run folder: it has no config.json"):
        resolve_run(tmp_path)
    _write_config(tmp_path / "run")
    with pytest.raises(RunError, match="no final_model.zip"):
        resolve_run(tmp_path / "run")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(RunError, match="neither a run folder nor a model"):
        resolve_run(tmp_path / "notes.txt")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="cannot read .*config.json"):
        resolve_run(tmp_path / "bad")
    (tmp_path / "badenv").mkdir()
    (tmp_path / "badenv" / "config.json").write_text(json.dumps({"env": {"width": 3}}))
    (tmp_path / "badenv" / "final_model.zip").write_bytes(b"x")
    with pytest.raises(RunError, match="width"):
        resolve_run(tmp_path / "badenv")


def test_final_model_else_latest_checkpoint_else_the_one_asked_for(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_config(run, max_steps=50, width=16)
    (run / "checkpoints").mkdir()
    for step in (100, 2000):
        (run / "checkpoints" / f"step_{step:012d}.zip").write_bytes(b"x")
    latest = resolve_run(run)
    assert latest.model_path.name == "step_000000002000.zip" and latest.checkpoint_step == 2000
    assert latest.config.env == EnvConfig(max_steps=50, width=16) and latest.config.seed == 3
    assert [s for s, _ in latest.checkpoints] == [100, 2000]
    (run / "final_model.zip").write_bytes(b"x")
    assert resolve_run(run).model_path.name == "final_model.zip"
    assert resolve_run(run).checkpoint_step is None
    assert resolve_run(run, "100").checkpoint_step == 100
    assert resolve_run(run, "checkpoints/step_000000000100.zip").checkpoint_step == 100
    with pytest.raises(RunError, match="no checkpoint at step 7"):
        resolve_run(run, 7)


def test_a_lone_model_takes_the_config_of_its_run_folder_or_the_defaults(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_config(run, width=16)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_000000000100.zip").write_bytes(b"x")
    inside = resolve_run(run / "checkpoints" / "step_000000000100.zip")
    assert inside.run is not None and inside.run.path == run.resolve() and inside.config.env.width == 16
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "m.zip").write_bytes(b"x")
    bare = resolve_run(other / "m.zip")
    assert bare.run is None and bare.config == TrainConfig()
    assert any("default config" in n for n in bare.notes)
    with pytest.raises(RunError, match="--checkpoint needs a run folder"):
        resolve_run(other / "m.zip", 100)


def test_default_eval_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_config(run)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_000000000100.zip").write_bytes(b"x")
    (run / "final_model.zip").write_bytes(b"x")
    assert resolve_run(run).default_eval_dir == run / "eval"
    assert resolve_run(run, "100").default_eval_dir == run / "eval" / "step_000000000100"
    (tmp_path / "m.zip").write_bytes(b"x")
    assert resolve_run(tmp_path / "m.zip").default_eval_dir == tmp_path / "m_eval"


def test_eval_file_names() -> None:
    files = EvalFiles(Path("out"))
    assert files / EvalFiles.REPORT_MD == Path("out/report.md")
    assert EvalFiles.neurons_png("pi.0") == "neurons_pi.0.png"
    assert EvalFiles.candidates_csv("coupled") == "candidates_coupled.csv"
    assert EvalFiles.neurons_png("a/b c") == "neurons_a_b_c.png"  # never a path separator or a space
