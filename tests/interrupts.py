"""An SB3 callback that stops training the way Ctrl-C would, for the training tests."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback


class InterruptAt(BaseCallback):
    """Raises KeyboardInterrupt once ``num_timesteps`` reaches ``step``, like Ctrl-C would."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.step:
            raise KeyboardInterrupt
        return True
