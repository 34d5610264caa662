"""Seeded games and the behaviour table (evaluation.episodes, evaluation.behaviour, evaluation.partners); no training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.behaviour import BehaviourSummary
from evaluation.episodes import play_episodes
from evaluation.partners import ObservationPolicy, RandomPolicy, ScriptedPolicy, make_partner
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
    agent = BehaviourSummary.of(batch, ("agent",))
    c = agent.counts
    assert c["steps"] == 6 * 200 and c["helps"] == c["steps"]
    assert c["partner_distressed_steps"] > 0 and c["steps"] - c["partner_distressed_steps"] > 0
    assert agent.help_rate == 1.0
    assert agent.help_rate_partner_distressed == 1.0
    assert agent.help_rate_partner_ok == 1.0
    assert agent.help_ratio == 1.0


def test_help_exactly_when_partner_distressed() -> None:
    batch = play_episodes(ObservationPolicy(help_when_partner_distressed, "conditional"), RandomPolicy(2), CONFIG, 6, seed=4)
    agent = BehaviourSummary.of(batch, ("agent",))
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
    partner = BehaviourSummary.of(batch, ("partner",))
    assert partner.help_rate == 1.0
    both = BehaviourSummary.of(batch)
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
    assert BehaviourSummary.of(s).leap_rate_rough_ahead > BehaviourSummary.of(r).leap_rate_rough_ahead
    replay = s.replay
    assert replay is not None and len(replay.ansi) == len(replay.frames) == 201
    assert replay.actions.shape == (200, 2)
    assert replay.frames[0].dtype == np.uint8 and replay.frames[0].shape == (40, 256, 3)


def test_bad_policy_output_is_reported() -> None:
    with pytest.raises(ValueError, match="outside"):
        play_episodes(ObservationPolicy(lambda o: np.full(o.shape[0], 7), "bad"), RandomPolicy(0), CONFIG, 2)


def test_unknown_partner_is_a_value_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"partner must be one of \['self', 'scripted', 'random'\] or an existing model file, got 'friendly'"):
        make_partner("friendly", ScriptedPolicy(), CONFIG)


def test_partner_self_is_the_agent_and_named_partners_are_fresh_policies() -> None:
    agent = ScriptedPolicy()
    assert make_partner("self", agent, CONFIG) is agent
    assert isinstance(make_partner("scripted", agent, CONFIG), ScriptedPolicy)
    assert isinstance(make_partner("random", agent, CONFIG), RandomPolicy)


def test_model_partner_that_cannot_be_loaded_is_a_run_error(tmp_path: Path) -> None:
    from experiment.run_folder import RunError

    (tmp_path / "m.zip").write_bytes(b"not a zip")
    with pytest.raises(RunError, match="cannot load model"):
        make_partner(str(tmp_path / "m.zip"), ScriptedPolicy(), CONFIG)
