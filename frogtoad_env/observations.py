"""Observation encoders for both players of a batch of games.

Two modes:

``"egocentric"`` (default, for RL with one shared policy)
    ``[world | self | other]``, all numbers in [0, 1]. The world block is the ground
    (1 = rough) and flies (1 = fly) of every cell. The self and other blocks share one
    layout (:data:`BLOCK_FIELDS`), so one network can play either role and a coupled
    layer can read both with related weights:

    ===============  =====  ====================================================
    field            size   meaning
    ===============  =====  ====================================================
    position         W      one-hot cell of the player
    energy           1      energy / 20
    stalled          1      1 at 0 energy
    distress         1      distressed in the last step (rough landing or stalled)
    rough_ahead      5      ground at pos+1 .. pos+5 is rough (0 beyond the strip)
    fly_above        1      a fly at the player's cell (a jump would catch it)
    can_hop          1      pos+1 is inside the strip
    can_leap         1      pos+5 is inside the strip
    last_action      4      one-hot of the action chosen last step (zeros at reset)
    ===============  =====  ====================================================

    With ``veil`` I > 0, each observation is *veiled* with probability I: its self and
    other blocks are then put in a random order (fair coin), with nothing marking it,
    so at I = 1 the network can never tell which block is itself.

``"paper"`` (the original 100-number vector at width 32; 3W + 4 in general)
    ground codes (1 solid, 2 rough), players layer (0 empty, 4 frog, 5 toad,
    6 jumping, 7 leaping, 8 helping, 9 distress; when both stand on one cell the
    larger code is shown), flies (1 fly), then own status code, own energy, own score
    and own position. As in the original's training data, score and position are
    zeroed. Code 9 hides who is hurt; with ``veil`` I the four own-status numbers are
    withheld (zeroed) with probability I, so identity is hidden.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np
from gymnasium import spaces
from numba import njit

from frogtoad_env.checks import check_choice
from frogtoad_env.core import LEAP_DISTANCE, MAX_ENERGY, N_ACTIONS, GameState, RandomStream

OBS_MODES: tuple[str, ...] = ("egocentric", "paper")


def block_fields(width: int) -> dict[str, slice]:
    """Field name -> slice inside one player block of the egocentric observation."""
    sizes = {
        "position": width,
        "energy": 1,
        "stalled": 1,
        "distress": 1,
        "rough_ahead": LEAP_DISTANCE,
        "fly_above": 1,
        "can_hop": 1,
        "can_leap": 1,
        "last_action": N_ACTIONS,
    }
    out, start = {}, 0
    for name, size in sizes.items():
        out[name] = slice(start, start + size)
        start += size
    return out


def block_size(width: int) -> int:
    return block_fields(width)["last_action"].stop


def egocentric_layout(width: int) -> Mapping[str, slice]:
    """Name -> slice of the egocentric observation vector.

    Keys: ``"world"``, ``"world/ground"``, ``"world/flies"``, ``"self"``, ``"other"``
    and ``"self/<field>"``, ``"other/<field>"`` for every field of :func:`block_fields`.
    The mapping is read-only.
    """
    size = block_size(width)
    layout: dict[str, slice] = {
        "world": slice(0, 2 * width),
        "world/ground": slice(0, width),
        "world/flies": slice(width, 2 * width),
    }
    for block, start in (("self", 2 * width), ("other", 2 * width + size)):
        layout[block] = slice(start, start + size)
        for name, s in block_fields(width).items():
            layout[f"{block}/{name}"] = slice(start + s.start, start + s.stop)
    return MappingProxyType(layout)


def paper_layout(width: int) -> Mapping[str, slice]:
    """Name -> slice of the paper observation vector (3W + 4 numbers)."""
    w = width
    return MappingProxyType(
        {
            "ground": slice(0, w),
            "players": slice(w, 2 * w),
            "flies": slice(2 * w, 3 * w),
            "own_status": slice(3 * w, 3 * w + 1),
            "own_energy": slice(3 * w + 1, 3 * w + 2),
            "own_score": slice(3 * w + 2, 3 * w + 3),
            "own_position": slice(3 * w + 3, 3 * w + 4),
        }
    )


def observation_space(mode: str, width: int) -> spaces.Box:
    """The Box of one player's observation in ``mode``."""
    check_obs_mode(mode)
    if mode == "egocentric":
        return spaces.Box(0.0, 1.0, shape=(2 * width + 2 * block_size(width),), dtype=np.float32)
    return spaces.Box(0.0, float(MAX_ENERGY), shape=(3 * width + 4,), dtype=np.float32)


@lru_cache(maxsize=None)
def _observation_size(mode: str, width: int) -> int:
    """``observation_space(mode, width).shape[0]``, without building a Box on every step."""
    return observation_space(mode, width).shape[0]


def check_obs_mode(mode: object) -> str:
    return check_choice("obs_mode", mode, OBS_MODES)  # type: ignore[return-value]


