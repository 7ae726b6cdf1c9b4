"""The sim node's parameter table and the config built from it, without ROS."""
from __future__ import annotations

import math

import pytest

from recap_core.aloha_layout import CAMERA_NAMES, SIM_GRIPPER
from recap_sim.operator_parameters import OPERATOR_PARAMETERS
from recap_sim.sim_node_config import PARAMETERS, SimNodeConfig

DEFAULTS = {name: default for name, (default, _) in PARAMETERS.items()}


def test_every_parameter_is_described_and_the_operator_ones_are_prefixed():
    assert all(isinstance(text, str) and text for _, text in PARAMETERS.values())
    assert {f"operator.{name}" for name in OPERATOR_PARAMETERS} <= set(PARAMETERS)


def test_defaults_simulate_every_camera_at_wall_clock_speed():
    cfg = SimNodeConfig.from_parameters(DEFAULTS)
    assert cfg.core.cameras == CAMERA_NAMES and cfg.core.time_limit_s is None
    assert cfg.real_time_factor == 1.0 and cfg.reject_log_period_s == 1.0
    assert cfg.limits.gripper == SIM_GRIPPER and cfg.limits.joint_margin == 0.2
    assert not cfg.operator.enabled and cfg.operator.leader_gripper == SIM_GRIPPER


def test_parameters_reach_the_parts():
    cfg = SimNodeConfig.from_parameters({**DEFAULTS, "cameras": ["none"], "image_height": 48, "image_width": 64,
                                         "publish_rate_hz": 25.0, "time_limit_s": 12.0, "gripper_margin": 0.05,
                                         "operator.enabled": True, "operator.stall_timeout_s": 0.0})
    assert cfg.core.cameras == () and cfg.core.image_size == (48, 64)
    assert cfg.core.joint_state_rate_hz == 25.0 and cfg.core.time_limit_s == 12.0
    assert cfg.limits.gripper_margin == 0.05
    assert cfg.operator.enabled and math.isinf(cfg.operator.rule.stall_timeout_s)  # 0 disables the trigger


@pytest.mark.parametrize("override, match", [
    ({"cameras": ["cam_top"]}, "unknown camera"),
    ({"camera_rate_hz": 0.0}, "camera_rate_hz"),
    ({"joint_margin_rad": -1.0}, "joint_margin"),
])
def test_bad_values_are_refused_by_name(override, match):
    with pytest.raises(ValueError, match=match):
        SimNodeConfig.from_parameters({**DEFAULTS, **override})


def test_topics_come_from_the_robot_description(tmp_path):
    import yaml

    from recap_core.robot_description import load_robot
    cfg = SimNodeConfig.from_parameters({**DEFAULTS, "cameras": ["cam_high"]})
    assert cfg.topics.follower == {"left": "/follower_left/joint_states", "right": "/follower_right/joint_states"}
    assert cfg.topics.command == {"left": "/follower_left/command", "right": "/follower_right/command"}
    assert cfg.topics.cameras == {"cam_high": "/cam_high/image_raw"}
    data = load_robot("aloha_sim").to_dict()
    data["cameras"][0]["topic"] = "/overhead/rgb"
    data["follower_arms"][1]["joint_states"] = "/right_arm/joint_states"
    mine = tmp_path / "my_sim.yaml"
    mine.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = SimNodeConfig.from_parameters({**DEFAULTS, "robot": str(mine), "cameras": ["cam_high"]})
    assert cfg.topics.cameras == {"cam_high": "/overhead/rgb"}
    assert cfg.topics.follower["right"] == "/right_arm/joint_states"


@pytest.mark.parametrize("robot, override, match", [
    ("single_arm_6dof", {}, "does not describe the simulated ALOHA"),
    ("aloha", {}, "the simulator's gripper reads"),
    ("aloha_sim", {"cameras": ["cam_low"]}, "unknown camera|has no camera"),
])
def test_a_description_of_another_robot_is_refused(robot, override, match):
    with pytest.raises(ValueError, match=match):
        SimNodeConfig.from_parameters({**DEFAULTS, "robot": robot, **override})
