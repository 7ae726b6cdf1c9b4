"""Watch a graph come up: stop at once when a node process exits (a missing checkpoint, a bad
parameter), with that node's own message; otherwise name every topic a node needs that nobody
publishes (a misconfigured topic name or a driver that is not running), instead of a graph that
silently does nothing."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from recap_bringup.graph import NodeSpec

if TYPE_CHECKING:
    from recap_bringup.process_group import NodeProcesses


class NodeExitedAtStartup(RuntimeError):
    """A node process ended while the graph was coming up; the message holds each one's exit code
    and last output."""


def silent_topics(specs: Iterable[NodeSpec], publisher_count: Callable[[str], int]) -> list[str]:
    """One message per required topic without a publisher."""
    problems = []
    for spec in specs:
        for topic in spec.required_topics:
            if publisher_count(topic) == 0:
                problems.append(f"{spec.name} needs {topic}, but nothing publishes it "
                                f"(check the driver or the topic name in the robot config)")
    return problems


def watch_startup(group: NodeProcesses, timeout: float, cancelled: threading.Event | None = None) -> list[str]:
    """Wait up to `timeout` s for every required topic of `group` to have a publisher; return the
    problems still present then. Raises NodeExitedAtStartup as soon as any node process has ended."""
    problems = wait_for_publishers(list(group.specs.values()), timeout, group.domain_id,
                                   give_up=lambda: bool(group.exited()) or bool(cancelled and cancelled.is_set()))
    exited = group.exited()
    if exited:
        raise NodeExitedAtStartup("\n".join(group.exit_report(name) for name in exited))
    return problems


def wait_for_publishers(specs: list[NodeSpec], timeout: float, domain_id: int | None = None,
                        give_up: Callable[[], bool] = lambda: False) -> list[str]:
    """Watch the graph for up to `timeout` s, or until `give_up()`; return the problems present then."""
    import time

    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = Node("recap_startup_check", context=context)
    wake = threading.Event()
    try:
        deadline = time.monotonic() + timeout
        while True:
            problems = silent_topics(specs, node.count_publishers)
            if not problems or time.monotonic() > deadline or give_up():
                return problems
            wake.wait(0.2)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
