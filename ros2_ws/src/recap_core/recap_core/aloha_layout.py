"""The ALOHA bimanual joint layout: one 14-D vector, built by joint name, never by message order.

Vector order (D = 14): for each arm (left, right) the 6 arm joints
`waist, shoulder, elbow, forearm_roll, wrist_angle, wrist_rotate` then the gripper.
Arm joints are in rad. Grippers are normalised to [0, 1] (0 = closed, 1 = open) with per-robot
calibration constants (real ALOHA and the simulation report the gripper in different raw units):
SIM_GRIPPER, ALOHA_FOLLOWER_GRIPPER, ALOHA_LEADER_GRIPPER. The rig's camera names: CAMERA_NAMES.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ARMS: tuple[str, str] = ("left", "right")
ARM_JOINTS: tuple[str, ...] = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
GRIPPER_JOINT = "gripper"
JOINTS_PER_ARM = len(ARM_JOINTS) + 1
ACTION_DIM = len(ARMS) * JOINTS_PER_ARM
# Names of the 14 vector entries, as used in ActionChunk.joint_names and 14-D JointState commands.
JOINT_NAMES: tuple[str, ...] = tuple(
    f"{arm}_{joint}" for arm in ARMS for joint in (*ARM_JOINTS, GRIPPER_JOINT)
)
GRIPPER_INDICES: tuple[int, int] = (JOINTS_PER_ARM - 1, ACTION_DIM - 1)
# The rig's cameras, one overhead and one on each wrist; topics are /<cam>/image_raw[/compressed].
CAMERA_NAMES: tuple[str, str, str] = ("cam_high", "cam_left_wrist", "cam_right_wrist")
CAM_HIGH = CAMERA_NAMES[0]
WRIST_CAMERAS: dict[str, str] = dict(zip(ARMS, CAMERA_NAMES[1:]))  # arm -> the camera on its wrist


@dataclass(frozen=True)
class GripperCalibration:
    """Maps a raw gripper reading (driver units) to [0, 1]: 0 = closed, 1 = open."""

    closed: float  # raw reading with the gripper fully closed
    open: float  # raw reading with the gripper fully open

    def __post_init__(self) -> None:
        if not np.isfinite([self.closed, self.open]).all() or self.closed == self.open:
            raise ValueError(f"gripper calibration needs two distinct finite values, got {self}")

    def normalise(self, raw: float | np.ndarray) -> float | np.ndarray:
        return (raw - self.closed) / (self.open - self.closed)

    def denormalise(self, value: float | np.ndarray) -> float | np.ndarray:
        return self.closed + value * (self.open - self.closed)


# Raw gripper readings (closed, open) of the robots this stack drives. YAML configs repeat them
# as literals (parameter files cannot import), naming the constant in a comment.
# The sim: the `left_finger` slide joint in m; closed / open span the finger actuator's ctrlrange.
SIM_GRIPPER = GripperCalibration(closed=0.021, open=0.057)
# Real ALOHA (Interbotix ViperX follower, WidowX leader): gripper joint angles in rad.
ALOHA_FOLLOWER_GRIPPER = GripperCalibration(closed=-0.6213, open=1.4910)
ALOHA_LEADER_GRIPPER = GripperCalibration(closed=-0.0552, open=0.8298)


class JointNameError(ValueError):
    """A joint state or command does not name the joints the layout needs."""


def arm_vector(names: Sequence[str], positions: Sequence[float], gripper: GripperCalibration,
               source: str = "joint state") -> np.ndarray:
    """One arm's 7-vector (6 joints in rad + normalised gripper) from a JointState-like (names, positions).

    Extra joints (e.g. ALOHA's `left_finger`/`right_finger`) are ignored; missing ones raise
    JointNameError naming them and `source`.
    """
    if len(names) != len(positions):
        raise JointNameError(f"{source}: {len(names)} names but {len(positions)} positions")
    index = {name: i for i, name in enumerate(names)}
    missing = [j for j in (*ARM_JOINTS, GRIPPER_JOINT) if j not in index]
    if missing:
        raise JointNameError(f"{source}: missing joint(s) {missing}; got {list(names)}")
    out = np.array([positions[index[j]] for j in ARM_JOINTS] + [positions[index[GRIPPER_JOINT]]], dtype=np.float64)
    out[-1] = gripper.normalise(out[-1])
    return out


def arm_command(vector7: np.ndarray, gripper: GripperCalibration) -> tuple[list[str], list[float]]:
    """Inverse of `arm_vector`: per-arm joint names and raw positions for a command message."""
    vec = np.asarray(vector7, dtype=np.float64)
    if vec.shape != (JOINTS_PER_ARM,):
        raise ValueError(f"an arm command has {JOINTS_PER_ARM} values, got shape {vec.shape}")
    raw = vec.copy()
    raw[-1] = gripper.denormalise(vec[-1])
    return [*ARM_JOINTS, GRIPPER_JOINT], raw.tolist()


def split_arms(vector14: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vec = np.asarray(vector14)
    if vec.shape[-1] != ACTION_DIM:
        raise ValueError(f"expected a {ACTION_DIM}-D vector, got shape {vec.shape}")
    return vec[..., :JOINTS_PER_ARM], vec[..., JOINTS_PER_ARM:]


def join_arms(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(left), np.asarray(right)], axis=-1)


def vector_by_name(names: Sequence[str], values: Sequence[float], wanted: Sequence[str],
                   source: str = "message") -> np.ndarray:
    """(len(wanted),) from a message naming at least the `wanted` joints, in any order (extras ignored)."""
    if len(names) != len(values):
        raise JointNameError(f"{source}: {len(names)} names but {len(values)} values")
    index = {name: i for i, name in enumerate(names)}
    missing = [j for j in wanted if j not in index]
    if missing:
        raise JointNameError(f"{source}: missing joint(s) {missing}")
    return np.array([values[index[j]] for j in wanted], dtype=np.float64)


def reorder_by_name(names: Sequence[str], values: Sequence[float], source: str = "message") -> np.ndarray:
    """The simulator's 14-D vector from a message naming all JOINT_NAMES (any order, extras ignored)."""
    return vector_by_name(names, values, JOINT_NAMES, source)
