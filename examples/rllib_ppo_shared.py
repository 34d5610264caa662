"""Multi-agent PPO with one shared policy in RLlib (local Ray), then its CMNI.

    python examples/rllib_ppo_shared.py [--iterations 25] [--seed 0]

Runs in its own venv: ray[rllib] pins its own gymnasium (2.60.0 wants gymnasium 1.2.2),
so it cannot share ours (see docs/libraries.md for the install commands).

RLlib's ``ParallelPettingZooEnv`` wraps ``frogtoad_env.parallel_env()``: both players
act in every step, and ``policy_mapping_fn`` maps both to the one policy ``"shared"``
(self-play with parameter sharing). RLlib's new API stack builds a default PPO RLModule
(separate actor and critic MLPs of 64-64 tanh units) and trains it on a local Ray
instance with two CPUs. After training, the module's actor encoder is probed: its tanh
layers are ``pi.0`` and ``pi.1``, the logits are ``forward_inference``'s
``action_dist_inputs``.
"""

from __future__ import annotations

import argparse
import time

import ray
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env
from torch import nn

import frogtoad_env
from measure import report, tanh_layers  # examples/measure.py: score and CMNI of the trained policy

POLICY = "shared"


def make_config(seed: int = 0, max_steps: int = 500) -> PPOConfig:
    """PPO with the hyperparameters of ``train.py`` (4 minibatches, 4 epochs; a rollout of 4096 env steps
    is 8192 agent-steps: RLlib counts the batch size in env steps)."""
    register_env("frogtoad", lambda _: ParallelPettingZooEnv(frogtoad_env.parallel_env(max_steps=max_steps)))
    return (
        PPOConfig()
        .environment("frogtoad")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, rollout_fragment_length="auto")
        .multi_agent(policies={POLICY}, policy_mapping_fn=lambda agent_id, episode, **kwargs: POLICY)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={
            POLICY: RLModuleSpec(model_config={"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh"})}))  # fmt: skip
        .training(lr=1e-3, train_batch_size_per_learner=4096, minibatch_size=1024, num_epochs=4, gamma=0.99,
                  lambda_=0.95, clip_param=0.2, entropy_coeff=0.01, vf_loss_coeff=0.5, grad_clip=0.5)  # fmt: skip
        .debugging(seed=seed)
    )


def logits(module: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """The action logits of an RLlib torch RLModule."""
    return module.forward_inference({"obs": obs})["action_dist_inputs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=25, help="training iterations of 4096 env steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter()
    algo = make_config(args.seed).build_algo()
    agent_steps = 0
    for i in range(args.iterations):
        runners = algo.train()["env_runners"]
        per_agent = runners["num_agent_steps_sampled_lifetime"]  # agent id -> count
        agent_steps = int(sum(per_agent.values()) if isinstance(per_agent, dict) else per_agent)
        print(f"iteration {i + 1}: {agent_steps:,} agent-steps, {int(runners['num_env_steps_sampled_lifetime']):,} "
              f"env steps, episode return per agent {runners.get('agent_episode_returns_mean')}", flush=True)  # fmt: skip
    module = algo.get_module(POLICY)
    print(f"trained {agent_steps:,} agent-steps in {time.perf_counter() - start:.0f} s (building the algorithm included)")
    report(module, tanh_layers(module, within="actor_encoder"), forward=logits, seed=args.seed)
    algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
