"""Converter settings: the robot description, the project's own topics, control rate, tolerances, image size."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

from recap_core.robot_description import ArmDescription, CameraDescription, RobotDescription, load_robot
from recap_model.robot_layout import DEFAULT_ROBOT, RobotLayout


@dataclass(frozen=True)
class ConverterConfig:
    """How bags become steps.

    Every stream is sampled at the step times t_k = t_0 + k * control_period by holding its latest
    message with header stamp <= t_k. A sample older than its tolerance is stale: the step is
    dropped (stale_policy="drop") or kept and counted in metadata["stale_steps"] ("flag"). A follower
    reading that is NaN / inf, lacks joints or lies outside the joint limits makes its steps stale
    too. An episode with fewer than min_valid_fraction of its steps not stale is refused.
    Images are resized to image_size (H, W).

    The robot description gives the follower / leader JointState topics, the joint-name maps, the
    gripper calibrations, the camera topics and the joint limits, and with its state vector the
    episodes' D; `cameras` picks among its cameras (None: all of them). The other topics are the
    project's own nodes'; their JointState commands are read by the description's joint names.
    """

    robot: RobotDescription = field(default_factory=lambda: load_robot(DEFAULT_ROBOT))
    cameras: tuple[str, ...] | None = None
    image_size: tuple[int, int] | None = (224, 224)
    control_period: float = 0.02
    joint_tolerance_s: float = 0.05  # follower joint states (the observation; commands are held)
    image_tolerance_s: float = 0.1  # a camera frame older than this at a step is stale (frames dropped)
    proposal_tolerance_s: float = 0.05  # older /policy/command -> NaN proposal (no proposal)
    stale_policy: str = "drop"
    executed_topic: str = "/executed_command"
    proposed_topic: str = "/policy/command"
    chunk_topic: str = "/policy/action_chunk"
    intervention_topic: str = "/intervention_state"
    events_topic: str = "/episode_events"
    task_state_topic: str = "/sim/task_state"
    object_state_topic: str = "/sim/object_state"
    missing_outcome: str = "skip"  # "skip" | "failure" | "abort": episodes with no outcome anywhere
    min_valid_fraction: float = 0.5  # in (0, 1]: the share of steps that must not be stale

    def __post_init__(self) -> None:
        if self.control_period <= 0:
            raise ValueError(f"control_period must be > 0, got {self.control_period}")
        for name in ("joint_tolerance_s", "image_tolerance_s", "proposal_tolerance_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.stale_policy not in ("drop", "flag"):
            raise ValueError(f"stale_policy must be 'drop' or 'flag', got {self.stale_policy!r}")
        if self.missing_outcome not in ("skip", "failure", "abort"):
            raise ValueError(f"missing_outcome must be skip|failure|abort, got {self.missing_outcome!r}")
        if not 0 < self.min_valid_fraction <= 1:
            raise ValueError(f"min_valid_fraction must be in (0, 1], got {self.min_valid_fraction}")
        names = [c.name for c in self.robot.cameras]
        cameras = tuple(names if self.cameras is None else self.cameras)
        unknown = [c for c in cameras if c not in names]
        if unknown:
            raise ValueError(f"cameras {unknown} are not in robot {self.robot.name!r} ({self.robot.source}); "
                             f"its cameras: {names}")
        if cameras and self.image_size is None:
            raise ValueError("image_size (H, W) is required when cameras are given")
        object.__setattr__(self, "cameras", cameras)
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))

    @property
    def layout(self) -> RobotLayout:
        return RobotLayout.from_description(self.robot)

    @property
    def follower_topics(self) -> tuple[str, ...]:
        return tuple(arm.joint_states for arm in self.robot.follower_arms)

    @property
    def leader_topics(self) -> tuple[str, ...]:
        return tuple(arm.joint_states for arm in self.robot.leader_arms)

    def camera_descriptions(self) -> tuple[CameraDescription, ...]:
        return tuple(self.robot.camera(name) for name in self.cameras)

    def arms(self, leader: bool = False) -> tuple[ArmDescription, ...]:
        """The follower (or leader) arms of the description."""
        return self.robot.leader_arms if leader else self.robot.follower_arms

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "robot"}
        d["robot"] = {"name": self.robot.name, "hash": self.robot.description_hash()}
        return json.loads(json.dumps(d))

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
