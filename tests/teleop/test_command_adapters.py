"""Command adapters: the executed (D,) command -> the driver messages the robot description names."""
import numpy as np
import pytest

from recap_teleop.command_adapters import AdapterConfig, AdapterUnavailable, make_adapter, per_arm_commands
from robots import ALOHA, SINGLE

DRIVER_JOINTS = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"]
CMD = np.arange(ALOHA.action_dim, dtype=np.float64) / 10
CMD[6], CMD[13] = 0.0, 1.0  # left gripper closed, right open


class PlainPublishers:
    """A plain node standing in for a lifecycle node: its publishers always publish."""

    def __init__(self, node) -> None:
        self.create_lifecycle_publisher = node.create_publisher


def test_per_arm_commands_use_the_driver_names_and_raw_grippers():
    (lnames, lpos), (rnames, rpos) = per_arm_commands(CMD, AdapterConfig.from_description(ALOHA))
    assert lnames == rnames == DRIVER_JOINTS
    np.testing.assert_allclose(lpos[:6], CMD[:6])
    np.testing.assert_allclose(rpos[:6], CMD[7:13])
    assert lpos[6] == pytest.approx(0.021) and rpos[6] == pytest.approx(0.057)


def test_a_single_arm_command_has_seven_values_and_its_own_names():
    config = AdapterConfig.from_description(SINGLE)
    assert config.kind == "joint_trajectory" and config.arms[0].topics == ("/arm_controller/joint_trajectory",)
    [(names, positions)] = per_arm_commands(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]), config)
    assert names == ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper_joint"]
    assert positions[6] == pytest.approx(0.8)  # open
    with pytest.raises(ValueError, match="7 values"):
        per_arm_commands(CMD, config)


def test_unknown_adapter_is_rejected():
    with pytest.raises(ValueError, match="unknown command adapter"):
        AdapterConfig("can_bus", (), 0.02)


def test_interbotix_without_its_messages_fails_clearly(ros_node):
    """interbotix_xs_msgs is not installed on this machine: a clear error, no crash at import."""
    from recap_core.robot_description import load_robot
    with pytest.raises(AdapterUnavailable, match="interbotix_xs_msgs"):
        make_adapter(PlainPublishers(ros_node.node), AdapterConfig.from_description(load_robot("aloha")), 1)


def test_joint_trajectory_and_joint_state_adapters_publish(ros_node):
    from sensor_msgs.msg import JointState
    from trajectory_msgs.msg import JointTrajectory
    traj = ros_node.collect(JointTrajectory, "/arm_controller/joint_trajectory")
    js = ros_node.collect(JointState, "/follower_left/command")
    stamp = ros_node.node.get_clock().now().to_msg()
    node = PlainPublishers(ros_node.node)
    t_adapter = make_adapter(node, AdapterConfig.from_description(SINGLE), 10)
    j_adapter = make_adapter(node, AdapterConfig.from_description(ALOHA), 10)
    single = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.5])
    t_adapter.publish(single, stamp)
    j_adapter.publish(CMD, stamp)
    msg = traj.wait_for(1)[0]
    assert list(msg.joint_names) == ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper_joint"]
    np.testing.assert_allclose(msg.points[0].positions, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.4])
    assert msg.points[0].time_from_start.nanosec == round(1e9 / 30)
    left = js.wait_for(1)[0]
    assert list(left.name) == DRIVER_JOINTS
    assert left.position[6] == pytest.approx(0.021)
