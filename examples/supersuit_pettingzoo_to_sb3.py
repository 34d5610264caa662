"""Train SB3 PPO on the PettingZoo Frog and Toad env through SuperSuit, then play it.

    python examples/supersuit_pettingzoo_to_sb3.py [--timesteps 20000] [--copies 8]

The standard PettingZoo -> SB3 route: ``pettingzoo_env_to_vec_env_v1`` turns the two
agents into two vector slots that share one policy (self-play), ``concat_vec_envs_v1``
stacks copies of the game. The policy is our coupled network (``agents.coupled``).
For large runs the batched :class:`agents.vec_env.FrogToadVecEnv` is much faster; this
script shows that the env plugs into the generic tooling unchanged.

SuperSuit's SB3 wrapper has no ``seed()``, so ``PPO(seed=...)`` fails on it: the script
seeds the games through ``venv.venv.reset(seed=...)`` and torch through SB3's helper.

What this path loses (SuperSuit 3.11, read from its ``vector/markov_vector_wrapper.py``
and ``vector/sb3_vector_wrapper.py``; :class:`agents.vec_env.FrogToadVecEnv` keeps all of it):

- the final step's info is overwritten by the reset's: the two dicts are merged with the
  reset's keys winning, and ours share their keys (``score``, ``energy``, ...), so the
  episode's final score reads as the new game's 0;
- no ``TimeLimit.truncated``: the 500-step cut is reported as ``done`` only, so SB3 treats
  it as a real end and does not bootstrap the value of ``terminal_observation``;
- ``VecMonitor`` writes its own ``info["episode"]`` (return ``r``, length ``l``, time ``t``
  per slot, i.e. per player) and nothing else: no score or behaviour rates.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import supersuit as ss
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecMonitor

import frogtoad_env
from agents.coupled import coupled_policy_kwargs


def make_vec_env(copies: int, seed: int, **config: object) -> VecMonitor:
    """``copies`` games through SuperSuit as an SB3 VecEnv of ``2 * copies`` slots."""
    # SuperSuit's gymnasium VectorEnv has no get_attr, so VecMonitor cannot read render_mode
    warnings.filterwarnings("ignore", "The .render_mode. attribute is not defined", UserWarning)
    env = ss.pettingzoo_env_to_vec_env_v1(frogtoad_env.parallel_env(**config))
    venv = ss.concat_vec_envs_v1(env, copies, num_cpus=0, base_class="stable_baselines3")
    venv.venv.reset(seed=seed)  # copy i plays the seed + i stream
    return VecMonitor(venv)


def play(model: PPO, seed: int, **config: object) -> dict[str, int]:
    """One self-play episode on the parallel env (actions sampled from the policy, as in
    training: a greedy policy can lock into a loop); the final score of each agent."""
    env = frogtoad_env.parallel_env(**config)
    observations, infos = env.reset(seed=seed)
    while env.agents:
        actions = {agent: int(model.predict(observations[agent], deterministic=False)[0]) for agent in env.agents}
        observations, _, _, _, infos = env.step(actions)
    return {agent: info["score"] for agent, info in infos.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000, help="agent-steps of training")
    parser.add_argument("--copies", type=int, default=8, help="games stacked by concat_vec_envs_v1")
    parser.add_argument("--coupling", type=float, default=0.5)
    parser.add_argument("--max-steps", type=int, default=500, help="episode length")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)  # a small net: more threads only add overhead (a lot on a busy machine)
    set_random_seed(args.seed)
    venv = make_vec_env(args.copies, args.seed, max_steps=args.max_steps)
    model = PPO("MlpPolicy", venv, policy_kwargs=coupled_policy_kwargs(coupling=args.coupling), n_steps=128,
                batch_size=256, n_epochs=4, device="cpu", verbose=0)  # fmt: skip
    model.learn(args.timesteps)
    episodes = list(model.ep_info_buffer)
    if episodes:
        print(f"training: {len(episodes)} episodes, mean return {np.mean([e['r'] for e in episodes]):.1f}")
    scores = play(model, seed=args.seed + 1000, max_steps=args.max_steps)
    print(f"self-play episode, {args.max_steps} steps: frog {scores['frog']}, toad {scores['toad']} points")


if __name__ == "__main__":
    main()
