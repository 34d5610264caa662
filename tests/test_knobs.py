"""The rules knobs: each changes exactly the rule it names, the defaults replay the paper's
game bit for bit, bad values are rejected, and the presets and the signal complexity S.

Rule checks use hand-built states with the action order and the assisted-leap rolls
forced, and the neutral random stream of ``tests/hand_built.py`` (every number 0.5: no fly spawns
at the default rate, flies stay, no rough patch starts) unless a test sets the numbers.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace

import gymnasium
import numpy as np
import pytest

import frogtoad_env
import train as train_cli
from frogtoad_env import complexity, core
from frogtoad_env.config import RULE_KNOBS, EnvConfig
from frogtoad_env.core import FROG, HELP, HOP, JUMP, LEAP, MAX_ENERGY, TOAD
from frogtoad_env.presets import PRESET_KNOBS, PRESETS, preset
from frogtoad_env.scripted import scripted_actions
from tests.hand_built import CENTRE, NO_LEAP, W, cells, energies, neutral_stream, play, strip
from tests.test_rules_randomness import assert_binomial
from tests.trajectory_digest import TrajectoryDigest

# digest of core_fingerprint(RulesConfig()), recorded from the code before the knobs existed
# (commit 044139a, where they were module constants of frogtoad_env.core); the parallel and
# Gymnasium envs' default trajectories are pinned in test_env_api.py and test_gym_env.py
RECORDED_CORE = "82db02069bc113b3173d707db0b962057ea57e29030acc7c10e7ee29f9506dca"


def core_fingerprint(config: core.RulesConfig, actions_allowed: tuple[int, ...] = (HOP, JUMP, LEAP, HELP)) -> str:
    """Digest of every state and event array of 32 seeded games over 400 steps.

    Each player-step takes the scripted action or a uniform one from ``actions_allowed``
    (a coin flip each), so hops, jumps, leaps, helps, stalls and scrolls all occur.
    """
    games = 32
    state, stream, rng = core.new_games(games, config), core.RandomStream(7), np.random.default_rng(8)
    digest = TrajectoryDigest()
    for _ in range(400):
        actions = np.asarray(actions_allowed)[rng.integers(0, len(actions_allowed), (games, 2))]
        scripted = (rng.random((games, 2)) < 0.5) & np.isin(scripted_actions(state), actions_allowed)
        actions[scripted] = scripted_actions(state)[scripted]
        events = core.step(state, actions, config, stream)
        digest.feed({f.name: getattr(state, f.name) for f in fields(state)})
        digest.feed(
            {name: getattr(events, name) for name in ("points", "energy_given", "first_mover", "shift", "flags")}
        )
    return digest.hexdigest()


# --- the defaults are the paper's game, bit for bit ---------------------------------------


def test_the_default_rules_replay_the_recorded_trajectory() -> None:
    assert core_fingerprint(core.RulesConfig()) == RECORDED_CORE
    assert core_fingerprint(EnvConfig(**preset("paper")).rules) == RECORDED_CORE


CHANGES = [
    ("rough_rate_start", 0.05),
    ("rough_rate_step", 0.01),
    ("rough_rate_max", 0.2),
    ("fly_spawn_probability", 0.05),
    ("fly_energy", 8),
    ("help_energy", 5),
    ("help_leap_probability", 0.75),
]


@pytest.mark.parametrize(("knob", "value"), CHANGES)
def test_every_knob_changes_the_recorded_trajectory(knob: str, value: float) -> None:
    assert core_fingerprint(replace(core.RulesConfig(), **{knob: value})) != RECORDED_CORE


@pytest.mark.parametrize(
    ("knob", "value", "action"),
    [("fly_energy", MAX_ENERGY, JUMP), ("help_energy", MAX_ENERGY, HELP), ("help_leap_probability", 1.0, HELP)],
)
def test_a_knob_of_one_action_changes_nothing_in_games_without_that_action(
    knob: str, value: float, action: int
) -> None:
    others = tuple(a for a in (HOP, JUMP, LEAP, HELP) if a != action)
    assert core_fingerprint(replace(core.RulesConfig(), **{knob: value}), others) == core_fingerprint(
        core.RulesConfig(), others
    )


# --- each knob's rule, from hand-built states ----------------------------------------------


@pytest.mark.parametrize(("fly_energy", "before", "after"), [(1, 5, 6), (7, 5, 12), (7, 15, 20), (20, 0, 20)])
def test_a_caught_fly_gives_fly_energy_capped_at_20(fly_energy: int, before: int, after: int) -> None:
    state = core.make_state(strip(), position=(15, 17), energy=(before, 9), flies=cells(15))
    events = play(state, JUMP, JUMP, config=core.RulesConfig(fly_energy=fly_energy))
    assert events.jumped_fly.tolist() == [[True, False]]
    assert energies(state) == [after, 9]


def spawn_step(fly_spawn_probability: float, spawn_rolls: dict[int, float]) -> list[int]:
    """Cells holding a fly after one step from no flies, with the given spawn rolls (0.5
    elsewhere, and every drift roll 0.5: flies stay)."""
    rolls = [spawn_rolls.get(x, 0.5) for x in range(W)]
    state = core.make_state(strip(), position=(15, 17))
    play(
        state,
        JUMP,
        JUMP,
        stream=neutral_stream(rolls),
        config=core.RulesConfig(fly_spawn_probability=fly_spawn_probability),
    )
    return np.flatnonzero(state.flies[0]).tolist()


def test_a_cell_spawns_a_fly_when_its_roll_is_below_fly_spawn_probability() -> None:
    rolls = {3: 0.2, 9: 0.3, 20: 0.0099}
    assert spawn_step(0.01, rolls) == [20]
    assert spawn_step(0.3, rolls) == [3, 20]
    assert spawn_step(0.31, rolls) == [3, 9, 20]
    assert spawn_step(1.0, rolls) == list(range(W))


def test_flies_spawn_at_fly_spawn_probability_per_cell_and_step() -> None:
    games, p = 20_000, 0.1
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(15, 17))
    config = core.RulesConfig(fly_spawn_probability=p)
    core.step(state, np.tile([JUMP, JUMP], (games, 1)), config, core.RandomStream(11))
    # a cell ends with a fly if one of the (up to three) flies that may drift onto it spawned
    # and drifted there; for an inner cell that is 1 - (1 - p/3)**3
    inner = state.flies[:, 1:-1]
    assert_binomial(int(inner.sum()), inner.size, 1 - (1 - p / 3) ** 3)


@pytest.mark.parametrize(("help_energy", "before", "after"), [(1, 10, 11), (5, 10, 15), (5, 18, 20), (20, 0, 20)])
def test_a_help_gives_help_energy_capped_at_20_and_costs_the_helper_one(
    help_energy: int, before: int, after: int
) -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, before))
    events = play(state, HELP, JUMP, rolls=NO_LEAP, config=core.RulesConfig(help_energy=help_energy))
    assert events.energy_given.tolist() == [[after - before, 0]]
    assert energies(state) == [19, after]
    assert not events.assisted_leap.any()


@pytest.mark.parametrize(
    ("p", "roll", "leaps"),
    [
        (0.25, 0.2499, True),
        (0.25, 0.25, False),
        (0.6, 0.5, True),
        (0.6, 0.6, False),
        (0.0, 0.0, False),
        (1.0, 0.999, True),
    ],
)
def test_a_help_makes_the_partner_leap_when_the_roll_is_below_help_leap_probability(
    p: float, roll: float, leaps: bool
) -> None:
    state = core.make_state(strip(), position=(16, 11), energy=(20, 10))
    events = play(state, HELP, JUMP, rolls=(roll, 0.99), config=core.RulesConfig(help_leap_probability=p))
    assert events.assisted_leap.tolist() == [[False, leaps]]
    assert energies(state) == [19, 12 - leaps]


def test_assisted_leaps_follow_help_leap_probability_with_drawn_rolls() -> None:
    games = 20_000
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(16, 10), energy=(20, 10))
    config = core.RulesConfig(help_leap_probability=0.6)
    events = core.step(state, np.tile([HELP, JUMP], (games, 1)), config, core.RandomStream(12))
    assert events.helped[:, FROG].all()
    assert_binomial(int(events.assisted_leap[:, TOAD].sum()), games, 0.6)


def test_new_games_start_at_rough_rate_start() -> None:
    config = core.RulesConfig(rough_rate_start=0.03, rough_rate_max=0.05)
    assert core.new_games(3, config).rough_rate.tolist() == [0.03] * 3


def test_at_rough_rate_start_one_the_first_new_cell_starts_a_patch() -> None:
    games = 500
    for start, rough in ((0.0, False), (1.0, True)):
        config = core.RulesConfig(rough_rate_start=start, rough_rate_max=1.0)
        state, stream = core.new_games(games, config), core.RandomStream(3)
        hops = np.tile([HOP, HOP], (games, 1))
        core.step(state, hops, config, stream)
        events = core.step(state, hops, config, stream)  # the players' mean reaches 17: one new cell
        assert (events.shift == 1).all()
        assert (state.rough[:, W - 1] == rough).all()


def test_the_rough_rate_grows_by_rough_rate_step_per_new_cell_up_to_rough_rate_max() -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.01, rough_rate_max=0.05)
    state = core.make_state(strip(), position=(0, CENTRE + 3), rough_rate=0.0)
    events = play(state, JUMP, JUMP, config=config)
    assert events.shift.tolist() == [3]
    assert state.rough_rate[0] == pytest.approx(0.03)
    state.position[0] = (0, CENTRE + 3)
    play(state, JUMP, JUMP, config=config)
    assert state.rough_rate[0] == pytest.approx(0.05)


@pytest.mark.parametrize(("rate", "roll", "rough"), [(0.3, 0.2999, True), (0.3, 0.3, False), (0.6, 0.5, True)])
def test_a_new_cell_starts_a_patch_when_its_roll_is_below_the_rate(rate: float, roll: float, rough: bool) -> None:
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0, rough_rate_max=rate)
    state = core.make_state(strip(), position=(0, CENTRE + 1), rough_rate=rate)
    play(state, JUMP, JUMP, config=config, stream=neutral_stream([roll, 0.0]))
    assert state.rough[0, W - 1] == rough


# --- bad values ------------------------------------------------------------------------


BAD = [
    ("rough_rate_start", -0.1, "rough_rate_start must be in [0, 1], got -0.1"),
    ("rough_rate_start", 0.1, "rough_rate_start must be in [0, rough_rate_max = 0.075], got 0.1"),
    ("rough_rate_step", 1.5, "rough_rate_step must be in [0, 1], got 1.5"),
    ("rough_rate_max", 1.5, "rough_rate_max must be in [0, 1], got 1.5"),
    ("rough_rate_max", float("nan"), "rough_rate_max must be in [0, 1], got nan"),
    ("fly_spawn_probability", 0.0, "fly_spawn_probability must be in (0, 1], got 0.0"),
    ("fly_spawn_probability", 1.01, "fly_spawn_probability must be in (0, 1], got 1.01"),
    ("fly_energy", 0, "fly_energy must be an integer in [1, 20], got 0"),
    ("fly_energy", 21, "fly_energy must be an integer in [1, 20], got 21"),
    ("fly_energy", 2.5, "fly_energy must be an integer in [1, 20], got 2.5"),
    ("help_energy", 0, "help_energy must be an integer in [1, 20], got 0"),
    ("help_energy", True, "help_energy must be an integer in [1, 20], got True"),
    ("help_leap_probability", -0.5, "help_leap_probability must be in [0, 1], got -0.5"),
    ("help_leap_probability", "0.5", "help_leap_probability must be a number in [0, 1], got '0.5'"),
]


@pytest.mark.parametrize(("knob", "value", "message"), BAD)
def test_a_bad_knob_raises_one_line_naming_it_and_its_range(knob: str, value: object, message: str) -> None:
    makers = [
        lambda: core.RulesConfig(**{knob: value}),
        lambda: EnvConfig(**{knob: value}),
        lambda: frogtoad_env.parallel_env(**{knob: value}),
        lambda: gymnasium.make("FrogToad-v0", **{knob: value}),
    ]
    for make in makers:
        with pytest.raises(ValueError, match=re.escape(message)) as info:
            make()
        assert "\n" not in str(info.value)


def test_the_edge_values_of_every_range_are_allowed() -> None:
    EnvConfig(rough_rate_start=1.0, rough_rate_step=1.0, rough_rate_max=1.0, fly_spawn_probability=1.0,
              fly_energy=MAX_ENERGY, help_energy=MAX_ENERGY, help_leap_probability=1.0)  # fmt: skip
    EnvConfig(rough_rate_start=0.0, rough_rate_step=0.0, rough_rate_max=0.0, fly_spawn_probability=1e-9,
              fly_energy=1, help_energy=1, help_leap_probability=0.0)  # fmt: skip


def test_every_rules_knob_has_a_one_line_doc_naming_its_range() -> None:
    docs = core.knob_docs()
    assert list(docs) == list(RULE_KNOBS)
    for name, doc in docs.items():
        assert "\n" not in doc and re.search(r"in [\[(]|>= ", doc), name


# --- front ends, presets, train.py -------------------------------------------------------


def test_every_front_end_takes_the_knobs() -> None:
    knobs = {"fly_energy": 7, "help_energy": 5, "rough_rate_max": 0.2}
    parallel = frogtoad_env.parallel_env(**knobs)
    aec = frogtoad_env.env(**knobs)
    gym_env = gymnasium.make("FrogToad-v0", **knobs)
    for env in (parallel, aec.unwrapped, gym_env.unwrapped.parallel_env):
        assert (env.config.rules.fly_energy, env.config.rules.help_energy, env.config.rules.rough_rate_max) == (
            7,
            5,
            0.2,
        )

    parallel.reset(seed=0)
    parallel.game.energy[0] = (5, 9)
    parallel.game.flies[0, parallel.game.position[0, FROG]] = True
    *_, infos = parallel.step({"frog": JUMP, "toad": JUMP})
    assert infos["frog"]["caught_fly"] and infos["frog"]["energy"] == 5 + 7


def test_the_paper_preset_is_the_default_game() -> None:
    assert preset("paper") == {name: getattr(EnvConfig(), name) for name in PRESET_KNOBS}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_sets_exactly_the_preset_knobs_to_valid_values(name: str) -> None:
    values = preset(name)
    assert set(values) == set(PRESET_KNOBS)
    EnvConfig(**values)


def test_an_unknown_preset_names_the_presets() -> None:
    with pytest.raises(ValueError, match=re.escape("preset must be one of ['paper', 'easy', 'hard'], got 'brutal'")):
        preset("brutal")


def score_and_stall(preset_name: str, policy: str, games: int = 64) -> tuple[float, float]:
    """Mean score per player of the ``"scripted"`` or ``"random"`` policy over seeded
    500-step episodes of a preset, and the share of player-steps that end at 0 energy."""
    rules, rng = EnvConfig(**preset(preset_name)).rules, np.random.default_rng(0)
    state, stream, stalled = core.new_games(games, rules), core.RandomStream(0), 0
    for _ in range(500):
        actions = scripted_actions(state) if policy == "scripted" else rng.integers(0, 4, (games, 2))
        core.step(state, actions, rules, stream)
        stalled += int(state.stalled.sum())
    return float(state.score.mean()), stalled / (2 * games * 500)


def test_hard_stalls_the_scripted_policy_more_than_paper_yet_it_scores_well_above_random() -> None:
    scripted, stall = score_and_stall("hard", "scripted")
    random, _ = score_and_stall("hard", "random")
    _, paper_stall = score_and_stall("paper", "scripted")
    assert scripted > 1.5 * random
    assert stall > 2 * paper_stall


def test_train_py_expands_a_preset_and_lets_knob_flags_override_it() -> None:
    _, config, _ = train_cli.parse(["--preset", "hard", "--help-energy", "3", "--run-dir", "x"])
    assert config is not None
    assert config.env == EnvConfig(**{**preset("hard"), "help_energy": 3})
    assert config.to_dict()["env"]["fly_spawn_probability"] == preset("hard")["fly_spawn_probability"]
    _, config, _ = train_cli.parse(["--fly-energy", "9", "--rough-rate-max", "0.1", "--run-dir", "x"])
    assert config is not None and config.env == EnvConfig(fly_energy=9, rough_rate_max=0.1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--fly-energy", "0"], "fly_energy must be an integer in [1, 20], got 0"),
     (["--preset", "hard", "--rough-rate-max", "1.5"], "rough_rate_max must be in [0, 1], got 1.5"),
     (["--preset", "brutal"], "invalid choice: 'brutal'")],
)  # fmt: skip
def test_train_py_exits_2_naming_a_bad_knob(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        train_cli.parse(flags)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


# --- signal complexity S ---------------------------------------------------------------


def test_s_is_zero_without_rough_ground_where_the_scripted_policy_only_hops() -> None:
    config = EnvConfig(rough_rate_step=0.0, max_steps=100)
    counts = complexity.scripted_action_counts(config, games=16)
    assert counts.tolist() == [2 * 16 * 100, 0, 0, 0]
    assert complexity.signal_complexity(config, games=16) == 0.0


@pytest.mark.parametrize(
    ("counts", "bits"), [([5, 5, 5, 5], 2.0), ([8, 0, 0, 8], 1.0), ([3, 1, 0, 0], 0.8112781244591328)]
)
def test_s_is_the_entropy_in_bits_of_the_action_counts(
    counts: list[int], bits: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(complexity, "scripted_action_counts", lambda *args, **kwargs: np.array(counts))
    assert complexity.signal_complexity(EnvConfig()) == pytest.approx(bits)


def test_s_grows_from_easy_to_paper_to_hard_and_is_fixed_by_the_seed() -> None:
    s = {name: complexity.signal_complexity(EnvConfig(**preset(name), max_steps=200), games=64) for name in PRESETS}
    assert 0.0 < s["easy"] < s["paper"] < s["hard"] < 2.0
    assert complexity.signal_complexity(EnvConfig(max_steps=200), games=64) == s["paper"]
