"""Frog and Toad as a PettingZoo AEC environment: the parallel env, one agent's move at a time.

The frog chooses, then the toad; the step resolves (in a random order, as in the parallel
env) once both have chosen. Each action is checked on the call that gives it, so a bad
frog action is refused at the frog's turn and leaves nothing behind. After truncation each
agent must be stepped with ``None``, PettingZoo's convention for removing a finished agent.
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from frogtoad_env.parallel_env import as_action


class FrogToadAECEnv(parallel_to_aec_wrapper):
    """PettingZoo's parallel-to-AEC conversion of a
    :class:`~frogtoad_env.parallel_env.FrogToadParallelEnv`, with every
    action checked before the conversion stores it (a refused call changes nothing)."""

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            if action is not None:
                raise ValueError(
                    f"{agent!r} is truncated (the episode reached max_steps), so the only valid action is None: "
                    f"step(None) removes it, or call reset() for a new episode; got {action!r}"
                )
        else:
            action = as_action(action, agent)
        super().step(action)
