"""Report settings (evaluation.options) and table writing (evaluation.report), without a model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.options import ReportOptions
from evaluation.report import json_safe, write_csv


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("episodes", 0, "an integer >= 1"),
        ("episodes", 2.0, "an integer >= 1"),
        ("episodes", True, "an integer >= 1"),
        ("n_permutations", -3, "an integer >= 1"),
        ("gif_frame_ms", 0, "an integer >= 1"),
        ("seed", -1, "an integer >= 0"),
        ("threshold", 0.0, "a finite number > 0"),
        ("threshold", math.inf, "a finite number > 0"),
        ("partner", "nobody", "one of ['self', 'scripted', 'random'] or an existing model file"),
    ],
)
def test_bad_setting_is_a_value_error_naming_it(field: str, value: object, allowed: str) -> None:
    with pytest.raises(ValueError) as info:
        ReportOptions(**{field: value})
    assert str(info.value) == f"{field} must be {allowed}, got {value!r}"


def test_a_model_file_is_a_valid_partner(tmp_path: Path) -> None:
    (tmp_path / "m.zip").write_bytes(b"x")
    assert ReportOptions(partner=str(tmp_path / "m.zip")).partner == str(tmp_path / "m.zip")


def test_csv_header_without_rows_and_cells(tmp_path: Path) -> None:
    path = write_csv([], tmp_path / "empty.csv", ["a", "b"])
    assert path.read_text() == "a,b\n"
    write_csv([{"a": 1, "b": [1.5, 2]}, {"c": 0.1}], tmp_path / "rows.csv")
    assert (tmp_path / "rows.csv").read_text() == "a,b,c\n1,1.5 2,\n,,0.1\n"


def test_json_safe_turns_nan_and_numpy_into_plain_json() -> None:
    value = {"x": np.float32(0.5), "n": np.int64(3), "bad": [math.nan, -math.inf], "arr": np.array([1, 2]), "p": Path("a")}
    assert json.dumps(json_safe(value), allow_nan=False) == '{"x": 0.5, "n": 3, "bad": [null, null], "arr": [1, 2], "p": "a"}'
