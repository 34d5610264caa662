"""A fixed, balanced probe set of game states for the CMNI.

The CMNI (:mod:`cmni.metric`) compares a network's activations across the four scenarios
of :func:`frogtoad_env.core.scenario_codes` (0 none, 1 self/"act", 2 other/"observe", 3
both). This module builds the states it is measured on: a seeded rollout of the batched
rules core with a mix of scripted and uniformly random play, observed exactly as the
training env observes them (same ``obs_mode`` and ``veil``), labelled with the *true*
distress flags from the observing player's point of view
(:func:`frogtoad_env.core.scenario_codes`), then subsampled to exactly ``per_scenario``
states per scenario.

Numpy only (plus the numba-compiled core); no torch import.

Sampling
    Every step of ``n_games`` games yields ``2 * n_games`` samples (one per player).
    Each sample draws a uniform random key; per scenario the ``per_scenario`` samples
    with the smallest keys are kept (a bottom-k sketch), so the final set is a uniform
    sample without replacement of *all* states of that scenario seen in the rollout,
    while memory stays ``O(per_scenario)``. The rollout covers at least one whole
    episode (``env_config.max_steps`` steps), so states from every phase of an episode
    are represented, and goes on until every scenario has been seen at least
    ``per_scenario`` times. Games are reset after ``env_config.max_steps`` steps, as the
    env truncates them. States are those after
    a step (the reset state itself, with no distress and no last action, is not used).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frogtoad_env import core
from experiment.atomic import atomic_savez
from frogtoad_env.checks import check_int, check_unit_interval
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import observation_space, observe, swap_self_other
from frogtoad_env.scripted import scripted_actions

__all__ = ["ProbeSet", "build_probe_set", "PROBE_SET_FORMAT_VERSION"]

#: Version tag stored in the .npz; bumped when the file layout changes.
PROBE_SET_FORMAT_VERSION: int = 1

_N_SCENARIOS = 4
_REQUIRED_KEYS = ("format_version", "observations", "scenarios", "players", "episode_steps", "env_config_json", "seed")


@dataclass(frozen=True, eq=False)
class ProbeSet:
    """Observations of labelled game states, balanced over the four scenarios.

    ``n`` is ``4 * per_scenario``; rows are grouped by scenario code (all 0s, then 1s, ...)
    and in rollout order within a scenario.

    Attributes:
        observations: ``(n, obs_dim)`` float32, what the observing player saw (run's
            ``obs_mode`` and ``veil``).
        swapped_observations: ``(n, obs_dim)`` float32, the same observations with the
            self and other blocks exchanged (:func:`swap_self_other`), for the
            self-other overlap; ``None`` unless ``obs_mode == "egocentric"``.
        scenarios: ``(n,)`` int64 scenario codes from the observing player's point of
            view (0 none, 1 self, 2 other, 3 both), from the true distress flags (a veil
            may hide which block is self; the label never lies).
        players: ``(n,)`` int64, the observing player (0 frog, 1 toad).
        episode_steps: ``(n,)`` int64, steps since the game's reset (1..max_steps).
        env_config: the :class:`EnvConfig` as a dict (``EnvConfig.to_dict()``).
        seed: the seed the set was built with.
    """

    observations: np.ndarray
    swapped_observations: np.ndarray | None
    scenarios: np.ndarray
    players: np.ndarray
    episode_steps: np.ndarray
    env_config: dict[str, Any]
    seed: int

    def __post_init__(self) -> None:
        _validate(self, source="ProbeSet")

    @property
    def n_states(self) -> int:
        """Number of probe states ``n``."""
        return int(self.observations.shape[0])

    @property
    def per_scenario(self) -> int:
        """States per scenario (the set is balanced)."""
        return self.n_states // _N_SCENARIOS

    @property
    def config(self) -> EnvConfig:
        """The env configuration as an :class:`EnvConfig`."""
        return EnvConfig.from_kwargs(self.env_config)

    def scenario_counts(self) -> np.ndarray:
        """``(4,)`` int64 number of states per scenario code."""
        return np.bincount(self.scenarios, minlength=_N_SCENARIOS).astype(np.int64)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the set as an uncompressed .npz, atomically (temporary file + ``os.replace``).

        Returns:
            The path written.
        """
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.asarray(PROBE_SET_FORMAT_VERSION, dtype=np.int64),
            "observations": self.observations,
            "scenarios": self.scenarios,
            "players": self.players,
            "episode_steps": self.episode_steps,
            "env_config_json": np.asarray(json.dumps(self.env_config, sort_keys=True)),
            "seed": np.asarray(self.seed, dtype=np.int64),
        }
        if self.swapped_observations is not None:
            arrays["swapped_observations"] = self.swapped_observations
        atomic_savez(path, arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ProbeSet:
        """Read a set written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a readable .npz, misses keys, or its arrays are
                inconsistent (shapes, dtypes, codes, balance, observation size vs. the
                stored env config, swapped blocks that do not match the observations).
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"probe set file {str(path)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                contents = {key: data[key] for key in data.files}
        except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError, EOFError...
            raise ValueError(f"probe set file {str(path)!r} is not a readable .npz file: {exc}") from exc
        missing = [key for key in _REQUIRED_KEYS if key not in contents]
        if missing:
            raise ValueError(f"probe set file {str(path)!r} lacks the key(s) {missing}; is it a probe set?")
        version = int(contents["format_version"])
        if version != PROBE_SET_FORMAT_VERSION:
            raise ValueError(
                f"probe set file {str(path)!r} has format version {version}; "
                f"this code reads version {PROBE_SET_FORMAT_VERSION}"
            )
        try:
            env_config = json.loads(str(contents["env_config_json"]))
            if not isinstance(env_config, dict):
                raise ValueError("not a JSON object")
            EnvConfig.from_kwargs(env_config)
        except ValueError as exc:
            raise ValueError(f"probe set file {str(path)!r} has an invalid env config: {exc}") from exc
        try:
            return cls(
                observations=contents["observations"],
                swapped_observations=contents.get("swapped_observations"),
                scenarios=contents["scenarios"],
                players=contents["players"],
                episode_steps=contents["episode_steps"],
                env_config=env_config,
                seed=int(contents["seed"]),
            )
        except ValueError as exc:
            raise ValueError(f"probe set file {str(path)!r} is inconsistent: {exc}") from exc


def _validate(ps: ProbeSet, source: str) -> None:
    """Raise ValueError unless the fields of ``ps`` form a valid, balanced probe set."""
    config = EnvConfig.from_kwargs(ps.env_config)
    obs = ps.observations
    obs_dim = observation_space(config.obs_mode, config.width).shape[0]
    if not isinstance(obs, np.ndarray) or obs.dtype != np.float32 or obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(
            f"{source}: observations must be a float32 array (n, {obs_dim}) for obs_mode "
            f"{config.obs_mode!r} at width {config.width}; got "
            f"{getattr(obs, 'dtype', type(obs))} {getattr(obs, 'shape', '')}"
        )
    n = obs.shape[0]
    if n == 0 or n % _N_SCENARIOS:
        raise ValueError(f"{source}: need 4 * per_scenario > 0 states, got {n}")
    if not np.isfinite(obs).all():
        raise ValueError(f"{source}: observations contain NaN or inf")
    for name in ("scenarios", "players", "episode_steps"):
        arr = getattr(ps, name)
        if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.shape != (n,):
            raise ValueError(
                f"{source}: {name} must be an int64 array of shape ({n},); got "
                f"{getattr(arr, 'dtype', type(arr))} {getattr(arr, 'shape', '')}"
            )
    if ((ps.scenarios < 0) | (ps.scenarios >= _N_SCENARIOS)).any():
        raise ValueError(f"{source}: scenario codes must be in 0..3")
    counts = np.bincount(ps.scenarios, minlength=_N_SCENARIOS)
    if (counts != n // _N_SCENARIOS).any():
        raise ValueError(f"{source}: scenarios must be balanced ({n // _N_SCENARIOS} each); got counts {counts.tolist()}")
    if ((ps.players < 0) | (ps.players > 1)).any():
        raise ValueError(f"{source}: players must be 0 (frog) or 1 (toad)")
    if ((ps.episode_steps < 1) | (ps.episode_steps > config.max_steps)).any():
        raise ValueError(f"{source}: episode_steps must be in 1..max_steps={config.max_steps}")
    swapped = ps.swapped_observations
    if config.obs_mode == "egocentric":
        if swapped is None:
            raise ValueError(f"{source}: swapped_observations are required in egocentric mode")
        if not isinstance(swapped, np.ndarray) or swapped.shape != obs.shape or swapped.dtype != np.float32:
            raise ValueError(f"{source}: swapped_observations must be float32 of shape {obs.shape}")
        if not np.array_equal(swapped, swap_self_other(obs, config.width)):
            raise ValueError(f"{source}: swapped_observations are not the observations with self/other swapped")
    elif swapped is not None:
        raise ValueError(f"{source}: swapped_observations must be None in obs_mode {config.obs_mode!r}")
    if isinstance(ps.seed, bool) or not isinstance(ps.seed, (int, np.integer)):
        raise ValueError(f"{source}: seed must be an integer, got {ps.seed!r}")


class _BottomK:
    """Uniform sample without replacement of ``k`` rows out of a stream: keeps the ``k``
    rows with the smallest random keys; compacts lazily to keep the cost amortised."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.seen = 0
        self._keys: list[np.ndarray] = []
        self._rows: list[tuple[np.ndarray, ...]] = []
        self._pending = 0

    def add(self, keys: np.ndarray, *rows: np.ndarray) -> None:
        if keys.shape[0] == 0:
            return
        self.seen += keys.shape[0]
        self._keys.append(keys)
        self._rows.append(rows)
        self._pending += keys.shape[0]
        if self._pending > 4 * self.k:
            self._compact()

    def _compact(self) -> None:
        keys = np.concatenate(self._keys)
        rows = tuple(np.concatenate(parts) for parts in zip(*self._rows))
        if keys.shape[0] > self.k:
            keep = np.argpartition(keys, self.k - 1)[: self.k]
            keep.sort()  # rollout order
            keys = keys[keep]
            rows = tuple(r[keep] for r in rows)
        self._keys, self._rows, self._pending = [keys], [rows], keys.shape[0]

    def result(self) -> tuple[np.ndarray, ...]:
        self._compact()
        return self._rows[0]


def build_probe_set(
    env_config: EnvConfig,
    per_scenario: int = 1000,
    seed: int = 0,
    n_games: int = 256,
    scripted_fraction: float = 0.7,
    max_steps_rollout: int = 20_000,
) -> ProbeSet:
    """Roll out the batched core and keep exactly ``per_scenario`` states per scenario.

    Each player of each game, each step, plays the scripted rule
    (:func:`frogtoad_env.scripted.scripted_actions`) with probability
    ``scripted_fraction``, else a uniform random action. See the module docstring for
    how states are sampled.

    Args:
        env_config: the run's env configuration (width, dependency, obs_mode, veil,
            max_steps are used).
        per_scenario: states kept per scenario (>= 1); the set has ``4 * per_scenario``.
        seed: fixes the whole set (play, rules, veil, subsampling).
        n_games: games stepped in parallel.
        scripted_fraction: probability in [0, 1] of a scripted (vs. random) action.
        max_steps_rollout: step budget of the rollout (steps of the whole batch).

    Returns:
        A balanced :class:`ProbeSet`.

    Raises:
        ValueError: invalid arguments.
        RuntimeError: some scenario was seen fewer than ``per_scenario`` times within
            ``max_steps_rollout`` steps (the message says which and how often).
    """
    if not isinstance(env_config, EnvConfig):
        raise ValueError(f"env_config must be an EnvConfig, got {type(env_config).__name__}")
    per_scenario = check_int("per_scenario", per_scenario)
    n_games = check_int("n_games", n_games)
    max_steps_rollout = check_int("max_steps_rollout", max_steps_rollout)
    check_unit_interval("scripted_fraction", scripted_fraction)
    check_int("seed", seed, minimum=0)

    play_seq, rules_seq, keys_seq = np.random.SeedSequence(int(seed)).spawn(3)
    play_rng = np.random.default_rng(play_seq)
    key_rng = np.random.default_rng(keys_seq)
    stream = core.RandomStream(np.random.default_rng(rules_seq))
    rules = env_config.rules
    state = core.new_games(n_games, rules)
    reservoirs = [_BottomK(per_scenario) for _ in range(_N_SCENARIOS)]
    players = np.tile(np.arange(2, dtype=np.int64), n_games)  # matches (B, 2) -> (2B,) ravel

    steps_taken = 0
    while min(r.seen for r in reservoirs) < per_scenario or steps_taken < env_config.max_steps:
        if steps_taken >= max_steps_rollout:
            seen = {core.SCENARIO_NAMES[s]: reservoirs[s].seen for s in range(_N_SCENARIOS)}
            short = [name for name, count in seen.items() if count < per_scenario]
            raise RuntimeError(
                f"could not fill the probe set: scenario(s) {short} had fewer than per_scenario={per_scenario} "
                f"states after max_steps_rollout={max_steps_rollout} steps of n_games={n_games} games "
                f"(states seen per scenario: {seen}; env config {env_config.to_dict()}). "
                "Raise max_steps_rollout or n_games, or lower per_scenario."
            )
        actions = scripted_actions(state)
        random_actions = play_rng.integers(0, core.N_ACTIONS, size=actions.shape)
        use_random = play_rng.random(actions.shape) >= scripted_fraction
        actions = np.where(use_random, random_actions, actions)
        core.step(state, actions, rules, stream)
        steps_taken += 1

        obs = observe(state, env_config.obs_mode, env_config.veil, stream).reshape(2 * n_games, -1)
        codes = core.scenario_codes(state.distress).ravel()
        ep_steps = np.repeat(state.steps, 2)
        keys = key_rng.random(codes.shape[0])
        for s in range(_N_SCENARIOS):
            mask = codes == s
            if mask.any():
                reservoirs[s].add(keys[mask], obs[mask], players[mask], ep_steps[mask])

        done = state.steps >= env_config.max_steps
        if done.any():
            state.assign(done, core.new_games(int(done.sum()), rules))

    parts = [r.result() for r in reservoirs]
    observations = np.ascontiguousarray(np.concatenate([p[0] for p in parts]), dtype=np.float32)
    swapped = swap_self_other(observations, env_config.width) if env_config.obs_mode == "egocentric" else None
    return ProbeSet(
        observations=observations,
        swapped_observations=swapped,
        scenarios=np.repeat(np.arange(_N_SCENARIOS, dtype=np.int64), per_scenario),
        players=np.concatenate([p[1] for p in parts]).astype(np.int64),
        episode_steps=np.concatenate([p[2] for p in parts]).astype(np.int64),
        env_config=env_config.to_dict(),
        seed=int(seed),
    )
