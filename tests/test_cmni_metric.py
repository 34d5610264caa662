"""Rules of the CMNI metric (defined in cmni/metric.py's docstring) and of the self-other overlap score.

Every expected number below is worked out by hand in the test, from the
definitions: mu_n(s) = mean activation of neuron n over the states of
scenario s; delta_self = mu(1) - mu(0); delta_other = mu(2) - mu(0);
MNS = min(delta_self, delta_other) when both deltas are > 0, else 0;
MNE = sum MNS; CMNI = MNE / N.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO_ROOT = Path(__file__).resolve().parents[1]

from cmni.metric import SCENARIO_NAMES, CMNIResult, compute_cmni
from cmni.overlap import self_other_overlap

# --------------------------------------------------------------------------- #
# A hand-built probe set: 7 states, 5 neurons.
#   states:   s0 s1 | s2 s3 | s4 s5 | s6
#   scenario:  0  0 |  1  1 |  2  2 |  3
# --------------------------------------------------------------------------- #
HAND_SCENARIOS = np.array([0, 0, 1, 1, 2, 2, 3])
HAND_ACTS = np.array(
    [
        # u0 mirror: none 0, self 1, other 1 -> deltas (1, 1) -> MNS 1
        # u1 partner only: none 0, self 0, other 2 -> deltas (0, 2) -> MNS 0 (0 is not > 0)
        # u2 self only: none 1, self 3, other 0.5 -> deltas (2, -0.5) -> MNS 0
        # u3 both up, unequal: none 0.5, self 1.5, other 3.5 -> deltas (1, 3) -> MNS 1
        # u4 both down: none 1, self 0, other 0 -> deltas (-1, -1) -> MNS 0
        # u0   u1   u2   u3   u4
        [0.0, 0.0, 1.0, 0.0, 1.0],  # s0 none
        [0.0, 0.0, 1.0, 1.0, 1.0],  # s1 none
        [1.0, 0.0, 3.0, 1.0, 0.0],  # s2 self
        [1.0, 0.0, 3.0, 2.0, 0.0],  # s3 self
        [1.0, 2.0, 0.5, 3.0, 0.0],  # s4 other
        [1.0, 2.0, 0.5, 4.0, 0.0],  # s5 other
        [2.0, 2.0, 3.0, 5.0, 7.0],  # s6 both (not in the formula)
    ]
)
HAND_DELTA_SELF = np.array([1.0, 0.0, 2.0, 1.0, -1.0])
HAND_DELTA_OTHER = np.array([1.0, 2.0, -0.5, 3.0, -1.0])
HAND_MNS = np.array([1.0, 0.0, 0.0, 1.0, 0.0])


def reference_cmni(acts: np.ndarray, scenarios: np.ndarray) -> tuple[float, np.ndarray]:
    """Deliberately naive per-neuron loop straight from the definition."""
    n_neurons = acts.shape[1]
    mns = np.zeros(n_neurons)
    for n in range(n_neurons):
        mu = [acts[scenarios == s, n].mean() for s in (0, 1, 2)]
        d_self, d_other = mu[1] - mu[0], mu[2] - mu[0]
        if d_self > 0 and d_other > 0:
            mns[n] = min(d_self, d_other)
    return float(mns.sum() / n_neurons), mns


def random_probe(
    n_states: int = 60, n_neurons: int = 7, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random activations with every scenario present."""
    rng = np.random.default_rng(seed)
    scenarios = np.concatenate([np.arange(4), rng.integers(0, 4, n_states - 4)])
    return rng.normal(size=(n_states, n_neurons)), scenarios


# --------------------------------------------------------------------------- #
# The formula
# --------------------------------------------------------------------------- #


def test_scenario_names_are_none_self_other_both_in_code_order() -> None:
    assert SCENARIO_NAMES == ("none", "self", "other", "both")


def test_hand_built_deltas_scores_and_index() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    np.testing.assert_allclose(result.delta_self, HAND_DELTA_SELF)
    np.testing.assert_allclose(result.delta_other, HAND_DELTA_OTHER)
    np.testing.assert_allclose(result.mns, HAND_MNS)
    assert result.mne == pytest.approx(2.0)
    assert result.n_neurons == 5
    assert result.cmni == pytest.approx(2.0 / 5.0)  # MNE / N


