"""Per-player episode figures reach TensorBoard once each, from our own training path.

Rules checked here (the training path needs no ``VecMonitor``; ``FrogToadVecEnv`` writes each
player's ``info["episode"]`` itself, see docs/libraries.md):

- every finished episode is counted once per *player*: ``2 * n_games`` episodes per round of
  games, never once per game and never twice;
- ``game/score`` at a rollout's end is the mean, over the episodes SB3 keeps (its last 100), of
  each player's own points in its episode, here summed by hand from the per-step rewards
  PPO is paid (``prosocial`` 0, so a reward is the player's points times ``reward_scale``);
- ``game/help_rate_partner_distressed`` is the mean over those episodes of (helps while the
  partner was distressed) / (steps the partner was distressed), counted by hand from the
  observation each player acted on and its action.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.training import EPISODE_TAGS, train
from experiment.config import TrainConfig
from experiment.run_folder import RunFolder
from frogtoad_env import core
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import egocentric_layout

MAX_STEPS = 10
N_GAMES = 2
#: one rollout of 10 steps per slot = one round of games: 4 player-episodes per rollout, 30
#: rollouts, so SB3's 100-episode window fills and slides
CONFIG = TrainConfig(
    timesteps=1200, n_games=N_GAMES, n_steps=MAX_STEPS, n_minibatches=1, n_epochs=1, checkpoint_every=1200, probe=False,
    net_arch=(8, 8), env=EnvConfig(max_steps=MAX_STEPS, width=32), seed=3,
)  # fmt: skip
SB3_EPISODE_BUFFER = 100  # SB3's ep_info_buffer length (stats_window_size)
PARTNER_DISTRESS = egocentric_layout(32)["other/distress"]


class HandCount(BaseCallback):
    """Counts every player's episodes from rewards, observations and actions, not from infos."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: deque[dict[str, float]] = deque(maxlen=SB3_EPISODE_BUFFER)
        self.episodes_finished = 0
        self.expected_at_rollout_end: list[tuple[int, dict[str, float]]] = []

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self.points = np.zeros(n)
        self.distressed_steps = np.zeros(n)
        self.helps_when_distressed = np.zeros(n)

    def _on_step(self) -> bool:
        seen = np.asarray(self.model._last_obs)  # what each slot acted on (SB3 updates it after this hook)
        actions = np.asarray(self.locals["actions"]).reshape(-1)
        partner_distressed = seen[:, PARTNER_DISTRESS][:, 0] == 1.0
        self.points += np.asarray(self.locals["rewards"]) / CONFIG.reward_scale
        self.distressed_steps += partner_distressed
        self.helps_when_distressed += partner_distressed & (actions == core.HELP)
        for slot in np.flatnonzero(self.locals["dones"]):
            rate = self.helps_when_distressed[slot] / self.distressed_steps[slot] if self.distressed_steps[slot] else math.nan
            self.finished.append({"score": self.points[slot], "help_rate_partner_distressed": rate})
            self.episodes_finished += 1
            self.points[slot] = self.distressed_steps[slot] = self.helps_when_distressed[slot] = 0
        return True

    def _on_rollout_end(self) -> None:
        rates = np.array([e["help_rate_partner_distressed"] for e in self.finished])
        expected = {
            "score": float(np.mean([e["score"] for e in self.finished])),
            "help_rate_partner_distressed": float(np.nanmean(rates)) if np.isfinite(rates).any() else math.nan,
        }
        self.expected_at_rollout_end.append((self.model.num_timesteps, expected))


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[HandCount, Any, dict[str, dict[int, float]]]:
    run = RunFolder(tmp_path_factory.mktemp("logging") / "run")
    counter = HandCount()
    result = train(CONFIG, run.path, progress_bar=False, callbacks=[counter])
    events = EventAccumulator(str(run.tb_dir))
    events.Reload()
    scalars = {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}
    return counter, result, scalars


def test_each_player_episode_is_counted_once(logged) -> None:
    counter, result, _ = logged
    rounds = result.num_timesteps // (2 * N_GAMES * MAX_STEPS)
    assert counter.episodes_finished == 2 * N_GAMES * rounds
    assert len(result.model.ep_info_buffer) == min(2 * N_GAMES * rounds, SB3_EPISODE_BUFFER)


def test_logged_score_is_the_mean_of_each_players_own_points(logged) -> None:
    counter, _, scalars = logged
    logged_score = scalars[EPISODE_TAGS["score"]]
    assert len(counter.expected_at_rollout_end) >= 10
    for step, expected in counter.expected_at_rollout_end:
        assert logged_score[step] == pytest.approx(expected["score"], rel=1e-6), step


def test_logged_help_rate_with_the_partner_distressed_is_counted_per_player(logged) -> None:
    counter, _, scalars = logged
    logged_rate = scalars[EPISODE_TAGS["help_rate_partner_distressed"]]
    checked = 0
    for step, expected in counter.expected_at_rollout_end:
        if math.isfinite(expected["help_rate_partner_distressed"]):
            assert logged_rate[step] == pytest.approx(expected["help_rate_partner_distressed"], rel=1e-6), step
            checked += 1
    assert checked >= 5


def test_each_kept_episode_holds_its_own_players_figures(logged) -> None:
    """A mean over both players cannot tell a player's points from its partner's; the kept episodes can."""
    counter, result, _ = logged
    kept = list(result.model.ep_info_buffer)
    assert [e["score"] for e in kept] == [e["score"] for e in counter.finished]
    np.testing.assert_allclose(
        [e["help_rate_partner_distressed"] for e in kept],
        [e["help_rate_partner_distressed"] for e in counter.finished],
    )
