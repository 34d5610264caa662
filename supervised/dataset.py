"""Labelled game states for the supervised pipeline: play, label, drop duplicates, split.

Numpy and the batched rules core only (no torch).

Play
    ``n_games`` games are stepped together by :func:`frogtoad_env.core.step`. Each
    player of each game follows one of :data:`PLAY_POLICIES` (drawn uniformly per player
    when its game starts): ``random`` (uniform actions), ``scripted``
    (:func:`frogtoad_env.scripted.scripted_actions`) or ``mixed`` (each step scripted or
    random with probability 1/2). Random play drains energy and lands on rough ground,
    so all four distress scenarios occur; scripted play races ahead to the edge, where
    the help labels live. Games restart after ``max_steps`` steps.

Label and scenario
    After every step, every chosen seat's observation becomes one row, labelled with
    :func:`frogtoad_env.scripted.heuristic_labels` (the paper's labeller) and with its
    scenario :func:`frogtoad_env.core.scenario_codes` (0 none, 1 self, 2 other, 3 both)
    from the true distress flags, which the CMNI probe groups by.

Duplicates
    A row (observation, label, scenario) seen before is dropped; rows are compared by a
    128-bit BLAKE2b digest of their bytes (a collision, which would drop a distinct row,
    has probability about 1e-27 at a million rows). Play goes on until the distinct rows
    number at least ``dataset_size`` and every label has at least twice its test-set
    share, so train and validation keep examples of every label.

Split (seeded)
    The test set takes exactly ``test_size * (0.4, 0.4, 0.1, 0.1)`` rows of hop, jump,
    leap, help, drawn uniformly per label. Of the other rows, ``dataset_size - test_size``
    are drawn uniformly (the labels keep their played frequencies); ``val_fraction`` of
    them are the validation set, the rest the training set.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frogtoad_env import core
from experiment.atomic import atomic_savez
from frogtoad_env.observations import observation_space, observe, paper_layout
from frogtoad_env.scripted import heuristic_labels, scripted_actions
from supervised.config import SupervisedConfig

DATASET_FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Play policy -> probability that a player's action is uniformly random (else scripted).
PLAY_POLICIES: dict[str, float] = {"random": 1.0, "scripted": 0.0, "mixed": 0.5}
#: Seat name -> players observed (0 frog, 1 toad).
SEAT_PLAYERS: dict[str, tuple[int, ...]] = {"frog": (core.FROG,), "toad": (core.TOAD,), "both": (core.FROG, core.TOAD)}
_ARRAYS = ("observations", "labels", "scenarios")


class DatasetError(Exception):
    """A saved dataset that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True, eq=False)
class Split:
    """One part of the dataset.

    Attributes:
        observations: (n, obs_size) float32, what the labelled player saw.
        labels: (n,) int64 heuristic action, 0 hop, 1 jump, 2 leap, 3 help.
        scenarios: (n,) int64 scenario from that player's point of view, 0..3.
    """

    observations: np.ndarray
    labels: np.ndarray
    scenarios: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def label_counts(self) -> np.ndarray:
        """(4,) int64 rows per label."""
        return np.bincount(self.labels, minlength=core.N_ACTIONS)

    def take(self, rows: np.ndarray) -> Split:
        return Split(*(getattr(self, name)[rows] for name in _ARRAYS))


