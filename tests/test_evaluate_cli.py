"""End to end: ``python evaluate.py`` on a tiny seeded run (seconds of training).

The run and its evaluation are also compared with the numbers that the code before the
evaluation was split into ``evaluation/`` produced on the same seed: the same checkpoints,
the same ``cmni.csv`` and the same artefacts (see "pinned numbers" at the end).
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import evaluate
from agents.training import train
from experiment.config import TrainConfig
from frogtoad_env.config import EnvConfig

MAX_STEPS = 60
ROOT = Path(__file__).resolve().parents[1]
#: the evaluation whose numbers are pinned below
REPORT_ARGS = ["--episodes", "4", "--permutations", "50", "--threshold", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6144 agent-steps (three PPO updates) with a checkpoint and a CMNI probe every 2048 steps."""
    config = TrainConfig(
        timesteps=6144,
        n_games=8,
        n_steps=128,
        net_arch=(16, 8),
        learning_rate=1e-3,  # the pinned numbers below were recorded at this (the former default) rate
        reward_scale=1.0,  # and with unscaled rewards (the former default)
        checkpoint_every=2048,
        probe_per_scenario=40,
        probe_permutations=20,
        env=EnvConfig(max_steps=MAX_STEPS),
    )
    run = tmp_path_factory.mktemp("evaluate") / "run"
    train(config, run, progress_bar=False)
    assert (run / "final_model.zip").is_file() and (run / "cmni.csv").is_file()
    return run


@pytest.fixture(scope="module")
def report_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "eval"
    assert evaluate.main([str(run_dir), *REPORT_ARGS, "--out", str(out), "--quiet"]) == 0
    return out


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = evaluate.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _strict_json(path: Path) -> dict:
    def reject(name: str) -> None:
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(), parse_constant=reject)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- the report's content


def test_full_report_writes_every_artefact(run_dir: Path, report_dir: Path) -> None:
    layers = ["coupled", "pi.0"]
    expected = ["cmni_over_training.png", "cmni_over_training.csv", "circuits.png", "circuits.csv", "behaviour.csv",
                "metrics.json", "report.md", "replay.txt", "replay.gif"]  # fmt: skip
    expected += [f"neurons_{layer}.png" for layer in layers] + [f"candidates_{layer}.csv" for layer in layers]
    for name in expected:
        assert (report_dir / name).is_file() and (report_dir / name).stat().st_size > 0, name

    m = _strict_json(report_dir / "metrics.json")
    assert sorted(m["files"]) == sorted(expected)
    agent = m["behaviour"]["agent"]
    assert agent["score_ci_low"] <= agent["score_mean"] <= agent["score_ci_high"]
    assert agent["n_episodes"] == 4 and agent["count_steps"] == 4 * MAX_STEPS
    assert m["behaviour"]["scripted"]["score_mean"] > m["behaviour"]["random"]["score_mean"]

    ck = m["cmni"]["checkpoint"]
    assert 0 < ck["p_value"] <= 1 and ck["n_permutations"] == 50
    curve = m["cmni"]["curve"]
    assert curve["source"] == "cmni.csv" and curve["n_probes"] == len(_read_csv(run_dir / "cmni.csv"))
    for layer in layers:
        info = m["neurons"][layer]
        assert info["n_candidates"] == len(info["candidates"]) == ck["candidates_per_layer"][layer]
        assert [int(r["unit"]) for r in _read_csv(report_dir / f"candidates_{layer}.csv")] == info["candidates"]
    assert set(m["circuits"]["counts"]) == {"self-preservation", "tactical help", "empathy", "mirror help", "other"}
    assert len(m["circuits"]["paths"]) == m["circuits"]["n_paths"] == len(_read_csv(report_dir / "circuits.csv"))

    report = (report_dir / "report.md").read_text()
    assert f"{ck['cmni']:.5f}" in report and "## Circuits" in report and "replay.gif" in report
    assert f"{agent['score_mean']:.1f}" in report
    with Image.open(report_dir / "replay.gif") as gif:
        assert gif.n_frames == MAX_STEPS + 1
    assert (report_dir / "replay.txt").read_text().count("-- step ") == MAX_STEPS
    assert len(_read_csv(report_dir / "behaviour.csv")) == 4


def test_empty_candidate_table_still_has_its_header(report_dir: Path) -> None:
    header = (report_dir / "candidates_pi.0.csv").read_text().splitlines()
    assert len(header) == 1 and header[0].startswith("layer,unit,delta_self,delta_other,mns,both_none_ratio,mean_none,")


# --------------------------------------------------------------------------- the same numbers as before the split