def test_mns_is_the_smaller_delta_when_both_are_positive() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    # unit 3: deltas (1, 3) -> the min, 1, not the mean 2 or the max 3
    assert result.mns[3] == pytest.approx(1.0)


def test_zero_rule_when_only_one_delta_is_positive() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    assert result.mns[1] == 0.0  # responds only to the partner (delta_self exactly 0)
    assert result.mns[2] == 0.0  # responds only to itself (delta_other < 0)
    assert result.mns[4] == 0.0  # both deltas negative: min would be -1, rule gives 0


def test_mirror_candidates_need_both_deltas_strictly_positive() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    np.testing.assert_array_equal(result.mirror_candidates, [0, 3])
    assert result.n_candidates == 2
    assert result.candidate_fraction == pytest.approx(2 / 5)
    np.testing.assert_array_equal(result.candidate_mask, [True, False, False, True, False])


def test_scenario_three_is_ignored_by_the_formula_but_its_mean_is_reported() -> None:
    base = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    changed = HAND_ACTS.copy()
    changed[6] = [-100.0, 50.0, 9.0, -3.0, 1e6]  # the only "both" state
    other = compute_cmni(changed, HAND_SCENARIOS)
    assert other.cmni == base.cmni
    np.testing.assert_array_equal(other.mns, base.mns)
    np.testing.assert_allclose(other.mean[3], changed[6])
    assert base.scenario_counts == {0: 2, 1: 2, 2: 2, 3: 1}


def test_scenario_means_per_code() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    assert result.mean.shape == (4, 5)
    np.testing.assert_allclose(result.mean[0], [0.0, 0.0, 1.0, 0.5, 1.0])
    np.testing.assert_allclose(result.mean[1], [1.0, 0.0, 3.0, 1.5, 0.0])
    np.testing.assert_allclose(result.mean[2], [1.0, 2.0, 0.5, 3.5, 0.0])


def test_no_mirror_units_gives_zero() -> None:
    acts = np.array([[1.0], [1.0], [0.0], [5.0]])  # none 1, self 0, other 5
    result = compute_cmni(acts, [0, 0, 1, 2])
    assert result.cmni == 0.0
    assert result.n_candidates == 0
    assert result.mirror_candidates.size == 0


