"""Properties of the batched rules core over random hand-built states, actions and seeds.

Games in one batch share one random stream, so a batch is never compared with single
runs on the random parts (terrain, flies); only on what the actions alone decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from frogtoad_env import core, observations
from frogtoad_env.core import HELP, HOP, JUMP, LEAP, LEAP_DISTANCE, MAX_ENERGY
from frogtoad_env.scripted import scripted_actions

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one_game(state: core.GameState, g: int) -> core.GameState:
    """Game ``g`` of ``state`` as a batch of one, copied."""
    return replace(state, **{f.name: getattr(state, f.name)[g : g + 1].copy() for f in fields(state)})


@st.composite
def game_states(draw: st.DrawFn, max_batch: int = 4) -> core.GameState:
    """Random but valid hand-built games: any ground, flies, positions, energies, scores and patch state."""
    width = draw(st.integers(core.MIN_WIDTH, 40))
    b = draw(st.integers(1, max_batch))
    patch_left = draw(st.integers(0, 3))
    return core.make_state(
        rough=draw(arrays(np.bool_, (b, width))),
        flies=draw(arrays(np.bool_, (b, width))),
        position=draw(arrays(np.int64, (b, 2), elements=st.integers(0, width - 1))),
        energy=draw(arrays(np.int64, (b, 2), elements=st.integers(0, MAX_ENERGY))),
        score=draw(arrays(np.int64, (b, 2), elements=st.integers(0, 10_000))),
        rough_rate=draw(st.floats(0.0, 0.075)),
        patch_rough_left=patch_left,
        patch_solid_due=draw(st.booleans()) if patch_left == 0 else False,
    )


@st.composite
def scenarios(draw: st.DrawFn, max_batch: int = 4, max_steps: int = 30) -> tuple:
    """(state, dependency, actions (T, B, 2), seed)."""
    state = draw(game_states(max_batch))
    steps = draw(st.integers(1, max_steps))
    actions = draw(arrays(np.int64, (steps, state.batch_size, 2), elements=st.integers(0, 3)))
    dependency = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0)))
    return state, dependency, actions, draw(st.integers(0, 2**32 - 1))


@dataclass
class Reference:
    """The action rules (the table in frogtoad_env/core.py's docstring) written out once more, plainly, for one game's action phase."""

    rough: list[bool]
    flies: set[int]
    position: list[int]
    energy: list[int]
    score: list[int]
    flags: dict[str, list[bool]] = field(
        default_factory=lambda: {k: [False, False] for k in ("hopped", "jumped_fly", "leaped", "helped", "assisted_leap", "rough_landing")}
    )
    given: list[int] = field(default_factory=lambda: [0, 0])

    def land(self, p: int, distance: int) -> None:
        self.position[p] += distance
        if self.rough[self.position[p]]:
            self.energy[p] = max(self.energy[p] - 1, 0)
            self.flags["rough_landing"][p] = True

    def act(self, p: int, action: int, roll: float) -> None:
        q, w = 1 - p, len(self.rough)
        if action == HOP and self.energy[p] >= 1 and self.position[p] + 1 < w:
            self.land(p, 1)
            self.score[p] += 1
            self.flags["hopped"][p] = True
        elif action == JUMP and self.position[p] in self.flies:
            self.energy[p] = min(self.energy[p] + 4, MAX_ENERGY)
            self.flies.remove(self.position[p])
            self.flags["jumped_fly"][p] = True
        elif action == LEAP and self.energy[p] >= 1 and self.position[p] + 5 < w:
            self.energy[p] -= 1
            self.land(p, 5)
            self.flags["leaped"][p] = True
        elif action == HELP and self.energy[p] >= 1 and self.position[q] + 5 < w:
            self.flags["helped"][p] = True
            if self.energy[q] < MAX_ENERGY:
                self.given[p] = min(2, MAX_ENERGY - self.energy[q])
                self.energy[q] += self.given[p]
                self.energy[p] -= 1
            if roll < 0.25 and self.energy[q] >= 1:
                self.energy[q] -= 1
                self.land(q, 5)
                self.flags["assisted_leap"][q] = True


def expected_shift(pre: np.ndarray, dependency: float, width: int) -> np.ndarray:
    anchor = dependency * pre.sum(axis=1) / 2.0 + (1.0 - dependency) * pre.max(axis=1)
    return np.floor(anchor + 1e-9).astype(np.int64) - width // 2


@SETTINGS
@given(scenarios())
def test_invariants_hold_over_random_action_sequences(scenario: tuple) -> None:
    state, dependency, actions, seed = scenario
    b, w = state.batch_size, state.width
    config = core.RulesConfig(width=w, dependency=dependency)
    stream = core.RandomStream(seed)
    for step_actions in actions:
        before = state.copy()
        events = core.step(state, step_actions, config, stream)

        for name, dtype, shape in [
            ("rough", np.bool_, (b, w)), ("flies", np.bool_, (b, w)), ("position", np.int64, (b, 2)),
            ("energy", np.int64, (b, 2)), ("score", np.int64, (b, 2)), ("distress", np.bool_, (b, 2)),
        ]:  # fmt: skip
            assert getattr(state, name).dtype == dtype and getattr(state, name).shape == shape
        assert ((0 <= state.energy) & (state.energy <= MAX_ENERGY)).all()
        assert ((0 <= state.position) & (state.position < w)).all()
        assert (state.score >= before.score).all()
        np.testing.assert_array_equal(state.score - before.score, events.points)
        np.testing.assert_array_equal(events.points, events.hopped.astype(np.int64))
        np.testing.assert_array_equal(state.steps, before.steps + 1)
        np.testing.assert_array_equal(state.last_action, step_actions)

        for flag, action in ((events.hopped, HOP), (events.jumped_fly, JUMP), (events.leaped, LEAP), (events.helped, HELP)):
            assert (step_actions[flag] == action).all()
        assert ((events.energy_given >= 0) & (events.energy_given <= 2)).all()
        assert (events.helped | (events.energy_given == 0)).all()
        assert (events.helped[:, ::-1] | ~events.assisted_leap).all()

        np.testing.assert_array_equal(events.distress, events.rough_landing | (state.energy == 0))
        np.testing.assert_array_equal(state.distress, events.distress)
        np.testing.assert_array_equal(state.display_code == core.CODE_DISTRESS, events.distress)

        pre = before.position + events.hopped + LEAP_DISTANCE * (events.leaped.astype(np.int64) + events.assisted_leap)
        assert ((0 <= pre) & (pre < w)).all()
        np.testing.assert_array_equal(events.shift, expected_shift(pre, dependency, w))
        np.testing.assert_array_equal(state.position, np.clip(pre - events.shift[:, None], 0, w - 1))
        for g in range(b):
            s = int(events.shift[g])
            if s >= 0:
                np.testing.assert_array_equal(state.rough[g, : w - s], before.rough[g, s:])
            else:
                assert not state.rough[g, :-s].any()
                np.testing.assert_array_equal(state.rough[g, -s:], before.rough[g, : w + s])

        assert (state.rough_rate >= before.rough_rate).all()
        assert (state.rough_rate <= 0.075 + 1e-12).all()
        assert ((0 <= state.patch_rough_left) & (state.patch_rough_left <= 3)).all()


@SETTINGS
@given(scenarios(max_steps=1), st.integers(0, 1), st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.999)))
def test_the_action_phase_matches_a_plain_reference_of_the_rules(
    scenario: tuple, first: int, rolls: tuple[float, float]
) -> None:
    state, dependency, actions, seed = scenario
    b = state.batch_size
    refs = []
    for g in range(b):
        ref = Reference(
            state.rough[g].tolist(), set(np.flatnonzero(state.flies[g]).tolist()),
            state.position[g].tolist(), state.energy[g].tolist(), state.score[g].tolist(),
        )  # fmt: skip
        for p in (first, 1 - first):
            ref.act(p, int(actions[0, g, p]), rolls[p])
        refs.append(ref)
    config = core.RulesConfig(width=state.width, dependency=dependency)
    events = core.step(
        state, actions[0], config, core.RandomStream(seed),
        first_mover=np.full(b, first), help_roll=np.tile(rolls, (b, 1)),
    )  # fmt: skip
    for g, ref in enumerate(refs):
        assert state.energy[g].tolist() == ref.energy
        assert state.score[g].tolist() == ref.score
        assert events.energy_given[g].tolist() == ref.given
        for name, values in ref.flags.items():
            assert getattr(events, name)[g].tolist() == values, name
        shift = int(events.shift[g])
        assert state.position[g].tolist() == [min(max(x - shift, 0), state.width - 1) for x in ref.position]


@SETTINGS
@given(scenarios(max_batch=6, max_steps=5), st.data())
def test_each_game_of_a_batch_gets_what_its_actions_decide_as_if_alone(scenario: tuple, data: st.DataObject) -> None:
    state, dependency, actions, seed = scenario
    b, w = state.batch_size, state.width
    config = core.RulesConfig(width=w, dependency=dependency)
    firsts = data.draw(arrays(np.int64, (len(actions), b), elements=st.integers(0, 1)))
    rolls = data.draw(arrays(np.float64, (len(actions), b, 2), elements=st.floats(0.0, 0.999)))
    batch_stream, single_stream = core.RandomStream(seed), core.RandomStream(seed + 1)
    for t in range(len(actions)):
        before = state.copy()
        batch_events = core.step(state, actions[t], config, batch_stream, firsts[t], rolls[t])
        for g in range(b):
            single = one_game(before, g)
            events = core.step(single, actions[t, g : g + 1], config, single_stream, firsts[t, g : g + 1], rolls[t, g : g + 1])
            for name in ("energy", "score", "position", "distress", "display_code", "last_action", "steps", "rough_rate"):
                np.testing.assert_array_equal(getattr(single, name)[0], getattr(state, name)[g], err_msg=name)
            np.testing.assert_array_equal(events.points[0], batch_events.points[g])
            np.testing.assert_array_equal(events.energy_given[0], batch_events.energy_given[g])
            np.testing.assert_array_equal(events.flags[0], batch_events.flags[g])
            np.testing.assert_array_equal(events.shift[0], batch_events.shift[g])
            kept = w - max(int(events.shift[0]), 0)
            np.testing.assert_array_equal(single.rough[0, :kept], state.rough[g, :kept])


@SETTINGS
@given(scenarios(max_steps=10))
def test_the_same_seed_gives_the_same_games(scenario: tuple) -> None:
    state, dependency, actions, seed = scenario
    config = core.RulesConfig(width=state.width, dependency=dependency)
    runs = []
    for _ in range(2):
        games, stream = state.copy(), core.RandomStream(seed)
        for step_actions in actions:
            core.step(games, step_actions, config, stream)
        runs.append(games)
    for name in ("rough", "flies", "position", "energy", "score", "rough_rate", "patch_rough_left", "distress"):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name))


@SETTINGS
@given(game_states(), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_egocentric_observations_are_in_range_one_hot_and_veiled_only_by_a_block_swap(
    state: core.GameState, veil: float, seed: int
) -> None:
    w = state.width
    layout = observations.egocentric_layout(w)
    plain = observations.observe(state, "egocentric")
    veiled = observations.observe(state, "egocentric", veil=veil, stream=core.RandomStream(seed))
    space = observations.observation_space("egocentric", w)
    assert plain.shape == veiled.shape == (state.batch_size, 2, space.shape[0])
    assert ((0.0 <= veiled) & (veiled <= 1.0)).all()
    np.testing.assert_array_equal(plain[..., layout["self/position"]].sum(-1), 1.0)
    np.testing.assert_array_equal(plain[..., layout["other/position"]].sum(-1), 1.0)
    np.testing.assert_array_equal(plain[:, 0, layout["self"]], plain[:, 1, layout["other"]])
    swapped = observations.swap_self_other(plain, w)
    same = (veiled == plain).all(-1)
    assert (same | (veiled == swapped).all(-1)).all()
    if veil == 0.0:
        assert same.all()


@SETTINGS
@given(game_states(), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_paper_observations_are_in_range_and_zero_score_and_position(
    state: core.GameState, veil: float, seed: int
) -> None:
    w = state.width
    obs = observations.observe(state, "paper", veil=veil, stream=core.RandomStream(seed))
    assert obs.shape == (state.batch_size, 2, 3 * w + 4)
    assert observations.observation_space("paper", w).contains(obs[0, 0])
    assert set(np.unique(obs[..., :w]).tolist()) <= {1.0, 2.0}
    assert set(np.unique(obs[..., w : 2 * w]).tolist()) <= {0.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}
    assert (np.count_nonzero(obs[..., w : 2 * w], axis=-1) == 1 + (state.position[:, 0] != state.position[:, 1])[:, None]).all()
    assert not obs[..., 3 * w + 2 :].any()


@SETTINGS
@given(game_states(max_batch=8))
def test_scripted_actions_are_legal_and_jump_when_out_of_energy(state: core.GameState) -> None:
    actions = scripted_actions(state)
    assert actions.shape == (state.batch_size, 2) and actions.dtype == np.int64
    assert ((0 <= actions) & (actions < 4)).all()
    assert (actions[state.energy == 0] == JUMP).all()


@SETTINGS
@given(st.integers(core.MIN_WIDTH, 64), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_players_on_one_cell_never_shift_off_it(width: int, dependency: float, where: float) -> None:
    x = min(int(where * width), width - 1)
    state = core.make_state(np.zeros(width, dtype=bool), position=(x, x))
    events = core.step(state, np.array([[JUMP, JUMP]]), core.RulesConfig(width=width, dependency=dependency), core.RandomStream(0))
    assert events.shift[0] == x - width // 2
    assert state.position[0].tolist() == [width // 2, width // 2]
