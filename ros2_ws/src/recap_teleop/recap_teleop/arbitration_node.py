"""Arbitration node: policy or human command -> safety filter -> the arms, at control rate.

A managed (lifecycle) node. configure reads the robot description (`robot`): the follower and leader
JointState topics and joints, the grippers' calibration, the joint limits, the control rate and the
command adapter with its topics; it creates the subscriptions, services and publishers. activate
starts commanding the arms, from their next measured pose. An inactive node publishes nothing (no
commands, no hold): the drivers keep the arms at the last command they received.

Thin by design: the state machine (arbitration), the safety filter and the tick (arbitration_core)
are ROS-free. In policy mode each /policy/command is forwarded as soon as it arrives (no timer
latency) unless this control period already had its command; then the timer forwards it at the next
period. The timer also ticks in human mode, while homing, and whenever the policy falls silent (the
watchdog holds).
"""
from __future__ import annotations

import sys

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState, Joy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from recap_core.aloha_layout import JointNameError, vector_by_name
from recap_core.diagnostics import Level, Status
from recap_core.robot_description import RobotDescriptionError, load_robot
from recap_core.stamps import seconds_to_ns, split_ns
from recap_lifecycle.managed_node import ConfigureError, ManagedNode
from recap_lifecycle.spin import spin_until_shutdown
from recap_msgs.msg import EpisodeEvent, InterventionState
from recap_teleop.arbitration_core import ArbitrationCore
from recap_teleop.command_adapters import AdapterUnavailable, make_adapter
from recap_teleop.config import PARAMETERS, ArbitrationNodeConfig
from recap_teleop.console_requests import HOME
from recap_teleop.keyboard import KeyboardReader
from recap_teleop.takeover import ControlState, Decision, Source

NAME = "arbitration_node"
RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def to_time_msg(t: float):
    from builtin_interfaces.msg import Time
    sec, nanosec = split_ns(seconds_to_ns(t))
    return Time(sec=sec, nanosec=nanosec)


