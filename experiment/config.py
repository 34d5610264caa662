"""Every setting of a training run, validated in one place and saved as the run's ``config.json``.

:class:`TrainConfig` is the single validation layer behind ``train.py``: the command line
only parses text into numbers and lists, builds a TrainConfig and turns its ValueError
(one line naming the bad value and what is allowed) into exit status 2. Torch-free, so
``evaluate.py`` and the sweep tools can read a run's config without loading torch.

Counting: a *timestep* is one agent-step (SB3's ``num_timesteps``); one step of the batched
env advances ``2 * n_games`` of them (two players per game, one shared policy).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Mapping, Sequence

from frogtoad_env.checks import check_choice, check_int, check_known_keys, check_positive, check_unit_interval
from frogtoad_env.config import EnvConfig

#: how ``train.py`` trains: coupled PPO agents, or the paper's supervised classifier
METHODS: tuple[str, ...] = ("ppo", "supervised")
#: the ``config.json`` entry naming the method (absent in runs saved before there were two: PPO)
METHOD_KEY = "method"
#: activation functions of the coupled policy network (every layer)
ACTIVATION_NAMES: tuple[str, ...] = ("relu", "tanh")
#: learning-rate schedules: constant, or linear decay to 0 at ``timesteps``
LR_SCHEDULES: tuple[str, ...] = ("constant", "linear")
#: numpy's legacy seeding (used by SB3) takes seeds below 2**32
MAX_SEED: int = 2**32 - 1
#: more games than this per env step would hold gigabytes of rollout buffer
MAX_GAMES: int = 16_384
#: wider layers than this do not fit a laptop's memory at 158 inputs and PPO's buffers
MAX_UNITS: int = 4_096
#: 1e12 agent-steps would take years on a CPU; anything above is a typo
MAX_TIMESTEPS: int = 10**12
_DEVICE_PATTERN = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")


def check_net_arch(net_arch: Sequence[int]) -> tuple[int, ...]:
    """A non-empty sequence of ints in [1, MAX_UNITS], as a tuple; else ValueError."""
    if isinstance(net_arch, (str, bytes)) or not isinstance(net_arch, Sequence) or len(net_arch) == 0:
        raise ValueError(f"net_arch must be one or more positive integers, got {net_arch!r}")
    for units in net_arch:
        check_int("net_arch entry", units, maximum=MAX_UNITS)
    return tuple(int(units) for units in net_arch)


def check_device(device: object) -> str:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (availability is checked when training starts)."""
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(f"device must be one of cpu, cuda, cuda:N, mps, auto; got {device!r}")
    return device


