"""Hand-built single games for the rules and observation tests, stepped with nothing random.

:func:`neutral_stream` hands out 0.5 forever, which spawns no fly (0.5 >= 0.01), lets
every fly stay where it is (drift ``int(0.5 * 3) - 1 = 0``), starts no rough patch and
makes no assisted leap; :func:`play` forces the action order and the assisted-leap rolls,
so each rule is checked exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from frogtoad_env import core
from frogtoad_env.core import FROG

W = 32
CENTRE = W // 2
NO_LEAP = (0.99, 0.99)


def neutral_stream(values: Sequence[float] = (), size: int = 1 << 14) -> core.RandomStream:
    """A stream that hands out ``values`` first and then 0.5 forever (nothing random happens)."""
    stream = core.RandomStream(0)
    stream.buffer = np.full(size, 0.5)
    stream.buffer[: len(values)] = values
    return stream


def strip(rough_cells: Sequence[int] = (), width: int = W) -> np.ndarray:
    """A ground layer of ``width`` cells, rough at ``rough_cells``."""
    rough = np.zeros(width, dtype=bool)
    rough[list(rough_cells)] = True
    return rough


def cells(*indices: int, width: int = W) -> np.ndarray:
    """A bool layer of ``width`` cells, True at ``indices``."""
    return strip(indices, width)


def play(
    state: core.GameState,
    frog: int,
    toad: int,
    *,
    first: int = FROG,
    rolls: tuple[float, float] = NO_LEAP,
    dependency: float = 1.0,
    stream: core.RandomStream | None = None,
    config: core.RulesConfig | None = None,
) -> core.StepEvents:
    """One step of a single game with the order and the assisted-leap rolls forced."""
    config = config or core.RulesConfig(width=state.width, dependency=dependency)
    return core.step(
        state,
        np.array([[frog, toad]]),
        config,
        stream or neutral_stream(),
        first_mover=np.array([first]),
        help_roll=np.array([rolls], dtype=np.float64),
    )


def positions(state: core.GameState) -> list[int]:
    return state.position[0].tolist()


def energies(state: core.GameState) -> list[int]:
    return state.energy[0].tolist()


def scores(state: core.GameState) -> list[int]:
    return state.score[0].tolist()
