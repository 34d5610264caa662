"""Evaluate a trained run: find its model and env config, play seeded episodes, count behaviour.

Everything ``python evaluate.py`` needs on the game side lives here; the CMNI side is
:mod:`cmni.analysis`, the circuits :mod:`cmni.circuits`, the files :mod:`agents.report`.

Episodes
    ``n_episodes`` games are played *at once* in the batched rules core
    (:func:`frogtoad_env.core.step`), each for the run's ``max_steps`` steps. Each game
    has two *roles*: the ``agent`` (the evaluated policy) and its ``partner``. The agent
    sits in the frog's seat in even games and in the toad's seat in odd games, so neither
    seat is favoured. A policy's forward pass is batched over all games (one
    ``model.predict`` call per step on a ``(n_games, obs)`` array; when the partner is the
    same object, one call on ``(2 * n_games, obs)``).

    The trained policy acts deterministically by default (``deterministic=True``: the
    most likely action); pass ``deterministic=False`` to sample. All randomness is seeded:
    ``seed`` spawns independent streams for the rules, the observation veil and the
    random policies, so the same seed gives the same episodes.

Figures (per role, pooled over episodes)
    - score: points per player per episode; mean with a 95% confidence interval
      ``mean +- t_{0.975, n-1} * s / sqrt(n)`` over the ``n`` episodes (Student t;
      ``s`` the sample standard deviation). For rows pooling both seats the per-episode
      value is the mean of the two players' points.
    - help rates from the counted events of :class:`frogtoad_env.behaviour.BehaviourCounter`
      (pooled over all episodes of the role): ``help_rate_partner_distressed`` = helps
      chosen while the partner's distress flag (what the player saw) was set / steps with
      that flag set; ``help_rate_partner_ok`` the same when it was not set;
      ``help_ratio`` = the first / the second.
    - ``stalled_fraction``: steps begun at 0 energy / steps.
    - ``leap_rate_rough_ahead``: leaps chosen with rough ground in the next cell / such steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from experiment.run_folder import CHECKPOINT_DIR, CONFIG_FILE, FINAL_MODEL, RunFolder, checkpoint_step, one_line
from frogtoad_env import core
from frogtoad_env.behaviour import BehaviourCounter, rates_from_counts
from frogtoad_env.checks import check_int
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import observation_space, observe
from frogtoad_env.render import render_ansi, render_rgb
from frogtoad_env.scripted import scripted_actions

__all__ = [
    "ROLES",
    "PARTNER_CHOICES",
    "EvaluationError",
    "RunSpec",
    "resolve_run",
    "read_env_config",
    "load_policy_model",
    "SeatPolicy",
    "ModelPolicy",
    "ScriptedPolicy",
    "RandomPolicy",
    "ObservationPolicy",
    "make_partner",
    "Replay",
    "EpisodeBatch",
    "BehaviourSummary",
    "play_episodes",
    "evaluate_behaviour",
    "mean_ci",
    "t_quantile",
    "policy_weight_chain",
]

#: The two roles of an evaluation game.
ROLES: tuple[str, str] = ("agent", "partner")

#: Partner names understood by :func:`make_partner` (anything else is a model path).
PARTNER_CHOICES: tuple[str, ...] = ("self", "scripted", "random")



class EvaluationError(Exception):
    """Bad input for the evaluation; the message is one line meant for the user."""


# --------------------------------------------------------------------------- run folder


@dataclass(frozen=True)
class RunSpec:
    """What to evaluate, resolved from the user's path.

    Attributes:
        source: the path the user gave.
        run_dir: the run folder (holds ``config.json``), or None for a lone checkpoint.
        model_path: the ``.zip`` to evaluate.
        checkpoint_step: training step of ``model_path`` when it is a checkpoint
            ``step_<n>.zip``; None for ``final_model.zip`` or another name.
        env_config: the run's env config (defaults when no ``config.json`` was found).
        train_config: the run's whole ``config.json`` ({} when none).
        checkpoints: ``(step, path)`` of every checkpoint of the run, oldest first.
        notes: remarks for the user (e.g. "no config.json: using the default env config").
    """

    source: Path
    run_dir: Path | None
    model_path: Path
    checkpoint_step: int | None
    env_config: EnvConfig
    train_config: dict[str, Any]
    checkpoints: tuple[tuple[int, Path], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def seed(self) -> int:
        """The training seed from ``config.json`` (0 if unknown)."""
        value = self.train_config.get("seed", 0)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_env_config(config: dict[str, Any], where: str = "config.json") -> EnvConfig:
    """The :class:`EnvConfig` nested in a train config (key ``"env"``), or EvaluationError.

    A flat config holding only :class:`EnvConfig` keys is accepted too.
    """
    env = config.get("env", config.get("env_config"))
    if env is None:
        names = {f.name for f in fields(EnvConfig)}
        env = {k: v for k, v in config.items() if k in names}
    if not isinstance(env, dict):
        raise EvaluationError(f"{where}: the env config must be a JSON object, got {env!r}")
    try:
        return EnvConfig.from_kwargs(env)
    except (ValueError, TypeError) as error:
        raise EvaluationError(f"{where}: invalid env config: {one_line(error)}") from None


def _read_config(run_dir: Path) -> tuple[dict[str, Any], EnvConfig]:
    path = run_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EvaluationError(f"cannot read {path}: {one_line(error)}") from None
    if not isinstance(data, dict):
        raise EvaluationError(f"{path} is not a JSON object")
    return data, read_env_config(data, str(path))


def resolve_run(path: str | Path, checkpoint: str | int | None = None) -> RunSpec:
    """Find the model and env config behind ``path``.

    Args:
        path: a run folder (``config.json`` plus ``final_model.zip`` or checkpoints) or
            a model ``.zip``. For a lone ``.zip`` the env config comes from the enclosing
            run folder (the zip's folder, or its parent when the zip sits in
            ``checkpoints/``), else the defaults (and a note says so).
        checkpoint: with a run folder, a training step (``checkpoints/step_<n>.zip``)
            or a path to a ``.zip``; default ``final_model.zip``, else the latest
            checkpoint.

    Raises:
        EvaluationError: the path does not exist, the folder is not a run, the
            checkpoint does not exist.
    """
    source = Path(path)
    if not source.exists():
        raise EvaluationError(f"{str(source)!r} does not exist")
    notes: list[str] = []
    if source.is_dir():
        run_dir: Path | None = source
        if not (source / CONFIG_FILE).is_file():
            raise EvaluationError(f"{str(source)!r} is not a run folder: it has no {CONFIG_FILE}")
        train_config, env_config = _read_config(source)
        checkpoints = RunFolder(source).checkpoints()
        model_path = _pick_model(source, checkpoint, checkpoints)
    else:
        if checkpoint is not None:
            raise EvaluationError("--checkpoint needs a run folder, not a model file")
        if source.suffix != ".zip":
            raise EvaluationError(f"{str(source)!r} is neither a run folder nor a model .zip")
        model_path = source
        run_dir = _enclosing_run(source)
        if run_dir is None:
            train_config, env_config = {}, EnvConfig()
            checkpoints = []
            notes.append(f"no {CONFIG_FILE} next to {source.name}: using the default env config")
        else:
            train_config, env_config = _read_config(run_dir)
            checkpoints = RunFolder(run_dir).checkpoints()
            notes.append(f"env config from {run_dir / CONFIG_FILE}")
    return RunSpec(
        source=source,
        run_dir=run_dir,
        model_path=model_path,
        checkpoint_step=checkpoint_step(model_path),
        env_config=env_config,
        train_config=train_config,
        checkpoints=tuple(checkpoints),
        notes=tuple(notes),
    )


def _enclosing_run(model: Path) -> Path | None:
    folder = model.resolve().parent
    for candidate in (folder, folder.parent) if folder.name == CHECKPOINT_DIR else (folder,):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def _pick_model(run_dir: Path, checkpoint: str | int | None, checkpoints: list[tuple[int, Path]]) -> Path:
    if checkpoint is None:
        final = run_dir / FINAL_MODEL
        if final.is_file():
            return final
        if checkpoints:
            return checkpoints[-1][1]
        raise EvaluationError(f"{str(run_dir)!r} is not a run folder: no {FINAL_MODEL} and no {CHECKPOINT_DIR}/step_*.zip")
    text = str(checkpoint).strip()
    if text.isdigit():
        step = int(text)
        for s, p in checkpoints:
            if s == step:
                return p
        known = ", ".join(str(s) for s, _ in checkpoints) or "none"
        raise EvaluationError(f"no checkpoint at step {step} in {run_dir / CHECKPOINT_DIR} (steps: {known})")
    candidate = Path(text)
    for p in (candidate, run_dir / candidate, run_dir / CHECKPOINT_DIR / candidate):
        if p.is_file():
            return p
    raise EvaluationError(f"checkpoint {text!r} is neither a step number nor an existing .zip")


def load_policy_model(path: Path, env_config: EnvConfig) -> Any:
    """Load an SB3 PPO model on the CPU and check that it fits the env.

    Returns:
        The ``stable_baselines3.PPO`` model.

    Raises:
        EvaluationError: the file is not a loadable SB3 PPO save, or its observation
            space (shape) or action space does not match ``env_config``.
    """
    from stable_baselines3 import PPO

    # schedules are not needed to act; replacing them avoids unpickling lambdas
    custom = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0}
    try:
        model = PPO.load(str(path), device="cpu", custom_objects=custom)
    except Exception as error:  # zipfile, pickle, torch and SB3 raise many kinds
        raise EvaluationError(f"cannot load model {path}: {one_line(error)}") from None
    expected = observation_space(env_config.obs_mode, env_config.width).shape
    got = tuple(getattr(model.observation_space, "shape", None) or ())
    if got != tuple(expected):
        raise EvaluationError(
            f"model {path} expects observations of shape {got}, but the env "
            f"(obs_mode={env_config.obs_mode!r}, width={env_config.width}) gives {tuple(expected)}"
        )
    n_actions = getattr(model.action_space, "n", None)
    if n_actions != core.N_ACTIONS:
        raise EvaluationError(f"model {path} has action space {model.action_space}, the game needs Discrete({core.N_ACTIONS})")
    return model


# --------------------------------------------------------------------------- policies


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


def make_partner(spec: str, agent: SeatPolicy, env_config: EnvConfig, seed: int = 0) -> SeatPolicy:
    """The partner named by ``spec``: ``self`` (``agent`` itself), ``scripted``,
    ``random`` (seeded with ``seed``) or a path to a saved SB3 model.

    Raises:
        EvaluationError: an unknown name that is not an existing model file.
    """
    if spec == "self":
        return agent
    if spec == "scripted":
        return ScriptedPolicy()
    if spec == "random":
        return RandomPolicy(np.random.SeedSequence([int(seed), 7]))
    path = Path(spec)
    if not path.is_file():
        raise EvaluationError(f"--partner {spec!r} is not one of {list(PARTNER_CHOICES)} nor an existing model file")
    deterministic = getattr(agent, "deterministic", True)
    return ModelPolicy(load_policy_model(path, env_config), name=f"model:{path.name}", deterministic=deterministic)


# --------------------------------------------------------------------------- episodes


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

    def summary(self, roles: Sequence[str] = ROLES, label: str | None = None) -> BehaviourSummary:
        """Figures pooled over ``roles`` (one or both of ``"agent"``, ``"partner"``).

        With both roles, the per-episode score is the mean of the two players'.
        """
        idx = [ROLES.index(r) for r in roles]
        totals = {name: int(c[:, idx].sum()) for name, c in self.counts.items()}
        per_episode = self.scores[:, idx].mean(axis=1).astype(np.float64)
        mean, low, high = mean_ci(per_episode)
        names = [self.policy_names[i] for i in idx]
        partner = self.policy_names[1 - idx[0]] if len(idx) == 1 else self.policy_names[1]
        return BehaviourSummary(
            label=label or (f"{names[0]} ({roles[0]})" if len(idx) == 1 else f"{names[0]} + {names[-1]}"),
            policy=names[0] if len(set(names)) == 1 else "+".join(names),
            partner=partner,
            roles=tuple(roles),
            n_episodes=self.n_episodes,
            steps=self.steps,
            score_mean=mean,
            score_std=float(per_episode.std(ddof=1)) if per_episode.size > 1 else math.nan,
            score_ci_low=low,
            score_ci_high=high,
            counts=totals,
        )


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
        EvaluationError: an unknown partner.
    """
    agent = ModelPolicy(model, name="trained", deterministic=deterministic)
    partner_policy = make_partner(partner, agent, env_config, seed)
    main = play_episodes(agent, partner_policy, env_config, n_episodes, seed, record_replay=record_replay)
    partner_label = "self" if partner_policy is agent else partner_policy.name
    rows = [
        main.summary(("agent",), label=f"trained (with {partner_label})"),
        main.summary(("partner",), label=f"{'trained' if partner_policy is agent else partner_policy.name} (partner)"),
    ]
    refs: dict[str, EpisodeBatch] = {}
    if references:
        scripted = ScriptedPolicy()
        refs["scripted"] = play_episodes(scripted, scripted, env_config, n_episodes, seed)
        random_policy = RandomPolicy(np.random.SeedSequence([int(seed), 11]))
        refs["random"] = play_episodes(random_policy, random_policy, env_config, n_episodes, seed)
        rows += [refs[k].summary(ROLES, label=f"{k} (both seats)") for k in ("scripted", "random")]
    return BehaviourReport(rows=rows, main=main, references=refs, deterministic=deterministic)


