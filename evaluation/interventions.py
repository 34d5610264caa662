"""Behaviour under intervention: does ablating or steering the mirror units change helping
more than the same intervention on random units?

For each target set (:func:`cmni.interventions.target_sets`) and each kind
(:data:`cmni.interventions.KINDS`), the intervened policy plays ``E`` seeded episodes with
each partner of :data:`PARTNERS` (``self``: the intervened policy in both seats;
``scripted``; ``intact``: an unintervened copy of the policy), and so do ``D`` random
controls (the same number of units from the same layers). The target and its controls
are ``1 + D`` conditions of one :class:`~cmni.interventions.Intervention`, played as
``(1 + D) * E`` games in one batch; the intact policy plays the same ``(1 + D) * E``
seeded games, so game ``g`` of a condition is paired with game ``g`` of the intact batch
(same seed, same seat, same start; the games drift apart once the actions differ).

Figures of the agent role (as in :mod:`evaluation.behaviour`: score, help rate with the
partner distressed / fine and their ratio, stall rate, leap on rough ahead) pooled over
one condition's ``E`` episodes. Effect = intervened - intact, with a 95 % interval over
episodes: Student-t on the paired per-episode score differences
(:func:`evaluation.statistics.mean_ci`), a paired percentile bootstrap over episodes
(``scipy.stats.bootstrap``) for the pooled rates. The control percentile is
``scipy.stats.percentileofscore(control effects, target effect, kind="mean")``: near 0 or
100 means the target's effect is extreme among same-size random unit sets.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from cmni.interventions import KINDS, Intervention, ProbeStatistics, UnitSet, intervene, random_controls
from frogtoad_env.behaviour import rates_from_counts
from frogtoad_env.config import EnvConfig

from .episodes import EpisodeBatch, play_episodes
from .partners import ModelPolicy, ScriptedPolicy
from .statistics import mean_ci

__all__ = ["PARTNERS", "FIGURES", "Effect", "InterventionStudy", "IntervenedPolicy", "run_interventions", "figures_of"]

#: The partners of the intervened policy.
PARTNERS: tuple[str, ...] = ("self", "scripted", "intact")
#: The measured figures, in report order.
FIGURES: tuple[str, ...] = ("score", "help_rate_partner_distressed", "help_rate_partner_ok", "help_ratio",
                            "stalled_fraction", "leap_rate_rough_ahead")  # fmt: skip
BOOTSTRAP_RESAMPLES = 999


class IntervenedPolicy:
    """A model acting under an :class:`~cmni.interventions.Intervention`: before each forward
    pass, the rows of the batch get the condition of their game (``condition_of_game``)."""

    def __init__(self, model: Any, intervention: Intervention, condition_of_game: np.ndarray, deterministic: bool = True) -> None:
        self.inner = ModelPolicy(model, name="intervened", deterministic=deterministic)
        self.name = self.inner.name
        self.intervention = intervention
        self.condition_of_game = np.asarray(condition_of_game, dtype=np.int64)

    def act(self, state: Any, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        self.intervention.rows = self.condition_of_game[games]
        return self.inner.act(state, games, players, observations)


def figures_of(counts: Mapping[str, np.ndarray], scores: np.ndarray) -> dict[str, float]:
    """:data:`FIGURES` pooled over episodes: ``counts`` name -> ``(E,)`` agent-role counts, ``scores`` ``(E,)``."""
    rates = rates_from_counts({k: float(np.sum(v)) for k, v in counts.items()})
    a, b = rates["help_rate_partner_distressed"], rates["help_rate_partner_ok"]
    ratio = math.nan if math.isnan(a) or math.isnan(b) or (a == 0 and b == 0) else (math.inf if b == 0 else a / b)
    return {"score": float(np.mean(scores)), **rates, "help_ratio": ratio}


@dataclass
class Effect:
    """One target set under one kind of intervention with one partner.

    Attributes:
        target, kind, partner: what was intervened, how, and with whom it played.
        n_units: units in the target set (and in each control).
        intact, intervened: :data:`FIGURES` of the intact and the intervened policy.
        delta: figure -> intervened - intact.
        ci: figure -> ``(low, high)`` 95 % interval of ``delta`` over episodes.
        controls: figure -> ``(D,)`` delta of each random control.
        percentile: figure -> percentile of ``delta`` among the finite control deltas.
    """

    target: str
    kind: str
    partner: str
    n_units: int
    intact: dict[str, float]
    intervened: dict[str, float]
    delta: dict[str, float]
    ci: dict[str, tuple[float, float]]
    controls: dict[str, np.ndarray]
    percentile: dict[str, float]

    def as_row(self) -> dict[str, Any]:
        """Flat CSV row: the set, then per figure intact, intervened, delta, its interval and control percentile."""
        row: dict[str, Any] = {"target": self.target, "kind": self.kind, "partner": self.partner, "n_units": self.n_units}
        for f in FIGURES:
            row.update({f"intact_{f}": self.intact[f], f"intervened_{f}": self.intervened[f], f"delta_{f}": self.delta[f],
                        f"ci_low_{f}": self.ci[f][0], f"ci_high_{f}": self.ci[f][1],
                        f"control_percentile_{f}": self.percentile[f]})  # fmt: skip
        return row

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "partner": self.partner, "n_units": self.n_units,
                "intact": self.intact, "intervened": self.intervened, "delta": self.delta,
                "ci": {k: list(v) for k, v in self.ci.items()}, "control_percentile": self.percentile,
                "controls": {k: v.tolist() for k, v in self.controls.items()}}  # fmt: skip


@dataclass
class InterventionStudy:
    """Every :class:`Effect` of one policy, with the settings."""

    effects: list[Effect]
    targets: dict[str, UnitSet]
    episodes: int
    controls: int
    alpha: float
    seed: int

    def summary(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes, "controls": self.controls, "steer_alpha": self.alpha, "seed": self.seed,
            "targets": {name: {k: v.tolist() for k, v in units.items()} for name, units in self.targets.items()},
            "effects": [e.as_dict() for e in self.effects],
        }  # fmt: skip


def run_interventions(
    model: Any,
    env_config: EnvConfig,
    targets: Mapping[str, UnitSet],
    stats_: ProbeStatistics,
    episodes: int = 16,
    n_controls: int = 20,
    alpha: float = 1.0,
    seed: int = 0,
    deterministic: bool = True,
    kinds: Sequence[str] = KINDS,
    partners: Sequence[str] = PARTNERS,
) -> InterventionStudy:
    """Play every target set x kind x partner and its ``n_controls`` random controls (see the module doc)."""
    conditions = 1 + int(n_controls)
    n_games = conditions * int(episodes)
    condition_of_game = np.repeat(np.arange(conditions), int(episodes))
    intact_policy = ModelPolicy(model, name="intact", deterministic=deterministic)
    intact_copy = ModelPolicy(copy.deepcopy(model.policy), name="intact", deterministic=deterministic)
    partner_of = {"scripted": ScriptedPolicy(), "intact": intact_copy}
    baseline = {p: play_episodes(intact_policy, intact_policy if p == "self" else partner_of[p], env_config, n_games, seed)
                for p in partners}  # fmt: skip
    effects: list[Effect] = []
    for t, (name, units) in enumerate(targets.items()):
        unit_sets = [units, *random_controls(units, stats_.layer_sizes, n_controls, seed=seed + 1000 * t)]
        for kind in kinds:
            intervention = Intervention(kind, unit_sets, stats_, alpha=alpha, seed=seed)
            agent = IntervenedPolicy(model, intervention, condition_of_game, deterministic)
            with intervene(model.policy, intervention):
                for p in partners:
                    played = play_episodes(agent, agent if p == "self" else partner_of[p], env_config, n_games, seed)
                    effects.append(_effect(name, kind, p, units, baseline[p], played, conditions, int(episodes), seed))
    return InterventionStudy(effects, dict(targets), int(episodes), int(n_controls), float(alpha), int(seed))


def _effect(target: str, kind: str, partner: str, units: UnitSet, intact: EpisodeBatch, played: EpisodeBatch,
            conditions: int, episodes: int, seed: int) -> Effect:  # fmt: skip
    """The target's effect (condition 0) with its interval, and every control's effect."""

    def agent_role(batch: EpisodeBatch, games: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return {k: v[games, 0] for k, v in batch.counts.items()}, batch.scores[games, 0].astype(np.float64)

    def delta(games: np.ndarray) -> np.ndarray:
        after, before = figures_of(*agent_role(played, games)), figures_of(*agent_role(intact, games))
        with np.errstate(invalid="ignore"):
            return np.array([after[f] - before[f] for f in FIGURES])

    target_games = np.arange(episodes)
    point = delta(target_games)
    control = np.array([delta(np.arange(c * episodes, (c + 1) * episodes)) for c in range(1, conditions)]).reshape(-1, len(FIGURES))
    low, high = _bootstrap(delta, target_games, seed)
    score_diff = played.scores[target_games, 0] - intact.scores[target_games, 0]
    _, low[0], high[0] = mean_ci(score_diff)
    percentile = {}
    for i, f in enumerate(FIGURES):
        finite = control[:, i][np.isfinite(control[:, i])]
        percentile[f] = float(stats.percentileofscore(finite, point[i], kind="mean")) if finite.size and np.isfinite(point[i]) else math.nan
    return Effect(
        target, kind, partner, int(sum(u.size for u in units.values())),
        figures_of(*agent_role(intact, target_games)), figures_of(*agent_role(played, target_games)),
        dict(zip(FIGURES, point.tolist())), {f: (float(low[i]), float(high[i])) for i, f in enumerate(FIGURES)},
        {f: control[:, i] for i, f in enumerate(FIGURES)}, percentile,
    )  # fmt: skip


def _bootstrap(delta: Any, games: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """95 % paired percentile-bootstrap bounds of ``delta`` (every figure) over ``games``; NaN when undefined."""
    if games.size < 2:
        return np.full(len(FIGURES), np.nan), np.full(len(FIGURES), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # no help at all: a zero-width interval is right
        res = stats.bootstrap((games,), delta, vectorized=False, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                              random_state=np.random.default_rng(seed))  # fmt: skip
    return np.array(res.confidence_interval.low, dtype=np.float64), np.array(res.confidence_interval.high, dtype=np.float64)
