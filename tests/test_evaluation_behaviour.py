"""Rollouts, counted behaviour and run resolution of agents/evaluation.py (no training needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from agents.evaluation import (
    EvaluationError,
    ObservationPolicy,
    RandomPolicy,
    ScriptedPolicy,
    load_policy_model,
    make_partner,
    mean_ci,
    play_episodes,
    policy_weight_chain,
    resolve_run,
    t_quantile,
)
from frogtoad_env.config import EnvConfig
from frogtoad_env.core import HELP, HOP
from frogtoad_env.observations import egocentric_layout

CONFIG = EnvConfig(max_steps=200)


def always_help(obs: np.ndarray) -> np.ndarray:
    return np.full(obs.shape[0], HELP, dtype=np.int64)


def help_when_partner_distressed(obs: np.ndarray) -> np.ndarray:
    distress = obs[:, egocentric_layout(CONFIG.width)["other/distress"]][:, 0] > 0.5
    return np.where(distress, HELP, HOP).astype(np.int64)


def test_always_help_has_help_rate_one_in_both_conditions() -> None:
    batch = play_episodes(ObservationPolicy(always_help, "helper"), RandomPolicy(1), CONFIG, 6, seed=3)
    agent = batch.summary(("agent",))
    c = agent.counts
    assert c["steps"] == 6 * 200 and c["helps"] == c["steps"]
    assert c["partner_distressed_steps"] > 0 and c["steps"] - c["partner_distressed_steps"] > 0
    assert agent.help_rate == 1.0
    assert agent.help_rate_partner_distressed == 1.0
    assert agent.help_rate_partner_ok == 1.0
    assert agent.help_ratio == 1.0


def test_help_exactly_when_partner_distressed() -> None:
    batch = play_episodes(ObservationPolicy(help_when_partner_distressed, "conditional"), RandomPolicy(2), CONFIG, 6, seed=4)
    agent = batch.summary(("agent",))
    c = agent.counts
    assert c["partner_distressed_steps"] > 0
    assert c["helps"] == c["helps_partner_distressed"] == c["partner_distressed_steps"]
    assert c["helps_partner_ok"] == 0
    assert agent.help_rate_partner_distressed == 1.0
    assert agent.help_rate_partner_ok == 0.0
    assert agent.help_ratio == math.inf
    assert agent.help_rate == pytest.approx(c["partner_distressed_steps"] / c["steps"])
    row = agent.as_dict()
    assert row["count_helps_partner_distressed"] == c["helps_partner_distressed"]


def test_never_helping_partner_and_pooled_rows() -> None:
    batch = play_episodes(ScriptedPolicy(), ObservationPolicy(always_help, "helper"), CONFIG, 4, seed=0)
    partner = batch.summary(("partner",))
    assert partner.help_rate == 1.0
    both = batch.summary()
    assert both.counts["steps"] == 2 * 4 * 200
    assert both.counts["helps"] == batch.counts["helps"].sum()
    assert both.score_mean == pytest.approx(batch.scores.mean())


def test_seeded_and_seats_alternate() -> None:
    a = play_episodes(ScriptedPolicy(), RandomPolicy(5), CONFIG, 5, seed=9)
    b = play_episodes(ScriptedPolicy(), RandomPolicy(5), CONFIG, 5, seed=9)
    assert np.array_equal(a.scores, b.scores)
    assert a.agent_seat.tolist() == [0, 1, 0, 1, 0]
    c = play_episodes(ScriptedPolicy(), RandomPolicy(5), CONFIG, 5, seed=10)
    assert not np.array_equal(a.scores, c.scores)
    fixed = play_episodes(ScriptedPolicy(), RandomPolicy(5), CONFIG, 3, seed=9, alternate_seats=False)
    assert fixed.agent_seat.tolist() == [0, 0, 0]


def test_scripted_beats_random_and_replay() -> None:
    scripted = ScriptedPolicy()
    s = play_episodes(scripted, scripted, CONFIG, 4, seed=0, record_replay=True)
    rnd = RandomPolicy(0)
    r = play_episodes(rnd, rnd, CONFIG, 4, seed=0)
    assert s.scores.mean() > 1.5 * r.scores.mean()
    assert s.summary().leap_rate_rough_ahead > r.summary().leap_rate_rough_ahead
    replay = s.replay
    assert replay is not None and len(replay.ansi) == len(replay.frames) == 201
    assert replay.actions.shape == (200, 2)
    assert replay.frames[0].dtype == np.uint8 and replay.frames[0].shape == (40, 256, 3)


def test_bad_policy_output_is_reported() -> None:
    with pytest.raises(ValueError, match="outside"):
        play_episodes(ObservationPolicy(lambda o: np.full(o.shape[0], 7), "bad"), RandomPolicy(0), CONFIG, 2)


def test_t_quantile_and_ci() -> None:
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-3)
    assert t_quantile(0.975, 10) == pytest.approx(2.2281, abs=1e-4)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.95996, abs=1e-4)
    mean, low, high = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    s = np.std([1, 2, 3, 4], ddof=1)
    assert mean == 2.5
    assert high - mean == pytest.approx(3.18245 * s / 2, abs=1e-4)
    assert mean - low == pytest.approx(high - mean)
    m1, l1, h1 = mean_ci(np.array([5.0]))
    assert m1 == 5.0 and math.isnan(l1) and math.isnan(h1)


# --------------------------------------------------------------------------- run resolution


def _write_config(folder: Path, env: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"seed": 3, "env": env or {}}))


def test_resolve_errors(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="does not exist"):
        resolve_run(tmp_path / "nope")
    with pytest.raises(EvaluationError, match="no config.json"):
        resolve_run(tmp_path)
    _write_config(tmp_path / "run")
    with pytest.raises(EvaluationError, match="no final_model.zip"):
        resolve_run(tmp_path / "run")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(EvaluationError, match="neither a run folder nor a model"):
        resolve_run(tmp_path / "notes.txt")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(EvaluationError, match="cannot read"):
        resolve_run(tmp_path / "bad")
    _write_config(tmp_path / "badenv", {"width": 3})
    (tmp_path / "badenv" / "final_model.zip").write_bytes(b"x")
    with pytest.raises(EvaluationError, match="invalid env config"):
        resolve_run(tmp_path / "badenv")


def test_resolve_picks_models(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_config(run, {"max_steps": 50, "width": 16})
    (run / "checkpoints").mkdir()
    for step in (100, 2000):
        (run / "checkpoints" / f"step_{step:012d}.zip").write_bytes(b"x")
    spec = resolve_run(run)
    assert spec.model_path.name == "step_000000002000.zip" and spec.checkpoint_step == 2000
    assert spec.env_config == EnvConfig(max_steps=50, width=16) and spec.seed == 3
    assert [s for s, _ in spec.checkpoints] == [100, 2000]
    (run / "final_model.zip").write_bytes(b"x")
    assert resolve_run(run).model_path.name == "final_model.zip"
    assert resolve_run(run).checkpoint_step is None
    assert resolve_run(run, "100").checkpoint_step == 100
    assert resolve_run(run, "checkpoints/step_000000000100.zip").checkpoint_step == 100
    with pytest.raises(EvaluationError, match="no checkpoint at step 7"):
        resolve_run(run, 7)
    lone = resolve_run(run / "checkpoints" / "step_000000000100.zip")
    assert lone.run_dir == run.resolve() and lone.env_config.width == 16
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "m.zip").write_bytes(b"x")
    bare = resolve_run(other / "m.zip")
    assert bare.run_dir is None and bare.env_config == EnvConfig()
    assert any("default env config" in n for n in bare.notes)

    from agents.report import default_out_dir

    assert default_out_dir(resolve_run(run)) == run / "eval"
    assert default_out_dir(resolve_run(run, "100")) == run / "eval" / "step_000000000100"
    assert default_out_dir(bare) == other / "m_eval"


def test_load_errors(tmp_path: Path) -> None:
    (tmp_path / "m.zip").write_bytes(b"not a zip")
    with pytest.raises(EvaluationError, match="cannot load model"):
        load_policy_model(tmp_path / "m.zip", EnvConfig())
    with pytest.raises(EvaluationError, match="--partner"):
        make_partner("friendly", ScriptedPolicy(), EnvConfig())


def test_policy_weight_chain_matches_the_network() -> None:
    from stable_baselines3 import PPO

    from agents.coupled import coupled_policy_kwargs
    from agents.vec_env import FrogToadVecEnv

    model = PPO("MlpPolicy", FrogToadVecEnv(1, EnvConfig()), n_steps=8, batch_size=8,
                policy_kwargs=coupled_policy_kwargs(0.5, (12, 6, 5)), device="cpu")  # fmt: skip
    names, weights = policy_weight_chain(model.policy)
    assert names == ["coupled", "pi.0", "pi.1"]
    assert [w.shape for w in weights] == [(6, 12), (5, 6), (4, 5)]
    assert np.array_equal(weights[-1], model.policy.action_net.weight.detach().numpy())
