"""Playing evaluation games: ``n`` seeded games at once in the batched rules core.

``n_episodes`` games are played together in :func:`frogtoad_env.core.step`, each for the
env config's ``max_steps`` steps. Each game has two *roles*: the ``agent`` (the evaluated
policy) and its ``partner``. The agent sits in the frog's seat in even games and in the
toad's seat in odd games, so neither seat is favoured. A policy's forward pass is batched
over all games (one ``act`` call per step on ``(n_games, obs)``; when the partner is the
same object, one call on ``(2 * n_games, obs)``).

All randomness is seeded: ``seed`` spawns independent streams for the rules and the
observation veil (random policies carry their own seeded generator), so the same seed
gives the same episodes. What the players did is counted by
:class:`frogtoad_env.behaviour.BehaviourCounter`; :mod:`evaluation.behaviour` turns the
counts into the table's rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frogtoad_env import core
from frogtoad_env.behaviour import BehaviourCounter
from frogtoad_env.checks import check_int
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import observe
from frogtoad_env.render import render_ansi, render_rgb

from .partners import SeatPolicy

__all__ = ["ROLES", "Replay", "EpisodeBatch", "play_episodes"]

#: The two roles of an evaluation game.
ROLES: tuple[str, str] = ("agent", "partner")


@dataclass
class Replay:
    """One game of an :class:`EpisodeBatch`, step by step.

    Attributes:
        ansi: ``T + 1`` text frames (:func:`render_ansi`), the start state first.
        frames: ``T + 1`` images ``(40, 8 * width, 3)`` uint8 (:func:`render_rgb`).
        actions: ``(T, 2)`` int64, the actions of frog and toad in each step.
        scores: ``(T + 1, 2)`` int64, frog's and toad's points at each frame.
        seat_names: policy name in the frog's and the toad's seat.
        agent_seat: the seat of the agent role (0 frog, 1 toad).
    """

    ansi: list[str]
    frames: list[np.ndarray]
    actions: np.ndarray
    scores: np.ndarray
    seat_names: tuple[str, str]
    agent_seat: int


@dataclass
class EpisodeBatch:
    """Counted outcome of ``n`` games played together.

    Attributes:
        policy_names: name of the policy in each role (agent, partner).
        scores: ``(n, 2)`` int64 points of each role per episode.
        counts: counter name -> ``(n, 2)`` int64 per role (the counters of
            :class:`BehaviourCounter`: steps, helps, partner_distressed_steps,
            helps_partner_distressed, helps_partner_ok, stalled_steps,
            rough_ahead_steps, leaps_on_rough_ahead).
        agent_seat: ``(n,)`` int64 seat of the agent role in each game.
        steps: steps per episode.
        seed: the seed of the batch.
        replay: game 0 step by step, when recorded.
    """

    policy_names: tuple[str, str]
    scores: np.ndarray
    counts: dict[str, np.ndarray]
    agent_seat: np.ndarray
    steps: int
    seed: int
    replay: Replay | None = None

    @property
    def n_episodes(self) -> int:
        return int(self.scores.shape[0])


def play_episodes(
    agent: SeatPolicy,
    partner: SeatPolicy,
    env_config: EnvConfig,
    n_episodes: int,
    seed: int = 0,
    alternate_seats: bool = True,
    record_replay: bool = False,
) -> EpisodeBatch:
    """Play ``n_episodes`` games of ``env_config.max_steps`` steps, all at once.

    Args:
        agent, partner: the two roles' policies (may be the same object: self-play).
        env_config: width, dependency, obs_mode, veil and max_steps are used.
        n_episodes: games (>= 1).
        seed: seeds the rules' random stream and the observation veil.
        alternate_seats: the agent plays the frog in even games and the toad in odd
            ones; False: always the frog.
        record_replay: keep game 0 step by step (text and images).

    Returns:
        An :class:`EpisodeBatch` with per-role scores and behaviour counts.
    """
    n = check_int("n_episodes", n_episodes)
    rules_seq, veil_seq = np.random.SeedSequence(int(seed)).spawn(2)
    stream = core.RandomStream(np.random.default_rng(rules_seq))
    veil_stream = core.RandomStream(np.random.default_rng(veil_seq))
    state = core.new_games(n, env_config.rules)
    counter = BehaviourCounter.zeros(n)
    games = np.arange(n)
    agent_seat = (games % 2).astype(np.int64) if alternate_seats else np.zeros(n, dtype=np.int64)
    partner_seat = 1 - agent_seat
    same = agent is partner
    replay: Replay | None = None
    if record_replay:
        names = [agent.name, partner.name]
        if agent_seat[0] == 1:
            names.reverse()
        replay = Replay([render_ansi(state, 0)], [render_rgb(state, 0)], np.zeros((0, 2), np.int64),
                        np.zeros((0, 2), np.int64), (names[0], names[1]), int(agent_seat[0]))  # fmt: skip
    replay_actions: list[np.ndarray] = []
    replay_scores: list[np.ndarray] = [state.score[0].copy()]
    for _ in range(env_config.max_steps):
        obs = observe(state, env_config.obs_mode, env_config.veil, veil_stream)
        actions = np.empty((n, 2), dtype=np.int64)
        if same:
            both_games = np.concatenate([games, games])
            both_seats = np.concatenate([agent_seat, partner_seat])
            chosen = agent.act(state, both_games, both_seats, obs[both_games, both_seats])
            actions[both_games, both_seats] = _check_actions(chosen, 2 * n, agent.name)
        else:
            for policy, seat in ((agent, agent_seat), (partner, partner_seat)):
                chosen = policy.act(state, games, seat, obs[games, seat])
                actions[games, seat] = _check_actions(chosen, n, policy.name)
        counter.record(state, actions)
        core.step(state, actions, env_config.rules, stream)
        if replay is not None:
            replay_actions.append(actions[0].copy())
            replay_scores.append(state.score[0].copy())
            replay.ansi.append(render_ansi(state, 0))
            replay.frames.append(render_rgb(state, 0))
    if replay is not None:
        replay.actions = np.asarray(replay_actions, dtype=np.int64).reshape(-1, 2)
        replay.scores = np.asarray(replay_scores, dtype=np.int64).reshape(-1, 2)
    seats = np.stack([agent_seat, partner_seat], axis=1)  # (n, 2) role -> seat
    by_role = {name: c[games[:, None], seats] for name, c in counter.counts.items()}
    return EpisodeBatch(
        policy_names=(agent.name, partner.name),
        scores=state.score[games[:, None], seats].astype(np.int64),
        counts=by_role,
        agent_seat=agent_seat,
        steps=int(env_config.max_steps),
        seed=int(seed),
        replay=replay,
    )


def _check_actions(actions: np.ndarray, n: int, name: str) -> np.ndarray:
    actions = np.asarray(actions).reshape(-1)
    if actions.shape[0] != n or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"policy {name!r} returned {actions.shape} {actions.dtype} actions, expected ({n},) integers")
    if ((actions < 0) | (actions >= core.N_ACTIONS)).any():
        raise ValueError(f"policy {name!r} returned actions outside 0..{core.N_ACTIONS - 1}")
    return actions