def _fingerprint(model_zip: Path) -> tuple[float, float, float]:
    with zipfile.ZipFile(model_zip) as archive:
        state = torch.load(io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True)
    flat = np.concatenate([state[k].numpy().astype(np.float64).ravel() for k in sorted(state)])
    weights = np.random.default_rng(0).standard_normal(flat.size)
    return float(flat.sum()), float((flat**2).sum()), float(flat @ weights)


def test_same_seed_gives_the_pinned_checkpoints_and_cmni_csv(run_dir: Path) -> None:
    """Fingerprints compare with a relative tolerance (see the pinned numbers), so that another
    CPU's last-bit float differences pass while any change to training does not."""
    models = sorted((run_dir / "checkpoints").glob("*.zip")) + [run_dir / "final_model.zip"]
    assert {p.name: _fingerprint(p) for p in models} == {
        name: pytest.approx(values, rel=1e-6) for name, values in CHECKPOINT_FINGERPRINTS.items()
    }
    rows = [tuple(float(r[c]) for c in CMNI_CSV_COLUMNS) for r in _read_csv(run_dir / "cmni.csv")]
    assert rows == [pytest.approx(row, rel=1e-5) for row in CMNI_CSV_ROWS]


def test_same_run_gives_the_pinned_report(report_dir: Path) -> None:
    rows = _read_csv(report_dir / "behaviour.csv")
    behaviour = {r["label"]: tuple(float(r[c]) for c in BEHAVIOUR_COLUMNS) for r in rows}
    assert behaviour == {label: pytest.approx(row, rel=1e-9, nan_ok=True) for label, row in BEHAVIOUR_ROWS.items()}

    m = _strict_json(report_dir / "metrics.json")
    ck = m["cmni"]["checkpoint"]
    assert {k: ck[k] for k in CHECKPOINT_CMNI} == pytest.approx(CHECKPOINT_CMNI, rel=1e-5)
    neurons = {layer: {k: info[k] for k in ("candidates", "partner_specific")} for layer, info in m["neurons"].items()}
    assert neurons == NEURONS
    curve = m["cmni"]["curve"]
    assert {k: curve[k] for k in CURVE} == pytest.approx(CURVE, rel=1e-5)
    for name, expected in CANDIDATES.items():
        rows = [(int(r["unit"]), float(r["mns"]), float(r["both_none_ratio"])) for r in _read_csv(report_dir / name)]
        assert rows == [pytest.approx(row, rel=1e-5) for row in expected]
    assert [(r["path"], r["kind"]) for r in _read_csv(report_dir / "circuits.csv")] == CIRCUIT_PATHS
    assert m["circuits"]["paths_per_action"] == PATHS_PER_ACTION


# --------------------------------------------------------------------------- choosing the model