def test_matches_a_naive_loop_on_random_data() -> None:
    acts, scenarios = random_probe(n_states=200, n_neurons=31, seed=3)
    expected_cmni, expected_mns = reference_cmni(acts, scenarios)
    result = compute_cmni(acts, scenarios)
    assert result.cmni == pytest.approx(expected_cmni, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(result.mns, expected_mns, rtol=1e-12, atol=1e-15)


def test_scenario_three_may_be_absent() -> None:
    acts = HAND_ACTS[:6]
    result = compute_cmni(acts, HAND_SCENARIOS[:6])
    assert result.cmni == pytest.approx(0.4)
    assert result.scenario_counts[3] == 0
    for arr in (result.mean, result.variance, result.skewness, result.kurtosis):
        assert np.isnan(arr[3]).all()
        assert np.isfinite(arr[:3]).all()


def test_whole_number_float_and_list_scenarios_are_accepted() -> None:
    as_float = compute_cmni(HAND_ACTS, HAND_SCENARIOS.astype(float))
    as_list = compute_cmni(HAND_ACTS.tolist(), HAND_SCENARIOS.tolist())
    assert as_float.cmni == as_list.cmni == pytest.approx(0.4)


def test_float32_and_integer_activations_are_accepted() -> None:
    assert compute_cmni(HAND_ACTS.astype(np.float32), HAND_SCENARIOS).cmni == pytest.approx(0.4)
    ints = (HAND_ACTS * 2).astype(np.int64)  # all entries are multiples of 0.5
    assert compute_cmni(ints, HAND_SCENARIOS).cmni == pytest.approx(0.8)


# --------------------------------------------------------------------------- #
# Mapping (per-layer) input
# --------------------------------------------------------------------------- #


def test_mapping_equals_concatenation() -> None:
    acts, scenarios = random_probe(n_states=80, n_neurons=10, seed=5)
    layers = {"fc1": acts[:, :4], "fc2": acts[:, 4:]}
    whole = compute_cmni(acts, scenarios)
    split = compute_cmni(layers, scenarios)
    assert split.cmni == pytest.approx(whole.cmni, rel=1e-12)
    np.testing.assert_allclose(split.mns, whole.mns, rtol=1e-12)
    np.testing.assert_allclose(split.delta_self, whole.delta_self, rtol=1e-12)
    assert split.n_neurons == 10


def test_per_layer_values_are_each_layer_alone() -> None:
    acts, scenarios = random_probe(n_states=80, n_neurons=10, seed=6)
    layers = {"fc1": acts[:, :4], "fc2": acts[:, 4:]}
    split = compute_cmni(layers, scenarios)
    assert list(split.per_layer) == ["fc1", "fc2"]  # mapping order kept
    assert split.layer_slices == {"fc1": slice(0, 4), "fc2": slice(4, 10)}
    for name, arr in layers.items():
        alone = compute_cmni(arr, scenarios)
        assert split.per_layer[name] == pytest.approx(alone.cmni, rel=1e-12)
        assert split.per_layer_mne[name] == pytest.approx(alone.mne, rel=1e-12)
        assert split.per_layer_n_candidates[name] == alone.n_candidates
        np.testing.assert_array_equal(split.mirror_candidates[name], alone.mirror_candidates)
    # the overall index is the neuron-weighted average of the layer indices
    weighted = (4 * split.per_layer["fc1"] + 6 * split.per_layer["fc2"]) / 10
    assert split.cmni == pytest.approx(weighted, rel=1e-12)


def test_mapping_candidates_are_indices_within_each_layer() -> None:
    layers = {"a": HAND_ACTS[:, :2], "b": HAND_ACTS[:, 2:]}  # a: u0,u1  b: u2,u3,u4
    result = compute_cmni(layers, HAND_SCENARIOS)
    np.testing.assert_array_equal(result.mirror_candidates["a"], [0])
    np.testing.assert_array_equal(result.mirror_candidates["b"], [1])  # u3 is b's 2nd unit
    assert result.per_layer == pytest.approx({"a": 1.0 / 2, "b": 1.0 / 3})


def test_array_input_is_one_layer_called_all() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    assert result.per_layer == pytest.approx({"all": 0.4})
    assert result.layer_slices == {"all": slice(0, 5)}
    assert result.per_layer_n_candidates == {"all": 2}


# --------------------------------------------------------------------------- #
# Moments per scenario and neuron
# --------------------------------------------------------------------------- #


def test_moments_against_hand_formulas() -> None:
    # one neuron; scenario 0: [0, 0, 0, 4], scenario 1: [1, 2], scenario 2: [5, 5, 5]
    acts = np.array([[0.0], [0.0], [0.0], [4.0], [1.0], [2.0], [5.0], [5.0], [5.0]])
    scenarios = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    result = compute_cmni(acts, scenarios)
    # scenario 0: mean 1, deviations (-1, -1, -1, 3)
    # m2 = (1+1+1+9)/4 = 3, m3 = (-1-1-1+27)/4 = 6, m4 = (1+1+1+81)/4 = 21
    assert result.mean[0, 0] == pytest.approx(1.0)
    assert result.variance[0, 0] == pytest.approx(3.0)  # population, not 12/3 = 4
    assert result.skewness[0, 0] == pytest.approx(6.0 / 3.0**1.5)
    assert result.kurtosis[0, 0] == pytest.approx(21.0 / 9.0 - 3.0)  # excess kurtosis
    # scenario 1: mean 1.5, deviations +-0.5: m2 = 0.25, m3 = 0, m4 = 0.0625
    assert result.variance[1, 0] == pytest.approx(0.25)
    assert result.skewness[1, 0] == pytest.approx(0.0, abs=1e-12)
    assert result.kurtosis[1, 0] == pytest.approx(0.0625 / 0.25**2 - 3.0)  # = -2
    # scenario 2 is constant: zero variance -> skewness and kurtosis defined as 0
    assert result.variance[2, 0] == 0.0
    assert result.skewness[2, 0] == 0.0
    assert result.kurtosis[2, 0] == 0.0


def test_moments_equal_scipy_stats_on_random_activations() -> None:
    from scipy import stats

    rng = np.random.default_rng(7)
    acts = np.concatenate([rng.normal(size=(500, 3)), rng.exponential(size=(500, 3)), np.tanh(rng.normal(3, 2, (500, 3)))], axis=1)
    scenarios = rng.integers(0, 4, size=500)
    result = compute_cmni(acts, scenarios)
    for code in range(4):
        rows = acts[scenarios == code]
        np.testing.assert_allclose(result.variance[code], np.var(rows, axis=0), rtol=1e-12)
        np.testing.assert_allclose(result.skewness[code], stats.skew(rows, axis=0, bias=True), rtol=1e-10)
        np.testing.assert_allclose(result.kurtosis[code], stats.kurtosis(rows, axis=0, fisher=True, bias=True), rtol=1e-10)


def test_constant_non_representable_values_give_exact_zero_moments() -> None:
    # 0.1 is not exactly representable: rounding must not yield huge skewness
    acts = np.full((9, 2), 0.1)
    acts[:, 1] = 1e8 / 3.0
    result = compute_cmni(acts, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert (result.variance[:3] == 0.0).all()
    assert (result.skewness[:3] == 0.0).all()
    assert (result.kurtosis[:3] == 0.0).all()


def test_constant_up_to_rounding_gives_zero_skewness_and_kurtosis_not_nan() -> None:
    # max != min by one ulp, but the spread is lost to rounding: the moments are noise
    acts = np.ones((9, 1))
    acts[0, 0] = np.nextafter(1.0, 2.0)
    result = compute_cmni(acts, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert result.skewness[0, 0] == 0.0 and result.kurtosis[0, 0] == 0.0
    assert 0.0 < result.variance[0, 0] < 1e-30


def test_result_arrays_have_per_scenario_per_neuron_shape() -> None:
    acts, scenarios = random_probe(n_states=40, n_neurons=6, seed=1)
    result = compute_cmni(acts, scenarios)
    for arr in (result.mean, result.variance, result.skewness, result.kurtosis):
        assert arr.shape == (4, 6)
    for arr in (result.mns, result.delta_self, result.delta_other):
        assert arr.shape == (6,)


# --------------------------------------------------------------------------- #
# Result object
# --------------------------------------------------------------------------- #


def test_summary_is_json_serialisable_with_plain_types() -> None:
    layers = {"a": HAND_ACTS[:, :2], "b": HAND_ACTS[:, 2:]}
    summary = compute_cmni(layers, HAND_SCENARIOS).summary()
    text = json.dumps(summary)
    assert json.loads(text)["cmni"] == pytest.approx(0.4)
    assert type(summary["cmni"]) is float
    assert type(summary["n_neurons"]) is int
    assert type(summary["n_candidates"]) is int
    assert summary["scenario_counts"] == {"none": 2, "self": 2, "other": 2, "both": 1}
    assert summary["per_layer"] == pytest.approx({"a": 0.5, "b": 1.0 / 3})


def test_result_is_immutable() -> None:
    result = compute_cmni(HAND_ACTS, HAND_SCENARIOS)
    assert isinstance(result, CMNIResult)
    with pytest.raises(AttributeError):
        result.cmni = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.mns[0] = 5.0


def test_input_arrays_are_not_modified() -> None:
    acts = HAND_ACTS.copy()
    scenarios = HAND_SCENARIOS.copy()
    compute_cmni(acts, scenarios)
    np.testing.assert_array_equal(acts, HAND_ACTS)
    np.testing.assert_array_equal(scenarios, HAND_SCENARIOS)


# --------------------------------------------------------------------------- #
# Invariances (property-based)
# --------------------------------------------------------------------------- #


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-50, 50),
    scale=st.floats(0.01, 100),
)
def test_cmni_ignores_per_neuron_offsets_and_scales_linearly(
    seed: int, shift: float, scale: float
) -> None:
    acts, scenarios = random_probe(n_states=30, n_neurons=5, seed=seed)
    base = compute_cmni(acts, scenarios)
    moved = compute_cmni(acts * scale + shift, scenarios)
    assert moved.cmni == pytest.approx(base.cmni * scale, rel=1e-6, abs=1e-9)
    assert base.cmni >= 0.0
    assert base.cmni <= max(0.0, float(np.max(np.minimum(base.delta_self, base.delta_other))))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 6))
