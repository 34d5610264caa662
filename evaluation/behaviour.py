"""The behaviour table of an evaluation: scores with confidence intervals, help rates per role.

:func:`evaluate_behaviour` plays the trained model with its partner and, for reference,
the scripted and the random policy in both seats, all on the same seeded episodes
(:func:`evaluation.episodes.play_episodes`). Each row of the table
(:class:`BehaviourSummary`) pools one or both roles over all episodes:

- score: points per player per episode; mean with a 95% Student-t interval over the
  episodes (:func:`evaluation.statistics.mean_ci`). For rows pooling both seats the
  per-episode value is the mean of the two players' points.
- help rates from the counted events of :class:`frogtoad_env.behaviour.BehaviourCounter`,
  computed by :func:`frogtoad_env.behaviour.rates_from_counts`:
  ``help_rate_partner_distressed`` = helps chosen while the partner's distress flag (what
  the player saw) was set / steps with that flag set; ``help_rate_partner_ok`` the same
  when it was not set; ``help_ratio`` = the first / the second.
- ``stalled_fraction``: steps begun at 0 energy / steps.
- ``leap_rate_rough_ahead``: leaps chosen with rough ground in the next cell / such steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from frogtoad_env.behaviour import rates_from_counts
from frogtoad_env.config import EnvConfig

from .episodes import ROLES, EpisodeBatch, play_episodes
from .partners import ModelPolicy, RandomPolicy, ScriptedPolicy, make_partner
from .statistics import mean_ci

__all__ = ["BehaviourSummary", "BehaviourReport", "evaluate_behaviour"]


@dataclass
class BehaviourSummary:
    """One row of the behaviour table: pooled, counted figures of one or two roles.

    Rates are ratios of the pooled ``counts`` (NaN where the condition never held).
    """

    label: str
    policy: str
    partner: str
    roles: tuple[str, ...]
    n_episodes: int
    steps: int
    score_mean: float
    score_std: float
    score_ci_low: float
    score_ci_high: float
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, batch: EpisodeBatch, roles: Sequence[str] = ROLES, label: str | None = None) -> BehaviourSummary:
        """The figures of ``batch`` pooled over ``roles`` (one or both of ``"agent"``, ``"partner"``).

        With both roles, the per-episode score is the mean of the two players'.
        """
        idx = [ROLES.index(r) for r in roles]
        totals = {name: int(c[:, idx].sum()) for name, c in batch.counts.items()}
        per_episode = batch.scores[:, idx].mean(axis=1).astype(np.float64)
        mean, low, high = mean_ci(per_episode)
        names = [batch.policy_names[i] for i in idx]
        partner = batch.policy_names[1 - idx[0]] if len(idx) == 1 else batch.policy_names[1]
        return cls(
            label=label or (f"{names[0]} ({roles[0]})" if len(idx) == 1 else f"{names[0]} + {names[-1]}"),
            policy=names[0] if len(set(names)) == 1 else "+".join(names),
            partner=partner,
            roles=tuple(roles),
            n_episodes=batch.n_episodes,
            steps=batch.steps,
            score_mean=mean,
            score_std=float(per_episode.std(ddof=1)) if per_episode.size > 1 else math.nan,
            score_ci_low=low,
            score_ci_high=high,
            counts=totals,
        )

    @property
    def rates(self) -> dict[str, float]:
        """The rates of :func:`frogtoad_env.behaviour.rates_from_counts` on ``counts``."""
        return rates_from_counts(self.counts)

    @property
    def help_rate(self) -> float:
        return self.rates["help_rate"]

    @property
    def help_rate_partner_distressed(self) -> float:
        return self.rates["help_rate_partner_distressed"]

    @property
    def help_rate_partner_ok(self) -> float:
        return self.rates["help_rate_partner_ok"]

    @property
    def help_ratio(self) -> float:
        """``help_rate_partner_distressed / help_rate_partner_ok`` (inf when only the first is > 0)."""
        a, b = self.help_rate_partner_distressed, self.help_rate_partner_ok
        if math.isnan(a) or math.isnan(b):
            return math.nan
        if b == 0:
            return math.inf if a > 0 else math.nan
        return a / b

    @property
    def stalled_fraction(self) -> float:
        return self.rates["stalled_fraction"]

    @property
    def leap_rate_rough_ahead(self) -> float:
        return self.rates["leap_rate_rough_ahead"]

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON/CSV-friendly row (counts included)."""
        return {
            "label": self.label,
            "policy": self.policy,
            "partner": self.partner,
            "roles": "+".join(self.roles),
            "n_episodes": self.n_episodes,
            "steps": self.steps,
            "score_mean": self.score_mean,
            "score_std": self.score_std,
            "score_ci_low": self.score_ci_low,
            "score_ci_high": self.score_ci_high,
            "help_rate": self.help_rate,
            "help_rate_partner_distressed": self.help_rate_partner_distressed,
            "help_rate_partner_ok": self.help_rate_partner_ok,
            "help_ratio": self.help_ratio,
            "stalled_fraction": self.stalled_fraction,
            "leap_rate_rough_ahead": self.leap_rate_rough_ahead,
            **{f"count_{k}": v for k, v in self.counts.items()},
        }


@dataclass
class BehaviourReport:
    """The behaviour table of one evaluation.

    Attributes:
        rows: the agent row, the partner row, then the reference rows (scripted and
            random in both seats).
        main: the agent-vs-partner episodes (with the replay of game 0).
        references: name -> episodes of the reference policies.
        deterministic: whether the trained policy acted deterministically.
    """

    rows: list[BehaviourSummary]
    main: EpisodeBatch
    references: dict[str, EpisodeBatch]
    deterministic: bool

    @property
    def agent(self) -> BehaviourSummary:
        return self.rows[0]


def evaluate_behaviour(
    model: Any,
    env_config: EnvConfig,
    partner: str = "self",
    n_episodes: int = 32,
    seed: int = 0,
    deterministic: bool = True,
    references: bool = True,
    record_replay: bool = True,
) -> BehaviourReport:
    """Play the trained ``model`` with ``partner`` and, for reference, scripted and random
    policies in both seats, all on episodes seeded with ``seed``.

    Raises:
        ValueError: an unknown partner.
        experiment.run_folder.RunError: a model partner that cannot be loaded.
    """
    agent = ModelPolicy(model, name="trained", deterministic=deterministic)
    partner_policy = make_partner(partner, agent, env_config, seed)
    main = play_episodes(agent, partner_policy, env_config, n_episodes, seed, record_replay=record_replay)
    partner_label = "self" if partner_policy is agent else partner_policy.name
    rows = [
        BehaviourSummary.of(main, ("agent",), label=f"trained (with {partner_label})"),
        BehaviourSummary.of(main, ("partner",), label=f"{'trained' if partner_policy is agent else partner_policy.name} (partner)"),
    ]
    refs: dict[str, EpisodeBatch] = {}
    if references:
        scripted = ScriptedPolicy()
        refs["scripted"] = play_episodes(scripted, scripted, env_config, n_episodes, seed)
        random_policy = RandomPolicy(np.random.SeedSequence([int(seed), 11]))
        refs["random"] = play_episodes(random_policy, random_policy, env_config, n_episodes, seed)
        rows += [BehaviourSummary.of(refs[k], ROLES, label=f"{k} (both seats)") for k in ("scripted", "random")]
    return BehaviourReport(rows=rows, main=main, references=refs, deterministic=deterministic)
