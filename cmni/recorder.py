"""Record the actor's hidden activations of an SB3 ``ActorCriticPolicy`` (torch forward hooks).

This is the torch layer of the CMNI probe: it turns a policy and a batch of
observations into ``layer -> (n_states, units)`` matrices that :mod:`cmni.metric` reads.
It knows nothing of SB3 callbacks or logging (see :mod:`cmni.callback`).

Probed modules (the ACTOR path only; the value network is never probed)
    1. In the actor's features extractor (``policy.pi_features_extractor``, which is
       ``policy.features_extractor`` when features are shared):

       * if the extractor has an attribute ``probe_layer_names`` (a mapping
         ``submodule name within the extractor -> public layer name``), each listed
         submodule is probed under its public name, e.g. our coupled extractor's
         ``{"activation": "coupled"}`` gives the layer ``coupled``; the listed submodule
         may be of any type;
       * every other activation module (:data:`ACTIVATION_TYPES`) of the extractor,
         not inside a listed submodule, is probed as ``features.0``, ``features.1``, ...
         in ``named_modules()`` order.

    2. The activation modules of ``policy.mlp_extractor.policy_net``, as ``pi.0``,
       ``pi.1``, ... in order.

    The action logits (output of ``policy.action_net``) are recorded separately, never as
    a hidden layer. Layers are ordered: features-extractor layers, then ``pi.*``.

    A module that runs more than once in one forward pass (one activation module
    instance shared by two branches) contributes the concatenation of its outputs along
    the unit axis, in call order. Outputs with more than two dimensions are flattened
    to ``(batch, -1)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from frogtoad_env.checks import check_int

__all__ = [
    "ACTIVATION_TYPES",
    "RecordedActivations",
    "layer_names",
    "probe_modules",
    "record_activations",
    "untrained_copy",
]

#: Module types recognised as activations (probed automatically).
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.Tanh, nn.ELU, nn.SELU, nn.CELU, nn.LeakyReLU, nn.PReLU, nn.RReLU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.LogSigmoid, nn.Softplus, nn.Softsign,
    nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Tanhshrink,
)  # fmt: skip

_RESERVED_NAMES = ("all",)  # the metric uses "all" for the concatenation of every layer


@dataclass(frozen=True, eq=False)
class RecordedActivations:
    """Activations of the actor on ``n`` observations.

    Attributes:
        layers: public layer name -> float32 ``(n, units)``, in probe order
            (features-extractor layers, then ``pi.0``, ``pi.1``, ...).
        logits: float32 ``(n, n_actions)``, output of ``policy.action_net``.
    """

    layers: dict[str, np.ndarray]
    logits: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of observations ``n``."""
        return int(self.logits.shape[0])

    @property
    def layer_sizes(self) -> dict[str, int]:
        """Layer name -> number of units."""
        return {name: int(arr.shape[1]) for name, arr in self.layers.items()}


def _actor_extractor(policy: nn.Module) -> nn.Module | None:
    extractor = getattr(policy, "pi_features_extractor", None)
    if extractor is None:
        extractor = getattr(policy, "features_extractor", None)
    return extractor


def probe_modules(policy: nn.Module) -> list[tuple[str, nn.Module]]:
    """The probed modules of ``policy``'s actor path as ``(public name, module)``, in order.

    Raises:
        ValueError: ``probe_layer_names`` names a submodule the extractor lacks, a public
            name is used twice or is reserved (``"all"``), or nothing can be probed.
    """
    points: list[tuple[str, nn.Module]] = []
    extractor = _actor_extractor(policy)
    if extractor is not None:
        names: Mapping[str, str] = getattr(extractor, "probe_layer_names", None) or {}
        if not isinstance(names, Mapping):
            raise ValueError(
                f"{type(extractor).__name__}.probe_layer_names must be a mapping "
                f"submodule name -> public layer name, got {type(names).__name__}"
            )
        modules = dict(extractor.named_modules())
        unknown = [name for name in names if name not in modules or name == ""]
        if unknown:
            raise ValueError(
                f"{type(extractor).__name__}.probe_layer_names lists {unknown}, which are not submodules "
                f"of the extractor (its submodules: {[n for n in modules if n]})"
            )
        k = 0
        for name, module in extractor.named_modules():
            if name in names:
                points.append((str(names[name]), module))
            elif isinstance(module, ACTIVATION_TYPES) and not any(name.startswith(f"{n}.") for n in names):
                points.append((f"features.{k}", module))
                k += 1
    policy_net = getattr(getattr(policy, "mlp_extractor", None), "policy_net", None)
    if policy_net is not None:
        k = 0
        for _, module in policy_net.named_modules():
            if isinstance(module, ACTIVATION_TYPES):
                points.append((f"pi.{k}", module))
                k += 1
    seen: set[str] = set()
    for name, _ in points:
        if name in seen or name in _RESERVED_NAMES:
            raise ValueError(f"probe layer name {name!r} is {'reserved' if name in _RESERVED_NAMES else 'used twice'}")
        seen.add(name)
    if not points:
        raise ValueError(
            f"{type(policy).__name__} has no activation module on its actor path "
            "(features extractor or mlp_extractor.policy_net); nothing to probe"
        )
    return points