def test_any_split_into_layers_gives_the_same_index(seed: int, cut: int) -> None:
    acts, scenarios = random_probe(n_states=30, n_neurons=7, seed=seed)
    whole = compute_cmni(acts, scenarios)
    split = compute_cmni({"x": acts[:, :cut], "y": acts[:, cut:]}, scenarios)
    assert split.cmni == pytest.approx(whole.cmni, rel=1e-9, abs=1e-12)
    assert split.n_candidates == whole.n_candidates


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


def test_rejects_activations_that_are_not_2d() -> None:
    with pytest.raises(ValueError, match=r"2-D.*\(n_states, n_neurons\).*shape \(7,\)"):
        compute_cmni(HAND_ACTS[:, 0], HAND_SCENARIOS)
    with pytest.raises(ValueError, match=r"layer 'fc1' must be 2-D"):
        compute_cmni({"fc1": HAND_ACTS[None]}, HAND_SCENARIOS)


def test_rejects_layer_without_neurons() -> None:
    with pytest.raises(ValueError, match=r"0 neurons"):
        compute_cmni(np.zeros((7, 0)), HAND_SCENARIOS)


def test_rejects_state_count_mismatch_naming_both_numbers() -> None:
    with pytest.raises(ValueError, match=r"scenarios has 6 entries.*7 states"):
        compute_cmni(HAND_ACTS, HAND_SCENARIOS[:6])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rejects_non_finite_activations_naming_the_layer(bad: float) -> None:
    acts = HAND_ACTS.copy()
    acts[3, 2] = bad
    layers = {"fc1": HAND_ACTS[:, :2], "fc2": acts[:, 2:]}
    with pytest.raises(ValueError, match=r"layer 'fc2'.*non-finite.*NaN or inf"):
        compute_cmni(layers, HAND_SCENARIOS)
    with pytest.raises(ValueError, match=r"non-finite"):
        compute_cmni(acts, HAND_SCENARIOS)


