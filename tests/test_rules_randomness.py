"""Statistical checks of the rules' random parts, with fixed seeds and 4-sigma bands.

Each test draws enough samples that a correct implementation fails with probability
well below 1e-4, while a wrong probability (e.g. 0.2 instead of 0.25) fails for sure.
"""

from __future__ import annotations

import numpy as np

from frogtoad_env import core, observations
from frogtoad_env.core import FROG, HELP, HOP, JUMP, TOAD
from frogtoad_env.scripted import scripted_actions

W = 32
SIGMAS = 4.0


def assert_binomial(successes: int, trials: int, p: float) -> None:
    """``successes / trials`` lies within 4 standard errors of ``p``."""
    band = SIGMAS * np.sqrt(p * (1 - p) / trials)
    assert abs(successes / trials - p) < band, (successes / trials, p, band)


def test_an_effective_help_makes_the_partner_leap_with_probability_one_quarter() -> None:
    games = 40_000
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(16, 10), energy=(20, 10))
    events = core.step(state, np.tile([HELP, JUMP], (games, 1)), core.RulesConfig(), core.RandomStream(1))
    helped = events.helped[:, FROG]
    assert helped.all()
    assert_binomial(int(events.assisted_leap[:, TOAD].sum()), int(helped.sum()), 0.25)


def test_assisted_leaps_over_whole_episodes_follow_one_quarter_of_the_helps() -> None:
    games, steps = 512, 200
    config = core.RulesConfig()
    state, stream, rng = core.new_games(games, config), core.RandomStream(2), np.random.default_rng(2)
    helps = leaps = 0
    for _ in range(steps):
        actions = np.where(rng.random((games, 2)) < 0.5, HELP, rng.integers(0, 4, (games, 2)))
        events = core.step(state, actions, config, stream)
        helps += int(events.helped.sum())
        leaps += int(events.assisted_leap.sum())
    assert helps > 20_000
    assert_binomial(leaps, helps, 0.25)


def test_every_cell_spawns_a_fly_with_probability_0_01_per_step() -> None:
    games = 100_000
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(15, 17))
    core.step(state, np.tile([JUMP, JUMP], (games, 1)), core.RulesConfig(), core.RandomStream(3))
    trials = games * W
    p = 0.01
    # Two spawned flies merge only if both spawn within two cells and drift onto one cell:
    # at most 2 * p**2 per cell, so the expected count is below trials * p by < 2 * p**2 * trials.
    merged_at_most = 2 * p * p * trials
    flies = int(state.flies.sum())
    band = SIGMAS * np.sqrt(p * (1 - p) * trials)
    assert trials * p - band - merged_at_most < flies < trials * p + band


def test_flies_drift_left_stay_or_right_with_one_third_each() -> None:
    games = 30_000
    flies = np.zeros((games, W), dtype=bool)
    flies[:, 8] = True
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(15, 17), flies=flies)
    core.step(state, np.tile([JUMP, JUMP], (games, 1)), core.RulesConfig(), core.RandomStream(4))
    # a cell next to (or at) the fly also holds one if a fly spawned on one of the two other
    # cells that can drift onto it (the fly's own cell already has a fly to spawn on)
    p_spawn_there = 0.01 / 3
    expected = 1 - (2 / 3) * (1 - p_spawn_there) ** 2
    for cell in (7, 8, 9):
        assert_binomial(int(state.flies[:, cell].sum()), games, expected)


def test_rough_patch_lengths_are_uniform_on_one_to_four() -> None:
    games, steps = 256, 40
    config = core.RulesConfig(dependency=0.0, rough_rate_step=0.0, rough_rate_max=1.0)
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(0, W - 1), rough_rate=1.0)
    stream = core.RandomStream(5)
    shift = W - 1 - W // 2
    cells = []
    for _ in range(steps):
        state.position[:] = (0, W - 1)
        core.step(state, np.tile([JUMP, JUMP], (games, 1)), config, stream)
        cells.append(state.rough[:, W - shift :].copy())
    lengths: list[int] = []
    for row in np.concatenate(cells, axis=1).astype(np.int8):
        steps_up = np.flatnonzero(np.diff(row) == 1) + 1
        steps_down = np.flatnonzero(np.diff(row) == -1) + 1
        if steps_up.size:
            steps_down = steps_down[steps_down > steps_up[0]]
            n = min(steps_up.size, steps_down.size)
            lengths.extend((steps_down[:n] - steps_up[:n]).tolist())
    counts = np.bincount(lengths, minlength=5)[1:]
    assert counts.size == 4
    total = int(counts.sum())
    assert total > 20_000
    for count in counts:
        assert_binomial(int(count), total, 0.25)


def test_paper_veil_withholds_the_own_status_with_its_probability() -> None:
    games, veil = 20_000, 0.3
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(10, 20), energy=(7, 13))
    obs = observations.observe(state, "paper", veil=veil, stream=core.RandomStream(9))
    withheld = obs[:, :, 3 * W] == 0
    assert_binomial(int(withheld.sum()), 2 * games, veil)


def test_egocentric_veil_swaps_the_blocks_with_half_its_probability() -> None:
    games, veil = 20_000, 0.6
    state = core.make_state(np.zeros((games, W), dtype=bool), position=(10, 20), energy=(7, 13))
    obs = observations.observe(state, "egocentric", veil=veil, stream=core.RandomStream(10))
    plain = observations.observe(state, "egocentric")
    swapped = ~(obs == plain).all(-1)
    assert_binomial(int(swapped.sum()), 2 * games, veil / 2)


def test_the_first_mover_is_the_frog_half_the_time() -> None:
    games, steps = 2_000, 20
    config = core.RulesConfig()
    state, stream = core.new_games(games, config), core.RandomStream(6)
    frog_first = 0
    for _ in range(steps):
        events = core.step(state, np.tile([HOP, HOP], (games, 1)), config, stream)
        frog_first += int((events.first_mover == FROG).sum())
    assert_binomial(frog_first, games * steps, 0.5)


def episode_scores(policy: str, games: int, steps: int, seed: int) -> np.ndarray:
    """Final (games, 2) scores of ``games`` batched episodes under one policy for both players."""
    config = core.RulesConfig()
    state, stream, rng = core.new_games(games, config), core.RandomStream(seed), np.random.default_rng(seed)
    for _ in range(steps):
        actions = scripted_actions(state) if policy == "scripted" else rng.integers(0, 4, (games, 2))
        core.step(state, actions, config, stream)
    return state.score.astype(np.float64)


def assert_fair(scores: np.ndarray) -> None:
    """Frog and toad means differ by less than 4 standard errors of the paired difference."""
    difference = scores[:, FROG] - scores[:, TOAD]
    standard_error = difference.std(ddof=1) / np.sqrt(len(difference))
    assert standard_error > 0
    assert abs(difference.mean()) < SIGMAS * standard_error, (difference.mean(), standard_error)


def test_frog_and_toad_score_alike_under_the_scripted_policy() -> None:
    scores = episode_scores("scripted", games=2_000, steps=500, seed=7)
    assert scores.mean() > 300
    assert_fair(scores)


def test_frog_and_toad_score_alike_under_the_random_policy() -> None:
    scores = episode_scores("random", games=2_000, steps=500, seed=8)
    assert 50 < scores.mean() < 200
    assert_fair(scores)
