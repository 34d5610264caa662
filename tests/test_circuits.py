"""Circuit analysis by weight z-scores (cmni/circuits.py): numbers checked by hand."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import numpy as np
import pytest

from cmni.circuits import CircuitPath, find_paths, partner_specific_mask, weight_zscores


def test_weight_zscores_use_the_whole_matrix_mean_and_population_std() -> None:
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    mean = (1 + 2 + 3 + 4) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in (1, 2, 3, 4)) / 4)  # population std over the whole matrix
    z = weight_zscores(w)
    assert z.shape == (2, 2)
    assert z[0, 0] == pytest.approx((1 - mean) / std)
    assert z[1, 1] == pytest.approx((4 - mean) / std)
    assert z[1, 1] == pytest.approx(1.3416407865)


def test_one_outlier_gets_z_sqrt_11_a_constant_matrix_z_0_and_nan_is_rejected() -> None:
    w = np.zeros((3, 4))
    w[2, 1] = 1.0
    z = weight_zscores(w)
    values = w.ravel().tolist()
    expected = (1.0 - statistics.fmean(values)) / statistics.pstdev(values)
    assert z[2, 1] == pytest.approx(expected) == pytest.approx(math.sqrt(11))
    assert z[0, 0] == pytest.approx(-1 / math.sqrt(11))
    assert (weight_zscores(np.full((2, 3), 0.7)) == 0).all()
    with pytest.raises(ValueError, match="NaN"):
        weight_zscores(np.array([[np.nan, 1.0]]))


def test_partner_specific_units_have_delta_other_positive_and_delta_self_not() -> None:
    ds = np.array([0.1, -0.2, 0.0, 0.3, -0.1])
    do = np.array([0.2, 0.1, 0.5, -0.1, 0.0])
    assert partner_specific_mask(ds, do).tolist() == [False, True, True, False, False]


def _one_strong(shape: tuple[int, int], row: int, col: int, value: float = 1.0) -> np.ndarray:
    w = np.zeros(shape)
    w[row, col] = value
    return w


def test_a_two_layer_path_is_named_unit_by_unit_with_its_z_scores() -> None:
    # coupled (4 units) -> pi.0 (3 units) -> 4 logits; one strong weight per matrix
    w1 = _one_strong((3, 4), 2, 1)  # coupled[1] -> pi.0[2], z = sqrt(11) = 3.317
    w2 = _one_strong((4, 3), 2, 2)  # pi.0[2] -> leap, z = 3.317
    analysis = find_paths(["coupled", "pi.0"], [w1, w2], {"mirror": {"coupled": [1]}})
    assert len(analysis.paths) == 1
    path = analysis.paths[0]
    assert path.name == "coupled[1] -> pi.0[2] -> leap (z 3.3, 3.3)"
    assert path.nodes == (("coupled", 1), ("pi.0", 2), ("action", 2))
    assert path.z == pytest.approx((math.sqrt(11), math.sqrt(11)))
    assert path.weights == (1.0, 1.0)
    assert path.kind == "self-preservation"
    assert path.sign == 1
    assert analysis.edge_z(("coupled", 1), ("pi.0", 2)) == pytest.approx(math.sqrt(11))


def test_a_negative_edge_makes_the_path_sign_negative() -> None:
    w1 = _one_strong((3, 4), 0, 3, -1.0)  # z = -sqrt(11)
    w2 = _one_strong((4, 3), 3, 0)  # pi.0[0] -> help
    analysis = find_paths(["coupled", "pi.0"], [w1, w2], {"partner": {"coupled": [3]}})
    (path,) = analysis.paths
    assert path.name == "coupled[3] -> pi.0[0] -> help (z -3.3, 3.3)"
    assert path.sign == -1
    assert path.kind == "tactical help"


def test_paths_are_classified_as_in_the_paper() -> None:
    # coupled: 0 mirror, 1 and 2 partner-specific, 3 neither; pi.0: h0, h1, h2
    w1 = np.zeros((3, 4))
    w1[0, 0] = w1[0, 1] = 1.0  # mirror 0 and partner 1 converge on h0
    w1[1, 2] = 1.0  # partner 2 -> h1
    w1[2, 0] = 1.0  # mirror 0 -> h2
    w2 = np.zeros((4, 3))
    w2[3, 0] = w2[3, 1] = 1.0  # h0, h1 -> help
    w2[2, 2] = 1.0  # h2 -> leap
    sources = {"mirror": {"coupled": [0]}, "partner": {"coupled": [1, 2]}}
    analysis = find_paths(["coupled", "pi.0"], [w1, w2], sources, threshold=1.0)
    kinds = {p.name.split(" (")[0]: p.kind for p in analysis.paths}
    assert kinds == {
        "coupled[0] -> pi.0[0] -> help": "empathy",
        "coupled[1] -> pi.0[0] -> help": "empathy",
        "coupled[2] -> pi.0[1] -> help": "tactical help",
        "coupled[0] -> pi.0[2] -> leap": "self-preservation",
    }
    summary = analysis.summary()
    assert summary["counts"]["empathy"] == 2 and summary["counts"]["tactical help"] == 1
    assert summary["counts"]["self-preservation"] == 1 and summary["n_paths"] == 4
    # z of a strong entry in w1: 4 ones among 12 entries
    ones = [1.0] * 4 + [0.0] * 8
    z_one = (1 - statistics.fmean(ones)) / statistics.pstdev(ones)
    path = next(p for p in analysis.paths if p.kind == "tactical help")
    assert path.z[0] == pytest.approx(z_one)


def test_only_target_actions_are_kept_and_a_direct_layer_has_no_empathy() -> None:
    # a single probed layer straight into the logits: no hidden unit, so no empathy
    w = np.zeros((4, 5))
    w[3, 0] = w[3, 1] = w[0, 2] = 1.0  # units 0, 1 -> help; unit 2 -> hop (not a target)
    sources = {"mirror": {"coupled": [0, 2]}, "partner": {"coupled": [1]}}
    analysis = find_paths(["coupled"], [w], sources, threshold=1.5)
    assert sorted(p.name.split(" (")[0] for p in analysis.paths) == ["coupled[0] -> help", "coupled[1] -> help"]
    assert {p.kind for p in analysis.paths} == {"mirror help", "tactical help"}
    hop = find_paths(["coupled"], [w], sources, threshold=1.5, targets=("hop",))
    assert [p.name.split(" (")[0] for p in hop.paths] == ["coupled[2] -> hop"]


def test_paths_start_in_any_layer_sorted_by_strength_and_truncate_at_max_paths() -> None:
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(8, 10)), rng.normal(size=(4, 8))
    all_units = {"mirror": {"coupled": np.arange(10), "pi.0": np.arange(8)}}
    full = find_paths(["coupled", "pi.0"], [w1, w2], all_units, threshold=1.0)
    assert len(full.paths) > 3
    assert all(p.min_abs_z >= 1.0 for p in full.paths)
    assert [p.min_abs_z for p in full.paths] == sorted((p.min_abs_z for p in full.paths), reverse=True)
    assert any(p.source[0] == "pi.0" and len(p.z) == 1 for p in full.paths)
    few = find_paths(["coupled", "pi.0"], [w1, w2], all_units, threshold=1.0, max_paths=3)
    assert len(few.paths) == 3 and few.truncated and few.paths == full.paths[:3]


@pytest.mark.parametrize(
    "names, weights, sources, match",
    [
        (["coupled", "pi.0"], [np.zeros((3, 4)), np.zeros((4, 5))], {}, "outputs"),
        (["coupled"], [np.zeros((3, 4))], {}, "logits"),
        (["coupled"], [np.ones((4, 4))], {"mirror": {"coupled": [4]}}, "0..3"),
        (["coupled"], [np.ones((4, 4))], {"mirror": {"pi.3": [0]}}, "not one of"),
        (["coupled"], [np.ones((4, 4))], {"friend": {"coupled": [0]}}, "kind"),
        (["coupled", "pi.0"], [np.ones((4, 4))], {}, "one weight matrix per"),
    ],
)
def test_bad_inputs_are_rejected_with_value_error(names: list[str], weights: list[np.ndarray], sources: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        find_paths(names, weights, sources)


def test_a_path_row_is_flat() -> None:
    path = CircuitPath((("coupled", 1), ("action", 3)), (0.5,), (2.4,), "partner", "help", "tactical help")
    row = path.as_row()
    assert row["path"] == "coupled[1] -> help (z 2.4)"
    assert row["source_unit"] == 1 and row["length"] == 1 and row["sign"] == 1


def test_circuits_module_imports_no_torch() -> None:
    code = "import sys, cmni.circuits; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