def test_checkpoint_step_partner_and_default_out(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main([str(run_dir), "--checkpoint", "2048", "--partner", "scripted", "--episodes", "2",
                          "--permutations", "20", "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    m = _strict_json(run_dir / "eval" / "step_000000002048" / "metrics.json")
    assert m["run"]["checkpoint_step"] == 2048 and m["run"]["model_path"].endswith("step_000000002048.zip")
    assert m["settings"]["partner"] == "scripted"
    assert m["behaviour"]["partner"]["policy"] == "scripted"


def test_lone_checkpoint_and_recomputed_curve(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a checkpoint inside the run: the config comes from the run folder
    ckpt = run_dir / "checkpoints" / "step_000000004096.zip"
    out = tmp_path / "ck"
    args = [str(ckpt), "--episodes", "2", "--permutations", "20", "--out", str(out), "--recompute-cmni", "--quiet"]
    code, _, err = _main(args, capsys)
    assert code == 0, err
    m = _strict_json(out / "metrics.json")
    assert m["run"]["env_config"]["max_steps"] == MAX_STEPS and m["run"]["checkpoint_step"] == 4096
    assert m["cmni"]["curve"]["source"] == "recomputed"
    assert m["cmni"]["curve"]["n_probes"] == len(list((run_dir / "checkpoints").glob("step_*.zip")))

    # a lone model with no config.json anywhere: defaults, said so
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(run_dir / "final_model.zip", lone / "model.zip")
    code, stdout, err = _main([str(lone / "model.zip"), "--episodes", "1", "--permutations", "10"], capsys)
    assert code == 0, err
    assert "default config" in stdout
    m = _strict_json(lone / "model_eval" / "metrics.json")
    assert m["run"]["env_config"] == EnvConfig().to_dict() and m["run"]["train_config"] is None
    assert any("default config" in n for n in m["notes"])
    assert m["cmni"]["curve"]["n_probes"] == 1


def test_unreadable_cmni_csv_rows_are_left_out_with_a_warning(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("eval"))
    lines = (run / "cmni.csv").read_text().splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join([cells[0], "abc", *cells[2:]])  # the 4096 row: a non-numeric CMNI
    lines[3] = ",".join(lines[3].split(",")[:5])  # the 6144 row: truncated
    (run / "cmni.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval"
    code, _, err = _main([str(run), "--episodes", "1", "--permutations", "5", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("evaluate.py: warning: cmni.csv line ") for w in warnings), err
    assert "line 3" in warnings[0] and "line 4" in warnings[1]
    m = _strict_json(out / "metrics.json")
    assert m["cmni"]["curve"]["n_probes"] == 1 and m["cmni"]["curve"]["last_step"] == 2048
    assert sum("cmni.csv line" in n for n in m["notes"]) == 2
    assert "cmni.csv line 3" in (out / "report.md").read_text()


def test_recomputed_curve_matches_callback(run_dir: Path) -> None:
    """The recomputed CMNI of a checkpoint equals the callback's row at that step."""
    from agents.checkpoints import load_ppo
    from cmni.probe_set import ProbeSet
    from evaluation.cmni_curve import read_curve, recompute_curve
    from experiment.resolve import resolve_run

    resolved = resolve_run(run_dir)
    assert resolved.run is not None
    logged, skipped = read_curve(resolved.run)
    assert skipped == []
    step, path = resolved.checkpoints[-1]
    curve = recompute_curve([(step, path)], ProbeSet.load(run_dir / "probe_set.npz"),
                            lambda p: load_ppo(p, env_config=resolved.config.env), n_permutations=5,
                            untrained_seed=resolved.config.seed)  # fmt: skip
    i = int(np.flatnonzero(logged.steps == step)[0])
    assert curve.cmni[0] == pytest.approx(logged.cmni[i], rel=1e-5, abs=1e-9)
    assert curve.columns["null_untrained"][0] == pytest.approx(logged.columns["null_untrained"][i], rel=1e-5, abs=1e-9)


# --------------------------------------------------------------------------- bad input


def _assert_one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("evaluate.py: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_a_run_that_cannot_be_evaluated_exits_1_with_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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

    code, _, err = _main([str(run_dir), "--checkpoint", "999"], capsys)
    _assert_one_line_error(code, err, "no checkpoint at step 999")

    (tmp_path / "file").write_text("x")
    code, _, err = _main([str(run_dir), "--episodes", "1", "--out", str(tmp_path / "file")], capsys)
    _assert_one_line_error(code, err, "is not a folder")


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--episodes", "0"), ("--seed", "-1"), ("--permutations", "0"), ("--threshold", "0"), ("--threshold", "nan"),
     ("--partner", "nobody"), ("--threads", "0")],  # fmt: skip
)
def test_bad_flag_exits_2_naming_it(run_dir: Path, flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main([str(run_dir), flag, value])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"evaluate.py: error: {flag}: ") and value in last, last


def test_cli_exit_code_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), str(tmp_path / "nope")], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"evaluate.py: error: {str(tmp_path / 'nope')!r} does not exist"]


# --------------------------------------------------------------------------- pinned numbers
# Written by the code before the split (main at da4d6ae: agents/report.py, agents/evaluation.py,
# cmni/analysis.py) for the run and REPORT_ARGS above, on Python 3.11 with constraints.txt. The
# checkpoints and cmni.csv also match commit 044139a (before the run folder got one owner) within
# 1e-6, except null_untrained, which became the mean of 10 untrained networks in da4d6ae. The score
# intervals then came from a hand-written t quantile; scipy's differs in the 16th digit.
# Tolerances: 1e-6 for parameters, 1e-5 for the CMNI (a difference of means, so last-bit float
# differences on another CPU grow), 1e-9 for the behaviour rows.

#: Checkpoint -> (sum, sum of squares, dot with a fixed N(0, 1) vector) of every policy parameter.
#: step 6144 equals 4096: the linear learning-rate schedule is 0 at the last update.
CHECKPOINT_FINGERPRINTS = {
    "step_000000002048.zip": (-42.61859849031316, 320.85811403015305, -4.84772618039613),
    "step_000000004096.zip": (-39.373179193760734, 321.1823914663413, -4.531449873375503),
    "step_000000006144.zip": (-39.373179193760734, 321.1823914663413, -4.531449873375503),
    "final_model.zip": (-39.373179193760734, 321.1823914663413, -4.531449873375503),
}
CMNI_CSV_COLUMNS = ("step", "cmni_total", "candidates", "p_value", "z_score", "null_untrained", "null_untrained_sd",
                    "null_permutation_mean", "overlap_all", "mean_episode_score")  # fmt: skip
CMNI_CSV_ROWS = [
    (2048, 0.0006421946066742142, 1, 1.0, -2.499271484741986, 0.03806960875744153, 0.029728444086368887,
     0.018048353141136127, 0.2943721403232356, 14.53125),
    (4096, 0.0008481089200358857, 1, 1.0, -2.390186638692347, 0.03806960875744153, 0.029728444086368887,
     0.01817404183766181, 0.29269652169797794, 15.109375),
    (6144, 0.0008481089200358857, 1, 1.0, -2.390186638692347, 0.03806960875744153, 0.029728444086368887,
     0.01817404183766181, 0.29269652169797794, 15.864583333333334),
]
BEHAVIOUR_COLUMNS = ("score_mean", "score_ci_low", "score_ci_high", "help_rate_partner_distressed",
                     "help_rate_partner_ok", "leap_rate_rough_ahead", "count_steps", "count_helps",
                     "count_partner_distressed_steps", "count_helps_partner_distressed", "count_rough_ahead_steps",
                     "count_leaps_on_rough_ahead")  # fmt: skip
BEHAVIOUR_ROWS = {
    "trained (with self)": (60.0, 60.0, 60.0, 0.0, 0.0, 0.0, 240, 0, 22, 0, 24, 0),
    "trained (partner)": (60.0, 60.0, 60.0, 0.0, 0.0, 0.0, 240, 0, 23, 0, 24, 0),
    "scripted (both seats)": (58.25, 55.86316527103722, 60.63683472896278, math.nan, 0.0, 1.0, 480, 0, 0, 0, 14, 14),
    "random (both seats)": (13.375, 10.302180953813467, 16.44781904618653, 0.35714285714285715, 0.23819742489270387,
             0.28, 480, 116, 14, 5, 50, 14),
}
CHECKPOINT_CMNI = {
    "cmni": 0.0008481089200358857,
    "null_untrained": 0.00016350958321709186,
    "null_permutation_mean": 0.01699082566625657,
    "p_value": 1.0,
    "z_score": -2.2270925853767096,
    "n_candidates": 1,
}
NEURONS = {
    "coupled": {"candidates": [7], "partner_specific": [0, 4, 9, 13, 14]},
    "pi.0": {"candidates": [], "partner_specific": [6]},
}
CURVE = {
    "n_probes": 3,
    "peak_step": 4096,
    "peak_cmni": 0.0008481089200358857,
    "last_cmni": 0.0008481089200358857,
    "null_untrained": 0.03806960875744153,
    "last_mean_episode_score": 15.864583333333334,
}
#: file -> (unit, MNS, both/none ratio) per mirror candidate
CANDIDATES = {
    "candidates_coupled.csv": [(7, 0.020354614080861255, 1.5517713565945257)],
    "candidates_pi.0.csv": [],
}
CIRCUIT_PATHS = [
    ("coupled[4] -> pi.0[3] -> help (z -1.3, 1.3)", "empathy"),
    ("coupled[0] -> pi.0[0] -> help (z -1.9, -1.3)", "empathy"),
    ("coupled[13] -> pi.0[0] -> help (z 2.4, -1.3)", "empathy"),
    ("coupled[7] -> pi.0[0] -> help (z 1.4, -1.3)", "empathy"),
    ("coupled[14] -> pi.0[5] -> help (z 1.8, -1.2)", "tactical help"),
    ("coupled[4] -> pi.0[5] -> help (z -1.4, -1.2)", "tactical help"),
    ("coupled[7] -> pi.0[3] -> help (z 1.2, 1.3)", "empathy"),
    ("coupled[13] -> pi.0[2] -> help (z -1.5, 1.2)", "tactical help"),
    ("coupled[4] -> pi.0[2] -> help (z 1.5, 1.2)", "tactical help"),
    ("coupled[9] -> pi.0[2] -> help (z -1.2, 1.2)", "tactical help"),
    ("coupled[14] -> pi.0[2] -> help (z -1.0, 1.2)", "tactical help"),
    ("coupled[4] -> pi.0[3] -> leap (z -1.3, 1.0)", "other"),
    ("coupled[7] -> pi.0[3] -> leap (z 1.2, 1.0)", "self-preservation"),
]
PATHS_PER_ACTION = {"hop": 17, "jump": 6, "leap": 2, "help": 11}
