"""Causal interventions on a policy's probed units: ablate or steer them through forward hooks.

The layers are the recorder's (:func:`cmni.recorder.probe_modules`: ``coupled``, ``pi.0``,
...); a unit is a column of that layer's ``(batch, units)`` output. Four kinds
(:data:`KINDS`), each computed from the probe set's activations (:class:`ProbeStatistics`):

- ``zero``: the unit's output is replaced by 0;
- ``mean``: by the unit's mean over all probe states;
- ``resample``: by its activation on a probe state drawn (uniformly, with a seeded
  generator, one state per row of the batch for all targeted units together) from the
  'none' scenario;
- ``steer``: ``alpha * (mean in 'both' - mean in 'none')`` is added to the unit's output.

One :class:`Intervention` holds ``C`` *conditions* (unit sets) at once, e.g. a target set
and its random controls: before each forward pass :attr:`Intervention.rows` says which
condition each row of the batch gets, so many conditions share one batched game.
:func:`intervene` installs the hooks and always removes them, leaving the policy intact.

Target sets (:func:`target_sets`): the mirror candidates, the top-k by MNS, the
partner-specific units, a user-given list; :func:`random_controls` draws the same number
of units from the same layers. Everything but :func:`intervene` is numpy; torch is imported
when hooks are installed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .circuits import partner_specific_mask
from .metric import SCENARIO_NAMES, CMNIResult

__all__ = [
    "KINDS",
    "TARGETS",
    "UnitSet",
    "UnitError",
    "ProbeStatistics",
    "Intervention",
    "intervene",
    "check_alpha",
    "check_units",
    "parse_unit_list",
    "target_sets",
    "random_controls",
]

#: Intervention kinds, in report order.
KINDS: tuple[str, ...] = ("zero", "mean", "resample", "steer")
#: Target-set names, in report order (``given`` only when the user lists units).
TARGETS: tuple[str, ...] = ("mirror", "top_mns", "partner", "given")

#: layer -> sorted unique unit indices within the layer
UnitSet = dict[str, np.ndarray]

_NONE, _BOTH = SCENARIO_NAMES.index("none"), SCENARIO_NAMES.index("both")


class UnitError(ValueError):
    """A layer or unit that the policy does not have (the command line exits 2)."""


def check_alpha(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number (a steering strength), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_units(layer_sizes: Mapping[str, int], units: Mapping[str, Sequence[int] | np.ndarray]) -> UnitSet:
    """``units`` as a :data:`UnitSet`, checked against ``layer_sizes`` (layer -> width).

    Raises:
        UnitError: an unknown layer (naming the valid ones) or a unit outside ``0..width-1``.
    """
    checked: UnitSet = {}
    for layer, chosen in units.items():
        if layer not in layer_sizes:
            raise UnitError(f"unknown layer {layer!r}; the probed layers are {list(layer_sizes)}")
        arr = np.unique(np.asarray(chosen, dtype=np.int64))
        width = int(layer_sizes[layer])
        bad = arr[(arr < 0) | (arr >= width)]
        if bad.size:
            raise UnitError(f"layer {layer!r} has units 0..{width - 1}; got unit {int(bad[0])}")
        checked[layer] = arr
    return checked


def parse_unit_list(text: str) -> tuple[str, tuple[int, ...]]:
    """``"LAYER:U1,U2,..."`` -> ``(layer, (u1, u2, ...))`` (e.g. ``"coupled:3,17"``); ValueError if malformed."""
    layer, sep, rest = str(text).rpartition(":")
    try:
        units = tuple(int(u) for u in rest.split(","))
    except ValueError:
        units = ()
    if not sep or not layer or not units:
        raise ValueError(f"a unit list must look like LAYER:U1,U2 (e.g. coupled:3,17), got {text!r}")
    return layer, units


@dataclass(frozen=True, eq=False)
class ProbeStatistics:
    """What the interventions replace units with, from one policy's probe activations.

    Attributes:
        mean: layer -> ``(units,)`` mean over all probe states.
        steer: layer -> ``(units,)`` mean in 'both' minus mean in 'none'.
        none_states: layer -> ``(n_none, units)`` activations on the 'none' states (resample pool).
    """

    mean: dict[str, np.ndarray]
    steer: dict[str, np.ndarray]
    none_states: dict[str, np.ndarray]

    @classmethod
    def of(cls, layers: Mapping[str, np.ndarray], scenarios: np.ndarray) -> ProbeStatistics:
        """From recorded ``layers`` (layer -> ``(n_states, units)``) and ``(n_states,)`` scenario codes."""
        codes = np.asarray(scenarios)
        none, both = codes == _NONE, codes == _BOTH
        if not none.any() or not both.any():
            raise ValueError("the probe set needs states of the 'none' and the 'both' scenario")
        acts = {k: np.asarray(v, dtype=np.float64) for k, v in layers.items()}
        return cls(
            mean={k: a.mean(axis=0) for k, a in acts.items()},
            steer={k: a[both].mean(axis=0) - a[none].mean(axis=0) for k, a in acts.items()},
            none_states={k: a[none] for k, a in acts.items()},
        )

    @property
    def layer_sizes(self) -> dict[str, int]:
        return {k: int(v.shape[0]) for k, v in self.mean.items()}


@dataclass(eq=False)
class Intervention:
    """One kind of intervention on ``C`` unit sets (conditions) at once.

    Attributes:
        kind: one of :data:`KINDS`.
        conditions: ``C`` unit sets (checked against the probe statistics' layers).
        stats: the probe statistics the replacement values come from.
        alpha: steering strength (finite; used by ``steer`` only).
        seed: seeds the resample draws.
        rows: ``(batch,)`` condition index of each row of the next forward pass; None
            applies condition 0 to every row. Set by the caller before each pass.
    """

    kind: str
    conditions: Sequence[UnitSet]
    stats: ProbeStatistics
    alpha: float = 1.0
    seed: int = 0
    rows: np.ndarray | None = None
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        check_alpha("alpha", self.alpha)
        if not self.conditions:
            raise ValueError("an intervention needs at least one unit set")
        self.conditions = [check_units(self.stats.layer_sizes, c) for c in self.conditions]
        self._rng = np.random.default_rng(self.seed)

    @property
    def layers(self) -> list[str]:
        """The layers any condition touches, in probe order."""
        return [k for k in self.stats.layer_sizes if any(k in c and c[k].size for c in self.conditions)]

    def mask(self, layer: str) -> np.ndarray:
        """``(C, units)`` bool: which units of ``layer`` each condition targets."""
        out = np.zeros((len(self.conditions), self.stats.layer_sizes[layer]), dtype=bool)
        for c, units in enumerate(self.conditions):
            out[c, units.get(layer, np.zeros(0, np.int64))] = True
        return out

    def _row_masks(self, mask: np.ndarray, batch: int) -> np.ndarray:
        cond = np.zeros(batch, dtype=np.int64) if self.rows is None else np.asarray(self.rows, dtype=np.int64)
        if cond.shape != (batch,):
            raise ValueError(f"rows must give one condition per row: shape ({batch},), got {cond.shape}")
        return mask[cond]

    def _values(self, layer: str, batch: int) -> np.ndarray:
        """Replacement values (``zero``/``mean``: ``(units,)``; ``resample``: ``(batch, units)``) or the steering offset."""
        if self.kind == "zero":
            return np.zeros(self.stats.layer_sizes[layer])
        if self.kind == "mean":
            return self.stats.mean[layer]
        if self.kind == "steer":
            return self.alpha * self.stats.steer[layer]
        pool = self.stats.none_states[layer]
        return pool[self._rng.integers(0, pool.shape[0], size=batch)]


@contextmanager
def intervene(policy: Any, intervention: Intervention) -> Iterator[Intervention]:
    """Install ``intervention``'s forward hooks on ``policy``'s probed layers for the ``with`` block.

    Each hook rewrites the targeted columns of its layer's output (flattened to
    ``(batch, units)``, in the output's dtype) for the rows whose condition targets them;
    every other value passes through untouched. The hooks are removed on exit, also when
    the block raises, so the policy computes exactly what it computed before.

    Raises:
        UnitError: a layer of the intervention is not among the policy's probed layers.
    """
    import torch

    from .recorder import probe_modules

    policy = getattr(policy, "policy", policy)
    modules = dict(probe_modules(policy))
    handles = []

    def make_hook(layer: str) -> Any:
        mask = intervention.mask(layer)

        def hook(module: Any, inputs: Any, output: torch.Tensor) -> torch.Tensor:
            flat = output.reshape(output.shape[0], -1)
            if flat.shape[1] != mask.shape[1]:
                raise RuntimeError(f"layer {layer!r} has {flat.shape[1]} units here, the probe set {mask.shape[1]}")
            rows = torch.as_tensor(intervention._row_masks(mask, flat.shape[0]), device=flat.device)
            values = torch.as_tensor(intervention._values(layer, flat.shape[0] if intervention.kind == "resample" else 1),
                                     dtype=flat.dtype, device=flat.device)  # fmt: skip
            edited = torch.where(rows, flat + values if intervention.kind == "steer" else values, flat)
            return edited.reshape(output.shape)

        return hook

    try:
        for layer in intervention.layers:
            if layer not in modules:
                raise UnitError(f"unknown layer {layer!r}; the probed layers are {list(modules)}")
            handles.append(modules[layer].register_forward_hook(make_hook(layer)))
        yield intervention
    finally:
        for handle in handles:
            handle.remove()


# --------------------------------------------------------------------------- which units


def target_sets(result: CMNIResult, top_k: int = 5, given: Mapping[str, Sequence[int]] | None = None) -> dict[str, UnitSet]:
    """The named target sets of :data:`TARGETS` (empty sets left out).

    - ``mirror``: every mirror candidate (both deltas > 0);
    - ``top_mns``: the ``top_k`` candidates with the largest Mirror Neuron Score, over all layers;
    - ``partner``: the partner-specific units (Δother > 0, Δself ≤ 0);
    - ``given``: ``given`` (checked: :class:`UnitError` for a unit the policy lacks).
    """
    sizes = {k: sl.stop - sl.start for k, sl in result.layer_slices.items()}
    names = np.concatenate([np.full(n, k, dtype=object) for k, n in sizes.items()])
    within = np.concatenate([np.arange(n) for n in sizes.values()])

    def as_set(mask: np.ndarray) -> UnitSet:
        return {k: within[mask & (names == k)] for k in sizes if (mask & (names == k)).any()}

    candidates = np.asarray(result.candidate_mask, dtype=bool)
    order = np.argsort(-np.where(candidates, np.asarray(result.mns, dtype=np.float64), -np.inf), kind="stable")
    top = np.zeros_like(candidates)
    top[order[: min(int(top_k), int(candidates.sum()))]] = True
    sets = {
        "mirror": as_set(candidates),
        "top_mns": as_set(top),
        "partner": as_set(partner_specific_mask(result.delta_self, result.delta_other)),
    }
    if given:
        sets["given"] = check_units(sizes, given)
    return {k: v for k, v in sets.items() if sum(u.size for u in v.values())}


def random_controls(targets: UnitSet, layer_sizes: Mapping[str, int], n_draws: int, seed: int) -> list[UnitSet]:
    """``n_draws`` unit sets with as many units per layer as ``targets``, drawn uniformly
    without replacement from all units of that layer (so a draw may overlap the targets)."""
    rng = np.random.default_rng(seed)
    return [
        {layer: np.sort(rng.choice(int(layer_sizes[layer]), size=units.size, replace=False)) for layer, units in targets.items()}
        for _ in range(int(n_draws))
    ]
