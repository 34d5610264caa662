"""Record hidden activations of any torch policy (forward hooks) for the CMNI probe.

This is the torch layer of the CMNI probe: it turns a model and a batch of observations
into ``layer -> (n_states, units)`` matrices that :mod:`cmni.metric` reads. It knows
nothing of SB3 callbacks or logging (see :mod:`cmni.callback`).

Any ``torch.nn.Module``
    ``record_activations(model, obs, layers=..., forward=...)`` probes the modules that
    ``layers`` picks:

    * a mapping ``public layer name -> submodule of model``, probed in mapping order;
    * a filter ``(qualified name, module) -> bool`` over ``model.named_modules()``, each
      chosen module probed under its qualified name (``"1"``, ``"net.3"``, ...);
    * ``None``: every activation module (:data:`ACTIVATION_TYPES`) of the model, by
      qualified name, in ``named_modules()`` order (what a plain ``nn.Sequential`` MLP
      wants).

    ``forward(model, obs_batch) -> logits`` runs the model (default ``model(obs_batch)``);
    the tensor it returns is recorded as the logits, so a model that returns something
    else (Tianshou's ``(logits, state)``, a TensorDict) needs a ``forward`` that picks
    the logits out. Only the probed modules' outputs count as hidden layers.

SB3 ``ActorCriticPolicy`` (the adapter used when ``layers`` and ``forward`` are both None
and the model has SB3's ``action_net`` and ``get_distribution``): the ACTOR path only; the
value network is never probed.

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

    The forward pass is ``policy.get_distribution``; the logits are the output of
    ``policy.action_net``. Layers are ordered: features-extractor layers, then ``pi.*``.

In both forms a module that runs more than once in one forward pass (one activation
module instance shared by two branches) contributes the concatenation of its outputs
along the unit axis, in call order, and outputs with more than two dimensions are
flattened to ``(batch, -1)``. The name ``"all"`` is reserved (the metric's name for the
concatenation of every layer).

The untrained-network null (:func:`untrained_copy`) rebuilds an SB3 policy from its
constructor parameters, calls a user-given factory, or re-initialises a copy of any other
module with each submodule's ``reset_parameters()``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from frogtoad_env.checks import check_int

__all__ = [
    "ACTIVATION_TYPES",
    "LayerSelection",
    "Forward",
    "RecordedActivations",
    "layer_names",
    "matching_layers",
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

#: Which modules to probe: public name -> submodule, or a filter on ``named_modules()``.
LayerSelection = Union[Mapping[str, nn.Module], Callable[[str, nn.Module], bool]]

#: ``(model, observation batch) -> logits tensor (batch, n_actions)``.
Forward = Callable[[nn.Module, torch.Tensor], torch.Tensor]

_RESERVED_NAMES = ("all",)  # the metric uses "all" for the concatenation of every layer


@dataclass(frozen=True, eq=False)
class RecordedActivations:
    """Activations of the policy on ``n`` observations.

    Attributes:
        layers: public layer name -> float32 ``(n, units)``, in probe order.
        logits: float32 ``(n, n_actions)``: SB3's ``action_net`` output, or what a
            generic model's ``forward`` returned (flattened to ``(n, -1)``).
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


# --------------------------------------------------------------------------- which modules


def _is_sb3_actor_critic(model: nn.Module) -> bool:
    return hasattr(model, "action_net") and callable(getattr(model, "get_distribution", None))


def _actor_extractor(policy: nn.Module) -> nn.Module | None:
    extractor = getattr(policy, "pi_features_extractor", None)
    if extractor is None:
        extractor = getattr(policy, "features_extractor", None)
    return extractor


def _sb3_points(policy: nn.Module) -> list[tuple[str, nn.Module]]:
    """The SB3 adapter: features-extractor layers, then ``pi.*`` (see the module docstring)."""
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
    if not points:
        raise ValueError(
            f"{type(policy).__name__} has no activation module on its actor path "
            "(features extractor or mlp_extractor.policy_net); nothing to probe"
        )
    return points


def _selected_points(model: nn.Module, layers: LayerSelection | None) -> list[tuple[str, nn.Module]]:
    """The generic form: a mapping, a filter, or every activation module (``None``)."""
    if isinstance(layers, Mapping):
        owned = {id(module) for module in model.modules()}
        points = []
        for name, module in layers.items():
            if not isinstance(name, str) or not isinstance(module, nn.Module) or id(module) not in owned:
                raise ValueError(
                    f"layers must map str names to submodules of the {type(model).__name__} being probed; "
                    f"entry {name!r} -> {type(module).__name__} is not one"
                )
            points.append((name, module))
        what = "the layers mapping is empty"
    else:
        keep = layers if layers is not None else (lambda _name, module: isinstance(module, ACTIVATION_TYPES))
        if not callable(keep):
            raise ValueError(f"layers must be a mapping name -> submodule, a filter (name, module) -> bool or None; got {layers!r}")
        points = [(name, module) for name, module in model.named_modules() if name and keep(name, module)]
        what = "the layers filter chose no submodule" if layers is not None else "it has no activation module"
    if not points:
        raise ValueError(f"{type(model).__name__} has nothing to probe: {what}")
    return points


