"""The actor's weight matrices as numpy, in the order and with the names the recorder probes.

:func:`policy_weight_chain` reads an SB3 actor-critic policy (coupled extractor, then the
policy MLP, then ``action_net``) as a chain of matrices for the circuit analysis
(:func:`cmni.circuits.find_paths`). The layer names come from
:func:`cmni.recorder.layer_names`, so the circuits and the CMNI name the same units alike.
Imports torch when called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["policy_weight_chain"]


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
