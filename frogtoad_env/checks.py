"""Argument checks shared by every package: a bad value raises ValueError naming it and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def check_int(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int, or ValueError unless it is an integer (not a bool) in [minimum, maximum]."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum:_}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def check_positive(name: str, value: object, allow_zero: bool = False) -> float:
    """``value`` as a float, or ValueError unless it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    if not (0.0 <= value < float("inf") if allow_zero else 0.0 < value < float("inf")):
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def check_unit_interval(name: str, value: object, allow_zero: bool = True) -> float:
    """``value`` as a float, or ValueError unless it is a number in [0, 1] ((0, 1] if not
    ``allow_zero``; NaN is rejected)."""
    allowed = "[0, 1]" if allow_zero else "(0, 1]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}")
    if not (0.0 <= float(value) <= 1.0 and (allow_zero or float(value) > 0.0)):
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")
    return float(value)


def check_choice(name: str, value: T, choices: Iterable[object]) -> T:
    """``value`` if it is one of ``choices``, else ValueError naming it and the choices."""
    allowed = list(choices)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_known_keys(mapping: Iterable[str], allowed: Sequence[str]) -> None:
    """ValueError naming every key of ``mapping`` that is not in ``allowed``, and the allowed ones."""
    unknown = sorted(set(mapping) - set(allowed), key=str)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed keys are {list(allowed)}")
