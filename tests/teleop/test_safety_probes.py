"""Bad input on the live graph (sim + policy + arbitration over real DDS) never makes a command jump.

Three probes a user ran against the sim graph, replayed: a spurious follower reading (left waist
1 rad off for 100 ms), a +3 rad target flooding /policy/command, and a +2 rad leader reading while
the human is in control. After each, no joint of /executed_command moved more than max_step
between two commands, and no two commands went out in one control period.
Tests run in file order on one graph (module fixture `stack`).
"""
import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from recap_core.aloha_layout import JOINT_NAMES, arm_command, split_arms
from recap_core.robot_description import load_robot
from recap_msgs.msg import InterventionState
from ros_harness import wait_until
from stack_helpers import SIM_GRIPPER, LeaderArms, vector
from test_control_stack_integration import J, MAX_STEP, Live

pytestmark = pytest.mark.integration

PERIOD_NS = 20_000_000


@pytest.fixture(scope="module")
def live(stack) -> Live:
    live = Live(stack)
    lower, upper, _ = load_robot("aloha_sim").limits()
    live.target = np.clip(live.follower(), lower, upper)
    live.target[J["left_waist"]] += 0.1
    stack.server.target = live.target
    live.leader_rest = live.target.copy()
    stack.leader = LeaderArms(stack.node.node, live.leader_rest)
    live.wait_executed_near(live.target, "the policy's pose", timeout=60.0)
    return live


def burst(live: Live, topic: str, make_message, count: int, period_s: float) -> None:
    """Publish `count` messages on `topic`, one per `period_s` of the test node's clock."""
    node = live.stack.node.node
    publisher = node.create_publisher(JointState, topic, 10)
    sent = []

    def tick() -> None:
        if len(sent) < count:
            publisher.publish(make_message())
            sent.append(1)

    timer = node.create_timer(period_s, tick)
    try:
        wait_until(lambda: len(sent) >= count, 30.0, f"{count} messages on {topic}")
    finally:
        node.destroy_timer(timer)


def assert_no_jump(live: Live, start: int) -> None:
    """Over /executed_command from message `start` on (the probe's own)."""
    messages = live.executed.messages[max(0, start - 1):]
    executed = np.stack([vector(m) for m in messages])
    steps = np.abs(np.diff(executed, axis=0)).max(axis=1)
    assert steps.max() <= MAX_STEP + 1e-6, f"executed command jumped {steps.max():.4f} > {MAX_STEP}"
    periods = [(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec) // PERIOD_NS for m in messages]
    assert all(b > a for a, b in zip(periods, periods[1:])), "two commands in one control period"


def test_a_spurious_follower_reading_holds_the_arms_instead_of_jumping(live):
    left = live.stack.node.collect(JointState, "/follower_left/joint_states", qos_profile_sensor_data)
    left.wait_for(1, timeout=10.0)
    measured = live.follower()
    start = len(live.executed.messages)
    # The hold lasts only until the sim's next true reading: look for it from before the burst.
    states_before = len(live.states.messages)

    def spurious() -> JointState:
        arm = split_arms(measured)[0].copy()
        arm[0] -= 1.0  # left waist
        names, raw = arm_command(arm, SIM_GRIPPER)
        msg = JointState(name=names, position=raw)
        msg.header.stamp = live.stack.node.node.get_clock().now().to_msg()
        return msg

    burst(live, "/follower_left/joint_states", spurious, count=5, period_s=0.02)  # 100 ms
    state = live.wait_state(lambda s: s.source == InterventionState.SOURCE_SAFETY and "jumped" in s.detail,
                            "the jump hold in /intervention_state", since=states_before)
    assert "left_waist" in state.detail
    live.wait_state(lambda s: s.source != InterventionState.SOURCE_SAFETY, "the hold to end")
    live.wait_executed_near(live.target, "the policy to resume")
    assert_no_jump(live, start)
    assert "jumped without a reset" in live.stack.arbitration.log()


def test_a_flood_of_far_policy_commands_moves_one_step_per_period(live):
    far = live.target.copy()
    far[J["left_waist"]] += 3.0

    def command() -> JointState:
        return JointState(name=list(JOINT_NAMES), position=far.tolist())

    start = len(live.executed.messages)
    burst(live, "/policy/command", command, count=250, period_s=0.002)  # ~500 Hz for ~0.5 s
    live.wait_executed_near(live.target, "the policy to bring the arms back")
    executed = np.stack([vector(m) for m in live.executed.messages[start:]])
    assert executed[:, J["left_waist"]].max() > live.target[J["left_waist"]] + MAX_STEP  # the flood was executed
    assert_no_jump(live, start)


def test_a_far_leader_reading_in_human_mode_is_followed_one_step_per_period(live):
    live.stack.leader.pose = live.executed_vector()
    live.stack.node.wait_for_subscribers("/takeover/request")
    live.request.publish(Bool(data=True))
    live.wait_state(lambda s: s.human_in_control, "the takeover")
    held = live.executed_vector()
    live.stack.leader.pose = held
    live.wait_executed_near(held, "the arms at the leader's pose")
    start = len(live.executed.messages)
    far = held.copy()
    far[J["left_elbow"]] += 2.0
    live.stack.leader.pose = far
    wait_until(lambda: len(live.executed.messages) >= start + 5, 20.0, "100 ms of commands")
    live.stack.leader.pose = held
    live.wait_executed_near(held, "the arms back at the leader's pose")
    moved = np.stack([vector(m) for m in live.executed.messages[start:]])[:, J["left_elbow"]]
    assert moved.max() > held[J["left_elbow"]] + MAX_STEP / 2  # the far reading was followed, by steps
    live.request.publish(Bool(data=False))
    live.wait_state(lambda s: not s.human_in_control, "the hand back")
    assert_no_jump(live, start)
