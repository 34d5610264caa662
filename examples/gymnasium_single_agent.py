"""One player learns with SB3 PPO beside the scripted partner: ``python examples/gymnasium_single_agent.py``."""

import gymnasium
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

import frogtoad_env  # noqa: F401  (registers FrogToad-v0)

torch.set_num_threads(1)  # a small net: more threads only add overhead (a lot on a busy machine)
env = gymnasium.make("FrogToad-v0", partner="scripted", max_steps=200)
model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, seed=0, verbose=0).learn(10_000)

eval_env = Monitor(gymnasium.make("FrogToad-v0", partner="scripted", max_steps=200))
mean, std = evaluate_policy(model, eval_env, n_eval_episodes=5, deterministic=False)  # reward = own points
print(f"frog's score beside the scripted toad over 200 steps: {mean:.1f} +/- {std:.1f} points")
