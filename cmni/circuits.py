"""Circuit analysis by weight z-scores, after the paper's circuit figures.

Pure numpy; no torch import. The caller extracts the weight matrices from a policy
(see :func:`cmni.weights.policy_weight_chain`) and passes numpy arrays here.

A network is described as a chain of probed layers ``L_0, L_1, ..., L_{k-1}`` (e.g.
``coupled``, ``pi.0``) followed by the action logits. ``weights[i]`` is the matrix
of shape ``(n_out, n_in)`` that maps layer ``L_i`` to layer ``L_{i+1}`` (the last one
maps ``L_{k-1}`` to the logits), i.e. torch's ``nn.Linear.weight`` layout.

Each weight is scored against the distribution of its own matrix::

    z = (w - mean(W)) / std(W)          (population std over all entries of W)

An edge is *strong* when ``|z| >= threshold`` (default 2). A *path* starts at a source
unit (a mirror candidate or a partner-specific unit), follows strong edges forward one
layer at a time and ends at an action logit; only paths ending at ``leap`` (action 2)
and ``help`` (action 3) are kept by default. A path is named like
``coupled[12] -> pi.0[3] -> leap (z 2.4, 3.1)``, listing the z-score of each edge.

Paths are classified as in the paper:

- **self-preservation**: mirror unit -> ... -> leap
- **tactical help**: partner-specific unit -> ... -> help, through no hidden unit that a
  mirror unit also reaches on a help path
- **empathy**: a help path (from either kind of source) through a hidden unit that
  both a mirror unit and a partner-specific unit reach on strong help paths (mirror and
  partner-specific signals converge before help). Convergence is only looked for at
  hidden units, never at the logit itself, so a net without hidden layers after the
  source has no empathy paths.
- **mirror help**: mirror unit -> help without such a convergence
- **other**: partner-specific unit -> leap

The *sign* of a path is the product of the signs of its weights: +1 means that, through
monotone activations (tanh, ReLU), raising the source unit raises the logit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_ACTION_NAMES",
    "SOURCE_KINDS",
    "PATH_KINDS",
    "PATH_COLUMNS",
    "CircuitPath",
    "CircuitAnalysis",
    "weight_zscores",
    "partner_specific_mask",
    "find_paths",
]

#: Action names by index (hop, jump, leap, help), as in :mod:`frogtoad_env.core`.
DEFAULT_ACTION_NAMES: tuple[str, ...] = ("hop", "jump", "leap", "help")

#: Kinds of source units: mirror candidates and partner-specific units.
SOURCE_KINDS: tuple[str, str] = ("mirror", "partner")

#: Path classes, in report order.
PATH_KINDS: tuple[str, ...] = ("self-preservation", "tactical help", "empathy", "mirror help", "other")
#: The fields of a path as a table row (:meth:`CircuitPath.as_row`; the header of the circuits table).
PATH_COLUMNS: tuple[str, ...] = ("path", "kind", "source_kind", "source_layer", "source_unit", "action", "length", "z",
                                 "weights", "min_abs_z", "sign")  # fmt: skip

#: Name of the logit layer in node tuples.
ACTION_LAYER: str = "action"


def weight_zscores(weight: np.ndarray) -> np.ndarray:
    """Z-scores of every entry against the whole matrix: ``(w - mean(W)) / std(W)``.

    Args:
        weight: ``(n_out, n_in)`` (any shape works; statistics are over all entries).

    Returns:
        float64 array of the same shape. The standard deviation is the population one
        (``ddof=0``); a constant matrix gives all zeros.

    Raises:
        ValueError: empty or non-finite input.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.size == 0:
        raise ValueError("weight matrix is empty")
    if not np.isfinite(w).all():
        raise ValueError("weight matrix contains NaN or inf")
    std = float(w.std())
    if std == 0.0 or w.max() == w.min():  # constant (the std of 0.7s is not exactly 0)
        return np.zeros_like(w)
    return (w - float(w.mean())) / std


def partner_specific_mask(delta_self: np.ndarray, delta_other: np.ndarray) -> np.ndarray:
    """Partner-specific units: ``delta_other > 0`` and ``delta_self <= 0`` (bool, same shape)."""
    return (np.asarray(delta_other) > 0) & (np.asarray(delta_self) <= 0)