def probe_modules(model: nn.Module, layers: LayerSelection | None = None) -> list[tuple[str, nn.Module]]:
    """The probed modules of ``model`` as ``(public name, module)``, in order.

    ``layers=None`` on an SB3 ``ActorCriticPolicy`` uses the SB3 adapter; otherwise
    ``layers`` selects the modules (see the module docstring).

    Raises:
        ValueError: nothing to probe, a mapping entry that is not a submodule of
            ``model``, an SB3 ``probe_layer_names`` naming a missing submodule, or a
            public name used twice or reserved (``"all"``).
    """
    points = _sb3_points(model) if layers is None and _is_sb3_actor_critic(model) else _selected_points(model, layers)
    seen: set[str] = set()
    for name, _ in points:
        if name in seen or name in _RESERVED_NAMES:
            raise ValueError(f"probe layer name {name!r} is {'reserved' if name in _RESERVED_NAMES else 'used twice'}")
        seen.add(name)
    return points


def layer_names(model: nn.Module, layers: LayerSelection | None = None) -> list[str]:
    """Public names of the probed layers of ``model``, in order (no forward pass)."""
    return [name for name, _ in probe_modules(model, layers)]


def matching_layers(layers: LayerSelection | None, model: nn.Module, other: nn.Module) -> LayerSelection | None:
    """``layers`` as chosen in ``model``, carried over to ``other`` (same architecture).

    A mapping ``name -> submodule of model`` becomes ``name -> the submodule of other with
    the same qualified name``; a filter or None applies to any model and is returned as is.

    Raises:
        ValueError: a mapped module is not in ``model`` or ``other`` lacks its name.
    """
    if not isinstance(layers, Mapping):
        return layers
    where = {id(module): qualified for qualified, module in model.named_modules()}
    theirs = dict(other.named_modules())
    carried: dict[str, nn.Module] = {}
    for name, module in layers.items():
        qualified = where.get(id(module))
        if qualified is None or qualified not in theirs:
            raise ValueError(f"layer {name!r} is not a submodule found in both {type(model).__name__} and its copy")
        carried[name] = theirs[qualified]
    return carried


# --------------------------------------------------------------------------- recording


def _device(model: nn.Module) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _check_observations(model: nn.Module, observations: np.ndarray, sb3: bool) -> np.ndarray:
    obs = np.asarray(observations, dtype=np.float32)
    space_shape = getattr(getattr(model, "observation_space", None), "shape", None) if sb3 else None
    expected = tuple(space_shape or obs.shape[1:])
    if obs.ndim < 2 or obs.ndim != 1 + len(expected) or tuple(obs.shape[1:]) != expected:
        want = ", ".join(map(str, expected)) if obs.ndim >= 2 else "obs_dim"
        raise ValueError(f"observations must have shape (n, {want}); got {obs.shape}")
    if obs.shape[0] == 0:
        raise ValueError("observations are empty; need at least one state")
    return obs


