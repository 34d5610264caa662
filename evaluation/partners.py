"""The players of an evaluation game: the trained model, its partner and the reference policies.

Each policy acts for a batch of seats at once (:class:`SeatPolicy`), so
:func:`evaluation.episodes.play_episodes` makes one forward pass per step for all games.
:func:`make_partner` is the one place that turns a ``--partner`` value into a policy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from frogtoad_env import core
from frogtoad_env.config import EnvConfig
from frogtoad_env.scripted import scripted_actions

__all__ = [
    "PARTNER_CHOICES",
    "SeatPolicy",
    "ModelPolicy",
    "ScriptedPolicy",
    "RandomPolicy",
    "ObservationPolicy",
    "check_partner",
    "make_partner",
]

#: Partner names understood by :func:`make_partner` (anything else is a model path).
PARTNER_CHOICES: tuple[str, ...] = ("self", "scripted", "random")


class SeatPolicy(Protocol):
    """A player for a batch of seats. ``name`` labels it in tables."""

    name: str

    def act(self, state: core.GameState, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """Actions for the seats ``(games[i], players[i])``.

        Args:
            state: all games (read only).
            games: ``(n,)`` game indices; players: ``(n,)`` seat (0 frog, 1 toad).
            observations: ``(n, obs_dim)`` float32, what each of those seats sees.

        Returns:
            ``(n,)`` int actions in 0..3.
        """
        ...


class ModelPolicy:
    """An SB3 model; ``deterministic=True`` takes the most likely action."""

    def __init__(self, model: Any, name: str = "trained", deterministic: bool = True) -> None:
        self.model = model
        self.name = name
        self.deterministic = deterministic

    def act(self, state: core.GameState, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(observations, deterministic=self.deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(-1)


class ScriptedPolicy:
    """The paper's hand-written rule (:func:`frogtoad_env.scripted.scripted_actions`)."""

    name = "scripted"

    def act(self, state: core.GameState, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return scripted_actions(state)[games, players]


class RandomPolicy:
    """Uniform random actions from a seeded generator."""

    name = "random"

    def __init__(self, seed: int | np.random.SeedSequence | None = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, state: core.GameState, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, core.N_ACTIONS, size=games.shape[0]).astype(np.int64)


class ObservationPolicy:
    """Any function of observations ``(n, obs_dim) -> (n,)`` actions (hand-written policies, tests)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], name: str = "custom") -> None:
        self.fn = fn
        self.name = name

    def act(self, state: core.GameState, games: np.ndarray, players: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(observations), dtype=np.int64).reshape(-1)


def check_partner(partner: object) -> str:
    """``partner`` if it is one of :data:`PARTNER_CHOICES` or an existing file, else ValueError."""
    if not isinstance(partner, str) or (partner not in PARTNER_CHOICES and not Path(partner).is_file()):
        raise ValueError(f"partner must be one of {list(PARTNER_CHOICES)} or an existing model file, got {partner!r}")
    return partner


def make_partner(partner: str, agent: SeatPolicy, env_config: EnvConfig, seed: int = 0) -> SeatPolicy:
    """The partner named by ``partner``: ``self`` (``agent`` itself), ``scripted``,
    ``random`` (seeded with ``seed``) or a path to a saved PPO model (acting
    deterministically when ``agent`` does).

    Raises:
        ValueError: an unknown name that is not an existing file.
        experiment.run_folder.RunError: the model file cannot be loaded or does not fit ``env_config``.
    """
    check_partner(partner)
    if partner == "self":
        return agent
    if partner == "scripted":
        return ScriptedPolicy()
    if partner == "random":
        return RandomPolicy(np.random.SeedSequence([int(seed), 7]))
    from agents.checkpoints import load_ppo  # torch only when a model partner is asked for

    path = Path(partner)
    deterministic = getattr(agent, "deterministic", True)
    return ModelPolicy(load_ppo(path, env_config=env_config), name=f"model:{path.name}", deterministic=deterministic)
