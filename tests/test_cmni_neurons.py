"""Mirror candidates, partner-specific units and the candidate table (cmni.neurons), on activations
whose per-scenario statistics are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cmni.metric import compute_cmni
from cmni.neurons import both_none_ratio, candidate_columns, candidate_table, layer_units, mirror_units, partner_specific_units

SCENARIOS = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # two states each of none, self, other, both
# columns: units; rows: the eight states above
LAYER_A = np.array(
    [
        # unit 0: none {1, 3}, self {4, 6}, other {3, 5}, both 8 -> deltas 3 and 2: a mirror candidate, MNS 2
        # unit 1: none {-2, 0}, self 0, other 1, both 3      -> deltas 1 and 2: a mirror candidate, MNS 1
        # unit 2: none 0, self -1, other {1, 3}, both 1      -> deltas -1 and 2: partner-specific
        [1, -2, 0],
        [3, 0, 0],
        [4, 0, -1],
        [6, 0, -1],
        [3, 1, 1],
        [5, 1, 3],
        [8, 3, 1],
        [8, 3, 1],
    ],
    dtype=np.float64,
)
LAYER_B = np.array(
    [
        # unit 0: none 1, self 2, other 0, both 2 -> delta_other -1: neither kind
        # unit 1: none 0, self 0, other 5, both 0 -> deltas 0 and 5: partner-specific (delta_self <= 0)
        [1, 0],
        [1, 0],
        [2, 0],
        [2, 0],
        [0, 5],
        [0, 5],
        [2, 0],
        [2, 0],
    ],
    dtype=np.float64,
)


@pytest.fixture(scope="module")
def result():
    return compute_cmni({"a": LAYER_A, "b": LAYER_B}, SCENARIOS)


def test_both_none_ratio_only_where_the_none_mean_is_positive(result) -> None:
    ratio = both_none_ratio(result)
    assert ratio[0] == 8 / 2 and ratio[3] == 2 / 1
    assert math.isnan(ratio[1])  # mean in "none" is -1: a negative mean gives no ratio
    assert math.isnan(ratio[2]) and math.isnan(ratio[4])  # mean in "none" is 0


def test_mirror_and_partner_specific_units_per_layer(result) -> None:
    assert {k: v.tolist() for k, v in mirror_units(result).items()} == {"a": [0, 1], "b": []}
    assert {k: v.tolist() for k, v in partner_specific_units(result).items()} == {"a": [2], "b": [1]}
    assert layer_units(result, "b") == slice(3, 5)
    with pytest.raises(ValueError, match="unknown layer 'c'"):
        layer_units(result, "c")


def test_candidate_table_rows(result) -> None:
    rows = candidate_table(result, "a")
    assert [r["unit"] for r in rows] == [0, 1]
    first, second = rows
    assert list(first) == candidate_columns()
    assert (first["delta_self"], first["delta_other"], first["mns"], first["both_none_ratio"]) == (3.0, 2.0, 2.0, 4.0)
    # none {1, 3}: mean 2, population variance 1, symmetric (skewness 0), two points (excess kurtosis 1 - 3)
    assert (first["mean_none"], first["variance_none"], first["skewness_none"], first["kurtosis_none"]) == pytest.approx((2, 1, 0, -2))
    assert (first["mean_self"], first["mean_other"], first["mean_both"], first["variance_both"]) == (5.0, 4.0, 8.0, 0.0)
    assert (second["mns"], second["mean_none"], second["variance_none"]) == (1.0, -1.0, 1.0)
    assert math.isnan(second["both_none_ratio"])
    assert candidate_table(result, "b") == []
    assert [r["unit"] for r in candidate_table(result, "b", units=[1])] == [1]


def test_candidate_columns_are_the_header_of_the_table() -> None:
    columns = candidate_columns()
    assert columns[:6] == ["layer", "unit", "delta_self", "delta_other", "mns", "both_none_ratio"]
    assert columns[6:10] == ["mean_none", "variance_none", "skewness_none", "kurtosis_none"]
    assert columns[-1] == "kurtosis_both" and len(columns) == 6 + 4 * 4
