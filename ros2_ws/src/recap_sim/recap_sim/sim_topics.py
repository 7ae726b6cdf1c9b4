"""The topics of the simulated ALOHA, from its robot description (aloha_sim by default), ROS-free.

The simulator plays the robot's drivers, so it publishes and subscribes on the topics the
description names, like the real drivers do on theirs; the description must describe this robot:
two arms `left` and `right` with the simulator's joints and gripper calibration, JointState
commands, and a raw camera for every camera the simulator renders.
"""
from __future__ import annotations

from dataclasses import dataclass

from recap_core.aloha_layout import ARMS, JOINT_NAMES, SIM_GRIPPER
from recap_core.robot_description import RobotDescription


@dataclass(frozen=True)
class SimTopics:
    follower: dict[str, str]  # arm -> its JointState topic
    leader: dict[str, str]  # arm -> the simulated operator's leader JointState topic
    command: dict[str, str]  # arm -> the JointState command topic it takes
    cameras: dict[str, str]  # rendered camera -> its sensor_msgs/Image topic

    @classmethod
    def from_description(cls, robot: RobotDescription, cameras: tuple[str, ...]) -> SimTopics:
        """Raises ValueError naming what the description gets wrong about the simulator."""
        where = f"robot description {robot.name!r} ({robot.source})"
        if robot.joint_names != JOINT_NAMES or tuple(a.name for a in robot.follower_arms) != ARMS:
            raise ValueError(f"{where} does not describe the simulated ALOHA: it needs arms {list(ARMS)} with the "
                             f"state vector {list(JOINT_NAMES)}, got {list(robot.joint_names)} (use aloha_sim)")
        wrong_gripper = [a.name for a in (*robot.follower_arms, *robot.leader_arms)
                         if a.gripper.calibration != SIM_GRIPPER]
        if wrong_gripper:
            raise ValueError(f"{where}: the simulator's gripper reads {SIM_GRIPPER}; arm(s) {wrong_gripper} say otherwise")
        if robot.commands.adapter != "joint_state":
            raise ValueError(f"{where}: the simulator takes JointState commands (adapter joint_state), "
                             f"not {robot.commands.adapter}")
        if robot.leader_arms and tuple(a.name for a in robot.leader_arms) != ARMS:
            raise ValueError(f"{where}: leader arms must be {list(ARMS)}")
        rendered = {}
        for name in cameras:
            camera = robot.camera(name)  # names the description's cameras when it lacks this one
            if camera.encoding != "raw":
                raise ValueError(f"{where}: camera {name!r} is {camera.encoding}; the simulator publishes raw images")
            rendered[name] = camera.topic
        return cls(follower={a.name: a.joint_states for a in robot.follower_arms},
                   leader={a.name: a.joint_states for a in robot.leader_arms},
                   command={arm: topics[0] for arm, topics in robot.commands.topics},
                   cameras=rendered)
