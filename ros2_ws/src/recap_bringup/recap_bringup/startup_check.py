"""Bring a graph up and watch it: stop at once when a node process exits (a bad parameter, a crash),
with that node's own message; configure and activate the managed nodes in order, stopping with the
node's own message when one fails (recap_lifecycle.transitions.TransitionError); then name every
topic a node needs that nobody publishes, that is published with another type than the robot
description says (a camera described `raw` published as CompressedImage), or whose JointState lacks
a joint the description maps, instead of a graph that silently does nothing."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from recap_bringup.graph import JOINT_STATE, NodeSpec, managed_nodes

if TYPE_CHECKING:
    from recap_bringup.process_group import NodeProcesses

POLL_S = 0.2  # how long one wait for graph events lasts before the conditions are checked again


class NodeExitedAtStartup(RuntimeError):
    """A node process ended while the graph was coming up; the message holds each one's exit code
    and last output."""


def topic_problems(specs: Iterable[NodeSpec], publisher_types: Callable[[str], list[str]],
                   joints_heard: Callable[[str], Sequence[str] | None]) -> list[str]:
    """One message per required topic that is silent, of another type, or lacks a described joint.

    `publisher_types(topic)`: the message type of each publisher; `joints_heard(topic)`: the joint
    names of a JointState received on it, None while none has arrived."""
    problems = []
    for spec in specs:
        for topic in spec.required_topics:
            types = publisher_types(topic.name)
            if not types:
                problems.append(f"{spec.name} needs {topic.name}, but nothing publishes it "
                                f"(check the driver, or the topic in the robot description)")
            elif topic.msgtype not in types:
                problems.append(f"{spec.name} needs {topic.name} as {topic.msgtype}, but it is published as "
                                f"{', '.join(sorted(set(types)))} (check the encoding in the robot description)")
            elif topic.joints:
                heard = joints_heard(topic.name)
                if heard is None:
                    problems.append(f"{spec.name} needs {topic.name}, which has a publisher but sent no message")
                    continue
                missing = [j for j in topic.joints if j not in heard]
                if missing:
                    problems.append(f"{spec.name} needs joint(s) {missing} on {topic.name}, which publishes "
                                    f"{list(heard)} (check the arm's joints and gripper in the robot description)")
    return problems


class GraphObserver:
    """A node of its own in the graph's domain that sees publishers, services and joint names."""

    def __init__(self, specs: Iterable[NodeSpec], domain_id: int | None) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node("recap_startup_check", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._joints: dict[str, tuple[str, ...]] = {}
        joint_topics = {t.name for spec in specs for t in spec.required_topics if t.joints and t.msgtype == JOINT_STATE}
        for topic in sorted(joint_topics):
            # Best effort matches reliable and best-effort publishers alike; one message is enough.
            self.node.create_subscription(JointState, topic, lambda msg, t=topic: self._heard(t, msg),
                                          qos_profile_sensor_data)

    def _heard(self, topic: str, msg) -> None:
        self._joints[topic] = tuple(msg.name)

    def publisher_types(self, topic: str) -> list[str]:
        return [info.topic_type for info in self.node.get_publishers_info_by_topic(topic)]

    def joints_heard(self, topic: str) -> tuple[str, ...] | None:
        return self._joints.get(topic)

    def has_lifecycle_service(self, name: str) -> bool:
        return self.node.count_services(f"/{name}/change_state") > 0

    def spin(self) -> None:
        """Handle what arrived, waiting at most POLL_S for it."""
        self.executor.spin_once(timeout_sec=POLL_S)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def watch_startup(group: NodeProcesses, timeout: float, cancelled: threading.Event | None = None) -> list[str]:
    """Bring `group` up: wait up to `timeout` s for its managed nodes' lifecycle services, configure
    and activate them in order, then wait up to `timeout` s for every required topic to be right;
    return the problems still present then.

    Raises NodeExitedAtStartup as soon as any node process has ended, and TransitionError (the
    node's own message) when a managed node fails a transition."""
    from recap_lifecycle.transitions import TransitionError, drive_transitions

    specs = list(group.specs.values())
    managed = managed_nodes(specs)

    def give_up() -> bool:
        return bool(group.exited()) or bool(cancelled and cancelled.is_set())

    def raise_if_exited() -> None:
        exited = group.exited()
        if exited:
            raise NodeExitedAtStartup("\n".join(group.exit_report(name) for name in exited))

    observer = GraphObserver(specs, group.domain_id)
    try:
        wait(observer, lambda: all(observer.has_lifecycle_service(n) for n in managed), timeout, give_up)
        raise_if_exited()
        if cancelled and cancelled.is_set():
            return []
        try:
            drive_transitions(managed, domain_id=group.domain_id, timeout_s=timeout, give_up=give_up)
        except TransitionError:
            raise_if_exited()  # a node that died during its transition says more in its output
            if cancelled and cancelled.is_set():
                return []
            raise
        problems: list[str] = []

        def settled() -> bool:
            problems[:] = topic_problems(specs, observer.publisher_types, observer.joints_heard)
            return not problems

        wait(observer, settled, timeout, give_up)
        raise_if_exited()
        return problems
    finally:
        observer.close()


def wait(observer: GraphObserver, done: Callable[[], bool], timeout: float, give_up: Callable[[], bool]) -> None:
    """Spin `observer` until `done()`, `give_up()` or `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while not done() and not give_up() and time.monotonic() < deadline:
        observer.spin()