class ArbitrationNode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__(NAME, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.config: ArbitrationNodeConfig | None = None
        self.core: ArbitrationCore | None = None
        self.keyboard: KeyboardReader | None = None
        self._entities: list = []  # what configure created, destroyed by cleanup

    # Lifecycle ----------------------------------------------------------------------------------------
    def configure(self) -> None:
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        try:
            robot = load_robot(str(p["robot"]))
            cfg = ArbitrationNodeConfig.from_parameters(p, robot)
        except (RobotDescriptionError, ValueError) as exc:
            raise ConfigureError(str(exc)) from exc
        self.config, self.hardware_id = cfg, robot.name
        self.core = ArbitrationCore(cfg.arbitration, cfg.safety, cfg.layout)
        # Arm commands: reliable depth 1 - the newest command matters, but it must not be dropped.
        try:
            self.adapter = make_adapter(self, cfg.adapter, RELIABLE_1)
        except AdapterUnavailable as exc:
            raise ConfigureError(str(exc)) from exc
        self.executed_pub = self.create_lifecycle_publisher(JointState, "/executed_command", 10)  # recorder: every one
        # Latched: a late subscriber (recorder, UI) learns who is in control at once.
        self.state_pub = self.create_lifecycle_publisher(InterventionState, "/intervention_state", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._episode_id = ""
        self._published_key: tuple | None = None
        self._published_at = -1e18
        self._last_policy_at: float | None = None  # arrival of the latest policy command (own clock)
        self._policy_pending = False  # a policy command arrived in a period that already had its command
        self._joy_pressed = False
        self._hold_reason = "no command yet"  # why the latest tick held ("" when it did not)

        subs = [self.create_subscription(JointState, cfg.policy_command_topic, self._on_policy_command, RELIABLE_1)]
        for leader, arms in ((False, robot.follower_arms), (True, robot.leader_arms)):
            for i, arm in enumerate(arms):
                subs.append(self.create_subscription(
                    JointState, arm.joint_states, lambda m, i=i, a=arm, ld=leader: self._on_arm(m, i, a, ld),
                    qos_profile_sensor_data))
        subs += [self.create_subscription(Joy, cfg.joy_topic, self._on_joy, qos_profile_sensor_data),
                 self.create_subscription(Bool, cfg.takeover_topic, self._on_takeover_topic, 10),
                 self.create_subscription(Bool, cfg.estop_topic, self._on_estop, 10),
                 self.create_subscription(EpisodeEvent, "/episode_events", self._on_episode_event, 100)]
        services = [self.create_service(SetBool, cfg.takeover_service, self._on_takeover_service),
                    self.create_service(Trigger, HOME, self._on_home)]
        self.timer = self.create_timer(cfg.control_period, self._on_timer)
        self._entities = [("subscription", s) for s in subs] + [("service", s) for s in services] + [
            ("timer", self.timer), *(("lifecycle_publisher", pub) for pub in
                                     (self.executed_pub, self.state_pub, *self.adapter.publishers))]
        if cfg.keyboard and KeyboardReader.available(sys.stdin):
            self.keyboard = KeyboardReader(sys.stdin, self._on_key)
            self.keyboard.start()
            self.get_logger().info(f"press '{cfg.takeover_key}' in this terminal to toggle human takeover")
        self.get_logger().info(f"arbitration: robot={robot.name} ({len(cfg.layout.joint_names)} joints) "
                               f"adapter={cfg.adapter.kind} watchdog={cfg.safety.watchdog_timeout_s}s "
                               f"max_step={cfg.safety.max_step} takeover_threshold={cfg.arbitration.takeover_threshold_rad}")

    def activate(self) -> None:
        # The arms may have moved while nothing commanded them: restart from their next measured pose.
        self.core.announce_reset()

    def deactivate(self) -> None:
        self._policy_pending = False

    def cleanup(self) -> None:
        if self.keyboard is not None:
            self.keyboard.stop()
            self.keyboard = None
        for kind, entity in self._entities:
            getattr(self, f"destroy_{kind}")(entity)
        self._entities, self.core, self.config = [], None, None

    def diagnostic_statuses(self) -> list[Status]:
        core, now = self.core, self._now()
        mode, estop = core.mode() if self.is_active else "hold", core.filter.estop_reason is not None
        if not self.is_active:
            watchdog, level = "node inactive: no commands are sent", Level.WARN
        else:
            watchdog, level = (self._hold_reason, Level.WARN) if self._hold_reason else ("ok", Level.OK)
        state = core.reported_state()
        return [
            Status(f"{NAME}: mode", Level.ERROR if estop else Level.OK,
                   f"{mode}: {state.detail}" + (" (e-stop engaged)" if estop else ""),
                   {"mode": mode, "estop": estop, "human_in_control": state.human_in_control,
                    "interventions": state.intervention_count, "homing": core.homing}),
            Status(f"{NAME}: watchdog", level, watchdog, {"watchdog": watchdog}),
            Status(f"{NAME}: commands", Level.OK, f"{core.commands.rate(now):.1f} commands/s",
                   {"command_rate_hz": round(core.commands.rate(now), 2)}),
        ]

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # Inputs -------------------------------------------------------------------------------------------
    def _on_policy_command(self, msg: JointState) -> None:
        now = self._now()
        names = self.config.layout.joint_names
        try:
            if tuple(msg.name) == names:  # fast path: the policy node sends the description's order
                command = np.asarray(msg.position, dtype=np.float64)
            else:
                command = vector_by_name(msg.name, msg.position, names, source=self.config.policy_command_topic)
        except JointNameError as exc:
            self.get_logger().error(f"ignored policy command: {exc}", throttle_duration_sec=2.0)
            return
        self.core.policy_command(command, now)
        self._last_policy_at = now
        if not self.core.human_in_control:
            # Forward at once (the policy stream is the clock in policy mode), once per control period.
            self._policy_pending = not self._tick(now)

    def _on_arm(self, msg: JointState, index: int, arm, leader: bool) -> None:
        try:  # by joint name: joints the description does not use are ignored
            vec = arm.vector(msg.name, msg.position, source=arm.joint_states)
        except JointNameError as exc:
            self.core.stale(leader, index, str(exc))
            self.get_logger().error(f"{exc}: the arm is stale, the arms hold", throttle_duration_sec=2.0)
            return
        if leader:
            self.core.leader(index, vec, self._now())
            return
        change = self.core.follower(index, vec, self._now())
        if change is not None:
            if self.core.jump_hold is not None:
                self.get_logger().error(f"{arm.joint_states}: {change}")
            else:
                self.get_logger().warning(f"{arm.joint_states}: {change}")
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

    def _on_home(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if not self.is_active:
            response.success, response.message = False, "home refused: the arbitration node is not active"
            return response
        decision = self.core.home(self.config.robot.home_pose())
        if decision.accepted:
            self.get_logger().info(decision.message)
        else:
            self.get_logger().warning(decision.message)
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
        if not self.is_active:
            return Decision(False, f"{'takeover' if human else 'hand-back'} refused: the arbitration node is not "
                                   "active")
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
        if not self.is_active:
            return
        now = self._now()
        # Silence is measured from the last policy command, not the last output: measured from the output,
        # the timer's own ticks would reset it and a silent policy would be watched at half the rate.
        silent = self._last_policy_at is None or now - self._last_policy_at >= 1.5 * self.config.control_period
        if self.core.human_in_control or silent or self._policy_pending:
            if self._tick(now):
                self._policy_pending = False

    def _tick(self, now: float) -> bool:
        """One control tick; False when this control period already had its command (or the node is inactive:
        it neither commands nor advances the commanded pose)."""
        if not self.is_active:
            return False
        result = self.core.tick(now)
        if result is None:
            return False
        if result.output.command is not None:
            stamp = to_time_msg(now)
            self.adapter.publish(result.output.command, stamp)
            executed = JointState(name=list(self.config.layout.joint_names), position=result.output.command.tolist())
            executed.header.stamp = stamp
            self.executed_pub.publish(executed)
        self._hold_reason = result.output.reason if result.output.holding else ""
        self._publish_state(result.state)
        return True

    def _publish_state(self, s: ControlState, force: bool = False) -> None:
        if not self.is_active:
            return
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
        node = ArbitrationNode()
        try:
            node.start()
        except ConfigureError as exc:
            print(f"{NAME}: cannot start: {exc}", file=sys.stderr)
            return 2
        spin_until_shutdown(lambda: rclpy.spin(node))
    except (KeyboardInterrupt, ExternalShutdownException):  # during start-up
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
