"""Rules for probing any torch ``nn.Module`` (not an SB3 policy): which modules are
recorded under which names, that the numbers are the layers' real outputs, that the
model comes out untouched, and how the untrained-network null is built."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cmni import compute_cmni
from cmni.probe import measure_policy, untrained_null
from cmni.probe_set import build_probe_set
from cmni.recorder import layer_names, record_activations, untrained_copy
from frogtoad_env import EnvConfig

# Observation [s, o, x]: s = self distress, o = partner distress, x a nuisance.
# hidden unit 0 = relu(s + 2o - 0.5): fires for both kinds of distress (a mirror unit);
# hidden unit 1 = relu(x): blind to distress.
W1 = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
B1 = np.array([-0.5, 0.0], dtype=np.float32)
W2 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
B2 = np.zeros(3, dtype=np.float32)
OBS = np.array(
    [[0, 0, 1], [0, 0, 3],  # none
     [1, 0, 1], [1, 0, 3],  # self
     [0, 1, 1], [0, 1, 3],  # other
     [1, 1, 1], [1, 1, 3]],  # both
    dtype=np.float32,
)  # fmt: skip
SCENARIOS = np.array([0, 0, 1, 1, 2, 2, 3, 3])


def _hand_mlp() -> nn.Sequential:
    mlp = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 3))
    with torch.no_grad():
        mlp[0].weight.copy_(torch.from_numpy(W1))
        mlp[0].bias.copy_(torch.from_numpy(B1))
        mlp[2].weight.copy_(torch.from_numpy(W2))
        mlp[2].bias.copy_(torch.from_numpy(B2))
    return mlp


def _no_hooks(model: nn.Module) -> bool:
    return all(len(m._forward_hooks) == 0 for m in model.modules())


def test_sequential_records_its_activation_module_by_qualified_name() -> None:
    rec = record_activations(_hand_mlp(), OBS)
    assert list(rec.layers) == ["1"] == layer_names(_hand_mlp())
    hidden = np.maximum(OBS @ W1.T + B1, 0.0)
    np.testing.assert_allclose(hidden[:, 0], [0, 0, 0.5, 0.5, 1.5, 1.5, 2.5, 2.5])  # relu(s + 2o - 0.5)
    np.testing.assert_allclose(rec.layers["1"], hidden, rtol=1e-6)
    np.testing.assert_allclose(rec.logits, hidden @ W2.T + B2, rtol=1e-6)


def test_sequential_cmni_equals_the_hand_value() -> None:
    result = compute_cmni(record_activations(_hand_mlp(), OBS).layers, SCENARIOS)
    # unit 0: mu(none) = 0, mu(self) = 0.5, mu(other) = 1.5 -> MNS = min(0.5, 1.5) = 0.5
    # unit 1: mu = 2 in every scenario -> deltas 0 -> MNS = 0.   CMNI = 0.5 / 2
    assert result.cmni == pytest.approx(0.25)
    np.testing.assert_array_equal(result.candidate_mask, [True, False])


def test_a_mapping_names_and_orders_the_layers() -> None:
    mlp = _hand_mlp()
    rec = record_activations(mlp, OBS, layers={"hidden": mlp[1], "pre": mlp[0]})
    assert list(rec.layers) == ["hidden", "pre"]
    np.testing.assert_allclose(rec.layers["pre"], OBS @ W1.T + B1, rtol=1e-6)
    np.testing.assert_allclose(rec.layers["hidden"], np.maximum(OBS @ W1.T + B1, 0.0), rtol=1e-6)


def test_a_filter_picks_modules_by_name_and_type() -> None:
    mlp = _hand_mlp()
    assert layer_names(mlp, lambda name, module: isinstance(module, nn.Linear)) == ["0", "2"]
    assert layer_names(mlp, lambda name, module: name == "2") == ["2"]


def test_bad_layer_selections_are_rejected() -> None:
    mlp = _hand_mlp()
    with pytest.raises(ValueError, match="submodules"):
        layer_names(mlp, {"stranger": nn.ReLU()})
    with pytest.raises(ValueError, match="chose no submodule"):
        layer_names(mlp, lambda name, module: False)
    with pytest.raises(ValueError, match="empty"):
        layer_names(mlp, {})
    with pytest.raises(ValueError, match="reserved"):
        layer_names(mlp, {"all": mlp[1]})
    with pytest.raises(ValueError, match="no activation module"):
        layer_names(nn.Linear(3, 2))


def test_a_model_that_does_not_return_logits_needs_a_forward() -> None:
    class TupleOut(nn.Module):  # the Tianshou convention: (logits, state)
        def __init__(self) -> None:
            super().__init__()
            self.mlp = _hand_mlp()

        def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, None]:
            return self.mlp(obs), None

    model = TupleOut()
    with pytest.raises(TypeError, match="forward="):
        record_activations(model, OBS)
    assert _no_hooks(model)
    rec = record_activations(model, OBS, forward=lambda m, x: m(x)[0])
    assert list(rec.layers) == ["mlp.1"]
    np.testing.assert_allclose(rec.logits, record_activations(_hand_mlp(), OBS).logits)


@pytest.mark.parametrize("training", [True, False])
def test_probe_leaves_the_module_unchanged(training: bool) -> None:
    mlp = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 2))
    mlp.train(training)
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    a = record_activations(mlp, OBS)
    b = record_activations(mlp, OBS, batch_size=3)
    np.testing.assert_allclose(a.layers["2"], b.layers["2"], rtol=1e-6)  # eval mode: dropout off
    assert all(torch.equal(v, mlp.state_dict()[k]) for k, v in before.items())
    assert _no_hooks(mlp) and all(m.training == training for m in mlp.modules())
    with pytest.raises(ValueError, match=r"shape \(n, obs_dim\)"):
        record_activations(mlp, OBS[0])


def test_untrained_copy_reinitialises_every_layer_deterministically() -> None:
    mlp = _hand_mlp()
    rng_before = torch.get_rng_state()
    a, b, c = untrained_copy(mlp, seed=3), untrained_copy(mlp, seed=3), untrained_copy(mlp, seed=4)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert layer_names(a) == layer_names(mlp) and not a.training
    np.testing.assert_array_equal(mlp[0].weight.detach().numpy(), W1)  # the original is untouched
    for key in mlp.state_dict():
        assert not torch.equal(a.state_dict()[key], mlp.state_dict()[key]), key
        assert torch.equal(a.state_dict()[key], b.state_dict()[key]), key
        assert not torch.equal(a.state_dict()[key], c.state_dict()[key]), key


def test_untrained_copy_uses_the_factory_under_the_seed() -> None:
    calls: list[int] = []

    def factory() -> nn.Module:
        calls.append(1)
        return nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 3))

    a, b = untrained_copy(_hand_mlp(), 5, factory=factory), untrained_copy(_hand_mlp(), 5, factory=factory)
    assert len(calls) == 2
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_untrained_copy_refuses_parameters_it_cannot_reset() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.act = nn.ReLU()

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.act(obs * self.scale)

    with pytest.raises(ValueError, match="factory"):
        untrained_copy(Scaled(), seed=0)


def test_measure_policy_and_untrained_null_on_a_generic_network() -> None:
    probe_set = build_probe_set(EnvConfig(max_steps=50), per_scenario=20, seed=0, n_games=64)
    torch.manual_seed(0)
    obs_dim = probe_set.observations.shape[1]
    mlp = nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 4))
    chosen = {"first": mlp[1], "second": mlp[3]}
    measured = measure_policy(mlp, probe_set, n_permutations=20, seed=0, layers=chosen)
    with torch.no_grad():
        x = torch.from_numpy(probe_set.observations)
        h1 = torch.relu(mlp[0](x))
        h2 = torch.tanh(mlp[2](h1))
    expected = compute_cmni({"first": h1.numpy(), "second": h2.numpy()}, probe_set.scenarios)
    assert measured.result.cmni == pytest.approx(expected.cmni, rel=1e-5)
    assert set(measured.overlap) == {"first", "second", "all"}  # egocentric probe set
    assert measured.permutation.n_permutations == 20

    null = untrained_null(mlp, probe_set, seed=1, n_draws=2, layers=chosen)
    for draw in range(2):  # draw i is the copy seeded 1 + i, probed at the same layers
        fresh = untrained_copy(mlp, seed=1 + draw)
        direct = compute_cmni(
            record_activations(fresh, probe_set.observations, layers={"first": fresh[1], "second": fresh[3]}).layers,
            probe_set.scenarios,
        )
        assert null.cmni[draw] == pytest.approx(direct.cmni, rel=1e-6)
    assert list(null.first.per_layer) == ["first", "second"] and null.cmni[0] != pytest.approx(expected.cmni)


def test_a_torchrl_mlp_is_probed_like_any_module() -> None:
    torchrl_modules = pytest.importorskip("torchrl.modules", reason="TorchRL not installed (pip install -c constraints.txt -e '.[libs]')")
    torch.manual_seed(0)
    mlp = torchrl_modules.MLP(in_features=3, out_features=4, num_cells=[5, 6], activation_class=nn.Tanh)
    rec = record_activations(mlp, OBS)
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        h1 = torch.tanh(linears[0](torch.from_numpy(OBS)))
        h2 = torch.tanh(linears[1](h1))
    assert [arr.shape for arr in rec.layers.values()] == [(8, 5), (8, 6)]
    np.testing.assert_allclose(list(rec.layers.values())[1], h2.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rec.logits, linears[2](h2).detach().numpy(), rtol=1e-5, atol=1e-6)
    fresh = untrained_copy(mlp, seed=1)  # torchrl's MLP re-initialises through reset_parameters
    assert layer_names(fresh) == layer_names(mlp)
    assert not torch.equal(fresh.state_dict()[next(iter(mlp.state_dict()))], next(iter(mlp.state_dict().values())))


def test_a_tianshou_actor_is_probed_through_its_forward() -> None:
    pytest.importorskip("tianshou", reason="Tianshou not installed (pip install -c constraints.txt -e '.[libs]')")
    from tianshou.utils.net.common import Net
    from tianshou.utils.net.discrete import DiscreteActor

    torch.manual_seed(0)
    actor = DiscreteActor(preprocess_net=Net(state_shape=3, hidden_sizes=[5]), action_shape=4, softmax_output=False)
    rec = record_activations(actor, OBS, forward=lambda m, x: m(x)[0])  # forward returns (logits, state)
    assert len(rec.layers) == 1 and next(iter(rec.layers.values())).shape == (8, 5)
    with torch.no_grad():
        expected = actor(torch.from_numpy(OBS))[0].numpy()
    np.testing.assert_allclose(rec.logits, expected, rtol=1e-6)