@dataclass(frozen=True, eq=False)
class LabelledDataset:
    """The train / validation / test split, and the config fields that made it."""

    train: Split
    validation: Split
    test: Split
    data_fields: dict[str, Any]

    def save(self, path: str | os.PathLike) -> Path:
        """Write a compressed .npz atomically (a temporary file, then ``os.replace``)."""
        arrays: dict[str, np.ndarray] = {
            "format_version": np.asarray(DATASET_FORMAT_VERSION),
            "data_fields_json": np.asarray(json.dumps(self.data_fields, sort_keys=True)),
        }
        for split in SPLITS:
            for name in _ARRAYS:
                arrays[f"{split}_{name}"] = getattr(getattr(self, split), name)
        return atomic_savez(path, arrays, compressed=True)

    @classmethod
    def load(cls, path: str | os.PathLike, config: SupervisedConfig) -> LabelledDataset:
        """Read a dataset written by :meth:`save` for ``config``.

        Raises:
            DatasetError: missing, unreadable or inconsistent file, or one made for other
                data fields than ``config.data_fields`` (one line, naming the file).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                contents = {key: data[key] for key in data.files}
        except Exception as error:  # FileNotFoundError, zipfile.BadZipFile, OSError, ValueError, EOFError...
            raise DatasetError(f"dataset file {str(path)!r} is not a readable .npz: {type(error).__name__}") from None
        try:
            if int(contents["format_version"]) != DATASET_FORMAT_VERSION:
                raise ValueError(f"format version {int(contents['format_version'])}, expected {DATASET_FORMAT_VERSION}")
            fields = json.loads(str(contents["data_fields_json"]))
            if fields != json.loads(json.dumps(config.data_fields, sort_keys=True)):
                raise ValueError(f"it was made for {fields}, this run needs {config.data_fields}")
            dataset = cls(
                *(Split(*(contents[f"{split}_{name}"] for name in _ARRAYS)) for split in SPLITS), data_fields=fields
            )
            check_dataset(dataset, config)
        except (KeyError, ValueError, TypeError) as error:
            text = " ".join(str(error).split())
            raise DatasetError(f"dataset file {str(path)!r} does not fit this run: {text}") from None
        return dataset


def check_dataset(dataset: LabelledDataset, config: SupervisedConfig) -> None:
    """ValueError unless every split has the right shapes, dtypes, codes and the test set its balance."""
    obs_size = observation_space(config.obs_mode, config.width).shape[0]
    for name in SPLITS:
        split: Split = getattr(dataset, name)
        n = split.labels.shape[0] if split.labels.ndim == 1 else -1
        if split.observations.dtype != np.float32 or split.observations.shape != (n, obs_size):
            raise ValueError(f"{name} observations must be float32 ({n}, {obs_size}), got {split.observations.dtype} {split.observations.shape}")
        for field, high in (("labels", core.N_ACTIONS), ("scenarios", len(core.SCENARIO_NAMES))):
            arr = getattr(split, field)
            if arr.dtype != np.int64 or arr.shape != (n,) or (arr < 0).any() or (arr >= high).any():
                raise ValueError(f"{name} {field} must be int64 codes in 0..{high - 1}, one per observation")
    counts = dataset.test.label_counts().tolist()
    if counts != list(config.test_label_counts):
        raise ValueError(f"test label counts {counts} are not the balanced {list(config.test_label_counts)}")
    total = sum(len(getattr(dataset, name)) for name in SPLITS)
    if total != config.dataset_size:
        raise ValueError(f"it holds {total} states, not dataset_size={config.dataset_size}")


class _DistinctRows:
    """Rows kept in first-seen order; a row whose bytes were seen before is dropped."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in _ARRAYS}
        self.label_counts = np.zeros(core.N_ACTIONS, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.seen)

    def add(self, observations: np.ndarray, labels: np.ndarray, scenarios: np.ndarray) -> None:
        keep = np.zeros(labels.shape[0], dtype=bool)
        for i in range(labels.shape[0]):
            row = observations[i].tobytes() + labels[i].tobytes() + scenarios[i].tobytes()
            digest = hashlib.blake2b(row, digest_size=16).digest()
            if digest not in self.seen:
                self.seen.add(digest)
                keep[i] = True
        for name, arr in zip(_ARRAYS, (observations, labels, scenarios)):
            self.parts[name].append(arr[keep])
        self.label_counts += np.bincount(labels[keep], minlength=core.N_ACTIONS)

    def split(self) -> Split:
        return Split(*(np.concatenate(self.parts[name]) for name in _ARRAYS))