def layer_names(policy: nn.Module) -> list[str]:
    """Public names of the probed layers of ``policy``, in order (no forward pass)."""
    return [name for name, _ in probe_modules(policy)]


def record_activations(policy: nn.Module, observations: np.ndarray, batch_size: int = 4096) -> RecordedActivations:
    """Run the actor on ``observations`` and record every probed layer and the logits.

    The forward pass is the policy's own actor path (``policy.get_distribution``:
    observation preprocessing, actor features extractor, ``mlp_extractor`` actor
    branch, ``action_net``) under ``torch.no_grad()`` in eval mode. The policy's
    parameters are untouched, every module's training flag is restored afterwards and
    the hooks are always removed, even when the forward pass raises.

    Args:
        policy: an SB3 ``ActorCriticPolicy`` (or subclass with the same actor path).
        observations: ``(n, *observation_space.shape)`` array (converted to float32).
        batch_size: observations per forward pass (>= 1).

    Returns:
        :class:`RecordedActivations` with float32 ``(n, units)`` per layer and
        ``(n, n_actions)`` logits.

    Raises:
        ValueError: observations of the wrong shape or empty, ``batch_size < 1``, or see
            :func:`probe_modules`.
        RuntimeError: a probed module did not run in the forward pass.
    """
    check_int("batch_size", batch_size)
    obs = np.asarray(observations, dtype=np.float32)
    expected = tuple(getattr(getattr(policy, "observation_space", None), "shape", None) or obs.shape[1:])
    if obs.ndim != 1 + len(expected) or tuple(obs.shape[1:]) != expected:
        raise ValueError(f"observations must have shape (n, {', '.join(map(str, expected))}); got {obs.shape}")
    if obs.shape[0] == 0:
        raise ValueError("observations are empty; need at least one state")
    action_net = getattr(policy, "action_net", None)
    if action_net is None:
        raise ValueError(f"{type(policy).__name__} has no action_net; is it an SB3 ActorCriticPolicy?")

    points = probe_modules(policy)
    captured: dict[str, list[torch.Tensor]] = {name: [] for name, _ in points}
    captured_logits: list[torch.Tensor] = []
    chunks: dict[str, list[np.ndarray]] = {name: [] for name, _ in points}
    logit_chunks: list[np.ndarray] = []

    def make_hook(store: list[torch.Tensor]) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"probed module {type(module).__name__} returned {type(output).__name__}, not a tensor")
            store.append(output.detach().reshape(output.shape[0], -1))

        return hook

    modes = [(module, module.training) for module in policy.modules()]
    handles: list[torch.utils.hooks.RemovableHandle] = []
    try:
        for name, module in points:
            handles.append(module.register_forward_hook(make_hook(captured[name])))
        handles.append(action_net.register_forward_hook(make_hook(captured_logits)))
        policy.train(False)
        device = getattr(policy, "device", torch.device("cpu"))
        with torch.no_grad():
            for start in range(0, obs.shape[0], int(batch_size)):
                batch = torch.as_tensor(obs[start : start + int(batch_size)], device=device)
                policy.get_distribution(batch)
                for name, store in captured.items():
                    if not store:
                        raise RuntimeError(f"probed layer {name!r} did not run in the actor's forward pass")
                    out = store[0] if len(store) == 1 else torch.cat(store, dim=1)
                    chunks[name].append(out.float().cpu().numpy())
                    store.clear()
                if len(captured_logits) != 1:
                    raise RuntimeError(f"action_net ran {len(captured_logits)} times in one forward pass, expected once")
                logit_chunks.append(captured_logits[0].float().cpu().numpy())
                captured_logits.clear()
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
    layers = {name: np.concatenate(parts) if len(parts) > 1 else parts[0] for name, parts in chunks.items()}
    logits = np.concatenate(logit_chunks) if len(logit_chunks) > 1 else logit_chunks[0]
    return RecordedActivations(layers=layers, logits=logits)


def untrained_copy(policy: nn.Module, seed: int) -> nn.Module:
    """A freshly initialised policy of the same class and constructor parameters.

    Built from ``policy._get_constructor_parameters()`` under ``torch.manual_seed(seed)``
    inside ``torch.random.fork_rng`` (the global torch RNG is left as it was), moved to
    ``policy``'s device and put in eval mode. The same seed gives the same weights; the
    architecture (and layer names) match ``policy``. Used for the untrained-network null.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    params = policy._get_constructor_parameters()  # type: ignore[operator]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = type(policy)(**params)
    fresh = fresh.to(getattr(policy, "device", torch.device("cpu")))
    fresh.train(False)
    return fresh
