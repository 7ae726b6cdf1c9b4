"""The executed 14-D command -> the messages a robot driver takes.

- joint_state: sensor_msgs/JointState per arm (unprefixed names, raw gripper) - the sim, simple drivers.
- joint_trajectory: trajectory_msgs/JointTrajectory per arm, one point one control period ahead - ros2_control.
- interbotix: interbotix_xs_msgs JointGroupCommand ("arm", 6 joints) + JointSingleCommand ("gripper", raw)
  per arm - real ALOHA; only when interbotix_xs_msgs is importable.
The conversions are plain functions (tested without ROS); adapters only publish.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recap_core.aloha_layout import (ALOHA_FOLLOWER_GRIPPER, ARM_JOINTS, ARMS, GRIPPER_JOINT, GripperCalibration,
                                     arm_command, split_arms)
from recap_core.stamps import seconds_to_ns, split_ns

ADAPTERS = ("joint_state", "joint_trajectory", "interbotix")


class AdapterUnavailable(RuntimeError):
    """The chosen adapter's message package is not installed here."""


@dataclass(frozen=True)
class AdapterConfig:
    kind: str = "joint_state"
    gripper: GripperCalibration = ALOHA_FOLLOWER_GRIPPER  # follower raw gripper
    control_period: float = 0.02
    command_topics: tuple[str, str] = ("/follower_left/command", "/follower_right/command")
    trajectory_topics: tuple[str, str] = ("/left_arm_controller/joint_trajectory", "/right_arm_controller/joint_trajectory")
    trajectory_joint_prefixes: tuple[str, str] = ("left_", "right_")
    interbotix_namespaces: tuple[str, str] = ("/follower_left", "/follower_right")

    def __post_init__(self) -> None:
        if self.kind not in ADAPTERS:
            raise ValueError(f"unknown command_adapter {self.kind!r}; known: {', '.join(ADAPTERS)}")
        for name in ("command_topics", "trajectory_topics", "trajectory_joint_prefixes", "interbotix_namespaces"):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != len(ARMS):
                raise ValueError(f"{name} needs one entry per arm {ARMS}, got {value}")


def per_arm_commands(command14: np.ndarray, gripper: GripperCalibration) -> list[tuple[list[str], list[float]]]:
    """[(unprefixed joint names, raw positions)] for (left, right)."""
    return [arm_command(arm, gripper) for arm in split_arms(np.asarray(command14, dtype=np.float64))]


def interbotix_commands(command14: np.ndarray, gripper: GripperCalibration) -> list[tuple[list[float], float]]:
    """[(6 arm joint positions in ARM_JOINTS order, raw gripper position)] for (left, right)."""
    out = []
    for names, positions in per_arm_commands(command14, gripper):
        index = {n: i for i, n in enumerate(names)}
        out.append(([positions[index[j]] for j in ARM_JOINTS], positions[index[GRIPPER_JOINT]]))
    return out


class JointStateAdapter:
    def __init__(self, node, config: AdapterConfig, qos) -> None:
        from sensor_msgs.msg import JointState
        self._msg = JointState
        self._config = config
        self._pubs = [node.create_publisher(JointState, t, qos) for t in config.command_topics]

    def publish(self, command14: np.ndarray, stamp) -> None:
        for pub, (names, positions) in zip(self._pubs, per_arm_commands(command14, self._config.gripper)):
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
        self._pubs = [node.create_publisher(JointTrajectory, t, qos) for t in config.trajectory_topics]

    def publish(self, command14: np.ndarray, stamp) -> None:
        trajectory, point_type = self._types
        arms = per_arm_commands(command14, self._config.gripper)
        for pub, prefix, (names, positions) in zip(self._pubs, self._config.trajectory_joint_prefixes, arms):
            msg = trajectory(joint_names=[prefix + n for n in names],
                             points=[point_type(positions=positions, time_from_start=self._ahead)])
            msg.header.stamp = stamp
            pub.publish(msg)


class InterbotixAdapter:
    def __init__(self, node, config: AdapterConfig, qos) -> None:
        try:
            from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
        except ImportError as exc:
            raise AdapterUnavailable(
                "command_adapter=interbotix needs the interbotix_xs_msgs package (Interbotix ROS 2 drivers), "
                f"which is not installed here ({exc}); use joint_state or joint_trajectory") from exc
        self._types = (JointGroupCommand, JointSingleCommand)
        self._config = config
        self._pubs = [(node.create_publisher(JointGroupCommand, f"{ns}/commands/joint_group", qos),
                       node.create_publisher(JointSingleCommand, f"{ns}/commands/joint_single", qos))
                      for ns in config.interbotix_namespaces]

    def publish(self, command14: np.ndarray, stamp) -> None:
        group, single = self._types
        for (group_pub, single_pub), (arm, grip) in zip(self._pubs, interbotix_commands(command14, self._config.gripper)):
            group_pub.publish(group(name="arm", cmd=[float(v) for v in arm]))
            single_pub.publish(single(name=GRIPPER_JOINT, cmd=float(grip)))


def make_adapter(node, config: AdapterConfig, qos):
    """The adapter for config.kind; AdapterUnavailable when its message package is missing."""
    cls = {"joint_state": JointStateAdapter, "joint_trajectory": JointTrajectoryAdapter,
           "interbotix": InterbotixAdapter}[config.kind]
    return cls(node, config, qos)
