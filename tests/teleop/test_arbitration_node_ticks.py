"""The arbitration node's tick schedule, driven in-process with a controlled clock (no DDS timing).

The node's callbacks are called directly, as the executor would, with `_now` fixed per call: which
calls publish, and when the watchdog holds, follow from the node's logic alone.
"""
from collections.abc import Iterator

import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from recap_core.diagnostics import Level
from recap_teleop.arbitration_node import ArbitrationNode
from recap_teleop.takeover import Source
from robots import ALOHA, split

JOINT_NAMES = ALOHA.joint_names

PERIOD = 0.02
WATCHDOG = 0.2
POSE = np.array([0.0, -0.9, 1.3, 0.0, 0.1, 0.0, 0.5] * 2)


class Published:
    def __init__(self) -> None:
        self.messages: list = []

    def publish(self, msg, *stamp) -> None:
        self.messages.append(msg)


def report_arms(node: ArbitrationNode, pose: np.ndarray, times: int = 2) -> None:
    for _ in range(times):  # activation restarts the command from the next measured pose
        for i, arm in enumerate(split_arms(pose)):
            node.core.follower(i, arm, 0.0)


@pytest.fixture
def node() -> Iterator[ArbitrationNode]:
    rclpy.init(args=["--ros-args", "-p", "keyboard:=false", "-p", f"watchdog_timeout_s:={WATCHDOG}",
                     "-p", "robot:=aloha_sim"])  # 50 Hz
    node = ArbitrationNode()
    try:
        node.start()
        node.destroy_timer(node.timer)  # the test calls _on_timer itself, at chosen times
        node.executed_pub, node.state_pub = Published(), Published()
        node.adapter = Published()
        report_arms(node, POSE)
        yield node
    finally:
        node.destroy_node()
        rclpy.shutdown()


def split_arms(vector: np.ndarray) -> list[np.ndarray]:
    return split(ALOHA, vector)


def at(node: ArbitrationNode, t: float, callback, *args) -> None:
    node._now = lambda: t
    callback(*args)


def test_a_silent_policy_is_watched_every_period_and_held_at_the_first_tick_past_the_timeout(node):
    for k in range(5):  # a live policy: each command is forwarded on arrival
        at(node, k * PERIOD, node._on_policy_command, JointState(name=list(JOINT_NAMES), position=POSE.tolist()))
    last = 4 * PERIOD
    assert len(node.executed_pub.messages) == 5
    timer_times = [last + k * PERIOD for k in range(1, 20)]
    for t in timer_times:
        before = len(node.executed_pub.messages)
        at(node, t, node._on_timer)
        ticked = len(node.executed_pub.messages) > before
        # One period after the last command is normal jitter; from 1.5 periods on, every timer call ticks.
        assert ticked == (t - last >= 1.5 * PERIOD - 1e-9), f"t={t - last:.2f} s after the last command"
    holds = [m for m in node.state_pub.messages if "watchdog" in m.detail]
    held_at = holds[0].header.stamp.sec + holds[0].header.stamp.nanosec * 1e-9
    first_past_timeout = min(t for t in timer_times if t - last > WATCHDOG + 1e-9)
    assert held_at == pytest.approx(first_past_timeout)
    held = [np.asarray(m.position) for m in node.executed_pub.messages[-5:]]
    assert all(np.array_equal(h, POSE) for h in held)


def test_a_live_policy_is_not_duplicated_by_the_timer(node):
    for k in range(10):
        at(node, k * PERIOD, node._on_policy_command, JointState(name=list(JOINT_NAMES), position=POSE.tolist()))
        at(node, k * PERIOD + PERIOD / 2, node._on_timer)
    assert len(node.executed_pub.messages) == 10


def test_timer_catch_up_after_a_clock_jump_sends_one_command_per_period(node):
    """On sim time a clock that jumps several periods makes a ROS timer fire several times at the same
    instant to catch up. In human mode each firing is a tick: only the first may command the arms."""
    for i, arm in enumerate(split_arms(POSE)):
        node.core.leader(i, arm, 0.0)
    assert node.core.request(True, Source.TOPIC, 0.0).accepted
    leader = POSE.copy()
    leader[2] += 0.5  # the human moves the leader's elbow far: the arms follow one step per period
    for t in (0.0, 0.1, 0.1, 0.1, 0.1, 0.12):  # the clock jumped from 0 to 0.1 s: four firings at 0.1
        for i, arm in enumerate(split_arms(leader)):
            node.core.leader(i, arm, t)
        at(node, t, node._on_timer)
    executed = [np.asarray(m.position) for m in node.executed_pub.messages]
    assert len(executed) == 3
    steps = np.abs(np.diff(np.stack([POSE] + executed), axis=0)).max(axis=1)
    assert steps.max() <= 0.05 + 1e-12


def policy(node: ArbitrationNode, t: float, pose: np.ndarray = POSE) -> None:
    at(node, t, node._on_policy_command, JointState(name=list(JOINT_NAMES), position=pose.tolist()))


def test_an_inactive_node_sends_nothing_before_activation_and_after_deactivation(node):
    assert node.trigger_deactivate() and not node.is_active
    for k in range(5):
        policy(node, k * PERIOD)
        at(node, k * PERIOD + PERIOD / 2, node._on_timer)
    assert node.adapter.messages == [] and node.executed_pub.messages == [] and node.state_pub.messages == []
    reply = node._on_takeover_service(SetBool.Request(data=True), SetBool.Response())
    assert not reply.success and "not active" in reply.message
    node.trigger_activate()
    report_arms(node, POSE, times=1)
    policy(node, 1.0)
    assert len(node.adapter.messages) == 1  # active: forwarded at once
    node.trigger_deactivate()
    policy(node, 1.02)
    at(node, 1.5, node._on_timer)
    assert len(node.adapter.messages) == 1
    statuses = {s.name: s for s in node.diagnostic_statuses()}
    assert statuses["arbitration_node: watchdog"].level == Level.WARN
    assert statuses["arbitration_node: mode"].values["mode"] == "hold"


def test_home_service_reaches_home_one_bounded_step_per_period_and_is_refused_while_the_policy_drives(node):
    policy(node, 0.0)
    reply = node._on_home(Trigger.Request(), Trigger.Response())
    assert not reply.success and "policy is driving" in reply.message
    at(node, 1.0, node._on_timer)  # the policy fell silent: the watchdog holds
    statuses = {s.name: s for s in node.diagnostic_statuses()}
    assert statuses["arbitration_node: mode"].values["mode"] == "hold"
    assert "watchdog" in statuses["arbitration_node: watchdog"].values["watchdog"]
    assert statuses["arbitration_node: watchdog"].level == Level.WARN
    reply = node._on_home(Trigger.Request(), Trigger.Response())
    assert reply.success, reply.message
    start = len(node.adapter.messages)
    for k in range(1, 200):
        at(node, 1.0 + k * PERIOD, node._on_timer)
    commands = np.stack([POSE] + node.adapter.messages[start:])
    assert np.abs(np.diff(commands, axis=0)).max() <= 0.05 + 1e-12
    np.testing.assert_allclose(commands[-1], ALOHA.home_pose())
    assert node.state_pub.messages[-1].detail == "at home"
    rate = {s.name: s for s in node.diagnostic_statuses()}["arbitration_node: commands"]
    assert "command_rate_hz" in rate.values