# --------------------------------------------------------------------------- statistics


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution (numerical, no scipy), for ``0.5 <= p < 1``.

    The CDF is integrated with Simpson's rule on ``[0, x]`` and inverted by bisection;
    accurate to about 1e-6 for ``df >= 1``. ``df = inf`` gives the normal quantile.
    """
    if not 0.5 <= p < 1.0:
        raise ValueError(f"p must be in [0.5, 1), got {p}")
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    if p == 0.5:
        return 0.0
    if math.isinf(df):
        return _bisect(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)), p, 0.0, 50.0)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(x: float) -> float:
        grid = np.linspace(0.0, x, 4001)
        dens = np.exp(log_c - (df + 1) / 2 * np.log1p(grid * grid / df))
        h = x / 4000
        return 0.5 + h / 3 * (dens[0] + dens[-1] + 4 * dens[1:-1:2].sum() + 2 * dens[2:-1:2].sum())

    hi = 1.0
    while cdf(hi) < p:
        hi *= 2.0
        if hi > 1e7:
            return math.inf
    return _bisect(cdf, p, 0.0, hi)


def _bisect(f: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student-t interval ``mean +- t * s / sqrt(n)`` over ``values`` (n,).

    ``s`` is the sample standard deviation (ddof=1). With one value the bounds are NaN.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + confidence / 2, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------- weights (torch side)


def policy_weight_chain(policy: Any) -> tuple[list[str], list[np.ndarray]]:
    """The actor's forward weights as numpy, for :func:`cmni.circuits.find_paths`.

    Returns:
        ``(layer_names, weights)``: the probed layers in forward order, named as
        :mod:`cmni.recorder` names them (``coupled`` for the coupled extractor, then
        ``pi.0``, ``pi.1``...), and ``weights[i]`` of shape ``(n_{i+1}, n_i)`` from layer
        ``i`` to the next, the last into the action logits (``action_net.weight``).

    Raises:
        ValueError: the policy has no ``mlp_extractor.policy_net`` / ``action_net`` or
            its actor is not a chain of Linear layers after the features.
    """
    from torch import nn

    from cmni.recorder import layer_names as recorder_layer_names

    names = recorder_layer_names(policy)
    policy_net = getattr(getattr(policy, "mlp_extractor", None), "policy_net", None)
    action_net = getattr(policy, "action_net", None)
    if policy_net is None or not isinstance(action_net, nn.Linear):
        raise ValueError(f"{type(policy).__name__} is not an SB3 actor-critic policy with a Linear action_net")
    linears = [m for m in policy_net.modules() if isinstance(m, nn.Linear)] + [action_net]
    pi_names = [n for n in names if n.startswith("pi.")]
    feature_names = [n for n in names if not n.startswith("pi.")]
    if len(pi_names) != len(linears) - 1 or len(feature_names) > 1:
        raise ValueError(
            f"cannot read the actor as a chain of layers: probed layers {names}, "
            f"{len(linears)} Linear modules after the features"
        )
    chain = feature_names + pi_names
    if not feature_names:
        linears = linears[1:]  # no probed feature layer: start at pi.0
    weights = [m.weight.detach().cpu().numpy().astype(np.float64) for m in linears]
    return chain, weights