@dataclass(frozen=True)
class CircuitPath:
    """One strong path from a source unit to an action logit.

    Attributes:
        nodes: ``((layer, unit), ..., ("action", action_index))``; the first node is
            the source, the last the logit.
        weights: raw weight of each edge (``len(nodes) - 1`` values).
        z: z-score of each edge against its layer's weight matrix.
        source_kind: ``"mirror"`` or ``"partner"``.
        action: action name at the end (``"leap"``, ``"help"``...).
        kind: class from :data:`PATH_KINDS` (set by :func:`find_paths`).
    """

    nodes: tuple[tuple[str, int], ...]
    weights: tuple[float, ...]
    z: tuple[float, ...]
    source_kind: str
    action: str
    kind: str = ""

    @property
    def source(self) -> tuple[str, int]:
        """``(layer, unit)`` of the source unit."""
        return self.nodes[0]

    @property
    def hidden(self) -> tuple[tuple[str, int], ...]:
        """The nodes strictly between the source and the logit."""
        return self.nodes[1:-1]

    @property
    def min_abs_z(self) -> float:
        """The weakest edge's ``|z|`` (how strong the path is as a whole)."""
        return float(min(abs(v) for v in self.z))

    @property
    def sign(self) -> int:
        """Product of the signs of the weights: +1 excitatory, -1 inhibitory overall."""
        return -1 if sum(1 for w in self.weights if w < 0) % 2 else 1

    @property
    def name(self) -> str:
        """``"coupled[12] -> pi.0[3] -> leap (z 2.4, 3.1)"``."""
        parts = [f"{layer}[{unit}]" for layer, unit in self.nodes[:-1]] + [self.action]
        zs = ", ".join(f"{v:.1f}" for v in self.z)
        return f"{' -> '.join(parts)} (z {zs})"

    def as_row(self) -> dict[str, Any]:
        """A flat, JSON/CSV-friendly description, keyed by :data:`PATH_COLUMNS`."""
        values = (
            self.name,
            self.kind,
            self.source_kind,
            self.source[0],
            int(self.source[1]),
            self.action,
            len(self.z),
            [round(float(v), 4) for v in self.z],
            [round(float(v), 6) for v in self.weights],
            round(self.min_abs_z, 4),
            self.sign,
        )
        return dict(zip(PATH_COLUMNS, values, strict=True))


@dataclass(frozen=True)
class CircuitAnalysis:
    """All strong paths of one network.

    Attributes:
        layer_names: probed layers in forward order, then ``"action"``.
        layer_sizes: units per entry of ``layer_names`` (the last is the number of actions).
        zscores: ``zscores[i]`` is the ``(n_out, n_in)`` z-score matrix from
            ``layer_names[i]`` to ``layer_names[i + 1]``.
        weights: the raw matrices, same layout.
        sources: kind -> layer -> sorted unit indices used as sources.
        paths: strong paths, strongest (largest ``min_abs_z``) first.
        threshold: the ``|z|`` threshold.
        truncated: True when more than ``max_paths`` paths existed and the weakest
            were dropped.
        action_names: names of the logits.
    """

    layer_names: tuple[str, ...]
    layer_sizes: tuple[int, ...]
    zscores: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]
    sources: dict[str, dict[str, np.ndarray]]
    paths: tuple[CircuitPath, ...]
    threshold: float
    truncated: bool = False
    action_names: tuple[str, ...] = field(default=DEFAULT_ACTION_NAMES)

    def by_kind(self) -> dict[str, list[CircuitPath]]:
        """Paths grouped by class (every key of :data:`PATH_KINDS` is present)."""
        out: dict[str, list[CircuitPath]] = {kind: [] for kind in PATH_KINDS}
        for path in self.paths:
            out[path.kind].append(path)
        return out

    def edge_z(self, source: tuple[str, int], target: tuple[str, int]) -> float:
        """The z-score of the weight from node ``source`` to node ``target`` (next layer)."""
        i = self.layer_names.index(source[0])
        if self.layer_names[i + 1] != target[0]:
            raise ValueError(f"{target[0]!r} does not follow {source[0]!r}")
        return float(self.zscores[i][target[1], source[1]])

    def summary(self, top: int = 3) -> dict[str, Any]:
        """JSON-friendly counts per class and the ``top`` strongest paths of each."""
        groups = self.by_kind()
        return {
            "threshold": float(self.threshold),
            "n_paths": len(self.paths),
            "truncated": bool(self.truncated),
            "n_sources": {
                kind: {layer: int(len(units)) for layer, units in layers.items()}
                for kind, layers in self.sources.items()
            },
            "counts": {kind: len(paths) for kind, paths in groups.items()},
            "strongest": {kind: [p.name for p in paths[:top]] for kind, paths in groups.items()},
        }


