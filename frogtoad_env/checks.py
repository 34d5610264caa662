"""Argument checks shared by every package: a bad value raises ValueError naming it and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int, or ValueError unless it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_unit_interval(name: str, value: object) -> float:
    """``value`` as a float, or ValueError unless it is a number in [0, 1] (NaN is rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def check_net_arch(net_arch: Sequence[int]) -> tuple[int, ...]:
    """A non-empty sequence of positive ints (units per hidden layer), as a tuple; else ValueError."""
    if isinstance(net_arch, (str, bytes)) or not isinstance(net_arch, Sequence) or len(net_arch) == 0:
        raise ValueError(f"net_arch must be one or more positive integers, got {net_arch!r}")
    for units in net_arch:
        check_int("every net_arch entry", units)
    return tuple(int(units) for units in net_arch)


def check_known_keys(mapping: Iterable[str], allowed: Sequence[str]) -> None:
    """ValueError naming every key of ``mapping`` that is not in ``allowed``, and the allowed ones."""
    unknown = sorted(set(mapping) - set(allowed), key=str)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed keys are {list(allowed)}")
