"""The arbitration node's tick schedule, driven in-process with a controlled clock (no DDS timing).

The node's callbacks are called directly, as the executor would, with `_now` fixed per call: which
calls publish, and when the watchdog holds, follow from the node's logic alone.
"""
from collections.abc import Iterator

import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import JointState

from recap_core.aloha_layout import JOINT_NAMES, split_arms
from recap_teleop.takeover import Source
from recap_teleop.arbitration_node import ArbitrationNode

PERIOD = 0.02
WATCHDOG = 0.2
POSE = np.array([0.0, -0.9, 1.3, 0.0, 0.1, 0.0, 0.5] * 2)


class Published:
    def __init__(self) -> None:
        self.messages: list = []

    def publish(self, msg) -> None:
        self.messages.append(msg)


@pytest.fixture
def node() -> Iterator[ArbitrationNode]:
    rclpy.init(args=["--ros-args", "-p", "keyboard:=false", "-p", f"watchdog_timeout_s:={WATCHDOG}",
                     "-p", f"control_rate_hz:={1 / PERIOD}"])
    node = ArbitrationNode()
    try:
        node.destroy_timer(node.timer)  # the test calls _on_timer itself, at chosen times
        node.executed_pub, node.state_pub = Published(), Published()
        for i, arm in enumerate(split_arms(POSE)):
            node.core.follower(i, arm, 0.0)
        yield node
    finally:
        node.destroy_node()
        rclpy.shutdown()


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