def observe(state: GameState, mode: str, veil: float = 0.0, stream: RandomStream | None = None) -> np.ndarray:
    """Observations of both players of every game: (B, 2, obs_size) float32.

    ``out[g, p]`` is what player ``p`` (0 frog, 1 toad) of game ``g`` sees. ``stream``
    is needed only when ``veil > 0`` (it draws which observations are veiled).
    """
    check_obs_mode(mode)
    b, w = state.batch_size, state.width
    if veil > 0.0:
        if stream is None:
            raise ValueError("observe needs a RandomStream when veil > 0")
        stream.reserve(2 * 2 * b)
        buffer, cursor = stream.buffer, stream.cursor
    else:
        buffer, cursor = _NO_RANDOMS, np.zeros(1, dtype=np.int64)
    out = np.zeros((b, 2, _observation_size(mode, w)), dtype=np.float32)
    kernel = _egocentric_kernel if mode == "egocentric" else _paper_kernel
    kernel(state.rough, state.flies, state.position, state.energy, state.distress, state.last_action,
           state.display_code, float(veil), buffer, cursor, out)  # fmt: skip
    return out


_NO_RANDOMS = np.empty(0, dtype=np.float64)


def swap_self_other(obs: np.ndarray, width: int) -> np.ndarray:
    """Egocentric observations (..., obs_size) with the self and other blocks exchanged."""
    size = block_size(width)
    world = 2 * width
    out = obs.copy()
    out[..., world : world + size] = obs[..., world + size :]
    out[..., world + size :] = obs[..., world : world + size]
    return out


# Offsets of the block fields for the compiled kernel (block_fields() is the reference).
_ENERGY, _STALLED, _DISTRESS, _AHEAD = 0, 1, 2, 3
_FLY, _CAN_HOP, _CAN_LEAP, _LAST_ACTION = _AHEAD + LEAP_DISTANCE, _AHEAD + LEAP_DISTANCE + 1, _AHEAD + LEAP_DISTANCE + 2, _AHEAD + LEAP_DISTANCE + 3


@njit(cache=True)
def _write_block(out, g, viewer, base, subject, rough, flies, position, energy, distress, last_action):  # pragma: no cover
    """Player ``subject``'s block in viewer's observation, starting at ``base``."""
    w = rough.shape[1]
    pos = position[g, subject]
    out[g, viewer, base + pos] = 1.0
    f = base + w  # fields after the position one-hot
    out[g, viewer, f + _ENERGY] = energy[g, subject] / MAX_ENERGY
    out[g, viewer, f + _STALLED] = 1.0 if energy[g, subject] == 0 else 0.0
    out[g, viewer, f + _DISTRESS] = 1.0 if distress[g, subject] else 0.0
    for k in range(LEAP_DISTANCE):
        x = pos + 1 + k
        out[g, viewer, f + _AHEAD + k] = 1.0 if x < w and rough[g, x] else 0.0
    out[g, viewer, f + _FLY] = 1.0 if flies[g, pos] else 0.0
    out[g, viewer, f + _CAN_HOP] = 1.0 if pos + 1 < w else 0.0
    out[g, viewer, f + _CAN_LEAP] = 1.0 if pos + LEAP_DISTANCE < w else 0.0
    if last_action[g, subject] >= 0:
        out[g, viewer, f + _LAST_ACTION + last_action[g, subject]] = 1.0


@njit(cache=True)
def _egocentric_kernel(rough, flies, position, energy, distress, last_action, display_code, veil, rand, cursor, out):  # pragma: no cover
    n_games, w = rough.shape
    size = (out.shape[2] - 2 * w) // 2
    c = cursor[0]
    for g in range(n_games):
        for viewer in range(2):
            for x in range(w):
                out[g, viewer, x] = 1.0 if rough[g, x] else 0.0
                out[g, viewer, w + x] = 1.0 if flies[g, x] else 0.0
            first, second = viewer, 1 - viewer
            if veil > 0.0:
                veiled = rand[c] < veil
                swap = rand[c + 1] < 0.5
                c += 2
                if veiled and swap:
                    first, second = second, first
            _write_block(out, g, viewer, 2 * w, first, rough, flies, position, energy, distress, last_action)
            _write_block(out, g, viewer, 2 * w + size, second, rough, flies, position, energy, distress, last_action)
    cursor[0] = c


@njit(cache=True)
def _paper_kernel(rough, flies, position, energy, distress, last_action, display_code, veil, rand, cursor, out):  # pragma: no cover
    n_games, w = rough.shape
    c = cursor[0]
    for g in range(n_games):
        for viewer in range(2):
            for x in range(w):
                out[g, viewer, x] = 2.0 if rough[g, x] else 1.0
                out[g, viewer, 2 * w + x] = 1.0 if flies[g, x] else 0.0
            for p in range(2):
                cell = w + position[g, p]
                out[g, viewer, cell] = max(out[g, viewer, cell], display_code[g, p])
            withheld = False
            if veil > 0.0:
                withheld = rand[c] < veil
                c += 1
            if not withheld:  # own score and position stay 0, as in the original's training data
                out[g, viewer, 3 * w] = display_code[g, viewer]
                out[g, viewer, 3 * w + 1] = energy[g, viewer]
    cursor[0] = c
