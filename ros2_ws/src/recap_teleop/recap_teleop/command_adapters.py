"""The executed (D,) command -> the messages the robot's drivers take, as its description says.

Per follower arm, by the description's `commands.adapter`:
- joint_state: sensor_msgs/JointState (the driver's joint names, raw gripper) - the sim, simple drivers.
- joint_trajectory: trajectory_msgs/JointTrajectory (the driver's joint names), one point one control
  period ahead - ros2_control's joint_trajectory_controller.
- interbotix: interbotix_xs_msgs JointGroupCommand ("arm", the arm joints) on the arm's first topic and
  JointSingleCommand (the gripper joint, raw) on its second - real ALOHA; only when interbotix_xs_msgs
  is importable.
The conversions are plain functions (tested without ROS); adapters only publish.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recap_core.aloha_layout import GripperCalibration
from recap_core.robot_description import ADAPTERS, RobotDescription
from recap_core.stamps import seconds_to_ns, split_ns


class AdapterUnavailable(RuntimeError):
    """The chosen adapter's message package is not installed here."""


@dataclass(frozen=True)
class ArmOutput:
    """One follower arm's command: driver joint names, gripper, and the topics it is sent on."""

    joints: tuple[str, ...]  # the driver's arm joint names, in state-vector order (gripper excluded)
    gripper_joint: str  # the driver's gripper joint
    gripper: GripperCalibration  # raw gripper positions (driver units)
    topics: tuple[str, ...]


@dataclass(frozen=True)
class AdapterConfig:
    kind: str  # one of ADAPTERS
    arms: tuple[ArmOutput, ...]  # the follower arms, in state-vector order
    control_period: float  # s; the trajectory point's time_from_start

    def __post_init__(self) -> None:
        if self.kind not in ADAPTERS:
            raise ValueError(f"unknown command adapter {self.kind!r}; known: {', '.join(ADAPTERS)}")

    @classmethod
    def from_description(cls, robot: RobotDescription) -> AdapterConfig:
        topics = dict(robot.commands.topics)
        arms = tuple(ArmOutput(tuple(driver for driver, _ in arm.joints), arm.gripper.joint, arm.gripper.calibration,
                               topics[arm.name]) for arm in robot.follower_arms)
        return cls(robot.commands.adapter, arms, robot.control_period)

    @property
    def dim(self) -> int:
        return sum(len(arm.joints) + 1 for arm in self.arms)


def per_arm_commands(command: np.ndarray, config: AdapterConfig) -> list[tuple[list[str], list[float]]]:
    """[(driver joint names with the gripper last, raw positions)] per follower arm, from the (D,) command."""
    vec = np.asarray(command, dtype=np.float64)
    if vec.shape != (config.dim,):
        raise ValueError(f"a command has {config.dim} values, got shape {vec.shape}")
    out, start = [], 0
    for arm in config.arms:
        raw = vec[start:start + len(arm.joints) + 1].copy()
        raw[-1] = arm.gripper.denormalise(raw[-1])
        out.append(([*arm.joints, arm.gripper_joint], raw.tolist()))
        start += len(arm.joints) + 1
    return out


class JointStateAdapter:
    def __init__(self, node, config: AdapterConfig, qos) -> None:
        from sensor_msgs.msg import JointState
        self._msg = JointState
        self._config = config
        self._pubs = [node.create_lifecycle_publisher(JointState, arm.topics[0], qos) for arm in config.arms]
        self.publishers = list(self._pubs)

    def publish(self, command: np.ndarray, stamp) -> None:
        for pub, (names, positions) in zip(self._pubs, per_arm_commands(command, self._config)):
            msg = self._msg(name=names, position=positions)
            msg.header.stamp = stamp
            pub.publish(msg)


class JointTrajectoryAdapter:
    def __init__(self, node, config: AdapterConfig, qos) -> None:
        from builtin_interfaces.msg import Duration
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
        self._types = (JointTrajectory, JointTrajectoryPoint)
        sec, nanosec = split_ns(seconds_to_ns(config.control_period))
        self._ahead = Duration(sec=sec, nanosec=nanosec)
        self._config = config
        self._pubs = [node.create_lifecycle_publisher(JointTrajectory, arm.topics[0], qos) for arm in config.arms]
        self.publishers = list(self._pubs)

    def publish(self, command: np.ndarray, stamp) -> None:
        trajectory, point_type = self._types
        for pub, (names, positions) in zip(self._pubs, per_arm_commands(command, self._config)):
            msg = trajectory(joint_names=names, points=[point_type(positions=positions, time_from_start=self._ahead)])
            msg.header.stamp = stamp
            pub.publish(msg)


class InterbotixAdapter:
    def __init__(self, node, config: AdapterConfig, qos) -> None:
        try:
            from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
        except ImportError as exc:
            raise AdapterUnavailable(
                "the interbotix command adapter needs the interbotix_xs_msgs package (Interbotix ROS 2 drivers), "
                f"which is not installed here ({exc}); describe the robot with the joint_state or "
                "joint_trajectory adapter") from exc
        self._types = (JointGroupCommand, JointSingleCommand)
        self._config = config
        self._pubs = [(node.create_lifecycle_publisher(JointGroupCommand, arm.topics[0], qos),
                       node.create_lifecycle_publisher(JointSingleCommand, arm.topics[1], qos))
                      for arm in config.arms]
        self.publishers = [pub for pair in self._pubs for pub in pair]

    def publish(self, command: np.ndarray, stamp) -> None:
        group, single = self._types
        for (group_pub, single_pub), (names, positions) in zip(self._pubs, per_arm_commands(command, self._config)):
            group_pub.publish(group(name="arm", cmd=[float(v) for v in positions[:-1]]))
            single_pub.publish(single(name=names[-1], cmd=float(positions[-1])))


def make_adapter(node, config: AdapterConfig, qos):
    """The adapter for config.kind, publishing through the node's lifecycle publishers (silent while
    the node is inactive); AdapterUnavailable when its message package is missing."""
    cls = {"joint_state": JointStateAdapter, "joint_trajectory": JointTrajectoryAdapter,
           "interbotix": InterbotixAdapter}[config.kind]
    return cls(node, config, qos)
