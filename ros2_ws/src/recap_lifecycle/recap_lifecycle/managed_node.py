"""The base of RECAP-ROS's managed nodes (policy, arbitration, recorder): lifecycle hooks that fail
with a message, an `autostart` parameter, and /diagnostics in every state.

A subclass overrides `configure` (read parameters and the robot description, load the checkpoint,
create subscriptions), `activate` (start acting), `deactivate` (stop publishing), `cleanup` and
`diagnostic_statuses`. An exception from `configure` fails the transition: the node logs it, stays
unconfigured and reports the message as an ERROR status on /diagnostics, where the graph's
transition driver (recap_lifecycle.transitions) reads it to stop the graph with the node's own words.

Why autostart defaults to true: a node started on its own (`ros2 run`, tests) should just run; the
bringup graph sets it false and drives configure and activate across the nodes in order.
"""
from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleState, Node, TransitionCallbackReturn

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from recap_core.diagnostics import Level, Status, value_text

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0


class ConfigureError(RuntimeError):
    """A node cannot be configured; the message says what to fix."""


class ManagedNode(Node):
    def __init__(self, node_name: str, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.declare_parameter("autostart", True, ParameterDescriptor(
            description="configure and activate at startup; the bringup graph sets false and drives the transitions"))
        self.lifecycle_state = "unconfigured"  # unconfigured | inactive | active | finalized
        self.failure = ""  # the last failed transition's message, until a transition succeeds
        self.hardware_id = ""  # the robot, as diagnostics name it; subclasses set it in configure
        self._diagnostics = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)

    # Hooks for subclasses.
    def configure(self) -> None: ...
    def activate(self) -> None: ...
    def deactivate(self) -> None: ...
    def cleanup(self) -> None: ...

    def diagnostic_statuses(self) -> list[Status]:
        return []

    @property
    def is_active(self) -> bool:
        return self.lifecycle_state == "active"

    def start(self) -> None:
        """Configure and activate now if `autostart` is set; raises ConfigureError if that fails."""
        if not self.get_parameter("autostart").value:
            self.get_logger().info("waiting to be configured and activated (autostart is false)")
            return
        self.trigger_configure()
        if self.lifecycle_state != "inactive":
            raise ConfigureError(self.failure or f"{self.get_name()} did not configure")
        self.trigger_activate()
        if self.lifecycle_state != "active":
            raise ConfigureError(self.failure or f"{self.get_name()} did not activate")

    # rclpy lifecycle callbacks.
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._run("configure", self.configure, "inactive", state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # enables the lifecycle publishers first
        if result != TransitionCallbackReturn.SUCCESS:
            return result
        return self._run("activate", self.activate, "active", state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = self._run("deactivate", self.deactivate, "inactive", state)
        return super().on_deactivate(state) if result == TransitionCallbackReturn.SUCCESS else result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._run("clean up", self.cleanup, "unconfigured", state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.lifecycle_state == "active":
            self._run("deactivate", self.deactivate, "inactive", state)
        if self.lifecycle_state == "inactive":
            self._run("clean up", self.cleanup, "unconfigured", state)
        self.lifecycle_state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def _run(self, what: str, hook, reached: str, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            hook()
        except Exception as exc:  # noqa: BLE001 - any failure is reported with the node's message
            self.failure = f"{self.get_name()} failed to {what}: {exc}"
            self.get_logger().error(self.failure)
            self.publish_diagnostics()
            return TransitionCallbackReturn.FAILURE
        self.failure = ""
        self.lifecycle_state = reached
        self.get_logger().info(f"{what}: now {reached}")
        return TransitionCallbackReturn.SUCCESS

    def lifecycle_status(self) -> Status:
        name = f"{self.get_name()}: lifecycle"
        if self.failure:
            return Status(name, Level.ERROR, self.failure, {"state": self.lifecycle_state})
        level = Level.OK if self.is_active else Level.WARN
        return Status(name, level, self.lifecycle_state, {"state": self.lifecycle_state})

    def publish_diagnostics(self) -> None:
        statuses = [self.lifecycle_status()]
        if self.lifecycle_state in ("inactive", "active"):
            statuses += self.diagnostic_statuses()
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [to_message(s, self.hardware_id) for s in statuses]
        self._diagnostics.publish(msg)


def to_message(status: Status, hardware_id: str = "") -> DiagnosticStatus:
    return DiagnosticStatus(level=bytes([int(status.level)]), name=status.name, message=status.message,
                            hardware_id=hardware_id,
                            values=[KeyValue(key=k, value=value_text(v)) for k, v in status.values.items()])


def from_message(msg: DiagnosticStatus) -> Status:
    """The ROS-free view of a received status (values stay text)."""
    level = msg.level[0] if isinstance(msg.level, (bytes, bytearray)) else int(msg.level)
    return Status(msg.name, Level(level), msg.message, {kv.key: kv.value for kv in msg.values})
