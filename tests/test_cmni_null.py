"""The untrained-network null is a distribution of K initialisations, and a trained
network's CMNI is read as its excess over that null's mean, in units of its sd."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cmni.metric import compute_cmni
from cmni.probe import UntrainedNull, untrained_null
from cmni.probe_set import build_probe_set
from cmni.recorder import record_activations, untrained_copy
from frogtoad_env.config import EnvConfig


def null_of(values: list[float], candidates: list[float]) -> UntrainedNull:
    return UntrainedNull(np.array(values), np.array(candidates), first=None, first_recorded=None)  # type: ignore[arg-type]


def test_excess_and_z_by_hand() -> None:
    null = null_of([0.1, 0.2, 0.3], [30, 40, 50])
    # mean 0.2; sample sd sqrt(((-.1)^2 + 0 + .1^2) / 2) = 0.1
    assert null.mean == pytest.approx(0.2) and null.sd == pytest.approx(0.1)
    excess, z = null.excess(0.5)
    assert excess == pytest.approx(0.3) and z == pytest.approx(3.0)
    assert null.candidates_mean == pytest.approx(40) and null.candidates_sd == pytest.approx(10)


def test_a_trained_value_below_the_null_has_negative_excess() -> None:
    excess, z = null_of([0.4, 0.6], [1, 1]).excess(0.3)
    # mean 0.5, sd sqrt((0.01 + 0.01) / 1) = 0.1414...
    assert excess == pytest.approx(-0.2) and z == pytest.approx(-0.2 / math.sqrt(0.02))


def test_one_draw_has_no_sd_and_no_z() -> None:
    null = null_of([0.25], [3])
    assert math.isnan(null.sd) and null.excess(0.5)[0] == pytest.approx(0.25) and math.isnan(null.excess(0.5)[1])


def test_the_null_draws_k_seeded_initialisations_of_the_same_network() -> None:
    from stable_baselines3 import PPO

    from agents.coupled import coupled_policy_kwargs
    from agents.vec_env import FrogToadVecEnv

    config = EnvConfig(max_steps=60)
    probe_set = build_probe_set(config, per_scenario=20, seed=0)
    model = PPO("MlpPolicy", FrogToadVecEnv(2, config, seed=0), policy_kwargs=coupled_policy_kwargs(0.5, (8, 8)), seed=0)
    null = untrained_null(model.policy, probe_set, seed=7, n_draws=3)
    expected = [compute_cmni(record_activations(untrained_copy(model.policy, 7 + i), probe_set.observations).layers,
                             probe_set.scenarios).cmni for i in range(3)]  # fmt: skip
    np.testing.assert_allclose(null.cmni, expected, rtol=1e-12)
    assert len(set(np.round(null.cmni, 12))) == 3  # three different initialisations
