"""The robots the ROS-free arbitration tests run on, and their cores built as the node builds them."""
from __future__ import annotations

import numpy as np

from recap_core.robot_description import RobotDescription, load_robot
from recap_teleop.arbitration_core import ArbitrationCore, ArmLayout
from recap_teleop.safety_filter import SafetyConfig
from recap_teleop.takeover import ArbitrationConfig

ALOHA = load_robot("aloha_sim")  # 14-D: two arms of 6 joints and a gripper
SINGLE = load_robot("single_arm_6dof")  # 7-D: one arm
ROBOTS = (ALOHA, SINGLE)


def safety(robot: RobotDescription = ALOHA, period: float = 0.02) -> SafetyConfig:
    lower, upper, vmax = robot.limits()
    return SafetyConfig(robot.joint_names, tuple(lower), tuple(upper), tuple(vmax), period, 0.05, 0.2)


def core(robot: RobotDescription = ALOHA, config: ArbitrationConfig | None = None) -> ArbitrationCore:
    return ArbitrationCore(config or ArbitrationConfig(), safety(robot), ArmLayout.from_description(robot))


def split(robot: RobotDescription, vector: np.ndarray) -> list[np.ndarray]:
    """The (D,) vector as each follower arm's part."""
    sizes = np.cumsum([len(a.joint_names) for a in robot.follower_arms])[:-1]
    return np.split(np.asarray(vector, dtype=np.float64), sizes)
