"""The sim node over real DDS: driver-like topics, command rejection, reset and task-state services."""
import math

import numpy as np
import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from recap_core.aloha_layout import ARM_JOINTS
from recap_msgs.msg import TaskState
from recap_msgs.srv import GetTaskState, ResetSim
from recap_core.aloha_layout import SIM_GRIPPER
from recap_sim.tasks import TASKS
from ros_harness import wait_until
from sim_node_helpers import call, sim_args

pytestmark = pytest.mark.integration

ARM_NAMES = [*ARM_JOINTS, "gripper"]
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
COMMAND = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
HOME = [0.0, -0.96, 1.16, 0.0, -0.3, 0.0, SIM_GRIPPER.open]


def ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def test_publishes_joint_states_images_clock_and_task_state(ros_node, sim_process):
    left = ros_node.collect(JointState, "/follower_left/joint_states", qos_profile_sensor_data)
    right = ros_node.collect(JointState, "/follower_right/joint_states", qos_profile_sensor_data)
    images = ros_node.collect(Image, "/cam_high/image_raw", qos_profile_sensor_data)
    wrist = ros_node.collect(Image, "/cam_left_wrist/image_raw", qos_profile_sensor_data)
    clock = ros_node.collect(Clock, "/clock")
    objects = ros_node.collect(JointState, "/sim/object_state", qos_profile_sensor_data)
    sim_process(seed=3)

    for collector in (left, right):
        msg = collector.wait_for(5, timeout=60.0)[-1]
        assert list(msg.name) == ARM_NAMES
        # Raw sim gripper units (finger position in m), open at the start pose.
        assert msg.position[-1] == pytest.approx(SIM_GRIPPER.open, abs=2e-3)
        assert msg.position[1] == pytest.approx(-0.96, abs=0.05)
        assert len(msg.velocity) == 7
    frames = images.wait_for(3, timeout=60.0)
    img = frames[-1]
    assert (img.encoding, img.height, img.width, img.step) == ("rgb8", 48, 64, 64 * 3)
    assert img.header.frame_id == "cam_high"
    pixels = np.frombuffer(bytes(img.data), np.uint8).reshape(48, 64, 3)
    assert pixels.std() > 1.0  # a rendered scene, not a blank buffer
    assert wrist.wait_for(1, timeout=10.0)[0].encoding == "rgb8"
    # Images at 10 Hz of sim time: stamps 100 ms apart (best effort may drop one).
    gaps = np.diff([ns(f.header.stamp) for f in frames])
    assert np.all(gaps > 0) and np.all(gaps % 100_000_000 == 0)

    ticks = [ns(m.clock) for m in clock.wait_for(20, timeout=60.0)]
    assert np.all(np.diff(ticks) > 0) and np.all(np.diff(ticks) % 20_000_000 == 0)
    # Joint states are stamped with sim time (on the 20 ms grid of /clock), not wall time.
    stamps = [ns(m.header.stamp) for m in left.messages[:20]]
    assert all(s % 20_000_000 == 0 for s in stamps) and max(stamps) < 3_600 * 10**9

    obj = objects.wait_for(1)[0]
    assert obj.name[0] == "cube_x" and len(obj.name) == len(obj.position)

    # A late subscriber still gets the latched task state.
    state = ros_node.collect(TaskState, "/sim/task_state", LATCHED).wait_for(1, timeout=10.0)[0]
    assert (state.task, state.seed, state.num_stages, state.done) == ("transfer_cube", 3, 4, False)
    assert state.time_limit.sec == pytest.approx(TASKS["transfer_cube"].time_limit_s) and state.stage_name


def command(names, positions) -> JointState:
    return JointState(name=list(names), position=[float(p) for p in positions])