def _check_chain(
    layer_names: Sequence[str], weights: Sequence[np.ndarray], n_actions: int
) -> list[np.ndarray]:
    """Validate the layer/weight chain; return the weights as float64 arrays."""
    if len(layer_names) == 0 or len(weights) != len(layer_names):
        raise ValueError(
            f"need one weight matrix per probed layer (the last maps to the logits); "
            f"got {len(layer_names)} layer name(s) and {len(weights)} matrices"
        )
    if ACTION_LAYER in layer_names or len(set(layer_names)) != len(layer_names):
        raise ValueError(f"layer names must be unique and not {ACTION_LAYER!r}; got {list(layer_names)}")
    mats = [np.asarray(w, dtype=np.float64) for w in weights]
    for i, w in enumerate(mats):
        if w.ndim != 2:
            raise ValueError(f"weight {i} ({layer_names[i]} -> next) must be 2-D (n_out, n_in); got shape {w.shape}")
        if i + 1 < len(mats) and mats[i + 1].ndim == 2 and mats[i + 1].shape[1] != w.shape[0]:
            raise ValueError(
                f"weight {i} has {w.shape[0]} outputs but weight {i + 1} expects {mats[i + 1].shape[1]} inputs"
            )
    if mats[-1].shape[0] != n_actions:
        raise ValueError(f"the last weight must map to the {n_actions} logits; got shape {mats[-1].shape}")
    return mats


def find_paths(
    layer_names: Sequence[str],
    weights: Sequence[np.ndarray],
    sources: Mapping[str, Mapping[str, Sequence[int] | np.ndarray]],
    threshold: float = 2.0,
    targets: Sequence[str] = ("leap", "help"),
    action_names: Sequence[str] = DEFAULT_ACTION_NAMES,
    max_paths: int = 5000,
) -> CircuitAnalysis:
    """Follow strong edges from the source units forward to the action logits.

    Args:
        layer_names: probed layers in forward order, e.g. ``["coupled", "pi.0"]``.
        weights: ``weights[i]`` of shape ``(n_{i+1}, n_i)`` maps ``layer_names[i]`` to
            the next layer; the last one maps to the ``len(action_names)`` logits.
        sources: ``{"mirror": {layer: units}, "partner": {layer: units}}``; either kind
            or layer may be missing. Units index into the layer.
        threshold: an edge is strong when ``|z| >= threshold``.
        targets: action names a kept path may end at.
        action_names: names of the logits, by index.
        max_paths: keep at most this many paths (the strongest by ``min_abs_z``).

    Returns:
        A :class:`CircuitAnalysis` with every strong path classified (see the module
        docstring).

    Raises:
        ValueError: inconsistent shapes, unknown layer or kind, unit out of range,
            unknown target, non-positive threshold.
    """
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    action_names = tuple(action_names)
    mats = _check_chain(layer_names, weights, len(action_names))
    names = tuple(layer_names) + (ACTION_LAYER,)
    sizes = tuple(int(w.shape[1]) for w in mats) + (len(action_names),)
    unknown_targets = [t for t in targets if t not in action_names]
    if unknown_targets:
        raise ValueError(f"unknown target action(s) {unknown_targets}; actions are {list(action_names)}")
    target_ids = {action_names.index(t) for t in targets}
    zs = [weight_zscores(w) for w in mats]
    # strong[i][u] = units of layer i+1 reached from unit u of layer i by a strong edge
    strong = [[np.flatnonzero(np.abs(z[:, u]) >= threshold) for u in range(z.shape[1])] for z in zs]

    clean_sources: dict[str, dict[str, np.ndarray]] = {}
    for kind, per_layer in sources.items():
        if kind not in SOURCE_KINDS:
            raise ValueError(f"source kind must be one of {list(SOURCE_KINDS)}, got {kind!r}")
        clean_sources[kind] = {}
        for layer, units in per_layer.items():
            if layer not in layer_names:
                raise ValueError(f"source layer {layer!r} is not one of {list(layer_names)}")
            arr = np.unique(np.asarray(units, dtype=np.int64).ravel())
            n = sizes[names.index(layer)]
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise ValueError(f"source units of layer {layer!r} must be in 0..{n - 1}, got {arr.tolist()}")
            clean_sources[kind][layer] = arr

    raw: list[tuple[tuple[tuple[str, int], ...], str, int]] = []
    for kind, per_layer in clean_sources.items():
        for layer, units in per_layer.items():
            start = names.index(layer)
            for unit in units:
                _walk(start, int(unit), ((layer, int(unit)),), strong, names, target_ids, kind, raw)

    paths = [_make_path(nodes, kind, names, mats, zs, action_names) for nodes, kind, _ in raw]
    paths = _classify(paths)
    paths.sort(key=lambda p: (-p.min_abs_z, p.name))
    truncated = len(paths) > max_paths
    return CircuitAnalysis(
        layer_names=names,
        layer_sizes=sizes,
        zscores=tuple(zs),
        weights=tuple(mats),
        sources=clean_sources,
        paths=tuple(paths[:max_paths]),
        threshold=float(threshold),
        truncated=truncated,
        action_names=action_names,
    )