def classifier_input(observations: np.ndarray, config: SupervisedConfig) -> np.ndarray:
    """What the classifier sees of ``(..., obs_size)`` env observations: a copy with the
    own-status number zeroed when ``config.hide_own_status`` (paper mode), else ``observations``.

    The one rule for the training states and for a classifier playing the game.
    """
    if config.obs_mode == "paper" and config.hide_own_status:
        observations = observations.copy()
        observations[..., paper_layout(config.width)["own_status"]] = 0.0
    return observations


def play_distinct_states(config: SupervisedConfig, max_steps_rollout: int = 100_000) -> Split:
    """Play until the distinct rows number ``config.dataset_size`` and each label has twice its test share.

    Returns all distinct rows, in the order they were first seen. About one game per
    ``max_steps`` states is played (8 to 512 games), so that even a small dataset holds
    states from late in episodes, where energy has run out (the jump labels).

    Raises:
        RuntimeError: the step budget ``max_steps_rollout`` ran out first (names the short labels).
    """
    env = config.env
    rules = env.rules
    n_games = int(np.clip(config.dataset_size // env.max_steps, 8, 512))
    players = list(SEAT_PLAYERS[config.seat])
    play_seq, rules_seq = np.random.SeedSequence([config.seed, 0]).spawn(2)
    rng = np.random.default_rng(play_seq)
    stream = core.RandomStream(np.random.default_rng(rules_seq))
    random_share = np.array(list(PLAY_POLICIES.values()))
    policy = rng.integers(0, len(PLAY_POLICIES), size=(n_games, 2))
    state = core.new_games(n_games, rules)
    needed = 2 * np.asarray(config.test_label_counts)
    rows = _DistinctRows()

    for _ in range(max_steps_rollout):
        if len(rows) >= config.dataset_size and (rows.label_counts >= needed).all():
            return rows.split()
        actions = scripted_actions(state)
        play_random = rng.random(actions.shape) < random_share[policy]
        actions = np.where(play_random, rng.integers(0, core.N_ACTIONS, size=actions.shape), actions)
        core.step(state, actions, rules, stream)

        obs = classifier_input(observe(state, config.obs_mode)[:, players], config)
        labels = heuristic_labels(state)[:, players]
        scenarios = core.scenario_codes(state.distress)[:, players]
        rows.add(obs.reshape(-1, obs.shape[-1]), labels.ravel(), scenarios.ravel())

        done = state.steps >= env.max_steps
        if done.any():
            state.assign(done, core.new_games(int(done.sum()), rules))
            policy[done] = rng.integers(0, len(PLAY_POLICIES), size=(int(done.sum()), 2))
    short = [core.ACTION_NAMES[a] for a in range(core.N_ACTIONS) if rows.label_counts[a] < needed[a]]
    raise RuntimeError(
        f"after {max_steps_rollout} steps of {n_games} games: {len(rows)} distinct states "
        f"(need {config.dataset_size}), too few of {short or 'none'}; lower dataset_size or test_size"
    )


def split_dataset(pool: Split, config: SupervisedConfig) -> LabelledDataset:
    """The seeded train / validation / test split of ``pool`` (see the module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    test_rows = []
    for label, count in enumerate(config.test_label_counts):
        candidates = np.flatnonzero(pool.labels == label)
        if candidates.shape[0] < count:
            raise ValueError(f"only {candidates.shape[0]} {core.ACTION_NAMES[label]} states for a test share of {count}")
        test_rows.append(rng.choice(candidates, size=count, replace=False))
    test = np.sort(np.concatenate(test_rows))
    rest = np.setdiff1d(np.arange(len(pool)), test)
    rest = rng.permutation(rest)[: config.dataset_size - config.test_size]
    n_val = round(config.val_fraction * rest.shape[0])
    return LabelledDataset(
        train=pool.take(rest[n_val:]),
        validation=pool.take(rest[:n_val]),
        test=pool.take(test),
        data_fields=config.data_fields,
    )


def build_dataset(config: SupervisedConfig) -> LabelledDataset:
    """Play, label, drop duplicates and split: the whole dataset of ``config``."""
    return split_dataset(play_distinct_states(config), config)
