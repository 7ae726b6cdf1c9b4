"""Test process: a managed node that appends "<name> <transition>" to its `log_file` parameter (if
set) at each transition, fails to configure with `fail_configure` as its message when that is set,
segfaults right after its first configure when `crash_once` names a file that does not exist yet (it
creates it), and while active publishes a counter on /<name>/ticks (a lifecycle publisher) and a status."""
import ctypes
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from std_msgs.msg import Int32

from recap_core.diagnostics import Level, Status
from recap_lifecycle.managed_node import ConfigureError, ManagedNode


class Probe(ManagedNode):
    def __init__(self) -> None:
        super().__init__("managed_probe")
        self.declare_parameter("log_file", "")
        self.declare_parameter("fail_configure", "")
        self.declare_parameter("crash_once", "")
        self.ticks = 0

    def _note(self, transition: str) -> None:
        if self.get_parameter("log_file").value:
            with open(self.get_parameter("log_file").value, "a") as log:
                log.write(f"{self.get_name()} {transition}\n")

    def configure(self) -> None:
        self._note("configure")
        message = self.get_parameter("fail_configure").value
        if message:
            raise ConfigureError(message)
        self.pub = self.create_lifecycle_publisher(Int32, f"/{self.get_name()}/ticks", 10)
        self.timer = self.create_timer(0.05, self._tick)
        marker = self.get_parameter("crash_once").value
        if marker and not Path(marker).exists():
            Path(marker).touch()
            self.create_timer(0.0, lambda: ctypes.string_at(0))  # a real segfault, in the executor as a crash would be

    def _tick(self) -> None:
        self.ticks += 1
        self.pub.publish(Int32(data=self.ticks))

    def activate(self) -> None:
        self._note("activate")

    def cleanup(self) -> None:
        self.destroy_timer(self.timer)
        self.destroy_lifecycle_publisher(self.pub)

    def diagnostic_statuses(self) -> list[Status]:
        return [Status(f"{self.get_name()}: ticks", Level.OK, "counting", {"ticks": self.ticks})]


def main() -> None:
    rclpy.init()
    node = Probe()
    try:
        node.start()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
