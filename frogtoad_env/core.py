"""The Frog and Toad rules: one batched core that every front end runs.

This module is the single source of truth for the game.
The PettingZoo env steps a batch of one game, the Gymnasium wrapper goes through the
PettingZoo env, and the SB3 vector env used for training steps a batch of thousands; all
of them call :func:`step` below, so a rule changes here and nowhere else.

World
    A strip ``width`` cells wide (default 32) with three layers per cell: ground (solid
    or rough), players and flies. Player 0 is the frog, player 1 the toad; they start at
    ``width//2 - 1`` and ``width//2`` with 20 energy (the cap) on all-solid ground.

Actions (``Discrete(4)``, the same for both players)
    ====  =====  ==============================================================
    id    name   effect
    ====  =====  ==============================================================
    0     hop    energy >= 1 and ``pos+1`` inside the strip: move +1, score +1
    1     jump   a fly above the player (same column): energy +fly_energy (4,
                 cap 20), the fly is eaten. Works at 0 energy: a stalled
                 player's way back.
    2     leap   energy >= 1 and ``pos+5`` inside the strip: move +5, energy -1
    3     help   helper energy >= 1 and the partner's ``pos+5`` inside the
                 strip: if partner energy < 20, partner +help_energy (2, cap)
                 and helper -1; then with probability help_leap_probability
                 (0.25) the partner does a normal leap (its own cost and
                 landing rule)
    ====  =====  ==============================================================

    Landing on a rough cell (hop or leap, own or assisted) costs 1 energy; energy never
    drops below 0 and never exceeds 20. Points come only from hops.

One step, in order
    1. Both actions resolve one after the other, in an order drawn per game and step
       from the seeded generator (frog first or toad first with probability 1/2 each),
       so neither name is favoured. Order matters only when both players reach for the
       same fly, or when a help changes the partner's energy before it acts.
    2. Distress: a player is distressed this step if it landed on rough ground or
       ends the actions at 0 energy (stalled); distress lasts for this step only. From
       one player's point of view the step is one of four scenarios
       (:func:`scenario_codes`): 0 none, 1 self ("act"), 2 other ("observe"), 3 both.
    3. Scroll: ``anchor = floor(D * mean(pos) + (1 - D) * max(pos))`` with
       ``D = dependency``; ``shift = anchor - width//2``. For ``shift > 0`` the ground
       moves left, ``shift`` new cells enter on the right and both players move left
       (clamped at 0); for ``shift < 0`` the ground moves right, solid cells enter on
       the left and both players move right (clamped at ``width - 1``).
    4. Terrain: every new right-edge cell starts a rough patch with probability
       ``rough_rate``, which ramps from ``rough_rate_start`` (0) by ``rough_rate_step``
       (+0.005) per generated cell (the original's "per scroll") up to ``rough_rate_max``
       (0.075); a patch is 1-4 rough cells (uniform) followed by one solid cell.
    5. Flies (screen coordinates, they do not scroll): every cell spawns a fly with
       probability ``fly_spawn_probability`` (0.01), then every fly drifts -1, 0 or +1
       (uniform, clamped to the strip); flies landing on one cell merge.

The numbers in parentheses are the paper's values, the defaults of :class:`RulesConfig`.

All arrays carry a leading batch axis ``B`` (number of games); the player axis has
size 2 (0 frog, 1 toad).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numba import njit

from frogtoad_env.checks import check_int, check_unit_interval

HOP, JUMP, LEAP, HELP = 0, 1, 2, 3
ACTION_NAMES: tuple[str, ...] = ("hop", "jump", "leap", "help")
N_ACTIONS = 4
FROG, TOAD = 0, 1
AGENT_NAMES: tuple[str, str] = ("frog", "toad")

MAX_ENERGY = 20
LEAP_DISTANCE = 5
MIN_WIDTH = 8
#: Widest strip: 32x the paper's 32 cells. Memory grows with width (a (B, 2, 4W + 30) float32
#: observation batch is 135 MB at B = 4096 here), and an unbounded width such as 10**9 gets
#: the process killed for memory instead of refused.
MAX_WIDTH = 1024

#: Scenario codes from one player's point of view (step 2 of the module docstring; the paper's set Omega).
SCENARIO_NONE, SCENARIO_SELF, SCENARIO_OTHER, SCENARIO_BOTH = 0, 1, 2, 3
SCENARIO_NAMES: tuple[str, ...] = ("none", "self", "other", "both")

# Players-layer display codes of the original game.
CODE_FROG, CODE_TOAD, CODE_JUMPING, CODE_LEAPING, CODE_HELPING, CODE_DISTRESS = 4, 5, 6, 7, 8, 9


def _knob(default: float, doc: str) -> Any:
    """A rules field with its one-line doc (allowed range included), read by CLIs for --help."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class RulesConfig:
    """The knobs of the rules themselves (observation and reward knobs live in EnvConfig).

    The defaults are the paper's game. Each field's one-line doc is in its metadata
    (:func:`knob_docs`); an invalid value or a degenerate combination raises ValueError
    naming the knob and its allowed range.
    """

    width: int = _knob(32, f"cells in the strip, an integer in [{MIN_WIDTH}, {MAX_WIDTH}]")
    dependency: float = _knob(
        1.0, "D in [0, 1]: the scroll anchor follows the players' mean (1, a leader must wait) or the leader (0)"
    )
    rough_rate_start: float = _knob(
        0.0, "rough-patch start probability of the first generated cell, in [0, rough_rate_max]"
    )
    rough_rate_step: float = _knob(0.005, "increase of the rough-patch probability per generated cell, in [0, 1]")
    rough_rate_max: float = _knob(0.075, "cap of the rough-patch probability, in [0, 1]")
    fly_spawn_probability: float = _knob(0.01, "probability that a cell spawns a fly each step, in (0, 1]")
    fly_energy: int = _knob(4, f"energy a caught fly gives (capped at {MAX_ENERGY}), an integer in [1, {MAX_ENERGY}]")
    help_energy: int = _knob(
        2, f"energy a help gives a partner below {MAX_ENERGY} (the helper pays 1), an integer in [1, {MAX_ENERGY}]"
    )
    help_leap_probability: float = _knob(0.25, "probability that a help also makes the partner leap, in [0, 1]")

    def __post_init__(self) -> None:
        check_int("width", self.width, MIN_WIDTH)
        if self.width > MAX_WIDTH:
            raise ValueError(f"width must be <= {MAX_WIDTH} (memory grows with it; the paper uses 32), got {self.width}")
        for name in ("dependency", "rough_rate_start", "rough_rate_step", "rough_rate_max", "help_leap_probability"):
            check_unit_interval(name, getattr(self, name))
        if self.rough_rate_start > self.rough_rate_max:
            raise ValueError(
                f"rough_rate_start must be in [0, rough_rate_max = {self.rough_rate_max}], got {self.rough_rate_start!r}"
            )
        # without flies, or with flies worth nothing, a stalled pair could never move again
        check_unit_interval("fly_spawn_probability", self.fly_spawn_probability, allow_zero=False)
        check_int("fly_energy", self.fly_energy, 1, MAX_ENERGY)
        check_int("help_energy", self.help_energy, 1, MAX_ENERGY)

    def kernel_args(self) -> tuple[float, float, float, float, int, int, float]:
        """The knobs the compiled step kernel takes, in its argument order (width is the arrays')."""
        return (
            float(self.dependency), float(self.rough_rate_step), float(self.rough_rate_max),
            float(self.fly_spawn_probability), int(self.fly_energy), int(self.help_energy),
            float(self.help_leap_probability),
        )  # fmt: skip


