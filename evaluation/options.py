"""The settings of one evaluation, validated in one place.

:class:`ReportOptions` is the one validation layer behind ``evaluate.py``: the command line
only parses text into numbers and builds a ReportOptions, whose ValueError (one line naming
the setting, what is allowed and the bad value) becomes exit status 2. Light to import (no
plotting, no torch), so bad flags are refused at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmni.interventions import check_alpha
from frogtoad_env.checks import check_int, check_positive

from .partners import check_partner

__all__ = ["ReportOptions", "PPO_ONLY_OPTIONS"]

#: fields only the PPO report uses: a classifier's run has no probe set to intervene with, and
#: its CMNI curve is the one training measured on the test split.
PPO_ONLY_OPTIONS: tuple[str, ...] = (
    "recompute_cmni", "interventions", "intervention_episodes", "intervention_controls", "intervention_top_k",
    "steer_alpha", "intervention_units",
)  # fmt: skip


@dataclass(frozen=True)
class ReportOptions:
    """Settings of one evaluation, validated here (ValueError naming the field and what is allowed).

    Attributes:
        episodes: games per matchup (>= 1).
        seed: seeds the episodes, a freshly built probe set and the permutation test (>= 0).
        partner: ``self``, ``scripted``, ``random`` or the path of a model file.
        deterministic: the trained policy takes its most likely action.
        threshold: ``|z|`` above which a weight is a strong edge (> 0).
        n_permutations: shuffles of the permutation test.
        probe_per_scenario: states per scenario when a probe set must be built.
        recompute_cmni: recompute the curve from the checkpoints even if ``cmni.csv`` exists.
        curve_episodes: episodes per checkpoint for the score of a recomputed curve.
        gif_scale: pixel upscale of the replay frames.
        gif_frame_ms: duration of one GIF frame in milliseconds.
        max_drawn_paths: paths drawn in the circuits figure (the strongest; all go to the CSV).
        interventions: run the causal interventions (:mod:`evaluation.interventions`).
        intervention_episodes: games per condition and partner of the interventions.
        intervention_controls: random-unit control sets per target set.
        intervention_top_k: size of the ``top_mns`` target set.
        steer_alpha: steering strength (finite).
        intervention_units: the user's target set, ``((layer, (unit, ...)), ...)`` (checked
            against the model's layers when it is loaded).
    """

    episodes: int = 32
    seed: int = 0
    partner: str = "self"
    deterministic: bool = True
    threshold: float = 2.0
    n_permutations: int = 200
    probe_per_scenario: int = 500
    recompute_cmni: bool = False
    curve_episodes: int = 8
    gif_scale: int = 2
    gif_frame_ms: int = 80
    max_drawn_paths: int = 40
    interventions: bool = False
    intervention_episodes: int = 16
    intervention_controls: int = 20
    intervention_top_k: int = 5
    steer_alpha: float = 1.0
    intervention_units: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        for name in ("episodes", "n_permutations", "probe_per_scenario", "curve_episodes", "gif_scale", "gif_frame_ms",
                     "max_drawn_paths", "intervention_episodes", "intervention_controls", "intervention_top_k"):  # fmt: skip
            check_int(name, getattr(self, name))
        check_int("seed", self.seed, minimum=0)
        check_positive("threshold", self.threshold)
        check_partner(self.partner)
        check_alpha("steer_alpha", self.steer_alpha)

    def ppo_only_set(self) -> list[str]:
        """The :data:`PPO_ONLY_OPTIONS` that differ from their defaults (a supervised run refuses them)."""
        defaults = ReportOptions()
        return [name for name in PPO_ONLY_OPTIONS if getattr(self, name) != getattr(defaults, name)]
