"""A minimal managed node for the lifecycle tests: `fail_configure:=true` makes configure fail with a
known message; while active it publishes a counter on /managed_test/ticks (a lifecycle publisher)."""
from __future__ import annotations

import rclpy
from std_msgs.msg import Int32

from recap_core.diagnostics import Level, Status
from recap_lifecycle.managed_node import ConfigureError, ManagedNode


class TestNode(ManagedNode):
    def __init__(self) -> None:
        super().__init__("managed_test_node")
        self.declare_parameter("fail_configure", False)
        self.ticks = 0

    def configure(self) -> None:
        if self.get_parameter("fail_configure").value:
            raise ConfigureError("the checkpoint /nowhere does not exist")
        self.pub = self.create_lifecycle_publisher(Int32, "/managed_test/ticks", 10)
        self.timer = self.create_timer(0.05, self._tick)

    def _tick(self) -> None:
        self.ticks += 1
        self.pub.publish(Int32(data=self.ticks))

    def cleanup(self) -> None:
        self.destroy_timer(self.timer)
        self.destroy_lifecycle_publisher(self.pub)

    def diagnostic_statuses(self) -> list[Status]:
        return [Status("managed_test_node: ticks", Level.OK, "counting", {"ticks": self.ticks, "ok": True})]


def main() -> None:
    rclpy.init()
    node = TestNode()
    try:
        node.start()
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
