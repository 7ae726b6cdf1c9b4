"""After start-up, name every topic a node needs that nobody publishes (a misconfigured topic
name or a driver that is not running), instead of a graph that silently does nothing."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from recap_bringup.graph import NodeSpec


def silent_topics(specs: Iterable[NodeSpec], publisher_count: Callable[[str], int]) -> list[str]:
    """One message per required topic without a publisher."""
    problems = []
    for spec in specs:
        for topic in spec.required_topics:
            if publisher_count(topic) == 0:
                problems.append(f"{spec.name} needs {topic}, but nothing publishes it "
                                f"(check the driver or the topic name in the robot config)")
    return problems


def wait_for_publishers(specs: list[NodeSpec], timeout: float, domain_id: int | None = None) -> list[str]:
    """Watch the graph for up to `timeout` s; return the problems still present then."""
    import threading
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
            if not problems or time.monotonic() > deadline:
                return problems
            wake.wait(0.2)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
