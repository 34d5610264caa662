"""How hard PPO's gradient-norm clip bites at each reward scale: why ``reward_scale`` is 0.1.

    python benchmarks/grad_norm.py                       # reward scales 1 and 0.1, 400k agent-steps each
    python benchmarks/grad_norm.py --scales 1 0.3 0.1 0.03 --timesteps 200000

The policy and value heads of the coupled network share its first layer, and SB3 clips the
norm of their summed gradient to ``max_grad_norm`` (0.5) before every Adam step. This trains
the default config (no probe) at each reward scale and records that norm before the clip,
for every minibatch, through ``torch.nn.utils.clip_grad_norm_``'s return value; it prints
the median and the 10th/90th percentiles per 100k agent-steps, with SB3's last
``train/value_loss`` (in scaled units). A median far above 0.5 means every step is clipped
and the update's direction is mostly the value loss's.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the checkout

from agents.training import make_env, make_model  # noqa: E402
from experiment.config import TrainConfig  # noqa: E402


def gradient_norms(config: TrainConfig, timesteps: int, every: int) -> list[tuple[int, np.ndarray, float]]:
    """(agent-step, norms before the clip of every minibatch since the last row, value loss) per ``every`` steps."""
    norms: list[float] = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, max_norm, *args, **kwargs):  # type: ignore[no-untyped-def]
        total = clip(parameters, max_norm, *args, **kwargs)
        norms.append(float(total))
        return total

    torch.set_num_threads(config.torch_threads)
    model = make_model(config, make_env(config))
    rows = []
    torch.nn.utils.clip_grad_norm_ = recording_clip  # SB3 calls it as th.nn.utils.clip_grad_norm_
    try:
        while model.num_timesteps < timesteps:
            model.learn(every, reset_num_timesteps=False)
            rows.append((model.num_timesteps, np.array(norms), float(model.logger.name_to_value["train/value_loss"])))
            norms.clear()
    finally:
        torch.nn.utils.clip_grad_norm_ = clip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.1], help="reward scales to compare")
    parser.add_argument("--timesteps", type=int, default=400_000, help="agent-steps per scale")
    parser.add_argument("--every", type=int, default=100_000, help="agent-steps per printed row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    base = TrainConfig(probe=False, seed=args.seed)
    print(f"default config, max_grad_norm {base.max_grad_norm}, seed {args.seed}; gradient norm before the clip "
          f"per minibatch of {base.batch_size:,}")  # fmt: skip
    print(f"{'reward_scale':>12} {'step':>9} {'median':>7} {'p10':>7} {'p90':>7} {'clipped':>8} {'value_loss':>10}")
    for scale in args.scales:
        for step, norms, value_loss in gradient_norms(replace(base, reward_scale=scale), args.timesteps, args.every):
            p10, p50, p90 = np.percentile(norms, [10, 50, 90])
            clipped = float(np.mean(norms > base.max_grad_norm))
            print(f"{scale:>12g} {step:>9,} {p50:>7.2f} {p10:>7.2f} {p90:>7.2f} {clipped:>8.0%} {value_loss:>10.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
