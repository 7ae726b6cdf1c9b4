"""The simulated operator through ROS: with a stalled follower it requests a takeover on
/takeover/request, drives the leader arms with the scripted expert, then hands back."""
import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from recap_core.aloha_layout import ARM_JOINTS
from recap_msgs.srv import ResetSim
from recap_core.aloha_layout import SIM_GRIPPER
from ros_harness import wait_until
from sim_node_helpers import call

pytestmark = pytest.mark.integration


def ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_operator_takes_over_a_stalled_follower_and_hands_back(ros_node, sim_process):
    requests = ros_node.collect(Bool, "/takeover/request")
    leader = ros_node.collect(JointState, "/leader_right/joint_states", qos_profile_sensor_data)
    follower = ros_node.collect(JointState, "/follower_right/joint_states", qos_profile_sensor_data)
    # Nobody commands the follower (no policy, no arbitration): it stalls at its start pose.
    sim = sim_process(cameras="['none']", real_time_factor=4.0, **{
        "operator.enabled": "true", "operator.stall_timeout_s": 0.5, "operator.stage_time_limit_s": 0.0,
        "operator.max_correction_s": 1.5, "use_sim_time": "true"})

    leader.wait_for(1, timeout=60.0)
    home = np.array(follower.wait_for(1, timeout=20.0)[0].position)

    # The operator may have acted before this test node was discovered: start a new episode now
    # that the request topic is matched, and look for a takeover followed by a hand-back.
    ros_node.wait_for_publishers("/takeover/request", timeout=20.0)
    reply = call(ros_node.node.create_client(ResetSim, "/sim/reset"), ResetSim.Request(task="", seed=1))
    assert reply.success
    with requests._cond:
        requests.messages.clear()
    reset_ns = ns(reply.state)

    # Watching (the first 0.5 s of the episode): the leader shows the follower's pose, raw gripper.
    leader.wait_for(1, timeout=20.0, predicate=lambda m: ns(m) > reset_ns + 400_000_000)
    watching = [m for m in leader.messages if reset_ns < ns(m) <= reset_ns + 400_000_000]
    assert watching and list(watching[0].name) == [*ARM_JOINTS, "gripper"]
    for m in watching:
        np.testing.assert_allclose(m.position, home, atol=0.02)
    assert watching[0].position[-1] == pytest.approx(SIM_GRIPPER.open, abs=2e-3)

    def took_over_and_handed_back():
        data = [m.data for m in requests.messages]
        return any(a and not b for a, b in zip(data, data[1:]))
    wait_until(took_over_and_handed_back, 30.0, "a takeover request followed by a hand-back")
    # The request topic can arrive before the node's log line is written: await the log too.
    wait_until(lambda: "operator hands back: corrected for 1.5 s" in sim.log(), 20.0, "the hand-back log line")
    assert "operator takes over: stall" in sim.log()

    # While correcting, the expert moved the leader away from the (unmoved) follower.
    moved = max(np.max(np.abs(np.array(m.position[:6]) - home[:6])) for m in leader.messages if ns(m) > reset_ns)
    assert moved > 0.05
    still = max(np.max(np.abs(np.array(m.position[:6]) - home[:6])) for m in follower.messages)
    assert still < 0.02


def test_bad_operator_parameters_stop_the_node_with_a_clear_error(start_process):
    from sim_node_helpers import SIM_MODULE, sim_args
    proc = start_process(SIM_MODULE, *sim_args(**{"operator.min_correction_s": 5.0, "operator.max_correction_s": 1.0}))
    assert proc.wait(timeout=60.0) == 2
    assert "min_correction_s (5.0) exceeds max_correction_s (1.0)" in proc.log()
