"""Named difficulty presets: sets of rule-knob values that a run can cite.

A preset is only shorthand for knob values: ``train.py --preset hard`` writes the values,
not the name, into ``config.json``, and any knob flag given next to it overrides the
preset's value. Presets leave ``width`` and ``dependency`` alone; those are separate
experimental factors. ``docs/environment.md`` has each preset's measured scores, stall
fraction, the value of helping and the signal complexity S.

- ``paper``: the paper's game, the :class:`~frogtoad_env.core.RulesConfig` defaults.
- ``easy``: less than half the rough ground and twice the flies; the scripted policy
  almost never stalls.
- ``hard``: "help pays": more rough ground, five times fewer flies worth half as much, and
  a help worth five times as much, so a stalled partner is common and a help is the
  quickest way to get it moving again.
"""

from __future__ import annotations

from collections.abc import Mapping

from frogtoad_env.checks import check_choice
from frogtoad_env.core import RulesConfig

#: The knobs a preset sets (every rules knob except ``width`` and ``dependency``).
PRESET_KNOBS: tuple[str, ...] = (
    "rough_rate_start",
    "rough_rate_step",
    "rough_rate_max",
    "fly_spawn_probability",
    "fly_energy",
    "help_energy",
    "help_leap_probability",
)

PRESETS: dict[str, Mapping[str, float]] = {
    "paper": {name: getattr(RulesConfig, name) for name in PRESET_KNOBS},
    "easy": {
        "rough_rate_start": 0.0,
        "rough_rate_step": 0.005,
        "rough_rate_max": 0.03,
        "fly_spawn_probability": 0.02,
        "fly_energy": 4,
        "help_energy": 2,
        "help_leap_probability": 0.25,
    },
    "hard": {
        "rough_rate_start": 0.0,
        "rough_rate_step": 0.005,
        "rough_rate_max": 0.1,
        "fly_spawn_probability": 0.002,
        "fly_energy": 2,
        "help_energy": 10,
        "help_leap_probability": 0.25,
    },
}


def preset(name: str) -> dict[str, float]:
    """The knob values of preset ``name`` (a fresh dict), or ValueError naming the presets."""
    return dict(PRESETS[check_choice("preset", name, PRESETS)])
