"""Validated configuration shared by every Frog and Toad front end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from frogtoad_env.checks import check_int, check_known_keys, check_unit_interval
from frogtoad_env.core import MIN_WIDTH, RulesConfig
from frogtoad_env.observations import OBS_MODES, check_obs_mode

RENDER_MODES: tuple[str, ...] = ("ansi", "human", "rgb_array")
#: The EnvConfig fields that are rules knobs (all of RulesConfig), in field order.
RULE_KNOBS: tuple[str, ...] = tuple(f.name for f in fields(RulesConfig))


@dataclass(frozen=True)
class EnvConfig:
    """Every knob of a Frog and Toad environment; invalid values raise ValueError.

    The rules' knobs come first and are passed on unchanged as :attr:`rules`; each one's
    doc and allowed range is on :class:`~frogtoad_env.core.RulesConfig` (and in
    :func:`~frogtoad_env.core.knob_docs`):

    - ``width``, ``dependency``;
    - the rough-ground schedule ``rough_rate_start``, ``rough_rate_step``, ``rough_rate_max``;
    - ``fly_spawn_probability``, ``fly_energy``;
    - ``help_energy``, ``help_leap_probability``.

    The defaults are the paper's game; :mod:`frogtoad_env.presets` holds named sets of
    rule knobs.

    Attributes:
        obs_mode: ``"egocentric"`` (world + self + other blocks) or ``"paper"``.
        veil: I in [0, 1], the probability that an observation withholds identity.
        prosocial: weight in [0, 1] of the partner's points in each player's reward:
            ``reward = (1 - prosocial) * own_points + prosocial * partner_points``.
        max_steps: episode length; the episode is truncated after this many steps.
    """

    width: int = RulesConfig.width
    dependency: float = RulesConfig.dependency
    rough_rate_start: float = RulesConfig.rough_rate_start
    rough_rate_step: float = RulesConfig.rough_rate_step
    rough_rate_max: float = RulesConfig.rough_rate_max
    fly_spawn_probability: float = RulesConfig.fly_spawn_probability
    fly_energy: int = RulesConfig.fly_energy
    help_energy: int = RulesConfig.help_energy
    help_leap_probability: float = RulesConfig.help_leap_probability
    obs_mode: str = "egocentric"
    veil: float = 0.0
    prosocial: float = 0.0
    max_steps: int = 500

    def __post_init__(self) -> None:
        self.rules  # validates the rules' knobs
        check_obs_mode(self.obs_mode)
        check_unit_interval("veil", self.veil)
        check_unit_interval("prosocial", self.prosocial)
        check_int("max_steps", self.max_steps)

    @property
    def rules(self) -> RulesConfig:
        return RulesConfig(**{name: getattr(self, name) for name in RULE_KNOBS})

    @classmethod
    def from_kwargs(cls, config: Mapping[str, Any]) -> EnvConfig:
        """Build from keyword arguments, naming any unknown key and the allowed ones."""
        check_known_keys(config, [f.name for f in fields(cls)])
        return cls(**config)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_render_mode(render_mode: object) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be None or one of {list(RENDER_MODES)}, got {render_mode!r}")
    return render_mode  # type: ignore[return-value]


__all__ = ["EnvConfig", "RENDER_MODES", "RULE_KNOBS", "OBS_MODES", "MIN_WIDTH", "check_render_mode"]
