"""The classifier of the paper's pipeline: an MLP from one observation to the 4 action logits.

Plain torch. ``MLPClassifier`` is ``Linear -> activation -> Dropout`` per hidden layer,
then a ``Linear`` head; the softmax lives in the loss (``cross_entropy``). With a
``coupling`` (egocentric observations) the first hidden layer is the PPO agents' coupled
layer (:class:`agents.coupled.CoupledExtractor`, its activation inside), then Dropout.
The hidden layers' post-activation outputs are what the CMNI probes, recorded by
:func:`cmni.recorder.record_activations` and named ``hidden.0``, ``hidden.1``... by
position in ``net_arch`` (``coupled`` instead of ``hidden.0`` for a coupled first layer,
as in the PPO agents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.coupled import CoupledExtractor, activation_class
from cmni.recorder import record_activations
from frogtoad_env.core import N_ACTIONS
from frogtoad_env.observations import observation_space

#: States per forward pass when a whole split is evaluated (memory bound, not a hyperparameter).
EVAL_BATCH = 8192


class MLPClassifier(nn.Module):
    """``n_inputs -> net_arch[0] -> ... -> net_arch[-1] -> N_ACTIONS`` logits.

    Args:
        n_inputs: observation length.
        net_arch: units of each hidden layer.
        activation: ``"relu"`` or ``"tanh"``.
        dropout: probability after every hidden activation.
        coupling: None for a plain first layer; c in [0, 1] for the coupled layer, which
            needs the egocentric observation of ``width`` (``n_inputs`` must match it).
        width: the strip width of the egocentric observation (coupled layer only).
    """

    def __init__(
        self, n_inputs: int, net_arch: tuple[int, ...], activation: str, dropout: float,
        coupling: float | None = None, width: int = 32,
    ) -> None:  # fmt: skip
        super().__init__()
        layers: list[nn.Module] = []
        self.probe_points: dict[str, nn.Module] = {}
        width_in = n_inputs
        for i, units in enumerate(net_arch):
            if i == 0 and coupling is not None:
                first = CoupledExtractor(observation_space("egocentric", width), width, units, coupling, activation)
                layers += [first, nn.Dropout(dropout)]
                self.probe_points["coupled"] = first.activation
            else:
                layers += [nn.Linear(width_in, units), activation_class(activation)(), nn.Dropout(dropout)]
                self.probe_points[f"hidden.{i}"] = layers[-2]
            width_in = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width_in, N_ACTIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_inputs) float32 -> (batch, 4) logits."""
        return self.head(self.body(x))


def layer_names(model: MLPClassifier) -> list[str]:
    """The probed layers, first hidden layer first: ``hidden.0`` (or ``coupled``), ``hidden.1``..."""
    return list(model.probe_points)


def make_classifier(
    n_inputs: int, net_arch: tuple[int, ...], activation: str, dropout: float, seed: int,
    coupling: float | None = None, width: int = 32,
) -> MLPClassifier:  # fmt: skip
    """A freshly initialised classifier; the weights depend on ``seed`` only (the global torch RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLPClassifier(n_inputs, net_arch, activation, dropout, coupling, width)


def train_epoch(
    model: MLPClassifier,
    optimizer: torch.optim.Optimizer,
    observations: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over the training set in an order drawn from ``generator``; returns the mean loss.

    Dropout draws from the global torch RNG. The last batch may be smaller.
    """
    model.train()
    order = torch.randperm(labels.shape[0], generator=generator)
    total = 0.0
    for start in range(0, order.shape[0], batch_size):
        rows = order[start : start + batch_size]
        loss = F.cross_entropy(model(observations[rows]), labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * rows.shape[0]
    return total / order.shape[0]


@dataclass(frozen=True)
class Evaluation:
    """A classifier on one split.

    Attributes:
        loss: mean cross-entropy.
        accuracy: share of states whose most likely action is the label.
        confusion: (4, 4) int64, rows the true label, columns the predicted one
            (hop, jump, leap, help).
        layers: ``"hidden.<i>"`` -> (n, units) float64 post-activation outputs.
        logits: (n, 4) float32 action logits.
    """

    loss: float
    accuracy: float
    confusion: np.ndarray
    layers: dict[str, np.ndarray]
    logits: np.ndarray


def evaluate(model: MLPClassifier, observations: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Loss, accuracy, confusion matrix and hidden activations in eval mode (no dropout).

    The model's training flags are restored afterwards.
    """
    recorded = record_activations(model, observations.numpy(), EVAL_BATCH, layers=model.probe_points)
    logits = torch.from_numpy(recorded.logits)
    predicted = logits.argmax(dim=1)
    confusion = torch.zeros(N_ACTIONS * N_ACTIONS, dtype=torch.int64)
    confusion.index_add_(0, labels * N_ACTIONS + predicted, torch.ones_like(labels))
    return Evaluation(
        loss=float(F.cross_entropy(logits, labels)),
        accuracy=float((predicted == labels).double().mean()),
        confusion=confusion.reshape(N_ACTIONS, N_ACTIONS).numpy(),
        layers={name: values.astype(np.float64) for name, values in recorded.layers.items()},
        logits=recorded.logits,
    )
