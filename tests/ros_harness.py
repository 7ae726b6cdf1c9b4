"""Helpers for tests that start real rclpy nodes over Fast DDS on loopback.

Isolation: conftest gives every pytest session its own ROS_DOMAIN_ID (inherited by node
processes) and localhost-only discovery, so parallel runs on one machine never see each other.
Synchronisation: tests wait on events (a message arrived, a peer matched, a process exited),
never on fixed sleeps.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.01) -> None:
    """Wait for `condition()` to become true, or fail the test saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    wake = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        wake.wait(poll)


class MessageCollector:
    """Collects every message of one subscription; waiting is on a condition variable."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, msg: Any) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait_for(self, count: int = 1, timeout: float = 10.0,
                 predicate: Callable[[Any], bool] | None = None) -> list[Any]:
        """Return once `count` messages (matching `predicate`, if given) have arrived."""
        def matching() -> list[Any]:
            return [m for m in self.messages if predicate is None or predicate(m)]
        with self._cond:
            ok = self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            got = matching()
        if not ok:
            raise AssertionError(f"got {len(got)} of {count} expected messages within {timeout:.1f} s")
        return got


class SpinningNode:
    """A node on its own rclpy context, spun by a background executor thread.

    Use as a context manager; everything is shut down on exit.
    """

    def __init__(self, name: str, domain_id: int | None = None) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"spin-{name}", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the context was shut down under the executor: normal teardown
            if self.context.ok():
                raise

    def collect(self, msg_type: type, topic: str, qos: QoSProfile | int = 10,
                raw: bool = False) -> MessageCollector:
        collector = MessageCollector()
        self.node.create_subscription(msg_type, topic, collector, qos, raw=raw)
        return collector

    def wait_for_publishers(self, topic: str, count: int = 1, timeout: float = 10.0) -> None:
        wait_until(lambda: self.node.count_publishers(topic) >= count, timeout,
                   f"{count} publisher(s) on {topic}")

    def wait_for_subscribers(self, topic: str, count: int = 1, timeout: float = 10.0) -> None:
        wait_until(lambda: self.node.count_subscribers(topic) >= count, timeout,
                   f"{count} subscriber(s) on {topic}")

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        self._thread.join(timeout=5.0)

    def __enter__(self) -> "SpinningNode":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NodeProcess:
    """A node (or any Python module) in a separate process, with its output kept in a log file.

    `python -m <module> <args>` with the test session's environment (domain id, venv, workspace).
    """

    def __init__(self, module: str, args: list[str], log_dir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.module = module
        self.log_path = log_dir / f"{module.replace('.', '_')}.{os.getpid()}.{id(self)}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", module, *args],
            stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.module} did not exit within {timeout:.1f} s; log:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT (what ctrl-C and ros2 launch send), then SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(subprocess.signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
