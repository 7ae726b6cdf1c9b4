"""Model configurations (frozen, validated, JSON round-trippable: they are stored in checkpoints).

Paper symbols: H = action horizon (chunk length), D = action dimension (the robot's joints: 14 for
bimanual ALOHA; the trainer takes it from the dataset's robot),
B = number of value bins (201 on [-1, 0]), l = task prompt.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from recap_core.config_errors import check_field


# Image backbones (models/image_backbones.py builds them; kept here so configs load without torch).
IMAGE_ENCODERS = ("strided_cnn", "resnet_gn", "spatial_softmax")


class ConfigMismatchError(ValueError):
    """A checkpoint or a stored config does not match the model configuration asked for."""


@dataclass(frozen=True)
class ObservationConfig:
    """What the model sees of o_t and how large its encoders are."""

    qpos_dim: int = 14  # proprioception: the robot's joint positions (D), grippers normalised
    state_dim: int = 0  # S: privileged object state (state-only policies); 0 = not used
    cameras: tuple[str, ...] = ()  # up to 3 camera names; () = state-only model
    image_size: tuple[int, int] = (48, 64)  # (height, width) the images are given at
    tasks: tuple[str, ...] = ("default",)  # task prompt -> id table (index = embedding row)
    width: int = 256  # feature width of every encoder
    # Image encoder: the fastest of bench/bench_vision_train.py's screen (docs/TRAINER.md, "Image
    # encoder"): 3 cameras at 48 x 64 train at ~1100 samples/s on 2 CPU threads.
    image_channels: tuple[int, ...] = (8, 16, 32)  # backbone channels, each stage halves H and W
    image_encoder: str = "strided_cnn"  # backbone shared by the cameras, one of IMAGE_ENCODERS
    image_shift: int = 4  # random-shift augmentation in training: up to +-pixels (DrQ); 0 = off

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "image_channels", tuple(int(c) for c in self.image_channels))
        if self.qpos_dim <= 0 or self.state_dim < 0 or self.width <= 0:
            raise ValueError(f"bad dimensions: qpos_dim={self.qpos_dim}, state_dim={self.state_dim}, width={self.width}")
        if len(self.cameras) > 3:
            raise ValueError(f"at most 3 cameras are supported, got {self.cameras}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"duplicate camera names: {self.cameras}")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be a non-empty list of distinct prompts, got {self.tasks}")
        if len(self.image_size) != 2 or min(self.image_size) < 2 ** len(self.image_channels):
            raise ValueError(f"image_size {self.image_size} is too small for {len(self.image_channels)} CNN stages")
        check_field(self.image_encoder in IMAGE_ENCODERS, "ObservationConfig", "image_encoder",
                    f"must be one of {IMAGE_ENCODERS}", self.image_encoder)
        check_field(0 <= self.image_shift < min(self.image_size), "ObservationConfig", "image_shift",
                    f"must be in [0, {min(self.image_size)}) for images of {self.image_size}", self.image_shift)

    @property
    def uses_images(self) -> bool:
        return bool(self.cameras)

    def task_id(self, task: str) -> int:
        try:
            return self.tasks.index(task)
        except ValueError:
            raise KeyError(f"unknown task {task!r}: this model knows {list(self.tasks)}") from None


@dataclass(frozen=True)
class PolicyConfig:
    """Advantage-conditioned flow-matching policy pi(a_{t:t+H} | o_t, l, I_t)."""

    observation: ObservationConfig = field(default_factory=ObservationConfig)
    horizon: int = 50  # H: actions per chunk (1 s at 50 Hz)
    action_dim: int = 14  # D
    flow_width: int = 512  # hidden width of the velocity network
    flow_blocks: int = 3  # residual FiLM blocks of the velocity network
    denoising_steps: int = 10  # Euler steps from noise (tau = 0) to actions (tau = 1)
    # Action dimensions predicted as offsets from q_t (see recap_model.action_frame); () = absolute,
    # the default: with ALOHA's arm joints relative, BC on transfer_cube fell from 90 % to 15 %
    # (docs/TRAINER.md).
    relative_dims: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.observation, dict):
            object.__setattr__(self, "observation", ObservationConfig(**self.observation))
        object.__setattr__(self, "relative_dims", tuple(int(d) for d in self.relative_dims))
        bad = [d for d in self.relative_dims if not 0 <= d < min(self.action_dim, self.observation.qpos_dim)]
        if bad or len(set(self.relative_dims)) != len(self.relative_dims):
            raise ValueError(f"relative_dims {self.relative_dims} must be distinct indices of both the action "
                             f"({self.action_dim}) and qpos ({self.observation.qpos_dim}) vectors")
        for name in ("horizon", "action_dim", "flow_width", "flow_blocks", "denoising_steps"):
            value = getattr(self, name)
            check_field(value > 0, "PolicyConfig", name, "must be > 0", value)


@dataclass(frozen=True)
class ValueConfig:
    """Distributional value function p_phi(V | o_t, l) over B bins on [v_min, v_max] (Eq. 1)."""

    # Half the policy's feature width; the same image backbone (already the narrowest screened).
    observation: ObservationConfig = field(default_factory=lambda: ObservationConfig(width=128))
    num_bins: int = 201  # B
    v_min: float = -1.0
    v_max: float = 0.0
    hidden: int = 256  # width of the MLP head
    # Steps since the episode started, as a fraction of each task's L (one per observation.tasks, in
    # that order): V's time input. The return of a time-limited episode depends on the time left, which
    # no image shows (docs/TRAINER.md, "The value function sees the time"); () = V sees no time.
    time_limits: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.observation, dict):
            object.__setattr__(self, "observation", ObservationConfig(**self.observation))
        object.__setattr__(self, "time_limits", tuple(int(v) for v in self.time_limits))
        if self.num_bins < 2 or not self.v_min < self.v_max or self.hidden <= 0:
            raise ValueError(f"bad value config: bins={self.num_bins}, range=[{self.v_min}, {self.v_max}], hidden={self.hidden}")
        if self.time_limits and (len(self.time_limits) != len(self.observation.tasks) or min(self.time_limits) < 1):
            raise ValueError(f"time_limits must give one L >= 1 per task {list(self.observation.tasks)}, "
                             f"got {list(self.time_limits)}")

    @property
    def sees_time(self) -> bool:
        return bool(self.time_limits)


def config_to_dict(config: Any) -> dict:
    """JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type, data: dict) -> Any:
    """Inverse of `config_to_dict`; unknown keys are an error (a config from another version)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigMismatchError(f"{cls.__name__} has no fields {sorted(unknown)}")
    return cls(**data)


def config_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Human-readable list of fields where two configs (or their dicts) differ."""
    da = a if isinstance(a, dict) else config_to_dict(a)
    db = b if isinstance(b, dict) else config_to_dict(b)
    out = []
    for key in sorted(set(da) | set(db)):
        va, vb = da.get(key), db.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, f"{prefix}{key}.")
        elif _normalise(va) != _normalise(vb):
            out.append(f"{prefix}{key}: {va!r} != {vb!r}")
    return out


def _normalise(v: Any) -> Any:
    return [_normalise(x) for x in v] if isinstance(v, (list, tuple)) else v
