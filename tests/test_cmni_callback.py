"""Rules for cmni.callback: when it probes, what it writes (CSV, per-step .npz, TensorBoard),
how it resumes, and that probing does not change training."""

from __future__ import annotations

import csv
import glob
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from tensorboard.backend.event_processing import event_accumulator

import frogtoad_env  # noqa: F401  (registers FrogToad-v0)
from cmni import CMNICallback, ProbeSet
from frogtoad_env.config import EnvConfig

CFG = EnvConfig(max_steps=100)
N_ENVS, N_STEPS = 3, 64  # num_timesteps moves in steps of 3; one rollout = 192 steps
PROBE_EVERY = 256


def _model(cfg: EnvConfig, tb_dir: Path | None, seed: int = 0) -> PPO:
    env = make_vec_env(
        "FrogToad-v0",
        n_envs=N_ENVS,
        seed=seed,
        env_kwargs=cfg.to_dict(),
        monitor_kwargs=dict(info_keywords=("score",)),
    )
    return PPO(
        "MlpPolicy", env, n_steps=N_STEPS, batch_size=96, n_epochs=1, seed=seed, device="cpu",
        tensorboard_log=None if tb_dir is None else str(tb_dir),
    )  # fmt: skip


def _callback(run_dir: Path, cfg: EnvConfig = CFG, **kwargs) -> CMNICallback:
    return CMNICallback(run_dir, cfg, probe_every=PROBE_EVERY, per_scenario=50, n_permutations=20, **kwargs)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _events(tb_dir: Path) -> event_accumulator.EventAccumulator:
    (run,) = glob.glob(str(tb_dir / "PPO_*"))
    acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, PPO, CMNICallback]:
    """One short run: 1152 steps (6 rollouts of 192). Probes run at rollout starts, after the
    update: at 384 (first start past 256), 576 (past 512), 768, and at the end, 1152."""
    root = tmp_path_factory.mktemp("cmni_run")
    torch.set_num_threads(1)
    model = _model(CFG, root / "tb")
    callback = _callback(root / "run", save_activations=True)
    model.learn(1024, callback=callback)
    return root / "run", root / "tb", model, callback


EXPECTED_STEPS = [384, 576, 768, 1152]


def test_probes_at_each_crossed_multiple_and_at_the_end(trained) -> None:
    run_dir, _, model, callback = trained
    assert model.num_timesteps == 1152
    rows = _rows(run_dir / "cmni.csv")
    assert [int(r["step"]) for r in rows] == EXPECTED_STEPS
    assert [int(r["step"]) for r in callback.history] == EXPECTED_STEPS


def test_csv_columns_and_values(trained) -> None:
    run_dir, _, _, callback = trained
    with open(run_dir / "cmni.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "step", "cmni_total", "cmni_pi.0", "cmni_pi.1", "candidates", "candidates_pi.0", "candidates_pi.1",
        "p_value", "z_score", "null_untrained", "null_untrained_sd", "excess_cmni", "z_untrained",
        "candidates_null_mean", "candidates_null_sd", "null_permutation_mean",
        "overlap_pi.0", "overlap_pi.1", "overlap_all", "mean_episode_score",
    ]  # fmt: skip
    with np.load(run_dir / "cmni" / "null_untrained.npz") as data:
        draws, draw_candidates = data["null_untrained_draws"], data["null_untrained_candidates"]
    assert draws.shape == draw_candidates.shape == (10,)  # ten untrained initialisations by default
    rows = _rows(run_dir / "cmni.csv")
    for row in rows:
        total = float(row["cmni_total"])
        assert total == pytest.approx((float(row["cmni_pi.0"]) + float(row["cmni_pi.1"])) / 2)  # 64 + 64 units
        assert int(row["candidates"]) == int(row["candidates_pi.0"]) + int(row["candidates_pi.1"])
        assert 1 / 21 <= float(row["p_value"]) <= 1.0
        assert float(row["null_untrained"]) == pytest.approx(draws.mean())
        assert float(row["null_untrained_sd"]) == pytest.approx(draws.std(ddof=1))
        assert float(row["excess_cmni"]) == pytest.approx(total - draws.mean())
        assert float(row["z_untrained"]) == pytest.approx((total - draws.mean()) / draws.std(ddof=1))
        assert float(row["candidates_null_mean"]) == pytest.approx(draw_candidates.mean())
        assert 0.0 <= float(row["overlap_all"]) <= 2.0
    assert float(rows[-1]["mean_episode_score"]) > 0  # info["score"] of finished episodes


