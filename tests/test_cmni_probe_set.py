"""Rules for cmni.probe_set: balanced, truthfully labelled, reproducible, safely stored."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cmni.probe_set import ProbeSet, build_probe_set
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import egocentric_layout, observation_space, swap_self_other

CFG = EnvConfig()


@pytest.fixture(scope="module")
def probe() -> ProbeSet:
    return build_probe_set(CFG, per_scenario=200, seed=3)


def test_balanced_exactly_per_scenario_with_documented_shapes(probe: ProbeSet) -> None:
    assert probe.observations.shape == (800, observation_space("egocentric", 32).shape[0])
    assert probe.observations.dtype == np.float32
    assert probe.scenarios.dtype == np.int64 and probe.players.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(probe.scenarios, minlength=4), [200, 200, 200, 200])
    assert probe.per_scenario == 200 and probe.n_states == 800
    assert set(np.unique(probe.players)) == {0, 1}
    assert probe.env_config == CFG.to_dict() and probe.seed == 3
    assert ((probe.episode_steps >= 1) & (probe.episode_steps <= CFG.max_steps)).all()


def test_labels_match_the_observed_distress_fields_without_veil(probe: ProbeSet) -> None:
    layout = egocentric_layout(CFG.width)
    self_d = probe.observations[:, layout["self/distress"]][:, 0]
    other_d = probe.observations[:, layout["other/distress"]][:, 0]
    # the rules' four scenarios, written out: row = self distressed, column = partner distressed
    scenario_by_distress = np.array([[0, 2], [1, 3]])  # [[none, other], [self, both]]
    np.testing.assert_array_equal(scenario_by_distress[self_d.astype(int), other_d.astype(int)], probe.scenarios)
    # distress means "landed on rough or stalled": a stalled self is always distressed
    stalled = probe.observations[:, layout["self/stalled"]][:, 0] == 1
    assert (probe.scenarios[stalled] % 2 == 1).all()


def test_with_full_veil_labels_stay_true_while_blocks_may_be_swapped() -> None:
    cfg = EnvConfig(veil=1.0)
    ps = build_probe_set(cfg, per_scenario=100, seed=0)
    layout = egocentric_layout(cfg.width)
    shown = np.stack(
        [ps.observations[:, layout["self/distress"]][:, 0], ps.observations[:, layout["other/distress"]][:, 0]], 1
    ).astype(np.int64)
    truth = np.stack([ps.scenarios % 2, ps.scenarios // 2], 1)
    np.testing.assert_array_equal(np.sort(shown, axis=1), np.sort(truth, axis=1))  # the same pair, some order
    asymmetric = truth[:, 0] != truth[:, 1]
    swapped_shown = (shown != truth).any(axis=1) & asymmetric
    assert 0.3 < swapped_shown.sum() / asymmetric.sum() < 0.7  # about half are shown swapped


def test_swapped_observations_are_the_self_other_swap(probe: ProbeSet) -> None:
    assert probe.swapped_observations is not None
    np.testing.assert_array_equal(probe.swapped_observations, swap_self_other(probe.observations, CFG.width))
    layout = egocentric_layout(CFG.width)
    np.testing.assert_array_equal(
        probe.swapped_observations[:, layout["self"]], probe.observations[:, layout["other"]]
    )


def test_paper_mode_has_no_swapped_observations() -> None:
    cfg = EnvConfig(obs_mode="paper")
    ps = build_probe_set(cfg, per_scenario=50, seed=0)
    assert ps.swapped_observations is None
    assert ps.observations.shape == (200, 3 * cfg.width + 4)


def test_deterministic_per_seed() -> None:
    a = build_probe_set(CFG, per_scenario=100, seed=11)
    b = build_probe_set(CFG, per_scenario=100, seed=11)
    c = build_probe_set(CFG, per_scenario=100, seed=12)
    for field in ("observations", "scenarios", "players", "episode_steps"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.observations, c.observations)


def test_short_episodes_are_reset_after_max_steps() -> None:
    cfg = EnvConfig(max_steps=30)
    ps = build_probe_set(cfg, per_scenario=100, seed=0, n_games=64)
    assert ps.episode_steps.max() <= 30 and ps.episode_steps.min() >= 1


def test_states_come_from_every_phase_of_an_episode(probe: ProbeSet) -> None:
    """The rollout covers a whole episode, so late-episode states are probed too."""
    for scenario in range(4):
        steps = probe.episode_steps[probe.scenarios == scenario]
        assert (steps > CFG.max_steps // 2).any() and (steps <= CFG.max_steps // 2).any(), scenario


def test_unfillable_scenario_fails_with_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"both.*max_steps_rollout=5"):
        build_probe_set(CFG, per_scenario=1000, seed=0, max_steps_rollout=5)


@pytest.mark.parametrize(
    "kwargs",
    [dict(per_scenario=0), dict(n_games=0), dict(scripted_fraction=1.5), dict(seed=-1), dict(max_steps_rollout=0)],
)
def test_invalid_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        build_probe_set(CFG, **kwargs)


def test_save_load_round_trip_is_exact_and_atomic(probe: ProbeSet, tmp_path: Path) -> None:
    path = probe.save(tmp_path / "probe_set.npz")
    assert sorted(os.listdir(tmp_path)) == ["probe_set.npz"]  # no temporary file left behind
    loaded = ProbeSet.load(path)
    for field in ("observations", "swapped_observations", "scenarios", "players", "episode_steps"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(probe, field))
    assert loaded.env_config == probe.env_config and loaded.seed == probe.seed
    paper = build_probe_set(EnvConfig(obs_mode="paper"), per_scenario=20, seed=0)
    assert ProbeSet.load(paper.save(tmp_path / "paper.npz")).swapped_observations is None


def test_corrupt_or_mismatched_files_raise_value_error(probe: ProbeSet, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable"):
        ProbeSet.load(garbage)

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(probe.save(tmp_path / "good.npz").read_bytes()[:1000])
    with pytest.raises(ValueError, match="probe set file"):
        ProbeSet.load(truncated)

    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match="lacks the key"):
        ProbeSet.load(other)

    with np.load(tmp_path / "good.npz") as data:
        contents = {k: data[k] for k in data.files}
    unbalanced = dict(contents, scenarios=np.sort(np.roll(contents["scenarios"], 1)))
    unbalanced["scenarios"][0] = 3
    np.savez(tmp_path / "unbalanced.npz", **unbalanced)
    with pytest.raises(ValueError, match="balanced"):
        ProbeSet.load(tmp_path / "unbalanced.npz")

    wrong_width = dict(contents, env_config_json=np.asarray('{"width": 16}'))
    np.savez(tmp_path / "wrong_width.npz", **wrong_width)
    with pytest.raises(ValueError, match="float32 array"):
        ProbeSet.load(tmp_path / "wrong_width.npz")

    tampered = dict(contents, swapped_observations=contents["observations"])
    np.savez(tmp_path / "tampered.npz", **tampered)
    with pytest.raises(ValueError, match="swapped"):
        ProbeSet.load(tmp_path / "tampered.npz")

    with pytest.raises(FileNotFoundError):
        ProbeSet.load(tmp_path / "missing.npz")
