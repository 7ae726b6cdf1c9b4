"""What a policy reads against what this robot publishes: refused before the node commands anything."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recap_core.robot_description import CameraDescription, RobotDescription
from recap_policy.backends.base import BackendMetadata


@dataclass(frozen=True)
class CheckpointRobot:
    """The robot a checkpoint was trained for: the `robot` block of its config.json (copied from the dataset)."""

    name: str
    description_hash: str
    joint_names: tuple[str, ...]


def read_checkpoint_robot(checkpoint_dir: str | Path) -> CheckpointRobot | None:
    """The checkpoint's robot block; None when config.json has none. ValueError on an unreadable file."""
    path = Path(checkpoint_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a checkpoint (config.json missing)")
    try:
        block = json.loads(path.read_text()).get("robot")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from exc
    if block is None:
        return None
    try:
        return CheckpointRobot(str(block["name"]), str(block["description_hash"]),
                               tuple(str(j) for j in block["joint_names"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed robot block {block!r} (needs name, description_hash, "
                         f"joint_names)") from exc


def refuse_other_robot(trained: CheckpointRobot | None, robot: RobotDescription, checkpoint: str) -> None:
    """ValueError unless the checkpoint was trained for exactly this description (same hash)."""
    here = f"robot {robot.name!r} (description {robot.source}, hash {robot.description_hash()})"
    fix = (f"train on data converted with this description (recap dataset build --robot {robot.name}), or "
           "pass robot:=<the description it was trained for>")
    if trained is None:
        raise ValueError(f"{checkpoint}: the checkpoint names no robot (config.json has no 'robot' block), so "
                         f"it cannot be checked against {here}; {fix}")
    if trained.description_hash != robot.description_hash():
        raise ValueError(f"{checkpoint}: the checkpoint was trained for robot {trained.name!r} (description hash "
                         f"{trained.description_hash}), this node runs {here}; {fix}")


def camera_inputs(cameras: Sequence[str], robot: RobotDescription, policy_id: str) -> dict[str, CameraDescription]:
    """Camera name -> its description, for the cameras the policy reads; every one must be the robot's."""
    have = {c.name: c for c in robot.cameras}
    missing = [c for c in cameras if c not in have]
    if missing:
        raise ValueError(f"{policy_id}: this checkpoint reads camera(s) {list(cameras)}; robot {robot.name!r} "
                         f"({robot.source}) has {list(have)}, not {missing}: add them to the description or use "
                         "a checkpoint trained with this robot's cameras")
    return {c: have[c] for c in cameras}


def refuse_privileged_state(meta: BackendMetadata, allowed: bool, robot: RobotDescription) -> None:
    """ValueError when the policy reads simulator-only object state and the configuration is a real robot's."""
    if meta.state_names and not allowed:
        cameras = " ".join(c.name for c in robot.cameras) or "<the robot's cameras>"
        raise ValueError(
            f"{meta.policy_id}: this checkpoint reads simulator-only object state (env_state, "
            f"{len(meta.state_names)} features: {', '.join(meta.state_names[:4])}"
            f"{', ...' if len(meta.state_names) > 4 else ''}); a real robot publishes cameras and joints only: "
            f"train with cameras for the robot (--cameras {cameras}, no env_state), "
            "or set allow_privileged_state:=true where the simulator publishes /sim/object_state")


def refuse_other_dimension(meta: BackendMetadata, robot: RobotDescription) -> None:
    """ValueError when the policy's action columns are not the description's state vector."""
    if tuple(meta.joint_names) != robot.joint_names:
        raise ValueError(f"{meta.policy_id}: the policy's actions are {len(meta.joint_names)}-D "
                         f"{list(meta.joint_names)}; robot {robot.name!r} needs {robot.action_dim}-D "
                         f"{list(robot.joint_names)}")
