"""Command adapters: the executed 14-D command -> driver messages."""
import numpy as np
import pytest

from recap_core.aloha_layout import ACTION_DIM, ARM_JOINTS, GRIPPER_JOINT, GripperCalibration
from recap_teleop.command_adapters import (AdapterConfig, AdapterUnavailable, interbotix_commands, make_adapter,
                                           per_arm_commands)

GRIP = GripperCalibration(closed=0.021, open=0.057)
CMD = np.arange(ACTION_DIM, dtype=np.float64) / 10
CMD[6], CMD[13] = 0.0, 1.0  # left gripper closed, right open


def test_per_arm_joint_states_are_unprefixed_with_raw_grippers():
    (lnames, lpos), (rnames, rpos) = per_arm_commands(CMD, GRIP)
    assert lnames == rnames == [*ARM_JOINTS, GRIPPER_JOINT]
    np.testing.assert_allclose(lpos[:6], CMD[:6])
    np.testing.assert_allclose(rpos[:6], CMD[7:13])
    assert lpos[6] == pytest.approx(0.021) and rpos[6] == pytest.approx(0.057)


def test_interbotix_split_arm_group_and_gripper():
    (larm, lgrip), (rarm, rgrip) = interbotix_commands(CMD, GRIP)
    np.testing.assert_allclose(larm, CMD[:6])
    np.testing.assert_allclose(rarm, CMD[7:13])
    assert (lgrip, rgrip) == (pytest.approx(0.021), pytest.approx(0.057))


def test_unknown_adapter_is_rejected():
    with pytest.raises(ValueError, match="unknown command_adapter"):
        AdapterConfig(kind="can_bus")


def test_interbotix_without_its_messages_fails_clearly(ros_node):
    """interbotix_xs_msgs is not installed on this machine: a clear error, no crash at import."""
    with pytest.raises(AdapterUnavailable, match="interbotix_xs_msgs"):
        make_adapter(ros_node.node, AdapterConfig(kind="interbotix"), 1)


def test_joint_trajectory_and_joint_state_adapters_publish(ros_node):
    from sensor_msgs.msg import JointState
    from trajectory_msgs.msg import JointTrajectory
    traj = ros_node.collect(JointTrajectory, "/right_arm_controller/joint_trajectory")
    js = ros_node.collect(JointState, "/follower_left/command")
    stamp = ros_node.node.get_clock().now().to_msg()
    t_adapter = make_adapter(ros_node.node, AdapterConfig(kind="joint_trajectory", gripper=GRIP), 10)
    j_adapter = make_adapter(ros_node.node, AdapterConfig(kind="joint_state", gripper=GRIP), 10)
    t_adapter.publish(CMD, stamp)
    j_adapter.publish(CMD, stamp)
    msg = traj.wait_for(1)[0]
    assert list(msg.joint_names) == [f"right_{j}" for j in (*ARM_JOINTS, GRIPPER_JOINT)]
    np.testing.assert_allclose(msg.points[0].positions[:6], CMD[7:13])
    assert msg.points[0].time_from_start.nanosec == 20_000_000
    left = js.wait_for(1)[0]
    assert list(left.name) == [*ARM_JOINTS, GRIPPER_JOINT]
    assert left.position[6] == pytest.approx(0.021)