def test_rejects_codes_outside_the_four_scenarios_listing_them() -> None:
    scenarios = np.array([0, 0, 1, 5, 2, -1, 3])
    with pytest.raises(ValueError, match=r"\{0, 1, 2, 3\}.*invalid codes \[-1, 5\]"):
        compute_cmni(HAND_ACTS, scenarios)


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_rejects_missing_required_scenario_naming_it(missing: int) -> None:
    scenarios = HAND_SCENARIOS.copy()
    scenarios[scenarios == missing] = 3
    name = SCENARIO_NAMES[missing]
    with pytest.raises(ValueError, match=rf"scenario {missing} \('{name}'\) has no states"):
        compute_cmni(HAND_ACTS, scenarios)


def test_rejects_empty_mapping() -> None:
    with pytest.raises(ValueError, match=r"mapping is empty"):
        compute_cmni({}, HAND_SCENARIOS)


def test_rejects_non_whole_float_scenarios() -> None:
    scenarios = HAND_SCENARIOS.astype(float)
    scenarios[2] = 1.5
    with pytest.raises(ValueError, match=r"whole-number codes.*\[1\.5\]"):
        compute_cmni(HAND_ACTS, scenarios)
    scenarios[2] = np.nan
    with pytest.raises(ValueError, match=r"whole-number codes"):
        compute_cmni(HAND_ACTS, scenarios)


def test_rejects_non_numeric_or_2d_scenarios() -> None:
    with pytest.raises(ValueError, match=r"integer codes.*dtype"):
        compute_cmni(HAND_ACTS, np.array(["none"] * 7))
    with pytest.raises(ValueError, match=r"1-D"):
        compute_cmni(HAND_ACTS, HAND_SCENARIOS[:, None])


