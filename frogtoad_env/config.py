"""Validated configuration shared by every Frog and Toad front end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from frogtoad_env.checks import check_int, check_known_keys, check_unit_interval
from frogtoad_env.core import MIN_WIDTH, RulesConfig
from frogtoad_env.observations import OBS_MODES, check_obs_mode

RENDER_MODES: tuple[str, ...] = ("ansi", "human", "rgb_array")


@dataclass(frozen=True)
class EnvConfig:
    """Every knob of a Frog and Toad environment; invalid values raise ValueError.

    Attributes:
        width: cells in the strip, 8 to 1024 (the paper's observation has 100 numbers at 32).
        dependency: D in [0, 1], how much the scroll anchor follows the players' mean
            (1, the paper: a player who races ahead must wait) rather than the leader (0).
        obs_mode: ``"egocentric"`` (world + self + other blocks) or ``"paper"``.
        veil: I in [0, 1], the probability that an observation withholds identity.
        prosocial: weight in [0, 1] of the partner's points in each player's reward:
            ``reward = (1 - prosocial) * own_points + prosocial * partner_points``.
        max_steps: episode length; the episode is truncated after this many steps.
    """

    width: int = 32
    dependency: float = 1.0
    obs_mode: str = "egocentric"
    veil: float = 0.0
    prosocial: float = 0.0
    max_steps: int = 500

    def __post_init__(self) -> None:
        self.rules  # validates width and dependency
        check_obs_mode(self.obs_mode)
        check_unit_interval("veil", self.veil)
        check_unit_interval("prosocial", self.prosocial)
        check_int("max_steps", self.max_steps)

    @property
    def rules(self) -> RulesConfig:
        return RulesConfig(width=self.width, dependency=self.dependency)

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


__all__ = ["EnvConfig", "RENDER_MODES", "OBS_MODES", "MIN_WIDTH", "check_render_mode"]
