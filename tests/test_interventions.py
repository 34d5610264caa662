"""Causal interventions (cmni/interventions.py, evaluation/interventions.py, evaluate.py --interventions).

The rules: a hook changes exactly the targeted units (of the rows whose condition targets
them) and nothing upstream; mean ablation and steering give the hand-computed output of a
hand-built network; steering with alpha = 0 is bit-for-bit the intact policy, and so is
the policy after the hooks are removed; a control set has as many units per layer as its
target; bad flags exit 2, a run without a probe set exits 1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import evaluate
from agents.training import make_env, make_model, train
from cmni.interventions import Intervention, ProbeStatistics, UnitError, intervene, random_controls, target_sets
from cmni.metric import compute_cmni
from cmni.recorder import record_activations
from evaluation.interventions import FIGURES, run_interventions
from experiment.config import TrainConfig
from frogtoad_env.config import EnvConfig

NONE, SELF, OTHER, BOTH = 0, 1, 2, 3
SMALL = TrainConfig(timesteps=2048, n_games=8, n_steps=128, net_arch=(16, 8), checkpoint_every=2048,
                    probe_per_scenario=30, probe_permutations=10, env=EnvConfig(max_steps=40))  # fmt: skip


@pytest.fixture(scope="module")
def policy() -> nn.Module:
    """An untrained coupled policy (probed layers: coupled and pi.0, which has 8 units)."""
    return make_model(SMALL, make_env(SMALL, seed=0)).policy


def _observations(policy: nn.Module, n: int = 12) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (n, *policy.observation_space.shape)).astype(np.float32)


def _stats(policy: nn.Module, obs: np.ndarray) -> tuple[ProbeStatistics, np.ndarray]:
    scenarios = np.arange(obs.shape[0]) % 4
    return ProbeStatistics.of(record_activations(policy, obs).layers, scenarios), scenarios


def test_zero_ablation_changes_exactly_the_targeted_units_of_the_targeted_rows(policy: nn.Module) -> None:
    obs = _observations(policy)
    stats, _ = _stats(policy, obs)
    before = record_activations(policy, obs)
    conditions = [{"pi.0": np.array([1, 4])}, {"pi.0": np.array([2])}]
    rows = np.arange(obs.shape[0]) % 2  # even rows condition 0, odd rows condition 1
    iv = Intervention("zero", conditions, stats, rows=rows)
    with intervene(policy, iv):
        after = record_activations(policy, obs)
    assert np.array_equal(after.layers["coupled"], before.layers["coupled"])  # upstream untouched
    changed = after.layers["pi.0"] != before.layers["pi.0"]
    expected = np.zeros_like(changed)
    expected[0::2, [1, 4]] = True
    expected[1::2, 2] = True
    assert np.array_equal(changed, expected & (before.layers["pi.0"] != 0))
    assert np.all(after.layers["pi.0"][expected] == 0)
    assert not np.array_equal(after.logits, before.logits)


def test_resample_takes_all_targeted_units_from_one_none_state(policy: nn.Module) -> None:
    obs = _observations(policy)
    stats, scenarios = _stats(policy, obs)
    none_rows = record_activations(policy, obs).layers["coupled"][scenarios == NONE][:, [0, 3, 5]]
    with intervene(policy, Intervention("resample", [{"coupled": np.array([0, 3, 5])}], stats, seed=1)):
        after = record_activations(policy, obs).layers["coupled"][:, [0, 3, 5]]
    matches = [np.flatnonzero(np.all(np.isclose(row, none_rows, rtol=0, atol=1e-6), axis=1)) for row in after]
    assert all(m.size >= 1 for m in matches)


#: the recorder's name for the ReLU of a plain (non-SB3) module
HIDDEN = "mlp_extractor.policy_net.1"


class _HandBuilt(nn.Module):
    """x (2) -> Linear -> ReLU (the probed layer ``HIDDEN``) -> Linear -> 1 output."""

    def __init__(self) -> None:
        super().__init__()
        self.mlp_extractor = nn.Module()
        self.mlp_extractor.policy_net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
        self.head = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.mlp_extractor.policy_net[0].weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 1.0]]))
            self.head.weight.copy_(torch.tensor([[1.0, 10.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp_extractor.policy_net(x))


def test_mean_ablation_and_steering_of_a_hand_built_network() -> None:
    net = _HandBuilt()
    x = torch.tensor([[3.0, 1.0]])  # hidden relu([3 - 1, 6 + 1]) = [2, 7]; output 2 + 70 = 72
    assert net(x).item() == 72.0
    # probe activations of the hidden layer in the scenarios none, both, self, other: unit 1 has mean
    # (4 + 8 + 5 + 7) / 4 = 6 over all states, 8 in 'both' and 4 in 'none'
    stats = ProbeStatistics.of({HIDDEN: np.array([[0.0, 4.0], [0.0, 8.0], [0.0, 5.0], [0.0, 7.0]])},
                               np.array([NONE, BOTH, SELF, OTHER]))  # fmt: skip
    with torch.no_grad():
        with intervene(net, Intervention("mean", [{HIDDEN: [1]}], stats)):
            assert net(x).item() == 2.0 + 10 * 6.0
        with intervene(net, Intervention("steer", [{HIDDEN: [1]}], stats, alpha=0.5)):
            assert net(x).item() == 2.0 + 10 * (7.0 + 0.5 * (8.0 - 4.0))
        assert net(x).item() == 72.0  # hooks gone


def test_alpha_zero_steering_and_removed_hooks_are_bit_for_bit_the_intact_policy(policy: nn.Module) -> None:
    obs = _observations(policy, 64)
    stats, _ = _stats(policy, obs)
    everything = {layer: np.arange(n) for layer, n in stats.layer_sizes.items()}
    before = record_activations(policy, obs)
    with intervene(policy, Intervention("steer", [everything], stats, alpha=0.0)):
        steered = record_activations(policy, obs)
    with intervene(policy, Intervention("zero", [everything], stats)):
        assert not np.array_equal(record_activations(policy, obs).logits, before.logits)
    after = record_activations(policy, obs)
    for rec in (steered, after):
        assert rec.logits.tobytes() == before.logits.tobytes()
        assert all(rec.layers[k].tobytes() == v.tobytes() for k, v in before.layers.items())


def test_controls_have_the_targets_unit_count_per_layer() -> None:
    targets = {"coupled": np.array([0, 5, 9]), "pi.0": np.array([2])}
    sizes = {"coupled": 16, "pi.0": 8, "pi.1": 4}
    draws = random_controls(targets, sizes, 50, seed=3)
    assert len(draws) == 50
    for draw in draws:
        assert set(draw) == set(targets)
        for layer, units in draw.items():
            assert units.size == targets[layer].size == np.unique(units).size
            assert units.min() >= 0 and units.max() < sizes[layer]
    assert len({tuple(d["coupled"]) for d in draws}) > 1  # random, not one fixed set


def test_target_sets_follow_the_deltas_and_refuse_missing_units() -> None:
    rng = np.random.default_rng(0)
    scenarios = np.repeat(np.arange(4), 25)
    acts = rng.normal(size=(100, 6))
    acts[:, 0] += np.isin(scenarios, (SELF, OTHER, BOTH)) * np.array([0, 3, 2, 5])[scenarios]  # mirror: both deltas > 0
    acts[:, 1] += (scenarios == OTHER) * 3.0 - (scenarios == SELF) * 3.0  # partner-specific
    result = compute_cmni({"layer": acts}, scenarios)
    sets = target_sets(result, top_k=1, given={"layer": [5]})
    assert 0 in sets["mirror"]["layer"] and 1 not in sets["mirror"]["layer"]
    assert sets["partner"]["layer"].tolist().count(1) == 1 and 0 not in sets["partner"]["layer"]
    assert sets["top_mns"]["layer"].size == 1 and sets["given"]["layer"].tolist() == [5]
    with pytest.raises(UnitError, match="units 0..5; got unit 6"):
        target_sets(result, given={"layer": [6]})
    with pytest.raises(UnitError, match="unknown layer 'nope'"):
        target_sets(result, given={"nope": [0]})


def test_effects_pair_the_target_with_its_controls(policy: nn.Module) -> None:
    model = make_model(SMALL, make_env(SMALL, seed=0))
    obs = _observations(model.policy, 40)
    stats, _ = _stats(model.policy, obs)
    study = run_interventions(model, SMALL.env, {"t": {"coupled": np.array([1, 2])}}, stats, episodes=3, n_controls=4,
                              kinds=("zero", "steer"), partners=("self", "intact"), alpha=0.0)  # fmt: skip
    assert [(e.kind, e.partner) for e in study.effects] == [("zero", "self"), ("zero", "intact"), ("steer", "self"), ("steer", "intact")]
    for e in study.effects:
        assert all(e.controls[f].shape == (4,) for f in FIGURES) and e.n_units == 2
    for e in study.effects[2:]:  # alpha 0: the same games as the intact policy
        assert e.delta["score"] == 0 and np.all(e.controls["score"] == 0)


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("interventions") / "run"
    train(SMALL, run, progress_bar=False)
    return run


def _exit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = evaluate.main(args)
    except SystemExit as stop:
        code = int(stop.code)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steer-alpha", "inf"], "--steer-alpha: steer_alpha must be a finite number, got inf"),
        (["--steer-alpha", "nan"], "--steer-alpha: steer_alpha must be a finite number"),
        (["--intervention-episodes", "0"], "--intervention-episodes"),
        (["--intervention-controls", "0"], "--intervention-controls"),
        (["--intervention-units", "coupled"], "--intervention-units: a unit list must look like LAYER:U1,U2"),
        (["--intervention-units", "nope:1"], "--intervention-units: unknown layer 'nope'; the probed layers are ['coupled', 'pi.0']"),
        (["--intervention-units", "pi.0:8"], "--intervention-units: layer 'pi.0' has units 0..7; got unit 8"),
    ],
)
def test_bad_intervention_flags_exit_2_naming_the_value(
    run_dir: Path, tmp_path: Path, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _exit([str(run_dir), "--interventions", "--out", str(tmp_path / "eval"), "--quiet", *flags], capsys)
    assert code == 2 and message in err


def test_interventions_without_a_probe_set_exit_1_saying_how_to_make_one(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    (bare / "probe_set.npz").unlink()
    code, err = _exit([str(bare), "--interventions", "--quiet"], capsys)
    assert code == 1 and "probe_set.npz" in err and "--no-probe" in err and "build_probe_set" in err


def test_interventions_section_in_the_report(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    args = [str(run_dir), "--episodes", "2", "--permutations", "10", "--interventions", "--intervention-episodes", "2",
            "--intervention-controls", "2", "--intervention-units", "pi.0:0,1", "--out", str(out), "--quiet"]  # fmt: skip
    assert _exit(args, capsys)[0] == 0
    study = json.loads((out / "metrics.json").read_text())["interventions"]
    assert study["targets"]["given"] == {"pi.0": [0, 1]}
    assert {(e["target"], e["kind"], e["partner"]) for e in study["effects"]} >= {("given", "zero", "self"), ("given", "steer", "intact")}
    assert all(len(e["controls"]["score"]) == 2 for e in study["effects"])
    report = (out / "report.md").read_text()
    assert "## Interventions" in report and "| given (2) | zero | self |" in report
    assert (out / "interventions.png").stat().st_size > 0 and (out / "interventions.csv").is_file()
