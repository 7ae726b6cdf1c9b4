"""Arbitration node: policy or human command -> safety filter -> the arms, at control rate.

Thin by design: the state machine (arbitration), the safety filter and the tick (arbitration_core)
are ROS-free. In policy mode each /policy/command is forwarded as soon as it arrives (no timer
latency) unless this control period already had its command; then the timer forwards it at the next
period. The timer also ticks in human mode and whenever the policy falls silent (the watchdog holds).
"""
from __future__ import annotations

import sys

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState, Joy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

from recap_core.aloha_layout import JOINT_NAMES, arm_vector, reorder_by_name
from recap_core.stamps import seconds_to_ns, split_ns
from recap_msgs.msg import EpisodeEvent, InterventionState
from recap_teleop.takeover import ControlState, Source
from recap_teleop.arbitration_core import ArbitrationCore
from recap_teleop.command_adapters import AdapterUnavailable, make_adapter
from recap_teleop.config import PARAMETERS, ArbitrationNodeConfig
from recap_teleop.keyboard import KeyboardReader

RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def to_time_msg(t: float):
    from builtin_interfaces.msg import Time
    sec, nanosec = split_ns(seconds_to_ns(t))
    return Time(sec=sec, nanosec=nanosec)


class ArbitrationNode(Node):
    def __init__(self) -> None:
        super().__init__("arbitration_node")
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        cfg = self.config = ArbitrationNodeConfig.from_parameters(
            {name: self.get_parameter(name).value for name in PARAMETERS})
        self.core = ArbitrationCore(cfg.arbitration, cfg.safety)
        # Arm commands: reliable depth 1 - the newest command matters, but it must not be dropped.
        self.adapter = make_adapter(self, cfg.adapter, RELIABLE_1)
        self.executed_pub = self.create_publisher(JointState, "/executed_command", 10)  # recorder: keep every one
        # Latched: a late subscriber (recorder, UI) learns who is in control at once.
        self.state_pub = self.create_publisher(InterventionState, "/intervention_state", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._episode_id = ""
        self._published_key: tuple | None = None
        self._published_at = -1e18
        self._last_policy_at: float | None = None  # arrival of the latest policy command (own clock)
        self._policy_pending = False  # a policy command arrived in a period that already had its command
        self._joy_pressed = False

        self.create_subscription(JointState, cfg.policy_command_topic, self._on_policy_command, RELIABLE_1)
        for i, topic in enumerate(cfg.follower_joint_topics):
            self.create_subscription(JointState, topic, lambda m, i=i, t=topic: self._on_arm(m, i, t, leader=False),
                                     qos_profile_sensor_data)
        for i, topic in enumerate(cfg.leader_joint_topics):
            self.create_subscription(JointState, topic, lambda m, i=i, t=topic: self._on_arm(m, i, t, leader=True),
                                     qos_profile_sensor_data)
        self.create_subscription(Joy, cfg.joy_topic, self._on_joy, qos_profile_sensor_data)
        self.create_subscription(Bool, cfg.takeover_topic, self._on_takeover_topic, 10)
        self.create_subscription(Bool, cfg.estop_topic, self._on_estop, 10)
        self.create_subscription(EpisodeEvent, "/episode_events", self._on_episode_event, 100)
        self.create_service(SetBool, cfg.takeover_service, self._on_takeover_service)
        self.timer = self.create_timer(cfg.control_period, self._on_timer)

        self.keyboard: KeyboardReader | None = None
        if cfg.keyboard and KeyboardReader.available(sys.stdin):
            self.keyboard = KeyboardReader(sys.stdin, self._on_key)
            self.keyboard.start()
            self.get_logger().info(f"press '{cfg.takeover_key}' in this terminal to toggle human takeover")
        self.get_logger().info(f"arbitration: adapter={cfg.adapter.kind} watchdog={cfg.safety.watchdog_timeout_s}s "
                               f"max_step={cfg.safety.max_step} takeover_threshold={cfg.arbitration.takeover_threshold_rad}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # Inputs -------------------------------------------------------------------------------------------
    def _on_policy_command(self, msg: JointState) -> None:
        now = self._now()
        try:
            if tuple(msg.name) == JOINT_NAMES:  # fast path: the policy node sends JOINT_NAMES order
                command = np.asarray(msg.position, dtype=np.float64)
            else:
                command = reorder_by_name(msg.name, msg.position, source=self.config.policy_command_topic)
        except ValueError as exc:
            self.get_logger().error(f"ignored policy command: {exc}", throttle_duration_sec=2.0)
            return
        self.core.policy_command(command, now)
        self._last_policy_at = now
        if not self.core.human_in_control:
            # Forward at once (the policy stream is the clock in policy mode), once per control period.
            self._policy_pending = not self._tick(now)

    def _on_arm(self, msg: JointState, index: int, topic: str, leader: bool) -> None:
        gripper = self.config.leader_gripper if leader else self.config.adapter.gripper
        try:
            vec = arm_vector(msg.name, msg.position, gripper, source=topic)
        except ValueError as exc:
            self.get_logger().error(f"ignored joint state: {exc}", throttle_duration_sec=2.0)
            return
        if leader:
            self.core.leader(index, vec, self._now())
            return
        change = self.core.follower(index, vec, self._now())
        if change is not None:
            if self.core.jump_hold is not None:
                self.get_logger().error(f"{topic}: {change}")
            else:
                self.get_logger().warning(f"{topic}: {change}")
            self._publish_state(self.core.reported_state(), force=True)

    def _on_joy(self, msg: Joy) -> None:
        button = self.config.joy_button
        pressed = button < len(msg.buttons) and msg.buttons[button] != 0
        if pressed and not self._joy_pressed:  # rising edge: a press toggles
            self._request(not self.core.human_in_control, Source.PEDAL)
        self._joy_pressed = pressed

    def _on_takeover_topic(self, msg: Bool) -> None:
        self._request(bool(msg.data), Source.TOPIC)

    def _on_takeover_service(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        decision = self._request(bool(request.data), Source.SERVICE)
        response.success, response.message = decision.accepted, decision.message
        return response

    def _on_key(self, key: str) -> None:
        if key == self.config.takeover_key:
            self._request(not self.core.human_in_control, Source.KEYBOARD)

    def _on_estop(self, msg: Bool) -> None:
        self.core.set_estop(bool(msg.data), f"{self.config.estop_topic} is true")
        if msg.data:
            self.get_logger().error(f"e-stop ENGAGED on {self.config.estop_topic}: holding the arms")
        else:
            self.get_logger().info(f"e-stop released on {self.config.estop_topic}")

    def _on_episode_event(self, msg: EpisodeEvent) -> None:
        # Both re-sync the commanded pose to the arms' next measured pose: the robot side moved them.
        if msg.kind == EpisodeEvent.START:
            self._episode_id = msg.episode_id
            self.core.new_episode()
        elif msg.kind == EpisodeEvent.RESET:
            self.core.announce_reset()
            self.get_logger().info("robot reset announced: the command restarts from the next measured pose")
        elif msg.kind in (EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE, EpisodeEvent.ABORT):
            self._episode_id = ""

    def _request(self, human: bool, source: Source):
        decision = self.core.request(human, source, self._now())
        # Separate call sites: rclpy refuses one call site logging at two severities.
        if decision.accepted:
            self.get_logger().info(decision.message)
        else:
            self.get_logger().warning(decision.message)
        self._publish_state(self.core.arbitrator.state, force=True)
        return decision

    # Output ---------------------------------------------------------------------------------------------
    def _on_timer(self) -> None:
        now = self._now()
        # Silence is measured from the last policy command, not the last output: measured from the output,
        # the timer's own ticks would reset it and a silent policy would be watched at half the rate.
        silent = self._last_policy_at is None or now - self._last_policy_at >= 1.5 * self.config.control_period
        if self.core.human_in_control or silent or self._policy_pending:
            if self._tick(now):
                self._policy_pending = False

    def _tick(self, now: float) -> bool:
        """One control tick; False when this control period already had its command."""
        result = self.core.tick(now)
        if result is None:
            return False
        if result.output.command is not None:
            stamp = to_time_msg(now)
            self.adapter.publish(result.output.command, stamp)
            executed = JointState(name=list(JOINT_NAMES), position=result.output.command.tolist())
            executed.header.stamp = stamp
            self.executed_pub.publish(executed)
        self._publish_state(result.state)
        return True

    def _publish_state(self, s: ControlState, force: bool = False) -> None:
        now = self._now()
        key = (s.human_in_control, int(s.source), s.detail, s.intervention_count)
        if not force and key == self._published_key and now - self._published_at < self.config.state_period_s:
            return
        self._published_key, self._published_at = key, now
        msg = InterventionState(human_in_control=s.human_in_control, source=int(s.source), detail=s.detail,
                                episode_id=self._episode_id, intervention_count=s.intervention_count)
        msg.header.stamp = to_time_msg(now)
        msg.since = to_time_msg(s.since)
        self.state_pub.publish(msg)

    def close(self) -> None:
        if self.keyboard is not None:
            self.keyboard.stop()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = ArbitrationNode()
        except (ValueError, AdapterUnavailable) as exc:
            print(f"arbitration_node: cannot start: {exc}", file=sys.stderr)
            return 2
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
