"""The supervised dataset: played states, no duplicates, the balanced seeded split, its file and its config."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from frogtoad_env.observations import paper_layout
from supervised.config import ACTIVATION_NAMES, SupervisedConfig
from supervised.dataset import DatasetError, LabelledDataset, Split, _DistinctRows, build_dataset

TINY = SupervisedConfig(dataset_size=2_000, test_size=500, seed=3)


@pytest.fixture(scope="module")
def dataset() -> LabelledDataset:
    return build_dataset(TINY)


def rows_of(split: Split) -> set[bytes]:
    return {o.tobytes() + bytes([l, s]) for o, l, s in zip(split.observations, split.labels, split.scenarios)}


def test_the_test_set_is_40_40_10_10_hop_jump_leap_help(dataset: LabelledDataset) -> None:
    assert dataset.test.label_counts().tolist() == [200, 200, 50, 50]


def test_the_splits_add_up_to_dataset_size_with_the_validation_share(dataset: LabelledDataset) -> None:
    n_train, n_val, n_test = len(dataset.train), len(dataset.validation), len(dataset.test)
    assert (n_test, n_train + n_val + n_test) == (500, 2_000)
    assert n_val == round(0.1 * 1_500)


def test_no_state_occurs_twice_in_or_across_the_splits(dataset: LabelledDataset) -> None:
    splits = (dataset.train, dataset.validation, dataset.test)
    assert len(set().union(*(rows_of(s) for s in splits))) == sum(len(s) for s in splits)


def test_a_repeated_row_is_dropped_and_first_seen_order_kept() -> None:
    obs = np.arange(12, dtype=np.float32).reshape(3, 4)
    labels = np.array([0, 1, 2], dtype=np.int64)
    scenarios = np.array([0, 0, 1], dtype=np.int64)
    rows = _DistinctRows()
    rows.add(obs, labels, scenarios)
    rows.add(obs[[1, 0]], labels[[1, 0]], scenarios[[1, 0]])  # both seen before
    rows.add(obs[[0]], np.array([3], dtype=np.int64), scenarios[[0]])  # same observation, another label: kept
    kept = rows.split()
    assert kept.labels.tolist() == [0, 1, 2, 3]
    assert rows.label_counts.tolist() == [1, 1, 1, 1]


def test_every_label_and_every_scenario_occurs_in_training(dataset: LabelledDataset) -> None:
    assert (dataset.train.label_counts() > 0).all()
    assert (np.bincount(dataset.train.scenarios, minlength=4) > 0).all()
    assert (np.bincount(dataset.test.scenarios, minlength=4) > 0).all()


def test_the_own_status_number_is_hidden_as_in_the_paper(dataset: LabelledDataset) -> None:
    own_status = paper_layout(32)["own_status"]
    assert (dataset.train.observations[:, own_status] == 0).all()
    shown = build_dataset(dataclasses.replace(TINY, hide_own_status=False))
    assert (shown.train.observations[:, own_status] >= 4).all()  # the player codes are 4..9


def test_the_seed_fixes_the_dataset(dataset: LabelledDataset) -> None:
    again = build_dataset(TINY)
    other = build_dataset(dataclasses.replace(TINY, seed=4))
    assert np.array_equal(again.test.observations, dataset.test.observations)
    assert np.array_equal(again.train.labels, dataset.train.labels)
    assert not np.array_equal(other.test.observations, dataset.test.observations)


def test_both_seats_observe_frog_and_toad() -> None:
    both = build_dataset(dataclasses.replace(TINY, seat="both", hide_own_status=False))
    own_status = paper_layout(32)["own_status"]
    codes = set(np.unique(both.train.observations[:, own_status]).tolist())
    assert {4.0, 5.0} <= codes  # the frog's and the toad's own identity codes


def test_save_and_load_give_the_same_arrays(dataset: LabelledDataset, tmp_path) -> None:
    path = dataset.save(tmp_path / "dataset.npz")
    loaded = LabelledDataset.load(path, TINY)
    for name in ("train", "validation", "test"):
        for field in ("observations", "labels", "scenarios"):
            assert np.array_equal(getattr(getattr(loaded, name), field), getattr(getattr(dataset, name), field))


def test_a_corrupted_file_raises_one_line_naming_it(dataset: LabelledDataset, tmp_path) -> None:
    path = dataset.save(tmp_path / "dataset.npz")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="dataset.npz") as error:
        LabelledDataset.load(path, TINY)
    assert "\n" not in str(error.value)


def test_a_file_made_for_another_config_raises_naming_it(dataset: LabelledDataset, tmp_path) -> None:
    path = dataset.save(tmp_path / "dataset.npz")
    with pytest.raises(DatasetError, match=r"dataset\.npz.*made for"):
        LabelledDataset.load(path, dataclasses.replace(TINY, seed=4))


def test_an_unbalanced_test_set_is_refused(dataset: LabelledDataset, tmp_path) -> None:
    labels = dataset.test.labels.copy()
    labels[0] = (labels[0] + 1) % 4
    broken = dataclasses.replace(dataset, test=Split(dataset.test.observations, labels, dataset.test.scenarios))
    with pytest.raises(DatasetError, match="balanced"):
        LabelledDataset.load(broken.save(tmp_path / "dataset.npz"), TINY)


def test_a_dataset_too_small_for_the_test_set_names_the_minimum() -> None:
    with pytest.raises(ValueError, match=r"dataset_size must be >= 200000"):
        SupervisedConfig(dataset_size=150_000, test_size=100_000)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("test_size", 995, "multiple of 10"),
        ("dropout", 1.0, r"dropout must be in \[0, 1\)"),
        ("learning_rate", 0.0, "learning_rate must be"),
        ("net_arch", (), "net_arch"),
        ("activation", "gelu", "activation must be one of"),
        ("seat", "both players", "seat must be one of"),
        ("obs_mode", "pixels", "obs_mode"),
        ("patience", 0, "patience must be an integer >= 1"),
        ("epochs", 10_000, "epochs must be <= 9999"),
    ],
)
def test_bad_config_values_raise_value_error_naming_them(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **{field: value})


def test_the_configs_activation_names_are_the_torch_activations() -> None:
    from agents.coupled import ACTIVATIONS

    assert set(ACTIVATION_NAMES) == set(ACTIVATIONS)


def test_config_survives_json() -> None:
    config = dataclasses.replace(TINY, net_arch=(5, 7, 3), activation="tanh")
    assert SupervisedConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown config key"):
        SupervisedConfig.from_dict({**config.to_dict(), "n_games": 64})
