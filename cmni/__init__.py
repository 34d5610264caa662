"""Checkpoint Mirror Neuron Index (CMNI) metric package.

Layers (each depends only on the ones above it):

- :mod:`cmni.metric`, :mod:`cmni.stats`, :mod:`cmni.overlap`: the pure-numpy metric,
  its nulls and the self-other overlap (imported eagerly; no torch).
- :mod:`cmni.probe_set`: the balanced, labelled probe states (numpy + the game core).
- :mod:`cmni.recorder`: torch forward hooks on any torch policy (SB3's actor by default);
  :mod:`cmni.weights`: the same actor's weight matrices, named as the recorder names layers.
- :mod:`cmni.probe`: one probe of one policy (metric and nulls), shared by the callback and
  :mod:`cmni.neurons`: the CMNI of one checkpoint and its mirror-candidate tables.
- :mod:`cmni.circuits`: strong weight paths from mirror / partner-specific units to actions.
- :mod:`cmni.callback`: the SB3 callback that probes during training.

Everything but the first three is imported lazily on first attribute access, so ``import cmni`` does
not import torch, stable-baselines3 or the game.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .metric import SCENARIO_NAMES, CMNIResult, compute_cmni
from .overlap import self_other_overlap
from .stats import PermutationResult, permutation_test

if TYPE_CHECKING:  # pragma: no cover
    from .callback import CMNICallback
    from .probe import measure_policy, untrained_null
    from .probe_set import ProbeSet, build_probe_set
    from .recorder import RecordedActivations, layer_names, record_activations, untrained_copy
    from .neurons import CheckpointCMNI, analyse_checkpoint, candidate_table
    from .weights import policy_weight_chain

#: Lazily imported name -> submodule that defines it.
_LAZY: dict[str, str] = {
    "ProbeSet": "probe_set",
    "build_probe_set": "probe_set",
    "RecordedActivations": "recorder",
    "record_activations": "recorder",
    "layer_names": "recorder",
    "untrained_copy": "recorder",
    "measure_policy": "probe",
    "untrained_null": "probe",
    "CMNICallback": "callback",
    "CheckpointCMNI": "neurons",
    "analyse_checkpoint": "neurons",
    "candidate_table": "neurons",
    "policy_weight_chain": "weights",
}

__all__ = [
    "compute_cmni",
    "CMNIResult",
    "SCENARIO_NAMES",
    "permutation_test",
    "PermutationResult",
    "self_other_overlap",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