def test_per_step_npz_statistics(trained) -> None:
    run_dir, _, _, callback = trained
    files = sorted(p.name for p in (run_dir / "cmni").glob("step_*.npz"))
    assert files == [f"step_{s:012d}.npz" for s in EXPECTED_STEPS]
    assert (run_dir / "cmni" / "null_untrained.npz").exists()
    ps = ProbeSet.load(run_dir / "probe_set.npz")
    with np.load(run_dir / "cmni" / "step_000000001152.npz") as data:
        assert list(data["layer_names"]) == ["pi.0", "pi.1"]
        assert data["mean"].shape == data["variance"].shape == data["skewness"].shape == (4, 128)
        assert data["kurtosis"].shape == (4, 128) and data["mns"].shape == (128,)
        assert data["candidate_mask"].dtype == bool
        assert data["logits_mean"].shape == (4, 4)
        np.testing.assert_allclose(data["action_prob_mean"].sum(axis=1), 1.0)
        assert float(data["cmni"]) == pytest.approx(callback.last_result.cmni)
        assert data["null_permutation"].shape == (20,)
        # raw activations were asked for: the stored statistics follow from them
        act = np.concatenate([data["act_pi.0"], data["act_pi.1"]], axis=1).astype(np.float64)
        np.testing.assert_array_equal(data["scenarios"], ps.scenarios)
        mu = np.stack([act[ps.scenarios == s].mean(axis=0) for s in range(4)])
        np.testing.assert_allclose(data["mean"], mu, rtol=1e-9, atol=1e-12)
        d_self, d_other = mu[1] - mu[0], mu[2] - mu[0]
        mns = np.where((d_self > 0) & (d_other > 0), np.minimum(d_self, d_other), 0.0)
        np.testing.assert_allclose(data["mns"], mns, atol=1e-12)
        assert float(data["cmni"]) == pytest.approx(mns.mean())


def test_tensorboard_has_cmni_scalars_and_histograms(trained) -> None:
    run_dir, tb_dir, _, _ = trained
    acc = _events(tb_dir)
    scalars = set(acc.Tags()["scalars"])
    for tag in (
        "cmni/total", "cmni/pi.0", "cmni/pi.1", "cmni/null_untrained", "cmni/null_permutation_mean",
        "cmni/p_value", "cmni/z_score", "cmni/candidates", "cmni/candidates_pi.0", "cmni/overlap_pi.0",
        "cmni/overlap_all", "cmni/mean_pi.0_none", "cmni/mean_pi.1_both",
    ):  # fmt: skip
        assert tag in scalars, tag
    total = acc.Scalars("cmni/total")
    assert [e.step for e in total] == EXPECTED_STEPS
    csv_total = [float(r["cmni_total"]) for r in _rows(run_dir / "cmni.csv")]
    np.testing.assert_allclose([e.value for e in total], csv_total, rtol=1e-5)
    histograms = set(acc.Tags()["histograms"])
    assert {"cmni/mns_hist", "cmni/mns_hist_pi.0", "cmni/mns_hist_pi.1"} <= histograms
    assert [e.step for e in acc.Histograms("cmni/mns_hist")] == EXPECTED_STEPS
    assert acc.Histograms("cmni/mns_hist")[0].histogram_value.num == 128


def test_training_log_is_not_disturbed(trained) -> None:
    """The trainer's own values are still dumped at rollout ends, not at probe steps."""
    _, tb_dir, _, _ = trained
    acc = _events(tb_dir)
    loss_steps = [e.step for e in acc.Scalars("train/loss")]
    assert loss_steps == [2 * 192, 3 * 192, 4 * 192, 5 * 192, 6 * 192]


