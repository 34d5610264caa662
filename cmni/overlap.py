"""Self-other overlap of a representation.

Pure numpy; no torch import.

Run the network on the probe states and on the same states with the self and
other observation blocks swapped. If a layer represents "me" and "my partner"
the same way, its activations barely change under the swap. The score per
layer is the normalised distance::

    overlap_distance = mean_i ||a_i - b_i||_2 / mean_i 0.5 * (||a_i||_2 + ||b_i||_2)

with ``a_i`` / ``b_i`` the layer's activation vectors on state ``i`` without /
with the swap. 0 means self and other are represented identically; larger
values mean more distinct representations (by the triangle inequality the
value is at most 2). When both inputs are all zeros the denominator is 0 and
the score is defined as 0.0 (identical).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .metric import ALL_LAYER, ActivationsLike, as_layers, concat_layers

__all__ = ["self_other_overlap", "normalised_distance"]


def normalised_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised distance between two activation matrices of shape ``(n_states, n)``.

    Returns:
        ``mean_i ||a_i - b_i|| / mean_i 0.5 (||a_i|| + ||b_i||)`` over rows
        ``i``; 0.0 when the denominator is 0.
    """
    numerator = float(np.linalg.norm(a - b, axis=1).mean())
    denominator = float(
        (0.5 * (np.linalg.norm(a, axis=1) + np.linalg.norm(b, axis=1))).mean()
    )
    return numerator / denominator if denominator > 0 else 0.0


def _check_same_layout(
    layers: dict[str, np.ndarray], swapped: dict[str, np.ndarray], from_mapping: bool
) -> None:
    """Raise ValueError unless both inputs have the same layers and shapes."""
    if set(layers) != set(swapped):
        raise ValueError(
            "activations and swapped_activations must have the same layers; got "
            f"{list(layers)} and {list(swapped)}"
        )
    for name, arr in layers.items():
        if arr.shape != swapped[name].shape:
            where = f"layer {name!r}" if from_mapping else "activations"
            raise ValueError(
                f"{where}: shapes differ between activations {arr.shape} and "
                f"swapped_activations {swapped[name].shape}; they must be recorded "
                "on the same states"
            )
        if arr.shape[0] == 0:
            raise ValueError("activations have 0 states; need at least one probe state")


def self_other_overlap(
    activations: ActivationsLike, swapped_activations: ActivationsLike
) -> dict[str, float]:
    """Per-layer normalised distance between plain and self/other-swapped activations.

    Args:
        activations: ``(n_states, n_neurons)`` or mapping
            ``layer -> (n_states, n_layer_neurons)`` on the probe states.
        swapped_activations: same form and shapes, on the same states with the
            self and other observation blocks swapped.

    Returns:
        For mapping input, ``{layer: distance, ..., "all": distance}`` where
        ``"all"`` uses the concatenation of all layers (in the order of
        ``activations``); for array input ``{"all": distance}``. 0.0 means the
        swap changes nothing (self and other represented identically); see
        :func:`normalised_distance`.

    Raises:
        ValueError: one input is a mapping and the other is not, layer names or
            shapes differ, a mapping has a layer named ``"all"``, or any input
            is invalid (not 2-D, non-finite, empty mapping).
    """
    if isinstance(activations, Mapping) != isinstance(swapped_activations, Mapping):
        raise ValueError(
            "activations and swapped_activations must both be arrays or both be "
            "mappings layer -> array"
        )
    layers, from_mapping = as_layers(activations)
    swapped, _ = as_layers(swapped_activations)
    _check_same_layout(layers, swapped, from_mapping)
    if not from_mapping:
        return {ALL_LAYER: normalised_distance(layers[ALL_LAYER], swapped[ALL_LAYER])}
    if ALL_LAYER in layers:
        raise ValueError(
            f"layer name {ALL_LAYER!r} is reserved for the concatenation of all layers; "
            "rename that layer"
        )
    swapped_in_order = {name: swapped[name] for name in layers}
    result = {name: normalised_distance(arr, swapped[name]) for name, arr in layers.items()}
    result[ALL_LAYER] = normalised_distance(
        concat_layers(layers)[0], concat_layers(swapped_in_order)[0]
    )
    return result