def _walk(
    layer: int,
    unit: int,
    nodes: tuple[tuple[str, int], ...],
    strong: list[list[np.ndarray]],
    names: tuple[str, ...],
    target_ids: set[int],
    kind: str,
    out: list[tuple[tuple[tuple[str, int], ...], str, int]],
) -> None:
    """Depth-first walk along strong edges from ``(layer, unit)``; append complete paths."""
    for nxt in strong[layer][unit]:
        nxt = int(nxt)
        node = (names[layer + 1], nxt)
        if layer + 1 == len(strong):  # reached the logits
            if nxt in target_ids:
                out.append((nodes + (node,), kind, nxt))
        else:
            _walk(layer + 1, nxt, nodes + (node,), strong, names, target_ids, kind, out)


def _make_path(
    nodes: tuple[tuple[str, int], ...],
    kind: str,
    names: tuple[str, ...],
    mats: list[np.ndarray],
    zs: list[np.ndarray],
    action_names: tuple[str, ...],
) -> CircuitPath:
    ws, zz = [], []
    for (layer, unit), (_, nxt) in zip(nodes[:-1], nodes[1:]):
        i = names.index(layer)
        ws.append(float(mats[i][nxt, unit]))
        zz.append(float(zs[i][nxt, unit]))
    return CircuitPath(nodes, tuple(ws), tuple(zz), kind, action_names[nodes[-1][1]])


def _classify(paths: list[CircuitPath]) -> list[CircuitPath]:
    """Set each path's ``kind`` (see the module docstring)."""
    reached: dict[str, set[tuple[str, int]]] = {k: set() for k in SOURCE_KINDS}
    for p in paths:
        if p.action == "help":
            reached[p.source_kind].update(p.hidden)
    convergent = reached["mirror"] & reached["partner"]
    out = []
    for p in paths:
        if p.action == "leap":
            kind = "self-preservation" if p.source_kind == "mirror" else "other"
        elif p.action == "help":
            if any(node in convergent for node in p.hidden):
                kind = "empathy"
            else:
                kind = "tactical help" if p.source_kind == "partner" else "mirror help"
        else:
            kind = "other"
        out.append(CircuitPath(p.nodes, p.weights, p.z, p.source_kind, p.action, kind))
    return out
