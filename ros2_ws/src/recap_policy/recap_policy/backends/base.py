"""One interface for every policy backend: `infer(obs) -> chunk (H, D)`, `reset()`, `metadata`."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from recap_model.sampling import DEFAULT_NOISE_SCALE
from recap_policy.observation import Observation

ADVANTAGES = ("positive", "negative", "unconditioned")


class InvalidChunk(ValueError):
    """A backend returned something that must not be executed (wrong shape, NaN/inf)."""


@dataclass(frozen=True)
class BackendMetadata:
    """What the node must know about a policy before it can feed it (answerable before inference)."""

    policy_id: str  # identifies policy + weights, copied into every ActionChunk
    joint_names: tuple[str, ...]  # D column names of a chunk: the robot description's state vector
    horizon: int | None = None  # H; None when only known from the first chunk (remote servers)
    control_period: float = 0.02  # s between chunk rows
    cameras: tuple[str, ...] = ()  # camera names o_t must contain; () = state-only
    image_size: tuple[int, int] | None = None  # (H, W) the images must have; None = as received
    state_names: tuple[str, ...] = ()  # privileged object-state features of a state-only policy
    supports_frozen_prefix: bool = False  # can inpaint a committed prefix (real-time chunking)

    def __post_init__(self) -> None:
        for name in ("joint_names", "cameras", "state_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        if not self.control_period > 0:
            raise ValueError(f"control_period must be positive, got {self.control_period}")


@dataclass(frozen=True)
class Conditioning:
    """RECAP inference conditioning (Eq. 3): the advantage indicator I and the CFG scale beta, and
    the scale of the flow's starting noise."""

    advantage: str = "positive"  # positive (default, RECAP) | negative | unconditioned
    guidance_scale: float = 1.0  # beta: 1 = conditioned sampling only, > 1 classifier-free guidance
    # 1 = the paper's N(0, I); the built-in default 0.2 is a deviation (recap_model.policy.DEFAULT_NOISE_SCALE)
    noise_scale: float = DEFAULT_NOISE_SCALE

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if not (np.isfinite(self.guidance_scale) and self.guidance_scale > 0):
            raise ValueError(f"guidance_scale must be a positive number, got {self.guidance_scale}")
        if not (np.isfinite(self.noise_scale) and self.noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0, got {self.noise_scale}")


class PolicyBackend(ABC):
    metadata: BackendMetadata

    @abstractmethod
    def infer(self, obs: Observation, frozen_prefix: np.ndarray | None = None) -> np.ndarray:
        """Chunk (H, D) in metadata.joint_names column order; frozen_prefix (d, D) rows to keep."""

    def reset(self) -> None:
        """Forget per-episode state (none by default)."""

    def close(self) -> None:
        """Release connections / memory."""


def check_chunk(actions: object, joint_names: tuple[str, ...], source: str) -> np.ndarray:
    """(H, D) float64 or InvalidChunk naming `source`: wrong shape or any NaN/inf is rejected whole."""
    arr = np.asarray(actions, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != len(joint_names):
        raise InvalidChunk(f"{source}: expected a chunk (H, {len(joint_names)}) for the robot's "
                           f"{len(joint_names)} joints, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = sorted(set(np.nonzero(bad)[0].tolist()))
        raise InvalidChunk(f"{source}: chunk has {int(bad.sum())} NaN/inf value(s) in row(s) {rows[:10]}; rejected")
    return arr