def knob_docs() -> dict[str, str]:
    """The one-line doc of every :class:`RulesConfig` field, by name, in field order."""
    return {f.name: f.metadata["doc"] for f in fields(RulesConfig)}


@dataclass
class GameState:
    """The full state of ``B`` games. Every field is a numpy array with batch axis 0.

    Attributes:
        rough: (B, W) bool, ground layer; True is rough, False solid.
        flies: (B, W) bool, a fly above the cell (screen coordinates).
        position: (B, 2) int64, cell index of frog and toad in [0, W).
        energy: (B, 2) int64 in [0, 20].
        score: (B, 2) int64, points from hops; never falls.
        rough_rate: (B,) float64, current rough-patch start probability.
        patch_rough_left: (B,) int64, rough cells still to emit in the current patch.
        patch_solid_due: (B,) bool, the solid cell that closes a patch is next.
        last_action: (B, 2) int64, action chosen in the last step (-1 before the first).
        display_code: (B, 2) int64, players-layer code of the last step (4/5 identity,
            6 jumping, 7 leaping, 8 helping, 9 distress).
        distress: (B, 2) bool, distressed in the last step.
        steps: (B,) int64, steps taken since reset.
    """

    rough: np.ndarray
    flies: np.ndarray
    position: np.ndarray
    energy: np.ndarray
    score: np.ndarray
    rough_rate: np.ndarray
    patch_rough_left: np.ndarray
    patch_solid_due: np.ndarray
    last_action: np.ndarray
    display_code: np.ndarray
    distress: np.ndarray
    steps: np.ndarray

    @property
    def batch_size(self) -> int:
        return self.rough.shape[0]

    @property
    def width(self) -> int:
        return self.rough.shape[1]

    @property
    def stalled(self) -> np.ndarray:
        """(B, 2) bool: players at 0 energy (they can only jump or wait for help)."""
        return self.energy == 0

    def copy(self) -> GameState:
        return replace(self, **{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def assign(self, games: np.ndarray, other: GameState) -> None:
        """Overwrite ``games`` (index or bool mask) with the games of ``other``."""
        for f in fields(self):
            getattr(self, f.name)[games] = getattr(other, f.name)


def new_games(batch_size: int, config: RulesConfig) -> GameState:
    """``batch_size`` games at the start state: solid ground, no flies, full energy."""
    w = config.width
    b = batch_size
    position = np.empty((b, 2), dtype=np.int64)
    position[:, FROG] = w // 2 - 1
    position[:, TOAD] = w // 2
    return GameState(
        rough=np.zeros((b, w), dtype=bool),
        flies=np.zeros((b, w), dtype=bool),
        position=position,
        energy=np.full((b, 2), MAX_ENERGY, dtype=np.int64),
        score=np.zeros((b, 2), dtype=np.int64),
        rough_rate=np.full(b, config.rough_rate_start, dtype=np.float64),
        patch_rough_left=np.zeros(b, dtype=np.int64),
        patch_solid_due=np.zeros(b, dtype=bool),
        last_action=np.full((b, 2), -1, dtype=np.int64),
        display_code=np.tile(np.array([CODE_FROG, CODE_TOAD], dtype=np.int64), (b, 1)),
        distress=np.zeros((b, 2), dtype=bool),
        steps=np.zeros(b, dtype=np.int64),
    )


def make_state(
    rough: np.ndarray | list,
    position: np.ndarray | list | tuple,
    energy: np.ndarray | list | tuple = (MAX_ENERGY, MAX_ENERGY),
    score: np.ndarray | list | tuple = (0, 0),
    flies: np.ndarray | list | None = None,
    rough_rate: float | np.ndarray = 0.0,
    patch_rough_left: int | np.ndarray = 0,
    patch_solid_due: bool | np.ndarray = False,
) -> GameState:
    """Build games from an explicit state, for tests and probes.

    Arguments may describe one game (``rough`` of shape (W,), ``position`` (2,)) or a
    batch (``rough`` (B, W), ``position`` (B, 2)); a single game becomes a batch of one.
    ``rough`` accepts bools or 0/1; ``flies`` defaults to none.
    """
    rough_arr = np.atleast_2d(np.asarray(rough, dtype=bool))
    b, w = rough_arr.shape
    if w < MIN_WIDTH:
        raise ValueError(f"width must be an integer >= {MIN_WIDTH}, got {w}")

    def per_player(name: str, value: object, low: int, high: int | None) -> np.ndarray:
        arr = np.asarray(value, dtype=np.int64)
        arr = np.broadcast_to(arr, (b, 2)).copy() if arr.ndim <= 2 else arr
        if arr.shape != (b, 2):
            raise ValueError(f"{name} must have shape (2,) or ({b}, 2), got {arr.shape}")
        if (arr < low).any() or (high is not None and (arr > high).any()):
            raise ValueError(f"{name} must be in [{low}, {high if high is not None else 'inf'}], got {arr.tolist()}")
        return arr

    flies_arr = np.zeros((b, w), dtype=bool) if flies is None else np.atleast_2d(np.asarray(flies, dtype=bool))
    if flies_arr.shape != (b, w):
        raise ValueError(f"flies must have the shape of rough {(b, w)}, got {flies_arr.shape}")
    energy_arr = per_player("energy", energy, 0, MAX_ENERGY)
    stalled = energy_arr == 0
    identity = np.tile(np.array([CODE_FROG, CODE_TOAD], dtype=np.int64), (b, 1))
    return GameState(
        rough=rough_arr.copy(),
        flies=flies_arr.copy(),
        position=per_player("position", position, 0, w - 1),
        energy=energy_arr,
        score=per_player("score", score, 0, None),
        rough_rate=np.broadcast_to(np.asarray(rough_rate, dtype=np.float64), (b,)).copy(),
        patch_rough_left=np.broadcast_to(np.asarray(patch_rough_left, dtype=np.int64), (b,)).copy(),
        patch_solid_due=np.broadcast_to(np.asarray(patch_solid_due, dtype=bool), (b,)).copy(),
        last_action=np.full((b, 2), -1, dtype=np.int64),
        display_code=np.where(stalled, CODE_DISTRESS, identity),
        distress=stalled,
        steps=np.zeros(b, dtype=np.int64),
    )


class RandomStream:
    """Uniform [0, 1) numbers from a seeded numpy Generator, handed out in blocks.

    Every random decision of the rules (action order, assisted leaps, terrain, flies,
    the veil) consumes numbers from this stream in a fixed order, so a seed fixes the
    whole trajectory. The compiled kernels read the buffer directly; refilling in
    blocks keeps the per-step cost of randomness near zero for a batch of one. The
    stream is chunk-invariant: it equals one long ``generator.random(n)`` call.
    """

    def __init__(self, generator: np.random.Generator | int | None = None, block: int = 1 << 14) -> None:
        self.generator = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
        self.block = block
        self.buffer = np.empty(0, dtype=np.float64)
        self.cursor = np.zeros(1, dtype=np.int64)

    def reserve(self, n: int) -> None:
        """Make sure at least ``n`` unread numbers are buffered."""
        left = self.buffer.shape[0] - int(self.cursor[0])
        if left < n:
            fresh = self.generator.random(max(self.block, n - left))
            self.buffer = np.concatenate([self.buffer[int(self.cursor[0]) :], fresh])
            self.cursor[0] = 0


# Event flags, packed into one (B, 2, N_FLAGS) bool array per step (StepEvents.flags).
FLAG_ROUGH_LANDING, FLAG_HOPPED, FLAG_JUMPED_FLY, FLAG_LEAPED, FLAG_HELPED, FLAG_ASSISTED_LEAP, FLAG_DISTRESS = range(7)
N_FLAGS = 7


@dataclass
class StepEvents:
    """What happened in one step of ``B`` games. Every (B, 2) array is indexed by player.

    Attributes:
        points: (B, 2) int64, points scored this step (hops); the base reward.
        distress: (B, 2) bool, landed on rough ground or ended the actions at 0 energy.
        rough_landing: (B, 2) bool, landed on a rough cell (own or assisted move).
        hopped, leaped: (B, 2) bool, the move took effect.
        jumped_fly: (B, 2) bool, a jump caught a fly.
        helped: (B, 2) bool, the player's help took effect (it had energy and the
            partner's leap target was inside the strip), whether or not energy moved.
        energy_given: (B, 2) int64, energy the player's help added to its partner.
        assisted_leap: (B, 2) bool, the player was leaped forward by its partner's help.
        first_mover: (B,) int64, the player whose action resolved first (-1: no step yet).
        shift: (B,) int64, scroll after the actions (> 0: the world moved left).
    """

    points: np.ndarray
    energy_given: np.ndarray
    first_mover: np.ndarray
    shift: np.ndarray
    flags: np.ndarray = field(repr=False)

    @classmethod
    def empty_for(cls, state: GameState) -> StepEvents:
        """Events of no step (nothing happened, ``first_mover`` -1), with the state's distress."""
        b = state.batch_size
        events = cls(
            points=np.zeros((b, 2), dtype=np.int64),
            energy_given=np.zeros((b, 2), dtype=np.int64),
            first_mover=np.full(b, -1, dtype=np.int64),
            shift=np.zeros(b, dtype=np.int64),
            flags=np.zeros((b, 2, N_FLAGS), dtype=np.bool_),
        )
        events.flags[:, :, FLAG_DISTRESS] = state.distress
        return events

    @property
    def distress(self) -> np.ndarray:
        return self.flags[:, :, FLAG_DISTRESS]

    @property
    def rough_landing(self) -> np.ndarray:
        return self.flags[:, :, FLAG_ROUGH_LANDING]

    @property
    def hopped(self) -> np.ndarray:
        return self.flags[:, :, FLAG_HOPPED]

    @property
    def jumped_fly(self) -> np.ndarray:
        return self.flags[:, :, FLAG_JUMPED_FLY]

    @property
    def leaped(self) -> np.ndarray:
        return self.flags[:, :, FLAG_LEAPED]

    @property
    def helped(self) -> np.ndarray:
        return self.flags[:, :, FLAG_HELPED]

    @property
    def assisted_leap(self) -> np.ndarray:
        return self.flags[:, :, FLAG_ASSISTED_LEAP]


def scenario_codes(distress: np.ndarray) -> np.ndarray:
    """Scenario of each player from (B, 2) distress flags: (B, 2) int64 in 0..3.

    Code = self_distressed + 2 * partner_distressed, i.e. 0 none, 1 self ("act"),
    2 other ("observe"), 3 both.
    """
    distress = np.asarray(distress, dtype=bool)
    return distress.astype(np.int64) + 2 * distress[:, ::-1].astype(np.int64)


def randoms_per_step(width: int) -> int:
    """Upper bound of stream numbers one game consumes in one step."""
    # order 1, two help rolls, two per generated cell (at most width//2 + 1), and per
    # cell one fly-spawn roll plus at most one drift roll
    return 3 + 2 * (width // 2 + 1) + 2 * width


def step(
    state: GameState,
    actions: np.ndarray,
    config: RulesConfig,
    stream: RandomStream,
    first_mover: np.ndarray | None = None,
    help_roll: np.ndarray | None = None,
) -> StepEvents:
    """Advance every game by one step, in place.

    Args:
        state: the games; modified in place.
        actions: (B, 2) integer actions of frog and toad, each in 0..3.
        config: the rules' knobs.
        stream: the seeded random numbers (order, assisted leaps, terrain, flies).
        first_mover: optional (B,) fixed action order (0 frog first, 1 toad first);
            tests use it to check each rule exactly. Drawn from ``stream`` if None.
        help_roll: optional (B, 2) fixed assisted-leap rolls in [0, 1); a help makes
            the partner leap when the helper's roll is below
            ``config.help_leap_probability``. Drawn if None.

    Returns:
        The step's events.

    Raises:
        ValueError: ``actions`` is not a (B, 2) integer array with values in 0..3, or a
            forced ``first_mover`` / ``help_roll`` has the wrong shape or values.
    """
    b, w = state.batch_size, state.width
    actions = np.asarray(actions)
    if actions.shape != (b, 2) or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(
            f"actions must be a ({b}, 2) integer array with values in 0..{N_ACTIONS - 1}, "
            f"got shape {actions.shape} dtype {actions.dtype}"
        )
    if first_mover is None:
        forced_first = np.full(b, -1, dtype=np.int64)
    else:
        forced_first = np.asarray(first_mover)
        if forced_first.shape != (b,) or not ((forced_first == 0) | (forced_first == 1)).all():
            raise ValueError(f"first_mover must be a ({b},) array of 0 (frog first) or 1 (toad first), got {first_mover!r}")
        forced_first = forced_first.astype(np.int64)
    if help_roll is None:
        forced_roll = np.full((b, 2), -1.0)
    else:
        forced_roll = np.asarray(help_roll, dtype=np.float64)
        if forced_roll.shape != (b, 2) or not ((forced_roll >= 0.0) & (forced_roll < 1.0)).all():
            raise ValueError(f"help_roll must be a ({b}, 2) array of numbers in [0, 1), got {help_roll!r}")
    stream.reserve(b * randoms_per_step(w))
    events = StepEvents.empty_for(state)
    ok = _step_kernel(
        state.rough, state.flies, state.position, state.energy, state.score,
        state.rough_rate, state.patch_rough_left, state.patch_solid_due,
        state.last_action, state.display_code, state.distress, state.steps,
        actions.astype(np.int64, copy=False), forced_first, forced_roll,
        *config.kernel_args(),
        stream.buffer, stream.cursor,
        events.points, events.energy_given, events.first_mover, events.shift, events.flags,
    )  # fmt: skip
    if not ok:
        bad = actions[(actions < 0) | (actions >= N_ACTIONS)]
        raise ValueError(f"actions must be integers in 0..{N_ACTIONS - 1} (hop, jump, leap, help), got {bad.tolist()}")
    return events


@njit(cache=True)
def _move(g, p, distance, rough, position, energy, flags):  # pragma: no cover - compiled
    """Move player p of game g forward; landing on rough costs 1 energy (floor 0)."""
    x = position[g, p] + distance
    position[g, p] = x
    if rough[g, x]:
        if energy[g, p] > 0:
            energy[g, p] -= 1
        flags[g, p, FLAG_ROUGH_LANDING] = True


@njit(cache=True)
def _step_kernel(  # pragma: no cover - compiled
    rough, flies, position, energy, score, rough_rate, patch_rough_left, patch_solid_due,
    last_action, display_code, distress, steps,
    actions, forced_first, forced_roll, dependency, rate_step, rate_max,
    fly_spawn_probability, fly_energy, help_energy, help_leap_probability,
    rand, cursor,
    points, energy_given, first_mover, shift_out, flags,
):  # fmt: skip
    """The rules of one step for every game; see the module docstring. False on bad actions."""
    n_games, w = rough.shape
    for g in range(n_games):
        for p in range(2):
            if actions[g, p] < 0 or actions[g, p] >= N_ACTIONS:
                return False
    c = cursor[0]
    new_flies = np.empty(w, dtype=np.bool_)
    for g in range(n_games):
        # 1. actions, in a random order
        if forced_first[g] >= 0:
            first = forced_first[g]
        else:
            first = 1 if rand[c] < 0.5 else 0
            c += 1
        first_mover[g] = first
        for turn in range(2):
            p = first if turn == 0 else 1 - first
            q = 1 - p
            action = actions[g, p]
            pos = position[g, p]
            if action == HOP:
                if energy[g, p] >= 1 and pos + 1 < w:
                    _move(g, p, 1, rough, position, energy, flags)
                    score[g, p] += 1
                    points[g, p] += 1
                    flags[g, p, FLAG_HOPPED] = True
            elif action == JUMP:
                if flies[g, pos]:
                    energy[g, p] = min(energy[g, p] + fly_energy, MAX_ENERGY)
                    flies[g, pos] = False
                    flags[g, p, FLAG_JUMPED_FLY] = True
            elif action == LEAP:
                if energy[g, p] >= 1 and pos + LEAP_DISTANCE < w:
                    energy[g, p] -= 1
                    _move(g, p, LEAP_DISTANCE, rough, position, energy, flags)
                    flags[g, p, FLAG_LEAPED] = True
            else:  # HELP
                if energy[g, p] >= 1 and position[g, q] + LEAP_DISTANCE < w:
                    flags[g, p, FLAG_HELPED] = True
                    if energy[g, q] < MAX_ENERGY:
                        before = energy[g, q]
                        energy[g, q] = min(before + help_energy, MAX_ENERGY)
                        energy_given[g, p] += energy[g, q] - before
                        energy[g, p] -= 1
                    if forced_roll[g, p] >= 0.0:
                        roll = forced_roll[g, p]
                    else:
                        roll = rand[c]
                        c += 1
                    # the assisted leap is a normal leap of the partner: its own energy
                    # (possibly just given) pays for it, and the landing rule applies
                    if roll < help_leap_probability and energy[g, q] >= 1:
                        energy[g, q] -= 1
                        _move(g, q, LEAP_DISTANCE, rough, position, energy, flags)
                        flags[g, q, FLAG_ASSISTED_LEAP] = True

        # 2. distress and the players-layer codes
        for p in range(2):
            hurt = flags[g, p, FLAG_ROUGH_LANDING] or energy[g, p] == 0
            flags[g, p, FLAG_DISTRESS] = hurt
            distress[g, p] = hurt
            last_action[g, p] = actions[g, p]
            code = CODE_FROG + p
            if actions[g, p] == JUMP:
                code = CODE_JUMPING
            elif flags[g, p, FLAG_LEAPED]:
                code = CODE_LEAPING
            elif flags[g, p, FLAG_HELPED]:
                code = CODE_HELPING
            if hurt:
                code = CODE_DISTRESS
            display_code[g, p] = code

        # 3. scroll so that the anchor returns to the centre
        p0 = position[g, 0]
        p1 = position[g, 1]
        anchor = dependency * (p0 + p1) / 2.0 + (1.0 - dependency) * max(p0, p1)
        # the epsilon keeps e.g. 0.3 * 15 + 0.7 * 15 = 14.999999999999998 on the right floor
        shift = int(np.floor(anchor + 1e-9)) - w // 2
        shift_out[g] = shift
        if shift > 0:
            for x in range(w - shift):
                rough[g, x] = rough[g, x + shift]
            # 4. terrain for the cells entering on the right
            for x in range(w - shift, w):
                if patch_rough_left[g] > 0:
                    cell = True
                    patch_rough_left[g] -= 1
                elif patch_solid_due[g]:
                    cell = False
                elif rand[c] < rough_rate[g]:
                    cell = True
                    patch_rough_left[g] = int(rand[c + 1] * 4.0)  # patch of 1..4 cells: this one + 0..3
                else:
                    cell = False
                c += 2
                patch_solid_due[g] = cell and patch_rough_left[g] == 0
                rough[g, x] = cell
                rough_rate[g] = min(rough_rate[g] + rate_step, rate_max)
            for p in range(2):
                position[g, p] = max(position[g, p] - shift, 0)
        elif shift < 0:
            s = -shift
            for x in range(w - 1, s - 1, -1):
                rough[g, x] = rough[g, x - s]
            for x in range(s):
                rough[g, x] = False
            for p in range(2):
                position[g, p] = min(position[g, p] + s, w - 1)

        # 5. flies: spawn, then drift -1 / 0 / +1 (clamped), merging on one cell
        for x in range(w):
            if rand[c] < fly_spawn_probability:
                flies[g, x] = True
            c += 1
        new_flies[:] = False
        for x in range(w):
            if flies[g, x]:
                target = x + int(rand[c] * 3.0) - 1
                c += 1
                new_flies[min(max(target, 0), w - 1)] = True
        flies[g, :] = new_flies
        steps[g] += 1
    cursor[0] = c
    return True