def test_resume_reuses_the_probe_set_and_appends(trained, tmp_path: Path) -> None:
    run_dir, tb_dir, model, _ = trained
    probe_bytes = (run_dir / "probe_set.npz").read_bytes()
    callback = _callback(run_dir)
    model.learn(384, callback=callback, reset_num_timesteps=False)  # 1152 -> 1536; rollout starts 1152, 1344
    assert (run_dir / "probe_set.npz").read_bytes() == probe_bytes
    text = (run_dir / "cmni.csv").read_text()
    assert text.count("step,cmni_total") == 1
    assert [int(r["step"]) for r in _rows(run_dir / "cmni.csv")] == EXPECTED_STEPS + [1344, 1536]


def test_resume_from_an_older_checkpoint_drops_the_rows_past_it(trained, tmp_path: Path) -> None:
    """A run killed without a final checkpoint resumes earlier: rows no checkpoint holds go."""
    run_dir = tmp_path / "run"
    shutil.copytree(trained[0], run_dir)
    rows_before = [int(r["step"]) for r in _rows(run_dir / "cmni.csv")]
    assert 768 in rows_before and 1152 in rows_before
    model = _model(CFG, None)
    model.num_timesteps = 576  # as if loaded from checkpoint step 576
    model.learn(192, callback=_callback(run_dir), reset_num_timesteps=False)  # 576 -> 768, end probe at 768
    assert [int(r["step"]) for r in _rows(run_dir / "cmni.csv")] == [384, 576, 768]


def test_resume_with_another_env_config_is_refused(trained) -> None:
    run_dir, _, _, _ = trained
    model = _model(CFG, None)
    with pytest.raises(ValueError, match="env config"):
        model.learn(10, callback=_callback(run_dir, EnvConfig(max_steps=100, veil=0.5)))


def test_paper_mode_run_has_no_overlap_columns(tmp_path: Path) -> None:
    cfg = EnvConfig(obs_mode="paper", max_steps=100)
    model = _model(cfg, None)
    callback = CMNICallback(tmp_path / "run", cfg, probe_every=192, per_scenario=30, n_permutations=5)
    model.learn(192, callback=callback)
    rows = _rows(tmp_path / "run" / "cmni.csv")
    assert [int(r["step"]) for r in rows] == [192]
    assert math.isnan(float(rows[0]["mean_episode_score"]))  # 64 steps per env: no 100-step episode ended
    assert not any(c.startswith("overlap") for c in rows[0])
    assert ProbeSet.load(tmp_path / "run" / "probe_set.npz").swapped_observations is None


def test_probing_does_not_change_training(tmp_path: Path) -> None:
    plain = _model(CFG, None, seed=5)
    plain.learn(384)
    probed = _model(CFG, None, seed=5)
    probed.learn(384, callback=CMNICallback(tmp_path, CFG, probe_every=100, per_scenario=30, n_permutations=5))
    a, b = plain.policy.state_dict(), probed.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_on_step_returns_true_and_arguments_are_validated(tmp_path: Path) -> None:
    callback = _callback(tmp_path)
    callback._next_probe = 10**9
    assert callback._on_step() is True
    for bad in (dict(probe_every=0), dict(per_scenario=0), dict(n_permutations=0), dict(seed=-1)):
        kwargs = dict(probe_every=10, **{k: v for k, v in bad.items() if k != "probe_every"})
        if "probe_every" in bad:
            kwargs["probe_every"] = bad["probe_every"]
        with pytest.raises(ValueError):
            CMNICallback(tmp_path, CFG, **kwargs)
    with pytest.raises(ValueError):
        CMNICallback(tmp_path, {"width": 32}, probe_every=10)  # type: ignore[arg-type]


def test_probe_runs_with_one_blas_thread_and_restores_the_setting(tmp_path: Path, monkeypatch) -> None:
    from threadpoolctl import threadpool_info

    def get_threads() -> int:
        return min(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")

    import cmni.probe as probe_module

    seen: list[int] = []
    real = probe_module.compute_cmni

    def spy(*args, **kwargs):
        seen.append(get_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(probe_module, "compute_cmni", spy)  # the untrained-network null and each probe
    before = get_threads()
    model = _model(CFG, None)
    model.learn(192, callback=CMNICallback(tmp_path, CFG, probe_every=100, per_scenario=30, n_permutations=5, n_null_draws=2))
    assert len(seen) == 3  # two untrained draws and the end probe at 192 (one rollout: no start past 100)
    assert set(seen) == {1}
    assert get_threads() == before