def record_activations(
    model: nn.Module,
    observations: np.ndarray,
    batch_size: int = 4096,
    *,
    layers: LayerSelection | None = None,
    forward: Forward | None = None,
) -> RecordedActivations:
    """Run ``model`` on ``observations`` and record every probed layer and the logits.

    The forward pass runs under ``torch.no_grad()`` in eval mode. The model's parameters
    are untouched, every module's training flag is restored afterwards and the hooks are
    always removed, even when the forward pass raises.

    Args:
        model: any ``torch.nn.Module``; an SB3 ``ActorCriticPolicy`` with ``layers`` and
            ``forward`` left None is probed by the SB3 adapter (its actor path,
            ``get_distribution``, logits from ``action_net``).
        observations: ``(n, *obs_shape)`` array (converted to float32); for an SB3 policy
            ``obs_shape`` must be its observation space's shape.
        batch_size: observations per forward pass (>= 1).
        layers: which modules to probe (mapping, filter or None; see the module docstring).
        forward: ``(model, batch) -> logits``; default ``model(batch)``.

    Returns:
        :class:`RecordedActivations` with float32 ``(n, units)`` per layer and
        ``(n, n_actions)`` logits.

    Raises:
        ValueError: observations of the wrong shape or empty, ``batch_size < 1``, or see
            :func:`probe_modules`.
        RuntimeError: a probed module did not run in the forward pass.
        TypeError: a probed module or ``forward`` returned something other than a tensor.
    """
    check_int("batch_size", batch_size)
    sb3 = layers is None and forward is None and _is_sb3_actor_critic(model)
    obs = _check_observations(model, observations, sb3)
    points = probe_modules(model, layers)
    captured: dict[str, list[torch.Tensor]] = {name: [] for name, _ in points}
    chunks: dict[str, list[np.ndarray]] = {name: [] for name, _ in points}
    logit_chunks: list[np.ndarray] = []
    captured_logits: list[torch.Tensor] = []

    def make_hook(store: list[torch.Tensor]) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"probed module {type(module).__name__} returned {type(output).__name__}, not a tensor")
            store.append(output.detach().reshape(output.shape[0], -1))

        return hook

    def run(batch: torch.Tensor) -> torch.Tensor:
        if sb3:
            model.get_distribution(batch)  # type: ignore[operator]
            if len(captured_logits) != 1:
                raise RuntimeError(f"action_net ran {len(captured_logits)} times in one forward pass, expected once")
            out = captured_logits.pop()
        else:
            out = forward(model, batch) if forward is not None else model(batch)
            if not isinstance(out, torch.Tensor):
                raise TypeError(
                    f"the forward pass returned {type(out).__name__}, not the logits tensor; "
                    "pass forward=(model, batch) -> logits"
                )
        return out.detach().reshape(out.shape[0], -1)

    modes = [(module, module.training) for module in model.modules()]
    handles: list[torch.utils.hooks.RemovableHandle] = []
    try:
        for name, module in points:
            handles.append(module.register_forward_hook(make_hook(captured[name])))
        if sb3:
            handles.append(model.action_net.register_forward_hook(make_hook(captured_logits)))  # type: ignore[union-attr]
        model.train(False)
        device = _device(model)
        with torch.no_grad():
            for start in range(0, obs.shape[0], int(batch_size)):
                logits = run(torch.as_tensor(obs[start : start + int(batch_size)], device=device))
                for name, store in captured.items():
                    if not store:
                        raise RuntimeError(f"probed layer {name!r} did not run in the model's forward pass")
                    out = store[0] if len(store) == 1 else torch.cat(store, dim=1)
                    chunks[name].append(out.float().cpu().numpy())
                    store.clear()
                logit_chunks.append(logits.float().cpu().numpy())
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            module.training = mode
    recorded = {name: np.concatenate(parts) if len(parts) > 1 else parts[0] for name, parts in chunks.items()}
    all_logits = np.concatenate(logit_chunks) if len(logit_chunks) > 1 else logit_chunks[0]
    return RecordedActivations(layers=recorded, logits=all_logits)


# --------------------------------------------------------------------------- untrained null


def untrained_copy(model: nn.Module, seed: int, factory: Callable[[], nn.Module] | None = None) -> nn.Module:
    """A freshly initialised network of the same architecture, for the untrained-network null.

    Built under ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng`` (the global
    torch RNG is left as it was), on ``model``'s device and in eval mode; the same seed
    gives the same weights and the layer names match ``model``'s. The network comes from,
    in this order:

    1. ``factory()`` when given (the user's own constructor, with its own init scheme);
    2. an SB3 policy's ``type(model)(**model._get_constructor_parameters())``;
    3. a deep copy of ``model`` with ``reset_parameters()`` called on every submodule that
       has it (torch's default init for ``nn.Linear``, ``nn.Conv*``, norms, ...).

    Raises:
        ValueError: ``seed`` is not an integer, or (3) a submodule holds parameters of its
            own but has no ``reset_parameters`` (pass a ``factory`` then).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    constructor = getattr(model, "_get_constructor_parameters", None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if factory is not None:
            fresh = factory()
        elif callable(constructor):
            fresh = type(model)(**constructor())
        else:
            fresh = copy.deepcopy(model)
            stuck = [
                name or type(fresh).__name__
                for name, module in fresh.named_modules()
                if next(module.parameters(recurse=False), None) is not None and not hasattr(module, "reset_parameters")
            ]
            if stuck:
                raise ValueError(
                    f"cannot re-initialise {stuck}: they hold parameters but have no reset_parameters(); "
                    "pass factory=() -> a fresh model"
                )
            for module in fresh.modules():
                if callable(getattr(module, "reset_parameters", None)):
                    module.reset_parameters()
    fresh = fresh.to(_device(model))
    fresh.train(False)
    return fresh
