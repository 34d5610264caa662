"""The score interval (evaluation.statistics.mean_ci): Student t quantiles from printed tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.behaviour import BehaviourSummary
from evaluation.episodes import EpisodeBatch
from evaluation.statistics import mean_ci

# t quantiles from a printed table (two-sided 95 % and 90 %)
T_975_DF3 = 3.182446
T_975_DF1 = 12.706205
T_950_DF3 = 2.353363


def test_interval_is_mean_plus_minus_t_times_standard_error() -> None:
    s = math.sqrt(((1 - 2.5) ** 2 + (2 - 2.5) ** 2 + (3 - 2.5) ** 2 + (4 - 2.5) ** 2) / 3)  # sample std, 1.290994
    mean, low, high = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    assert mean == 2.5
    assert (low, high) == pytest.approx((2.5 - T_975_DF3 * s / 2, 2.5 + T_975_DF3 * s / 2), abs=1e-5)
    _, low90, high90 = mean_ci(np.array([1.0, 2.0, 3.0, 4.0]), confidence=0.9)
    assert high90 - 2.5 == pytest.approx(T_950_DF3 * s / 2, abs=1e-5)


def test_two_values_use_one_degree_of_freedom() -> None:
    mean, low, high = mean_ci(np.array([0.0, 2.0]))  # s = sqrt(2), standard error 1
    assert mean == 1.0 and high == pytest.approx(1.0 + T_975_DF1, abs=1e-5) and low == pytest.approx(1.0 - T_975_DF1, abs=1e-5)


def test_degenerate_samples() -> None:
    assert mean_ci(np.array([7.0, 7.0, 7.0])) == (7.0, 7.0, 7.0)  # no spread: a zero-width interval, not NaN
    one = mean_ci(np.array([5.0]))
    assert one[0] == 5.0 and math.isnan(one[1]) and math.isnan(one[2])
    assert all(math.isnan(v) for v in mean_ci(np.array([])))
    with pytest.raises(ValueError, match="confidence"):
        mean_ci(np.array([1.0, 2.0]), confidence=1.5)


def test_behaviour_row_pools_the_roles_it_names() -> None:
    scores = np.array([[1, 10], [2, 10], [3, 10], [4, 10]])
    counts = {"steps": np.full((4, 2), 5), "helps": np.array([[1, 0], [0, 0], [0, 0], [0, 5]])}
    batch = EpisodeBatch(("a", "b"), scores, counts, np.array([0, 1, 0, 1]), steps=5, seed=0)
    agent = BehaviourSummary.of(batch, ("agent",))
    s = math.sqrt(5 / 3)
    assert (agent.score_mean, agent.score_ci_low, agent.score_ci_high) == pytest.approx(
        (2.5, 2.5 - T_975_DF3 * s / 2, 2.5 + T_975_DF3 * s / 2), abs=1e-5
    )
    assert agent.counts == {"steps": 20, "helps": 1} and agent.label == "a (agent)" and agent.partner == "b"
    both = BehaviourSummary.of(batch)
    assert both.score_mean == pytest.approx((1 + 2 + 3 + 4 + 40) / 8)  # per episode: the mean of both players
    assert both.counts == {"steps": 40, "helps": 6} and both.policy == "a+b"
