"""Counted behaviour of players over episodes: the cooperation signature and friends.

Every figure is a ratio of counted events, so it can be checked by hand: e.g. the help
rate when the partner is in distress is (steps where the player chose help while its
partner was distressed) / (steps where its partner was distressed). "Distressed" is
what the player saw when it chose: the partner's distress flag from the previous step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from frogtoad_env import core

_COUNTERS = (
    "steps",
    "helps",
    "partner_distressed_steps",
    "helps_partner_distressed",
    "helps_partner_ok",
    "stalled_steps",
    "rough_ahead_steps",
    "leaps_on_rough_ahead",
)


@dataclass
class BehaviourCounter:
    """Per-player event counts for ``B`` games: every counter is a (B, 2) int64 array."""

    counts: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def zeros(cls, batch_size: int) -> BehaviourCounter:
        return cls({name: np.zeros((batch_size, 2), dtype=np.int64) for name in _COUNTERS})

    def record(self, before: core.GameState, actions: np.ndarray) -> None:
        """Count one step from the state the players saw (``before``) and their actions (B, 2)."""
        c = self.counts
        help_ = actions == core.HELP
        partner_distressed = before.distress[:, ::-1]
        pos = before.position
        games = np.arange(before.batch_size)[:, None]
        rough_ahead = (pos + 1 < before.width) & before.rough[games, np.minimum(pos + 1, before.width - 1)]
        c["steps"] += 1
        c["helps"] += help_
        c["partner_distressed_steps"] += partner_distressed
        c["helps_partner_distressed"] += help_ & partner_distressed
        c["helps_partner_ok"] += help_ & ~partner_distressed
        c["stalled_steps"] += before.energy == 0
        c["rough_ahead_steps"] += rough_ahead
        c["leaps_on_rough_ahead"] += rough_ahead & (actions == core.LEAP)

    def reset(self, games: np.ndarray | slice = slice(None)) -> None:
        for counter in self.counts.values():
            counter[games] = 0

    def rates(self, games: np.ndarray | slice = slice(None)) -> dict[str, float]:
        """Pooled rates over ``games`` and both players (NaN where the condition never held)."""
        return rates_from_counts({name: float(counter[games].sum()) for name, counter in self.counts.items()})

    def player_rates(self, game: int, player: int) -> dict[str, float]:
        """The same rates for one player of one game."""
        return rates_from_counts({name: float(counter[game, player]) for name, counter in self.counts.items()})


def rates_from_counts(total: Mapping[str, float]) -> dict[str, float]:
    """Rates from pooled counters (the keys of :class:`BehaviourCounter`); NaN where a
    condition never held."""
    partner_ok_steps = total["steps"] - total["partner_distressed_steps"]
    return {
        "help_rate": _ratio(total["helps"], total["steps"]),
        "help_rate_partner_distressed": _ratio(total["helps_partner_distressed"], total["partner_distressed_steps"]),
        "help_rate_partner_ok": _ratio(total["helps_partner_ok"], partner_ok_steps),
        "stalled_fraction": _ratio(total["stalled_steps"], total["steps"]),
        "leap_rate_rough_ahead": _ratio(total["leaps_on_rough_ahead"], total["rough_ahead_steps"]),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


#: the per-episode figures of an ``info["episode"]`` dict (see agents.vec_env): points per
#: player and the rates of :func:`rates_from_counts`
EPISODE_KEYS: tuple[str, ...] = ("score", *rates_from_counts(dict.fromkeys(_COUNTERS, 0.0)))


def episode_means(episodes: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each :data:`EPISODE_KEYS` figure over finished episodes' ``info["episode"]``
    dicts (e.g. SB3's ``model.ep_info_buffer``); NaN values (a condition that never held
    in an episode) are left out, and a key with no finite value is absent."""
    episodes = [e for e in episodes if isinstance(e, Mapping)]
    out: dict[str, float] = {}
    for key in EPISODE_KEYS:
        values = np.array([float(e[key]) for e in episodes if key in e], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            out[key] = float(values.mean())
    return out
