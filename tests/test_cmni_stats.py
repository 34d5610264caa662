"""Rules of the CMNI null: the label-permutation test."""

from __future__ import annotations

import numpy as np
import pytest

from cmni.metric import compute_cmni
from cmni.stats import PermutationResult, permutation_test

K = 199  # permutations: smallest attainable p-value is 1 / (K + 1) = 0.005


def balanced_scenarios(per_scenario: int) -> np.ndarray:
    """Codes 0, 1, 2, 3 each ``per_scenario`` times, interleaved: shape (4 * per_scenario,)."""
    return np.tile(np.arange(4), per_scenario)


def planted_probe(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """400 states x 16 neurons of unit noise; neurons 0-3 are mirror units that
    rise by 2 in scenarios self, other and both."""
    rng = np.random.default_rng(seed)
    scenarios = balanced_scenarios(100)
    acts = rng.normal(size=(400, 16))
    acts[scenarios > 0, :4] += 2.0
    return acts, scenarios


def noise_probe(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """400 states x 16 neurons of unit noise, unrelated to the scenarios."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(400, 16)), balanced_scenarios(100)


# --------------------------------------------------------------------------- #
# Permutation test
# --------------------------------------------------------------------------- #


def test_planted_mirror_signal_is_significant() -> None:
    acts, scenarios = planted_probe()
    result = permutation_test(acts, scenarios, n_permutations=K, seed=0)
    assert isinstance(result, PermutationResult)
    assert result.p_value <= 2.0 / (K + 1)
    assert result.z_score > 10.0
    assert result.observed > result.null_cmni.max()


def test_pure_noise_is_not_significant() -> None:
    acts, scenarios = noise_probe(seed=1)
    result = permutation_test(acts, scenarios, n_permutations=K, seed=0)
    assert result.p_value > 0.05
    assert abs(result.z_score) < 3.0


def test_observed_is_the_cmni_with_true_labels() -> None:
    acts, scenarios = planted_probe()
    result = permutation_test(acts, scenarios, n_permutations=20, seed=0)
    assert result.observed == compute_cmni(acts, scenarios).cmni


def test_null_values_are_cmni_of_seeded_label_shuffles() -> None:
    acts, scenarios = noise_probe(seed=2)
    result = permutation_test(acts, scenarios, n_permutations=5, seed=11)
    rng = np.random.default_rng(11)
    for k in range(5):
        shuffled = rng.permutation(scenarios)
        assert result.null_cmni[k] == pytest.approx(compute_cmni(acts, shuffled).cmni, rel=1e-10)


def test_p_value_and_z_score_formulas() -> None:
    acts, scenarios = noise_probe(seed=3)
    result = permutation_test(acts, scenarios, n_permutations=50, seed=4)
    null = result.null_cmni
    assert null.shape == (50,)
    assert result.n_permutations == 50
    assert result.seed == 4
    assert result.p_value == pytest.approx((1 + np.sum(null >= result.observed)) / 51)
    assert result.null_mean == pytest.approx(null.mean())
    assert result.null_std == pytest.approx(null.std())
    assert result.z_score == pytest.approx((result.observed - null.mean()) / null.std())


def test_same_seed_same_result_and_other_seed_other_null() -> None:
    acts, scenarios = noise_probe(seed=5)
    first = permutation_test(acts, scenarios, n_permutations=30, seed=7)
    again = permutation_test(acts, scenarios, n_permutations=30, seed=7)
    other = permutation_test(acts, scenarios, n_permutations=30, seed=8)
    np.testing.assert_array_equal(first.null_cmni, again.null_cmni)
    assert first.p_value == again.p_value
    assert not np.array_equal(first.null_cmni, other.null_cmni)


def test_permutations_spanning_several_chunks_are_all_filled() -> None:
    acts, scenarios = noise_probe(seed=6)
    result = permutation_test(acts, scenarios, n_permutations=150, seed=0)
    assert result.null_cmni.shape == (150,)
    assert np.isfinite(result.null_cmni).all()
    assert len(np.unique(result.null_cmni)) > 100  # not a repeated block


def test_constant_activations_give_p_one_and_zero_z() -> None:
    acts = np.ones((40, 3))
    result = permutation_test(acts, balanced_scenarios(10), n_permutations=19, seed=0)
    assert result.observed == 0.0
    assert result.null_std == 0.0
    assert result.z_score == 0.0  # documented convention when the null has no spread
    assert result.p_value == 1.0


def test_permutation_accepts_layer_mapping() -> None:
    acts, scenarios = planted_probe()
    whole = permutation_test(acts, scenarios, n_permutations=30, seed=1)
    split = permutation_test({"a": acts[:, :5], "b": acts[:, 5:]}, scenarios, 30, seed=1)
    np.testing.assert_allclose(split.null_cmni, whole.null_cmni, rtol=1e-10)
    assert split.observed == pytest.approx(whole.observed, rel=1e-12)


def test_permutation_validates_inputs() -> None:
    acts, scenarios = noise_probe()
    with pytest.raises(ValueError, match=r"n_permutations must be an integer >= 1"):
        permutation_test(acts, scenarios, n_permutations=0)
    with pytest.raises(ValueError, match=r"scenario 2 \('other'\) has no states"):
        permutation_test(acts, np.where(scenarios == 2, 3, scenarios))
    with pytest.raises(ValueError, match=r"non-finite"):
        permutation_test(np.full((400, 2), np.nan), scenarios)


def test_permutation_summary_is_plain() -> None:
    acts, scenarios = noise_probe()
    summary = permutation_test(acts, scenarios, n_permutations=10, seed=0).summary()
    assert set(summary) >= {"observed", "p_value", "z_score", "null_mean", "null_std"}
    assert all(type(v) in (float, int) for k, v in summary.items() if k != "seed")
