"""Test process: a managed node that appends "<name> <transition>" to its `log_file` parameter at
each transition, and fails to configure with `fail_configure` as its message when that is set."""
import rclpy
from rclpy.executors import ExternalShutdownException

from recap_lifecycle.managed_node import ConfigureError, ManagedNode


class Probe(ManagedNode):
    def __init__(self) -> None:
        super().__init__("managed_probe")
        self.declare_parameter("log_file", "")
        self.declare_parameter("fail_configure", "")

    def _note(self, transition: str) -> None:
        with open(self.get_parameter("log_file").value, "a") as log:
            log.write(f"{self.get_name()} {transition}\n")

    def configure(self) -> None:
        self._note("configure")
        message = self.get_parameter("fail_configure").value
        if message:
            raise ConfigureError(message)

    def activate(self) -> None:
        self._note("activate")


def main() -> None:
    rclpy.init()
    node = Probe()
    node.start()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
