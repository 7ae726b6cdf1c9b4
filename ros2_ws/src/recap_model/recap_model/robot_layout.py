"""The robot a dataset or checkpoint holds: its description's name and content hash, and the joint
layout of the state vector (D = len(joint_names); the action has the same layout).

Datasets record the full layout in their manifest (the joint range checks need the limits and the
grippers); checkpoints carry `identity()`, the block a policy node compares with its own
description: {"name", "description_hash", "joint_names"}. ROS-free; `from_description` takes a
recap_core RobotDescription.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_ROBOT = "aloha_sim"  # the project's simulator and recorder: sim data and in-memory episodes
IDENTITY_KEYS = ("name", "description_hash", "joint_names")


class RobotLayoutError(ValueError):
    """A robot block that is missing, malformed, or another robot's than expected."""


@dataclass(frozen=True)
class RobotLayout:
    name: str  # the description's name
    description_hash: str  # RobotDescription.description_hash(): 16 hex digits of its content
    joint_names: tuple[str, ...]  # the state (and action) vector, in order: D = len
    gripper_indices: tuple[int, ...]  # the grippers' columns (normalised 0..1)
    lower: tuple[float, ...]  # (D,) position limits (rad; grippers 0..1)
    upper: tuple[float, ...]  # (D,)

    def __post_init__(self) -> None:
        for name in ("joint_names", "gripper_indices", "lower", "upper"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        d = len(self.joint_names)
        if not self.name or not self.description_hash or d == 0 or len(set(self.joint_names)) != d:
            raise RobotLayoutError(f"robot layout needs a name, a hash and distinct joint names, got {self}")
        if len(self.lower) != d or len(self.upper) != d or any(not 0 <= i < d for i in self.gripper_indices):
            raise RobotLayoutError(f"robot {self.name!r}: limits and gripper indices must fit its {d} joints")

    @property
    def action_dim(self) -> int:
        return len(self.joint_names)

    @classmethod
    def from_description(cls, robot: Any) -> RobotLayout:
        """The layout of a recap_core RobotDescription."""
        names = tuple(robot.joint_names)
        lower, upper, _ = robot.limits()
        return cls(robot.name, robot.description_hash(), names,
                   tuple(names.index(arm.gripper.name) for arm in robot.follower_arms),
                   tuple(float(v) for v in lower), tuple(float(v) for v in upper))

    def identity(self) -> dict[str, Any]:
        """The block checkpoints carry: {"name", "description_hash", "joint_names"}."""
        return {"name": self.name, "description_hash": self.description_hash, "joint_names": list(self.joint_names)}

    def describe(self) -> str:
        return f"robot description {self.name!r} (hash {self.description_hash}, {self.action_dim} joints)"

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "gripper_indices": list(self.gripper_indices), "lower": list(self.lower),
                "upper": list(self.upper)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> RobotLayout:
        keys = (*IDENTITY_KEYS, "gripper_indices", "lower", "upper")
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise RobotLayoutError(f"{where}: the robot block must hold {list(keys)}, got {data!r}")
        return cls(**{k: data[k] for k in keys})


@lru_cache(maxsize=None)
def default_layout() -> RobotLayout:
    """The layout of DEFAULT_ROBOT (the simulator's 14-D ALOHA)."""
    from recap_core.robot_description import load_robot

    return RobotLayout.from_description(load_robot(DEFAULT_ROBOT))


def check_identity(block: Any, where: str) -> dict[str, Any]:
    """`block` (a checkpoint's "robot") when it holds name, description_hash and joint_names, else a
    RobotLayoutError naming `where`."""
    if not isinstance(block, dict) or any(k not in block for k in IDENTITY_KEYS):
        raise RobotLayoutError(f"{where}: no robot block {{{', '.join(IDENTITY_KEYS)}}} (got {block!r}); "
                               "retrain it from a dataset built with a robot description")
    return {k: block[k] for k in IDENTITY_KEYS}