def test_bad_commands_are_rejected_and_the_arm_holds(ros_node, sim_process):
    left = ros_node.collect(JointState, "/follower_left/joint_states", qos_profile_sensor_data)
    pub = ros_node.node.create_publisher(JointState, "/follower_left/command", COMMAND)
    sim = sim_process()
    ros_node.wait_for_subscribers("/follower_left/command")
    left.wait_for(1, timeout=60.0)

    good = list(HOME)
    good[0] = 0.3
    pub.publish(command(ARM_NAMES, good))
    wait_until(lambda: abs(left.messages[-1].position[0] - 0.3) < 0.02, 20.0, "the left waist to reach 0.3")

    toward = list(HOME)
    toward[0] = -0.5  # every bad command below would move the waist to -0.5 if it were executed
    bad = {
        "nan": command(ARM_NAMES, toward[:3] + [math.nan] + toward[4:]),
        "inf": command(ARM_NAMES, toward[:6] + [math.inf]),
        "wrong length": command(ARM_NAMES, toward[:6]),
        "unknown names": command(["left_" + n for n in ARM_NAMES], toward),
        "far outside limits": command(ARM_NAMES, toward[:2] + [4.0] + toward[3:]),
    }
    # Commands are keep-last 1 (only the latest matters): send each once the previous one was handled.
    for k, (what, msg) in enumerate(bad.items(), start=1):
        pub.publish(msg)
        wait_until(lambda: f"({k} rejected so far)" in sim.log(), 20.0, f"the {what} command to be rejected")
    mark = ns(left.messages[-1].header.stamp)
    left.wait_for(1, timeout=10.0, predicate=lambda m: ns(m.header.stamp) > mark + 500_000_000)
    after = [m.position[0] for m in left.messages if ns(m.header.stamp) > mark]
    assert max(abs(w - 0.3) for w in after) < 0.02, "the arm moved on a rejected command"
    log = sim.log()
    for reason in ("non-finite position for ['forearm_roll']", "non-finite position for ['gripper']",
                   "7 joint names but 6 positions", "unknown joint name(s) ['left_waist'",
                   "far outside the joint limits: elbow=4"):
        assert reason in log

    # A valid command afterwards is executed again.
    pub.publish(command(ARM_NAMES, toward))
    wait_until(lambda: abs(left.messages[-1].position[0] + 0.5) < 0.02, 20.0, "the left waist to reach -0.5")


def test_reset_and_task_state_services(ros_node, sim_process):
    states = ros_node.collect(TaskState, "/sim/task_state", LATCHED)
    reset = ros_node.node.create_client(ResetSim, "/sim/reset")
    query = ros_node.node.create_client(GetTaskState, "/sim/get_task_state")
    sim = sim_process(seed=1)
    states.wait_for(1, timeout=60.0)

    reply = call(reset, ResetSim.Request(task="", seed=42))
    assert reply.success, reply.message
    assert (reply.state.task, reply.state.seed, reply.state.stage, reply.state.done) == ("transfer_cube", 42, 0, False)
    new_id = reply.state.episode_id
    states.wait_for(1, timeout=10.0, predicate=lambda s: s.episode_id == new_id)
    assert call(query, GetTaskState.Request()).state.episode_id == new_id

    bad_task = call(reset, ResetSim.Request(task="kitchen", seed=1))
    assert not bad_task.success and "unknown task 'kitchen'" in bad_task.message
    bad_seed = call(reset, ResetSim.Request(task="", seed=2**64 - 1))
    assert not bad_seed.success and "invalid seed" in bad_seed.message
    # The running episode is untouched and the node is alive.
    assert bad_seed.state.episode_id == new_id
    later = call(query, GetTaskState.Request()).state
    assert later.episode_id == new_id and sim.proc.poll() is None
    assert "refused" in sim.log()


def test_a_paused_reset_holds_the_start_state_until_resumed(ros_node, sim_process):
    states = ros_node.collect(TaskState, "/sim/task_state", LATCHED)
    reset = ros_node.node.create_client(ResetSim, "/sim/reset")
    resume = ros_node.node.create_client(Trigger, "/sim/resume")
    query = ros_node.node.create_client(GetTaskState, "/sim/get_task_state")
    # As fast as possible: a running sim would be many steps into the episode by the next call.
    sim = sim_process(seed=1, real_time_factor=0.0, cameras="['none']")
    states.wait_for(1, timeout=60.0)
    not_paused = call(resume, Trigger.Request())
    assert not not_paused.success and "not paused" in not_paused.message

    reply = call(reset, ResetSim.Request(task="", seed=5, start_paused=True))
    assert reply.success, reply.message
    wait_until(lambda: "(paused until /sim/resume)" in sim.log(), 10.0, "the sim to log the pause")
    new_id = reply.state.episode_id
    # The start state is published at once (latched), and sim time stands still.
    states.wait_for(1, timeout=10.0, predicate=lambda s: s.episode_id == new_id)
    held = call(query, GetTaskState.Request()).state
    assert held.episode_id == new_id and ns(held.elapsed) == 0
    assert ns(call(query, GetTaskState.Request()).state.elapsed) == 0

    resumed = call(resume, Trigger.Request())
    assert resumed.success and new_id in resumed.message
    states.wait_for(1, timeout=10.0, predicate=lambda s: s.episode_id == new_id and ns(s.elapsed) > 0)
    assert not call(resume, Trigger.Request()).success  # running again: nothing to resume


def test_unknown_start_task_exits_with_a_clear_error(start_process):
    proc = start_process("recap_sim.sim_node", *sim_args(task="kitchen"))
    assert proc.wait(timeout=60.0) == 2
    assert "unknown task 'kitchen'" in proc.log()
