"""The configuration of one supervised run (torch-free, so CLIs and sweeps can validate it cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from experiment.config import ACTIVATION_NAMES, MAX_SEED, SettingsJson, TrainConfig, check_net_arch
from frogtoad_env.checks import check_choice, check_int, check_positive, check_unit_interval
from frogtoad_env.config import EnvConfig
from frogtoad_env.observations import check_obs_mode

#: Whose point of view the states are observed from: the paper's frog, the toad, or both.
SEATS: tuple[str, ...] = ("frog", "toad", "both")
#: Shares of hop, jump, leap, help in the test set (the paper's 40 / 40 / 10 / 10).
TEST_LABEL_SHARES: tuple[float, float, float, float] = (0.4, 0.4, 0.1, 0.1)
#: Most epochs a run may have (checkpoint names hold four digits).
MAX_EPOCHS = 9999
#: test_size must be a multiple of this, so every label's share is a whole number of states.
TEST_SIZE_STEP = 10


def min_dataset_size(test_size: int) -> int:
    """Smallest ``dataset_size`` for ``test_size``: train and validation get at least as many states as the test set."""
    return 2 * test_size


@dataclass(frozen=True)
class SupervisedConfig(SettingsJson):
    """Everything that defines a supervised run; saved as ``config.json`` in the run folder.

    Attributes:
        net_arch: units of each hidden layer of the MLP, e.g. ``(17, 17)``.
        activation: ``"relu"`` (the paper) or ``"tanh"``, every hidden layer.
        dropout: dropout probability in [0, 1) after every hidden activation.
        batch_size: states per Adam step.
        learning_rate: Adam step size, > 0.
        epochs: maximum number of passes over the training set (at most 9999).
        patience: stop after this many epochs without a lower validation loss.
        dataset_size: distinct labelled states kept in total (train + validation + test),
            at least ``2 * test_size``.
        test_size: states in the balanced test set (40 % hop, 40 % jump, 10 % leap,
            10 % help); a multiple of 10.
        val_fraction: share in (0, 1) of the non-test states held out for validation.
        seed: seeds the data (play, split) and torch (initial weights, shuffling, dropout).
        obs_mode: ``"paper"`` (the 100-number vector) or ``"egocentric"``.
        coupling: self/other weight coupling c in [0, 1] of the first hidden layer, which
            is then the coupled layer of the PPO agents (:mod:`agents.coupled`);
            egocentric mode only, where it defaults to the PPO agents' 0.5 (None in paper mode, whose
            observation has no self and other blocks).
        seat: ``"frog"`` (the paper's point of view), ``"toad"`` or ``"both"``.
        hide_own_status: zero the own-status number of the paper observation, as the
            paper's training data did (a distressed player then shows only as a code 9
            in the players layer, which hides who is hurt). No effect in egocentric
            mode, whose observation has no such number.
        width: cells in the strip (the paper observation has 100 numbers at 32).
        max_steps: length of the played episodes the states come from.
        probe_permutations: scenario-label shuffles of the per-epoch permutation null.
        untrained_seeds: untrained networks of the same shape averaged for the untrained null.
        torch_threads: ``torch.set_num_threads`` during training.
    """

    METHOD: ClassVar[str] = "supervised"

    net_arch: tuple[int, ...] = (17, 17)
    activation: str = "relu"
    dropout: float = 0.12
    batch_size: int = 25
    learning_rate: float = 4e-6
    epochs: int = 200
    patience: int = 10
    dataset_size: int = 400_000
    test_size: int = 100_000
    val_fraction: float = 0.1
    seed: int = 0
    obs_mode: str = "paper"
    coupling: float | None = None
    seat: str = "frog"
    hide_own_status: bool = True
    width: int = 32
    max_steps: int = 500
    probe_permutations: int = 20
    untrained_seeds: int = 5
    torch_threads: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "net_arch", check_net_arch(self.net_arch))
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        if not check_unit_interval("dropout", self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 < check_unit_interval("val_fraction", self.val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        check_positive("learning_rate", self.learning_rate)
        for name in ("batch_size", "epochs", "patience", "probe_permutations", "untrained_seeds", "torch_threads"):
            check_int(name, getattr(self, name))
        if self.epochs > MAX_EPOCHS:
            raise ValueError(f"epochs must be <= {MAX_EPOCHS} (checkpoints are named epoch_<4 digits>), got {self.epochs}")
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_int("test_size", self.test_size, minimum=TEST_SIZE_STEP)
        if self.test_size % TEST_SIZE_STEP:
            raise ValueError(f"test_size must be a multiple of {TEST_SIZE_STEP} (40/40/10/10 % split), got {self.test_size}")
        minimum = min_dataset_size(self.test_size)
        if check_int("dataset_size", self.dataset_size) < minimum:
            raise ValueError(
                f"dataset_size must be >= {minimum} (twice test_size={self.test_size}: train and validation "
                f"need at least as many states as the test set), got {self.dataset_size}"
            )
        check_obs_mode(self.obs_mode)
        if self.obs_mode != "egocentric":
            if self.coupling is not None:
                raise ValueError(
                    f"coupling needs obs_mode 'egocentric' (the {self.obs_mode!r} observation has no self and "
                    f"other blocks to couple), got coupling={self.coupling!r}"
                )
        else:
            object.__setattr__(self, "coupling", check_unit_interval("coupling", TrainConfig.coupling if self.coupling is None else self.coupling))
        check_choice("seat", self.seat, SEATS)
        if not isinstance(self.hide_own_status, bool):
            raise ValueError(f"hide_own_status must be True or False, got {self.hide_own_status!r}")
        self.env  # validates width and max_steps

    @property
    def env(self) -> EnvConfig:
        """The game the states are played in (the paper's rules: dependency 1, no veil)."""
        return EnvConfig(width=self.width, obs_mode=self.obs_mode, max_steps=self.max_steps)

    @property
    def test_label_counts(self) -> tuple[int, ...]:
        """States of hop, jump, leap, help in the test set."""
        return tuple(round(share * self.test_size) for share in TEST_LABEL_SHARES)

    @property
    def data_fields(self) -> dict[str, Any]:
        """The fields that decide the dataset (a saved dataset must match them)."""
        names = ("dataset_size", "test_size", "val_fraction", "seed", "obs_mode", "seat", "hide_own_status",
                 "width", "max_steps")
        return {name: getattr(self, name) for name in names}


#: the settings class of each training method (``experiment.config.METHODS``)
CONFIG_CLASSES: dict[str, type[TrainConfig] | type[SupervisedConfig]] = {
    TrainConfig.METHOD: TrainConfig,
    SupervisedConfig.METHOD: SupervisedConfig,
}
