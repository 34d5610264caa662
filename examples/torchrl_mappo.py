"""MAPPO with one shared policy in TorchRL over the PettingZoo parallel env, then its CMNI.

    python examples/torchrl_mappo.py [--frames 200000] [--envs 4] [--seed 0]

``PettingZooWrapper(frogtoad_env.parallel_env(), group_map={"agents": ["frog", "toad"]})``
puts both players in one group, so every tensor carries an agent dimension of 2
(``("agents", "observation")`` is ``(..., 2, 158)``). The policy is one TorchRL ``MLP``
applied to each agent's own observation: the same weights play both seats (self-play
with parameter sharing). The critic is centralised (MAPPO): a ``MultiAgentMLP`` that reads
both observations. Episodes are truncated at ``max_steps``; the wrapper reports it as
``truncated``, so GAE bootstraps the cut-off value instead of treating it as an end.

After training, the plain policy ``MLP`` is what the CMNI probe reads
(:func:`cmni.probe.measure_policy` with its two tanh layers named ``pi.0`` and ``pi.1``).
"""

from __future__ import annotations

import argparse
import time

import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torch.distributions import Categorical
from torchrl.collectors import Collector
from torchrl.data import LazyTensorStorage, ReplayBuffer, SamplerWithoutReplacement
from torchrl.envs import SerialEnv
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.modules import MLP, MultiAgentMLP, ProbabilisticActor
from torchrl.objectives import ClipPPOLoss, ValueEstimators

import frogtoad_env
from measure import report, tanh_layers  # examples/measure.py: score and CMNI of the trained policy

GROUP = "agents"


def make_env(max_steps: int = 500) -> PettingZooWrapper:
    """One game as a TorchRL env with both players in the group ``"agents"``."""
    return PettingZooWrapper(frogtoad_env.parallel_env(max_steps=max_steps), group_map={GROUP: ["frog", "toad"]})


def build(obs_dim: int, hidden: int = 64) -> tuple[MLP, ProbabilisticActor, TensorDictModule]:
    """The shared policy MLP (obs -> 4 logits), the actor around it and the centralised critic."""
    policy_net = MLP(in_features=obs_dim, out_features=frogtoad_env.core.N_ACTIONS, num_cells=[hidden, hidden],
                     activation_class=nn.Tanh)  # fmt: skip
    actor = ProbabilisticActor(
        TensorDictModule(policy_net, in_keys=[(GROUP, "observation")], out_keys=[(GROUP, "logits")]),
        in_keys=[(GROUP, "logits")],
        out_keys=[(GROUP, "action")],
        distribution_class=Categorical,
        return_log_prob=True,
        log_prob_key=(GROUP, "action_log_prob"),
    )
    critic_net = MultiAgentMLP(n_agent_inputs=obs_dim, n_agent_outputs=1, n_agents=2, centralized=True,
                               share_params=True, depth=2, num_cells=hidden, activation_class=nn.Tanh)  # fmt: skip
    critic = TensorDictModule(critic_net, in_keys=[(GROUP, "observation")], out_keys=[(GROUP, "state_value")])
    return policy_net, actor, critic


def train(frames: int, n_envs: int = 4, seed: int = 0, max_steps: int = 500, frames_per_batch: int = 1024,
          log: bool = True) -> MLP:  # fmt: skip
    """Train for ``frames`` env steps (two agent-steps each) on ``n_envs`` games, updating after
    every ``frames_per_batch`` env steps (4 epochs of 4 minibatches); returns the policy MLP."""
    torch.manual_seed(seed)
    env = SerialEnv(n_envs, lambda: make_env(max_steps))
    env.set_seed(seed)
    policy_net, actor, critic = build(env.observation_spec[GROUP, "observation"].shape[-1])
    collector = Collector(env, actor, frames_per_batch=frames_per_batch, total_frames=frames)
    buffer = ReplayBuffer(storage=LazyTensorStorage(frames_per_batch), sampler=SamplerWithoutReplacement(),
                          batch_size=frames_per_batch // 4)  # fmt: skip
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01, critic_coeff=0.5, normalize_advantage=False)
    loss.set_keys(reward=(GROUP, "reward"), action=(GROUP, "action"), sample_log_prob=(GROUP, "action_log_prob"),
                  value=(GROUP, "state_value"), done=(GROUP, "done"), terminated=(GROUP, "terminated"))  # fmt: skip
    loss.make_value_estimator(ValueEstimators.GAE, gamma=0.99, lmbda=0.95)
    optimizer = torch.optim.Adam(loss.parameters(), lr=1e-3)
    n_batches = max(frames // frames_per_batch, 1)
    start = time.perf_counter()
    for i, batch in enumerate(collector):
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * (1.0 - i / n_batches)
        with torch.no_grad():
            loss.value_estimator(batch, params=loss.critic_network_params, target_params=loss.target_critic_network_params)
        buffer.extend(batch.reshape(-1))
        for _ in range(4):  # epochs
            for _ in range(4):  # minibatches
                out = loss(buffer.sample())
                total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
                optimizer.zero_grad()
                total.backward()
                nn.utils.clip_grad_norm_(loss.parameters(), 0.5)
                optimizer.step()
        collector.update_policy_weights_()
        if log and (i + 1) % 20 == 0:
            done = batch["next", "done"].squeeze(-1)
            scores = batch["next", GROUP, "info", "score"][done]
            rate = 2 * (i + 1) * frames_per_batch / (time.perf_counter() - start)
            shown = f"score {scores.float().mean():6.1f}" if scores.numel() else "no episode ended"
            print(f"{2 * (i + 1) * frames_per_batch:>9} agent-steps  {shown}  {rate:,.0f} agent-steps/s", flush=True)
    collector.shutdown()
    return policy_net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="env steps (each is two agent-steps)")
    parser.add_argument("--envs", type=int, default=4, help="games stepped one after the other (SerialEnv)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)  # a small net: more threads only add overhead
    start = time.perf_counter()
    policy_net = train(args.frames, args.envs, args.seed)
    print(f"trained {2 * args.frames:,} agent-steps in {time.perf_counter() - start:.0f} s")
    report(policy_net, tanh_layers(policy_net), seed=args.seed)  # null: reset_parameters, TorchRL's init


if __name__ == "__main__":
    main()
