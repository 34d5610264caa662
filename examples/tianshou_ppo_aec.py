"""Shared-policy PPO in Tianshou over the PettingZoo AEC env, then its CMNI.

    python examples/tianshou_ppo_aec.py [--steps 200000] [--envs 8] [--seed 0]

Tianshou's multi-agent path: ``tianshou.env.PettingZooEnv(frogtoad_env.env())`` turns the
AEC env (frog chooses, then toad, then the step resolves) into one agent turn per env
step, and ``MultiAgentOnPolicyAlgorithm`` hands each agent's turns to that agent's
algorithm. Giving both seats the *same* PPO object makes it one shared policy (self-play
with parameter sharing); it is updated on the frog's turns, then on the toad's.

What Tianshou's AEC pipeline does with a simultaneous game (read from tianshou 2.0.1's
``env/pettingzoo_env.py`` and ``algorithm/multiagent/marl.py``; docs/libraries.md):

- the reward stored with a turn is ``env.rewards`` right after it; PettingZoo's
  ``parallel_to_aec`` fills it only when the last agent of a cycle acts, so the toad's
  turns carry the step's rewards and the frog's turns carry 0. :class:`CycleRewards`
  below keeps the last cycle's rewards visible instead, so the frog's turn carries the
  frog's points of the previous step (one step late) rather than nothing;
- ``obs_next`` of a turn is the next agent's observation (the partner's view), so PPO's
  bootstrap value reads the partner's seat.

Both are limits of running a simultaneous-move game through an AEC turn order; the
other recipes (TorchRL, RLlib, the single-file PPO) see both seats at once.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from pettingzoo.utils.wrappers import BaseWrapper
from tianshou.algorithm import PPO
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.algorithm.multiagent.marl import MultiAgentOnPolicyAlgorithm
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import Collector, VectorReplayBuffer
from tianshou.env import DummyVectorEnv, PettingZooEnv
from tianshou.trainer import OnPolicyTrainerParams
from tianshou.utils.net.common import Net
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic
from torch import nn

import frogtoad_env
from measure import report, tanh_layers  # examples/measure.py: score and CMNI of the trained policy


class CycleRewards(BaseWrapper):
    """``rewards`` holds the last completed cycle's rewards until the next one completes
    (``parallel_to_aec`` zeroes them when the first agent of a cycle acts)."""

    def step(self, action: int | None) -> None:
        super().step(action)
        if self.env.agent_selection == self.possible_agents[0] or not self.env.agents:  # a cycle resolved
            self._kept = dict(self.env.rewards)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        super().reset(seed=seed, options=options)
        self._kept = dict(self.env.rewards)

    @property
    def rewards(self) -> dict[str, float]:  # type: ignore[override]
        return self._kept


class AgentObsNet(Net):
    """``Net`` that reads the observation out of Tianshou's multi-agent ``{agent_id, obs, mask}``
    batch (the multi-agent policy passes it whole when the env reports an action mask)."""

    def forward(self, obs: Any, state: Any = None, info: dict[str, Any] | None = None) -> tuple[torch.Tensor, Any]:
        return super().forward(getattr(obs, "obs", obs), state, info)


def make_env(max_steps: int = 500) -> PettingZooEnv:
    return PettingZooEnv(CycleRewards(frogtoad_env.env(max_steps=max_steps)))


def build_ppo(env: PettingZooEnv, hidden: int = 64) -> tuple[PPO, DiscreteActor]:
    """One PPO (actor and critic: tanh MLPs ``hidden``-``hidden``), the actor returned for the probe."""
    obs_dim = env.observation_space.shape[0]
    net = lambda: AgentObsNet(state_shape=obs_dim, hidden_sizes=[hidden, hidden], activation=nn.Tanh)  # noqa: E731
    actor = DiscreteActor(preprocess_net=net(), action_shape=env.action_space.n, softmax_output=False)
    critic = DiscreteCritic(preprocess_net=net())
    policy = DiscreteActorPolicy(actor=actor, action_space=env.action_space, observation_space=env.observation_space)
    ppo = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=1e-3), eps_clip=0.2, vf_coef=0.5,
              ent_coef=0.01, max_grad_norm=0.5, gae_lambda=0.95, gamma=0.99)  # fmt: skip
    return ppo, actor


def train(steps: int, n_envs: int = 8, seed: int = 0, max_steps: int = 500, rollout: int = 4096,
          log: bool = True) -> DiscreteActor:  # fmt: skip
    """Train for ``steps`` agent turns (agent-steps) on ``n_envs`` games, updating after every
    ``rollout`` turns (4 epochs; each seat's half in 4 minibatches); returns the actor."""
    torch.manual_seed(seed)
    envs = DummyVectorEnv([lambda: make_env(max_steps) for _ in range(n_envs)])
    envs.seed(seed)
    ppo, actor = build_ppo(make_env(max_steps))
    algorithm = MultiAgentOnPolicyAlgorithm(algorithms=[ppo, ppo], env=make_env(max_steps))  # one shared PPO
    collector = Collector(algorithm, envs, VectorReplayBuffer(rollout, n_envs))
    algorithm.run_training(
        OnPolicyTrainerParams(
            training_collector=collector,
            max_epochs=max(steps // rollout, 1),
            epoch_num_steps=rollout,
            collection_step_num_env_steps=rollout,
            batch_size=rollout // 8,  # each seat's half of the rollout in 4 minibatches
            update_step_num_repetitions=4,
            test_step_num_episodes=0,
            verbose=log,
            show_progress=False,
        )
    )
    return actor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="agent-steps (agent turns) of training")
    parser.add_argument("--envs", type=int, default=8, help="games in Tianshou's DummyVectorEnv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)  # a small net: more threads only add overhead
    start = time.perf_counter()
    actor = train(args.steps, args.envs, args.seed)
    print(f"trained {args.steps:,} agent-steps in {time.perf_counter() - start:.0f} s")
    report(actor, tanh_layers(actor), forward=lambda m, obs: m(obs)[0], seed=args.seed)  # returns (logits, state)


if __name__ == "__main__":
    main()
