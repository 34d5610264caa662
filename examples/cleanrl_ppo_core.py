"""Single-file PPO (CleanRL style) on the batched rules core, without SB3, then its CMNI.

    python examples/cleanrl_ppo_core.py [--timesteps 2000000] [--n-games 16] [--seed 0]

Self-play with one shared policy: ``n_games`` games step together in
:mod:`frogtoad_env.core`, observed by :func:`frogtoad_env.observations.observe`, and the
frog and toad of every game are two rows of the same batch (``2 * n_games`` agent slots).
Everything else is here in one page: the actor and critic MLPs (separate, tanh, as SB3's
``MlpPolicy``), the rollout, GAE and the clipped PPO update. The hyperparameters are
the defaults of ``train.py`` (rollout 128 steps per slot, 4 minibatches, 4 epochs, Adam
1e-3 annealed linearly to 0, gamma 0.99, lambda 0.95, clip 0.2, entropy 0.01, value 0.5,
gradient norm 0.5).

Episodes never terminate; they are truncated after ``max_steps`` (all games together).
At a truncation the value of the final observation is bootstrapped into the last
reward (``r + gamma * V(s_final)``), as SB3 does with ``TimeLimit.truncated``, and the
games restart.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from experiment.config import TrainConfig
from frogtoad_env import EnvConfig, core
from frogtoad_env.observations import observe
from measure import report  # examples/measure.py: score and CMNI of the trained policy


_TRAIN = TrainConfig()  # train.py's defaults


@dataclass(frozen=True)
class PPOConfig:
    timesteps: int = 2_000_000  # agent-steps (each game step is two)
    n_games: int = _TRAIN.n_games
    n_steps: int = _TRAIN.n_steps
    n_minibatches: int = _TRAIN.n_minibatches
    n_epochs: int = _TRAIN.n_epochs
    learning_rate: float = _TRAIN.learning_rate
    gamma: float = _TRAIN.gamma
    gae_lambda: float = _TRAIN.gae_lambda
    clip_range: float = _TRAIN.clip_range
    ent_coef: float = _TRAIN.ent_coef
    vf_coef: float = _TRAIN.vf_coef
    max_grad_norm: float = _TRAIN.max_grad_norm
    hidden: tuple[int, ...] = (64, 64)
    seed: int = 0


def mlp(sizes: list[int], gain: float) -> nn.Sequential:
    """Linear-tanh layers with orthogonal init (gain sqrt(2)), the last linear with ``gain``."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        linear = nn.Linear(n_in, n_out)
        nn.init.orthogonal_(linear.weight, gain if last else np.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers += [linear] if last else [linear, nn.Tanh()]
    return nn.Sequential(*layers)


class Agent(nn.Module):
    """``actor``: obs -> logits (the network the CMNI probes); ``critic``: obs -> value."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.actor = mlp([obs_dim, *hidden, core.N_ACTIONS], gain=0.01)
        self.critic = mlp([obs_dim, *hidden, 1], gain=1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


class SelfPlayGames:
    """``n_games`` games as ``2 * n_games`` agent slots (frog, toad, frog, ...)."""

    def __init__(self, n_games: int, config: EnvConfig, seed: int) -> None:
        self.n_games, self.config = n_games, config
        self.stream = core.RandomStream(seed)
        self.games = core.new_games(n_games, config.rules)

    def observe(self) -> np.ndarray:
        obs = observe(self.games, self.config.obs_mode, self.config.veil, self.stream)
        return obs.reshape(2 * self.n_games, -1)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Rewards (2n,), the observations after the step (2n, obs_dim) and whether the
        episodes were truncated (then the games restart; read the final scores first)."""
        events = core.step(self.games, actions.reshape(self.n_games, 2), self.config.rules, self.stream)
        w = self.config.prosocial
        rewards = ((1.0 - w) * events.points + w * events.points[:, ::-1]).reshape(-1).astype(np.float32)
        return rewards, self.observe(), int(self.games.steps[0]) >= self.config.max_steps

    def restart(self) -> np.ndarray:
        self.games = core.new_games(self.n_games, self.config.rules)
        return self.observe()


def train(ppo: PPOConfig, env_config: EnvConfig | None = None, log: bool = True) -> tuple[Agent, list[float]]:
    """Train; returns the agent and the mean final score per player of each finished episode batch."""
    env_config = env_config if env_config is not None else EnvConfig()
    torch.distributions.Distribution.set_default_validate_args(False)  # argument checks cost ~10 % here
    torch.manual_seed(ppo.seed)
    env = SelfPlayGames(ppo.n_games, env_config, ppo.seed)
    slots = 2 * ppo.n_games
    obs_now = torch.from_numpy(env.observe())
    agent = Agent(obs_now.shape[1], ppo.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=ppo.learning_rate, eps=1e-5)
    n_updates = max(ppo.timesteps // (ppo.n_steps * slots), 1)
    obs_buf = torch.zeros((ppo.n_steps, slots, obs_now.shape[1]))
    act_buf = torch.zeros((ppo.n_steps, slots), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((ppo.n_steps, slots)) for _ in range(4))
    scores: list[float] = []
    start = time.perf_counter()
    for update in range(n_updates):
        optimizer.param_groups[0]["lr"] = ppo.learning_rate * (1.0 - update / n_updates)
        for t in range(ppo.n_steps):
            with torch.no_grad():
                log_probs = torch.log_softmax(agent.actor(obs_now), dim=-1)
                action = torch.multinomial(log_probs.exp(), 1).squeeze(-1)
                val_buf[t] = agent.value(obs_now)
            obs_buf[t], act_buf[t], logp_buf[t] = obs_now, action, log_probs.gather(-1, action[:, None]).squeeze(-1)
            rewards, next_obs, truncated = env.step(action.numpy())
            rew_buf[t] = torch.from_numpy(rewards)
            if truncated:  # bootstrap the cut-off future, then start new games
                with torch.no_grad():
                    rew_buf[t] += ppo.gamma * agent.value(torch.from_numpy(next_obs))
                scores.append(float(env.games.score.mean()))
                next_obs = env.restart()
            done_buf[t] = float(truncated)
            obs_now = torch.from_numpy(next_obs)

        with torch.no_grad():  # GAE(lambda)
            next_value = agent.value(obs_now)
            advantages = torch.zeros_like(rew_buf)
            last = torch.zeros(slots)
            for t in reversed(range(ppo.n_steps)):
                not_done = 1.0 - done_buf[t]
                following = next_value if t == ppo.n_steps - 1 else val_buf[t + 1]
                delta = rew_buf[t] + ppo.gamma * following * not_done - val_buf[t]
                last = delta + ppo.gamma * ppo.gae_lambda * not_done * last
                advantages[t] = last
            returns = advantages + val_buf

        b_obs, b_act = obs_buf.reshape(-1, obs_buf.shape[-1]), act_buf.reshape(-1)
        b_logp, b_adv, b_ret = logp_buf.reshape(-1), advantages.reshape(-1), returns.reshape(-1)
        batch = b_obs.shape[0]
        minibatch = batch // ppo.n_minibatches
        for _ in range(ppo.n_epochs):
            order = torch.randperm(batch)
            for lo in range(0, batch, minibatch):
                idx = order[lo : lo + minibatch]
                dist = torch.distributions.Categorical(logits=agent.actor(b_obs[idx]))
                ratio = torch.exp(dist.log_prob(b_act[idx]) - b_logp[idx])
                adv = (b_adv[idx] - b_adv[idx].mean()) / (b_adv[idx].std() + 1e-8)
                clipped = torch.clamp(ratio, 1 - ppo.clip_range, 1 + ppo.clip_range)
                policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
                value_loss = ((agent.value(b_obs[idx]) - b_ret[idx]) ** 2).mean()
                loss = policy_loss + ppo.vf_coef * value_loss - ppo.ent_coef * dist.entropy().mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), ppo.max_grad_norm)
                optimizer.step()
        if log and scores and (update + 1) % 50 == 0:
            steps = (update + 1) * ppo.n_steps * slots
            print(f"{steps:>9} agent-steps  score {scores[-1]:6.1f}  {steps / (time.perf_counter() - start):,.0f} steps/s")
    return agent, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=PPOConfig.timesteps, help="agent-steps of training")
    parser.add_argument("--n-games", type=int, default=PPOConfig.n_games, help="games stepped together")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)  # a small net: more threads only add overhead
    start = time.perf_counter()
    config = PPOConfig(timesteps=args.timesteps, n_games=args.n_games, seed=args.seed)
    agent, _ = train(config)
    rollout = config.n_steps * 2 * config.n_games
    print(f"trained {max(config.timesteps // rollout, 1) * rollout:,} agent-steps in {time.perf_counter() - start:.0f} s")
    obs_dim = agent.actor[0].in_features  # the null: same architecture, same init scheme, fresh weights
    report(agent.actor, {"pi.0": agent.actor[1], "pi.1": agent.actor[3]},
           factory=lambda: Agent(obs_dim, config.hidden).actor, seed=args.seed)  # fmt: skip


if __name__ == "__main__":
    main()
