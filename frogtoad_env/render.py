"""Text and image renderings of one game of a batch (no window, numpy only)."""

from __future__ import annotations

import numpy as np

from frogtoad_env.core import AGENT_NAMES, MAX_ENERGY, GameState

CELL = 8  # pixels per cell in rgb_array images

_SKY = (200, 228, 255)
_SOLID = (150, 110, 70)
_ROUGH = (70, 50, 40)
_FLY = (20, 20, 20)
_PLAYER_COLOURS = ((40, 170, 60), (170, 130, 40))  # frog green, toad brown
_DISTRESS = (220, 30, 30)
_BAR_BACK = (235, 235, 235)


def render_ansi(state: GameState, game: int = 0) -> str:
    """The original terminal view: flies, players and ground lines, then the status.

    ``*`` fly, ``F`` frog, ``T`` toad, ``&`` both on one cell, ``=`` solid and ``~``
    rough ground; a distressed player is marked ``!`` in the status line.
    """
    w = state.width
    flies = "".join("*" if f else " " for f in state.flies[game])
    players = [" "] * w
    frog, toad = state.position[game]
    players[frog] = "F"
    players[toad] = "&" if toad == frog else "T"
    ground = "".join("~" if r else "=" for r in state.rough[game])
    status = "  ".join(
        f"{name} energy {state.energy[game, p]:2d} score {state.score[game, p]:3d}{' !' if state.distress[game, p] else ''}"
        for p, name in enumerate(AGENT_NAMES)
    )
    return f"{flies}\n{''.join(players)}\n{ground}\nstep {state.steps[game]}  {status}\n"


def render_rgb(state: GameState, game: int = 0) -> np.ndarray:
    """A small image of one game: (5 * 8, width * 8, 3) uint8.

    Rows of cells, top to bottom: flies, players (a red rim marks distress), ground,
    then the frog's and toad's energy bars (full width = 20 energy).
    """
    w = state.width
    img = np.empty((5 * CELL, w * CELL, 3), dtype=np.uint8)
    img[:] = _SKY
    for x in np.flatnonzero(state.flies[game]):
        img[CELL // 4 : 3 * CELL // 4, x * CELL + CELL // 4 : x * CELL + 3 * CELL // 4] = _FLY
    for p in (0, 1):
        x = int(state.position[game, p])
        top, left = CELL, x * CELL
        if state.distress[game, p]:
            img[top : top + CELL, left : left + CELL] = _DISTRESS
        # the frog fills the cell's left half and the toad its right, so both show when they share it
        half = slice(left + 1 + p * (CELL // 2 - 1), left + (p + 1) * (CELL // 2 - 1) + 1)
        img[top + 1 : top + CELL - 1, half] = _PLAYER_COLOURS[p]
    ground = np.where(state.rough[game][:, None], np.array(_ROUGH), np.array(_SOLID)).astype(np.uint8)
    img[2 * CELL : 3 * CELL] = np.repeat(ground, CELL, axis=0)[None, :, :]
    for p in (0, 1):
        top = (3 + p) * CELL
        img[top + 1 : top + CELL - 1] = _BAR_BACK
        filled = int(round(state.energy[game, p] / MAX_ENERGY * w * CELL))
        img[top + 1 : top + CELL - 1, :filled] = _PLAYER_COLOURS[p]
    return img
