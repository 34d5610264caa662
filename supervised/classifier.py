"""The classifier of the paper's pipeline: an MLP from one observation to the 4 action logits.

Plain torch. ``MLPClassifier`` is ``Linear -> activation -> Dropout`` per hidden layer,
then a ``Linear`` head; the softmax lives in the loss (``cross_entropy``). The hidden
layers' post-activation outputs are what the CMNI probes, named ``hidden.0``,
``hidden.1``... (first hidden layer first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.coupled import ACTIVATIONS, activation_class
from frogtoad_env.core import N_ACTIONS

#: States per forward pass when a whole split is evaluated (memory bound, not a hyperparameter).
EVAL_BATCH = 8192


class MLPClassifier(nn.Module):
    """``n_inputs -> net_arch[0] -> ... -> net_arch[-1] -> N_ACTIONS`` logits."""

    def __init__(self, n_inputs: int, net_arch: tuple[int, ...], activation: str, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for units in net_arch:
            layers += [nn.Linear(width, units), activation_class(activation)(), nn.Dropout(dropout)]
            width = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, N_ACTIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_inputs) float32 -> (batch, 4) logits."""
        return self.head(self.body(x))

    def hidden_activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Post-activation output of every hidden layer: ``"hidden.<i>"`` -> (batch, units)."""
        out: dict[str, torch.Tensor] = {}
        for module in self.body:
            x = module(x)
            if isinstance(module, tuple(ACTIVATIONS.values())):
                out[f"hidden.{len(out)}"] = x
        return out


def layer_names(model: MLPClassifier) -> list[str]:
    """``hidden.0``, ``hidden.1``... one per hidden layer."""
    return [f"hidden.{i}" for i in range(sum(isinstance(m, nn.Linear) for m in model.body))]


def make_classifier(n_inputs: int, net_arch: tuple[int, ...], activation: str, dropout: float, seed: int) -> MLPClassifier:
    """A freshly initialised classifier; the weights depend on ``seed`` only (the global torch RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLPClassifier(n_inputs, net_arch, activation, dropout)


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


@torch.no_grad()
def evaluate(model: MLPClassifier, observations: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Loss, accuracy, confusion matrix and hidden activations in eval mode (no dropout).

    The model's training flag is restored afterwards.
    """
    was_training = model.training
    model.eval()
    logits, layers = [], []
    for start in range(0, labels.shape[0], EVAL_BATCH):
        batch = observations[start : start + EVAL_BATCH]
        hidden = model.hidden_activations(batch)
        # the head reads the last hidden layer directly: dropout is the identity in eval mode
        logits.append(model.head(hidden[f"hidden.{len(hidden) - 1}"]))
        layers.append(hidden)
    model.train(was_training)
    all_logits = torch.cat(logits)
    predicted = all_logits.argmax(dim=1)
    confusion = torch.zeros(N_ACTIONS * N_ACTIONS, dtype=torch.int64)
    confusion.index_add_(0, labels * N_ACTIONS + predicted, torch.ones_like(labels))
    return Evaluation(
        loss=float(F.cross_entropy(all_logits, labels)),
        accuracy=float((predicted == labels).double().mean()),
        confusion=confusion.reshape(N_ACTIONS, N_ACTIONS).numpy(),
        layers={name: torch.cat([part[name] for part in layers]).double().numpy() for name in layers[0]},
        logits=all_logits.numpy(),
    )
