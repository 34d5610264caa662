"""End to end: ``python evaluate.py`` on a tiny trained run (seconds of training)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import evaluate
from agents.training import train
from experiment.config import TrainConfig
from frogtoad_env.config import EnvConfig

MAX_STEPS = 60
ROOT = Path(__file__).resolve().parents[1]


def _train_tiny(run_dir: Path) -> None:
    """A few thousand agent-steps with a checkpoint every 2048 steps and the CMNI callback."""
    config = TrainConfig(
        timesteps=6144,
        n_games=8,
        n_steps=128,
        net_arch=(16, 8),
        checkpoint_every=2048,
        probe_per_scenario=40,
        probe_permutations=20,
        env=EnvConfig(max_steps=MAX_STEPS),
    )
    train(config, run_dir, progress_bar=False)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("evaluate") / "run"
    _train_tiny(run)
    assert (run / "final_model.zip").is_file() and (run / "cmni.csv").is_file()
    return run


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = evaluate.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _strict_json(path: Path) -> dict:
    def reject(name: str) -> None:
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(), parse_constant=reject)


def test_full_report(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    code, stdout, err = _main([str(run_dir), "--episodes", "4", "--permutations", "50", "--out", str(out)], capsys)
    assert code == 0, err
    assert "wrote" in stdout and "CMNI" in stdout
    layers = ["coupled", "pi.0"]
    expected = ["cmni_over_training.png", "cmni_over_training.csv", "circuits.png", "circuits.csv", "behaviour.csv",
                "metrics.json", "report.md", "replay.txt", "replay.gif"]  # fmt: skip
    expected += [f"neurons_{layer}.png" for layer in layers] + [f"candidates_{layer}.csv" for layer in layers]
    for name in expected:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name

    m = _strict_json(out / "metrics.json")
    agent = m["behaviour"]["agent"]
    for key in ("score_mean", "score_ci_low", "score_ci_high", "help_rate", "help_rate_partner_distressed",
                "help_rate_partner_ok", "stalled_fraction", "leap_rate_rough_ahead"):  # fmt: skip
        assert key in agent
    assert agent["score_ci_low"] <= agent["score_mean"] <= agent["score_ci_high"]
    assert agent["n_episodes"] == 4 and agent["count_steps"] == 4 * MAX_STEPS
    distressed = agent["count_partner_distressed_steps"]
    if distressed:
        assert agent["help_rate_partner_distressed"] == pytest.approx(agent["count_helps_partner_distressed"] / distressed)
    for ref in ("scripted", "random", "partner"):
        assert m["behaviour"][ref]["score_mean"] is not None
    assert m["behaviour"]["scripted"]["score_mean"] > m["behaviour"]["random"]["score_mean"]

    ck = m["cmni"]["checkpoint"]
    for key in ("cmni", "null_untrained", "null_permutation_mean", "p_value", "z_score", "n_candidates", "per_layer"):
        assert key in ck
    assert 0 < ck["p_value"] <= 1 and ck["n_permutations"] == 50
    with open(run_dir / "cmni.csv") as handle:
        n_rows = sum(1 for _ in handle) - 1
    curve = m["cmni"]["curve"]
    assert curve["source"] == "cmni.csv" and curve["n_probes"] == len({r["step"] for r in csv.DictReader(open(run_dir / "cmni.csv"))})
    assert 1 <= curve["n_probes"] <= n_rows and curve["peak_cmni"] >= curve["last_cmni"]

    for layer in layers:
        info = m["neurons"][layer]
        assert info["n_candidates"] == len(info["candidates"]) == ck["candidates_per_layer"][layer]
        with open(out / f"candidates_{layer}.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert [int(r["unit"]) for r in rows] == info["candidates"]
        if rows:
            assert {"mean_both", "variance_self", "skewness_other", "kurtosis_none", "both_none_ratio"} <= set(rows[0])
    assert set(m["circuits"]["counts"]) == {"self-preservation", "tactical help", "empathy", "mirror help", "other"}
    assert len(m["circuits"]["paths"]) == m["circuits"]["n_paths"]
    assert set(m["circuits"]["paths_per_action"]) == {"hop", "jump", "leap", "help"}

    report = (out / "report.md").read_text()
    assert f"{ck['cmni']:.5f}" in report and "## Circuits" in report and "replay.gif" in report
    assert f"{agent['score_mean']:.1f}" in report
    with Image.open(out / "replay.gif") as gif:
        assert gif.n_frames == MAX_STEPS + 1
    assert (out / "replay.txt").read_text().count("-- step ") == MAX_STEPS
    with open(out / "behaviour.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 4


def test_checkpoint_step_partner_and_default_out(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main([str(run_dir), "--checkpoint", "2048", "--partner", "scripted", "--episodes", "2",
                          "--permutations", "20", "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    m = _strict_json(run_dir / "eval" / "step_000000002048" / "metrics.json")
    assert m["run"]["checkpoint_step"] == 2048 and m["run"]["model_path"].endswith("step_000000002048.zip")
    assert m["settings"]["partner"] == "scripted"
    assert m["behaviour"]["partner"]["policy"] == "scripted"


def test_lone_checkpoint_and_recomputed_curve(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a checkpoint inside the run: the env config comes from the run folder
    ckpt = run_dir / "checkpoints" / "step_000000004096.zip"
    out = tmp_path / "ck"
    code, _, err = _main([str(ckpt), "--episodes", "2", "--permutations", "20", "--out", str(out), "--recompute-cmni", "--quiet"], capsys)
    assert code == 0, err
    m = _strict_json(out / "metrics.json")
    assert m["run"]["env_config"]["max_steps"] == MAX_STEPS and m["run"]["checkpoint_step"] == 4096
    assert m["cmni"]["curve"]["source"] == "recomputed"
    assert m["cmni"]["curve"]["n_probes"] == len(list((run_dir / "checkpoints").glob("step_*.zip")))

    # a lone model with no config.json anywhere: defaults, said so
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(run_dir / "final_model.zip", lone / "model.zip")
    code, stdout, err = evaluate.main([str(lone / "model.zip"), "--episodes", "1", "--permutations", "10"]), *capsys.readouterr()
    assert code == 0, err
    assert "default env config" in stdout
    m = _strict_json(lone / "model_eval" / "metrics.json")
    assert m["run"]["env_config"] == EnvConfig().to_dict()
    assert any("default env config" in n for n in m["notes"])
    assert m["cmni"]["curve"]["n_probes"] == 1


def _assert_one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("evaluate.py: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_bad_inputs(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main([str(tmp_path / "missing")], capsys)
    _assert_one_line_error(code, err, "does not exist")

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _main([str(empty)], capsys)
    _assert_one_line_error(code, err, "not a run folder")

    no_model = tmp_path / "no_model"
    no_model.mkdir()
    shutil.copy(run_dir / "config.json", no_model / "config.json")
    code, _, err = _main([str(no_model)], capsys)
    _assert_one_line_error(code, err, "no final_model.zip")

    # a model trained at width 32 in a folder whose config says width 16
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    config = json.loads((run_dir / "config.json").read_text())
    config["env"]["width"] = 16
    (narrow / "config.json").write_text(json.dumps(config))
    shutil.copy(run_dir / "final_model.zip", narrow / "final_model.zip")
    code, _, err = _main([str(narrow), "--episodes", "1"], capsys)
    _assert_one_line_error(code, err, "expects observations of shape")

    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"this is not a zip file")
    code, _, err = _main([str(broken)], capsys)
    _assert_one_line_error(code, err, "cannot load model")

    code, _, err = _main([str(run_dir), "--partner", "nobody", "--out", str(tmp_path / "x")], capsys)
    _assert_one_line_error(code, err, "--partner")

    code, _, err = _main([str(run_dir), "--checkpoint", "999"], capsys)
    _assert_one_line_error(code, err, "no checkpoint at step 999")

    code, _, err = _main([str(run_dir), "--episodes", "0"], capsys)
    _assert_one_line_error(code, err, "episodes")


def test_cli_exit_code_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), str(tmp_path / "nope")], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"evaluate.py: error: {str(tmp_path / 'nope')!r} does not exist"]


def test_recomputed_curve_matches_callback(run_dir: Path) -> None:
    """The recomputed CMNI of a checkpoint equals the callback's row at that step."""
    from agents.evaluation import load_policy_model, resolve_run
    from cmni.analysis import read_cmni_csv, recompute_curve
    from cmni.probe_set import ProbeSet

    spec = resolve_run(run_dir)
    logged = read_cmni_csv(run_dir / "cmni.csv")
    step, path = spec.checkpoints[-1]
    curve = recompute_curve([(step, path)], ProbeSet.load(run_dir / "probe_set.npz"),
                            lambda p: load_policy_model(p, spec.env_config), n_permutations=5, untrained_seed=spec.seed)  # fmt: skip
    i = int(np.flatnonzero(logged.steps == step)[0])
    assert curve.cmni[0] == pytest.approx(logged.cmni[i], rel=1e-5, abs=1e-9)
    assert curve.columns["null_untrained"][0] == pytest.approx(logged.columns["null_untrained"][i], rel=1e-5, abs=1e-9)
