"""Joint position and velocity limits of the 14-D ALOHA vector (ViperX 300 s defaults)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recap_core.aloha_layout import ACTION_DIM

# Per arm: waist, shoulder, elbow, forearm_roll, wrist_angle, wrist_rotate (rad), gripper (0..1).
# From the Interbotix vx300s joint limits; configuration may narrow them per robot.
_ARM_LOWER = [-3.14, -1.85, -1.76, -3.14, -1.87, -3.14, 0.0]
_ARM_UPPER = [3.14, 1.26, 1.61, 3.14, 2.23, 3.14, 1.0]
# rad/s for joints, 1/s for the normalised gripper.
_ARM_MAX_VELOCITY = [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 5.0]


@dataclass(frozen=True)
class JointLimits:
    """Position bounds and velocity bounds of the 14-D vector, in JOINT_NAMES order."""

    lower: tuple[float, ...] = field(default_factory=lambda: tuple(_ARM_LOWER * 2))
    upper: tuple[float, ...] = field(default_factory=lambda: tuple(_ARM_UPPER * 2))
    max_velocity: tuple[float, ...] = field(default_factory=lambda: tuple(_ARM_MAX_VELOCITY * 2))

    def __post_init__(self) -> None:
        for name in ("lower", "upper", "max_velocity"):
            if len(getattr(self, name)) != ACTION_DIM:
                raise ValueError(f"JointLimits.{name} needs {ACTION_DIM} values, got {len(getattr(self, name))}")
        if not (np.asarray(self.lower) < np.asarray(self.upper)).all():
            raise ValueError("JointLimits: every lower bound must be below its upper bound")
        if not (np.asarray(self.max_velocity) > 0).all():
            raise ValueError("JointLimits: velocity limits must be positive")

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.asarray(self.lower), np.asarray(self.upper), np.asarray(self.max_velocity)