class SettingsJson:
    """``config.json`` for a frozen dataclass of settings: ``net_arch`` travels as a list and an
    ``env`` field as a nested dict of :class:`EnvConfig`; unknown keys raise ValueError naming them.
    The JSON text (not the dict) also names the training method, :attr:`METHOD`, under ``"method"``."""

    #: the training method these settings are for (one of :data:`METHODS`)
    METHOD: ClassVar[str]
    #: fields added after runs were saved -> the value those runs trained with, which a saved
    #: ``config.json`` without the field is read as (a new config takes the class default)
    ADDED_LATER: ClassVar[Mapping[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``net_arch`` as a list, ``env`` (if any) as a nested dict."""
        data = asdict(self)  # type: ignore[call-overload]
        data["net_arch"] = list(data["net_arch"])
        if "env" in data:  # an EnvConfig field
            data["env"] = self.env.to_dict()  # type: ignore[attr-defined]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; missing keys take their defaults."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a config must be a mapping of settings, got {type(data).__name__}")
        check_known_keys(data, [f.name for f in fields(cls)])  # type: ignore[arg-type]
        kwargs = dict(data)
        if "env" in kwargs:
            if not isinstance(kwargs["env"], Mapping):
                raise ValueError(f"env must be a mapping of EnvConfig fields, got {kwargs['env']!r}")
            kwargs["env"] = EnvConfig.from_kwargs(kwargs["env"])
        if isinstance(kwargs.get("net_arch"), list):
            kwargs["net_arch"] = tuple(kwargs["net_arch"])
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps({METHOD_KEY: self.METHOD, **self.to_dict()}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Any:
        """Parse ``config.json`` text; ValueError (one line) for bad JSON, another method's
        settings or bad settings. A text without ``"method"`` is read as this class's."""
        data = parse_json_object(text)
        method = data.pop(METHOD_KEY, cls.METHOD)
        if method != cls.METHOD:
            raise ValueError(f"these are the settings of a {method!r} run, not of a {cls.METHOD!r} one")
        return cls.from_dict({**cls.ADDED_LATER, **data})


def parse_json_object(text: str) -> dict[str, Any]:
    """A JSON object as a dict; ValueError (one line) otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a config must be a mapping of settings, got {type(data).__name__}")
    return data


def saved_method(text: str) -> str:
    """The training method a ``config.json`` text was saved by (``"ppo"`` when it names none);
    ValueError for bad JSON or an unknown method."""
    return check_choice(METHOD_KEY, parse_json_object(text).get(METHOD_KEY, METHODS[0]), METHODS)


@dataclass(frozen=True)
class TrainConfig(SettingsJson):
    """Everything that defines a training run; saved as ``config.json`` in the run folder.

    Attributes:
        coupling: self/other weight coupling c in [0, 1] of the first layer.
        timesteps: total agent-steps to train (two per game per env step), at most 1e12.
        seed: seeds torch, numpy, Python and the env's random stream, in [0, 2**32 - 1].
        n_games: games stepped together (1 to 16,384); SB3 sees ``2 * n_games`` env slots.
        net_arch: first number = coupled layer units, the rest = hidden layers of the
            policy and value MLPs (each 1 to 4,096).
        activation: ``"tanh"`` or ``"relu"`` (every layer).
        env: the game's knobs (veil, dependency, prosocial, max_steps...).
        checkpoint_every: agent-steps between checkpoints.
        probe: run the CMNI probe callback.
        probe_every: agent-steps between CMNI probes; ``None`` = ``checkpoint_every``.
        probe_per_scenario, probe_permutations, probe_null_draws: probe-set states per
            scenario, permutation-test shuffles and untrained initialisations of the
            untrained-network null, passed to the CMNI callback.
        device: torch device for the policy: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
        torch_threads: ``torch.set_num_threads`` during training (see docs/training.md).
        learning_rate: Adam step size at the start; ``lr_schedule="linear"`` decays it to 0
            at ``timesteps``.
        n_steps: env steps per slot per rollout (a rollout holds ``n_steps * 2 * n_games``
            agent-steps).
        n_minibatches: minibatches per epoch; SB3's ``batch_size = rollout_size // n_minibatches``.
        n_epochs, gamma, gae_lambda, clip_range, ent_coef, vf_coef, max_grad_norm: PPO's
            hyperparameters, as in SB3.
        reward_scale: PPO learns from the game's points times this (> 0); scores, logged
            returns and every reported figure stay in points. The value and policy heads
            share the coupled layer and one gradient-norm clip (``max_grad_norm``), and
            SB3 normalises the advantages, so the scale changes only the value loss
            (by ``reward_scale**2``): at 1 its returns of up to about 100 points make the
            value gradient 40-60x the clip and the shared layer learns mostly for the value
            head. A run saved before this field existed trained at 1 and is read so.

    The defaults (64 games x 64 steps = rollouts of 8,192, 4 minibatches of 2,048, lr 2e-3,
    rewards scaled by 0.1, 2 M agent-steps, a checkpoint and probe every 100k) were chosen by
    wall time to the final score; docs/training.md gives the measurements (``benchmarks/time_to_score.py``).
    """

    METHOD: ClassVar[str] = "ppo"

    coupling: float = 0.5
    timesteps: int = 2_000_000
    seed: int = 0
    n_games: int = 64
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    env: EnvConfig = field(default_factory=EnvConfig)
    checkpoint_every: int = 100_000
    probe: bool = True
    probe_every: int | None = None
    probe_per_scenario: int = 1000
    probe_permutations: int = 100
    probe_null_draws: int = 10
    device: str = "cpu"
    torch_threads: int = 1
    learning_rate: float = 2e-3
    lr_schedule: str = "linear"
    n_steps: int = 64
    n_minibatches: int = 4
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 0.1

    ADDED_LATER: ClassVar[Mapping[str, Any]] = {"reward_scale": 1.0}

    def __post_init__(self) -> None:
        check_unit_interval("coupling", self.coupling)
        check_int("timesteps", self.timesteps, maximum=MAX_TIMESTEPS)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_int("n_games", self.n_games, maximum=MAX_GAMES)
        for name in ("checkpoint_every", "probe_per_scenario", "probe_permutations", "probe_null_draws", "torch_threads",
                     "n_steps", "n_minibatches", "n_epochs"):
            check_int(name, getattr(self, name), maximum=MAX_TIMESTEPS)
        if self.probe_every is not None:
            check_int("probe_every", self.probe_every, maximum=MAX_TIMESTEPS)
        if not isinstance(self.probe, bool):
            raise ValueError(f"probe must be true or false, got {self.probe!r}")
        object.__setattr__(self, "net_arch", check_net_arch(self.net_arch))
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        if not isinstance(self.env, EnvConfig):
            raise ValueError(f"env must be an EnvConfig, got {type(self.env).__name__}")
        if self.env.obs_mode != "egocentric":
            raise ValueError(f"the coupled policy needs obs_mode 'egocentric', got {self.env.obs_mode!r}")
        check_device(self.device)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.rollout_size % self.n_minibatches:
            raise ValueError(
                f"n_minibatches {self.n_minibatches} does not divide the rollout of n_steps * 2 * n_games = "
                f"{self.rollout_size} agent-steps"
            )
        for name in ("learning_rate", "clip_range", "max_grad_norm", "reward_scale"):
            check_positive(name, getattr(self, name))
        for name in ("gamma", "gae_lambda"):
            check_unit_interval(name, getattr(self, name))
        for name in ("ent_coef", "vf_coef"):
            check_positive(name, getattr(self, name), allow_zero=True)

    @property
    def n_slots(self) -> int:
        """SB3 env slots: two players per game."""
        return 2 * self.n_games

    @property
    def rollout_size(self) -> int:
        """Agent-steps per PPO rollout."""
        return self.n_steps * self.n_slots

    @property
    def batch_size(self) -> int:
        """Agent-steps per minibatch: ``rollout_size // n_minibatches``."""
        return self.rollout_size // self.n_minibatches

    @property
    def probe_interval(self) -> int:
        """Agent-steps between CMNI probes."""
        return self.probe_every if self.probe_every is not None else self.checkpoint_every