def test_rejects_layers_with_different_state_counts() -> None:
    layers = {"fc1": HAND_ACTS, "fc2": HAND_ACTS[:6]}
    with pytest.raises(ValueError, match=r"layer 'fc2' has 6 states.*'fc1' has 7"):
        compute_cmni(layers, HAND_SCENARIOS)


def test_rejects_non_numeric_activations() -> None:
    with pytest.raises(ValueError, match=r"real numbers"):
        compute_cmni(HAND_ACTS.astype(complex), HAND_SCENARIOS)


# --------------------------------------------------------------------------- #
# Speed and purity
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("module", ["metric.py", "stats.py", "overlap.py"])
def test_metric_modules_do_not_import_torch(module: str) -> None:
    tree = ast.parse((REPO_ROOT / "cmni" / module).read_text())
    full_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            full_names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            full_names.add(node.module)
    imported = {name.split(".")[0] for name in full_names}
    assert "torch" not in imported
    assert imported <= {"__future__", "collections", "dataclasses", "typing", "warnings", "numpy", "scipy", "frogtoad_env"}
    # of the game package, only its argument checks
    assert all(name == "frogtoad_env.checks" for name in full_names if name.startswith("frogtoad_env"))


def test_import_cmni_loads_neither_scipy_nor_the_game() -> None:
    # both are imported on first use, so that ``import cmni`` stays cheap
    code = "import sys, cmni\nassert not {'scipy', 'frogtoad_env', 'numba'} & set(sys.modules), sorted(sys.modules)\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# --------------------------------------------------------------------------- #
# Self-other overlap
# --------------------------------------------------------------------------- #


def test_overlap_is_zero_for_identical_representations() -> None:
    acts, _ = random_probe(n_states=20, n_neurons=6, seed=2)
    layers = {"fc1": acts[:, :2], "fc2": acts[:, 2:]}
    result = self_other_overlap(layers, {k: v.copy() for k, v in layers.items()})
    assert result == {"fc1": 0.0, "fc2": 0.0, "all": 0.0}
    assert self_other_overlap(acts, acts.copy()) == {"all": 0.0}


def test_overlap_hand_values() -> None:
    # state 0: a = (3, 4), b = (0, 0): ||a-b|| = 5, 0.5(||a|| + ||b||) = 2.5
    # state 1: a = (1, 0), b = (0, 1): ||a-b|| = sqrt(2), 0.5(1 + 1) = 1
    a = np.array([[3.0, 4.0], [1.0, 0.0]])
    b = np.array([[0.0, 0.0], [0.0, 1.0]])
    expected = ((5.0 + np.sqrt(2.0)) / 2) / ((2.5 + 1.0) / 2)
    assert self_other_overlap(a, b)["all"] == pytest.approx(expected)


def test_overlap_is_positive_when_the_swap_changes_activations() -> None:
    acts, _ = random_probe(n_states=20, n_neurons=6, seed=2)
    swapped = acts.copy()
    swapped[:, 4:] += 0.5  # only the second layer changes
    layers = {"fc1": acts[:, :4], "fc2": acts[:, 4:]}
    result = self_other_overlap(layers, {"fc1": swapped[:, :4], "fc2": swapped[:, 4:]})
    assert list(result) == ["fc1", "fc2", "all"]
    assert result["fc1"] == 0.0
    assert result["fc2"] > 0.0
    assert 0.0 < result["all"] <= 2.0
    assert result["all"] == pytest.approx(self_other_overlap(acts, swapped)["all"])


def test_overlap_of_all_zero_activations_is_zero_not_nan() -> None:
    zeros = np.zeros((4, 3))
    assert self_other_overlap(zeros, zeros) == {"all": 0.0}


def test_overlap_validates_shapes_and_layers() -> None:
    acts = np.ones((5, 3))
    with pytest.raises(ValueError, match=r"shapes differ.*\(5, 3\).*\(4, 3\)"):
        self_other_overlap(acts, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"same layers"):
        self_other_overlap({"a": acts}, {"b": acts})
    with pytest.raises(ValueError, match=r"both be arrays or both be mappings"):
        self_other_overlap({"a": acts}, acts)
    with pytest.raises(ValueError, match=r"2-D"):
        self_other_overlap(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match=r"reserved"):
        self_other_overlap({"all": acts}, {"all": acts})
