"""The operator's console node: the stack's state in, the operator's actions out.

Thin: subscriptions feed ConsoleModel (console_state), Joy buttons and keys become Actions
(console_input), the model's requests become service calls and publishes, and ConsoleLock
(console_lock) decides which of several consoles acts. Nothing blocks in a callback: service
calls are asynchronous and their replies come back as callbacks; keys from the UI thread are
queued and performed on the executor's thread.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import time
from pathlib import Path

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Joy
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from recap_msgs.msg import ActionChunk, EpisodeEvent, InterventionState
from recap_msgs.srv import EndEpisode as EndEpisodeSrv
from recap_msgs.srv import RelabelEpisode as RelabelEpisodeSrv
from recap_msgs.srv import ResetSim, StartEpisode as StartEpisodeSrv
from recap_teleop.console_input import JOY_ACTIONS, Action, JoyButtons, JoyMap
from recap_teleop.console_lock import Claim, ConsoleLock
from recap_teleop.console_requests import (HOME, EndEpisode, Quit, RelabelEpisode, Request, ResetHome, SetEstop,
                                           SetTakeover, StartEpisode)
from recap_teleop.console_state import ConsoleConfig, ConsoleModel

# Latched, as the arbitration node publishes it: a console started late learns the mode at once.
# Depth 10 on the lock topic: every console is a writer, and each one's latest claim must arrive.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
LOCK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
LOCK_TOPIC = "/console/owner"
OUTCOME_CODES = {"success": EndEpisodeSrv.Request.SUCCESS, "failure": EndEpisodeSrv.Request.FAILURE,
                 "abort": EndEpisodeSrv.Request.ABORT}
EVENT_OUTCOMES = {EpisodeEvent.SUCCESS: "success", EpisodeEvent.FAILURE: "failure", EpisodeEvent.ABORT: "abort"}

# name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    "task_prompt": ("", "task prompt every episode started from the console is recorded with (required)"),
    "home_seed": (0, "seed of the /sim/reset the home action sends (the task's start pose for it)"),
    "joy_topic": ("/joy", "sensor_msgs/Joy of the pedal / gamepad (a topic nobody publishes is fine)"),
    **{f"joy.{name}": (getattr(JoyMap(), name), f"Joy button index for '{action.value}' (-1: none)")
       for name, action in JOY_ACTIONS.items()},
    "service_timeout_s": (5.0, "a service that has not answered by then is reported"),
    "state_timeout_s": (3.0, "/intervention_state older than this: the arbitration node is reported silent"),
    "relabel_window_s": (60.0, "an ended episode can be relabelled from the console this long"),
    "policy_timeout_s": (1.0, "no /policy/action_chunk for this long: the policy is reported silent"),
    "observe_only": (False, "never take control: a read-only monitoring console (the e-stop still works)"),
    "lock_heartbeat_s": (0.5, "period of this console's claim on /console/owner; silent 4 periods = gone"),
}


class ConsoleNode(Node):
    def __init__(self, context=None, parameter_overrides: list[Parameter] | None = None) -> None:
        self.console_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        super().__init__(f"recap_console_{secrets.token_hex(3)}", context=context,
                         parameter_overrides=parameter_overrides)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.config = ConsoleConfig(str(p["task_prompt"]), int(p["home_seed"]), float(p["service_timeout_s"]),
                                    float(p["state_timeout_s"]), float(p["relabel_window_s"]),
                                    float(p["policy_timeout_s"]))
        self.joy = JoyButtons(JoyMap(**{name: int(p[f"joy.{name}"]) for name in JOY_ACTIONS}))
        heartbeat = float(p["lock_heartbeat_s"])
        if not heartbeat > 0:
            raise ValueError(f"lock_heartbeat_s must be positive, got {heartbeat}")
        now = time.monotonic()
        self.model = ConsoleModel(self.config, now, log=self.get_logger().info)
        self.lock = ConsoleLock(self.console_id, now, 4 * heartbeat, observer=bool(p["observe_only"]))
        self.quit_requested = False
        self._actions: queue.SimpleQueue[Action] = queue.SimpleQueue()  # from the UI thread
        self._stamp_warned = False

        self.create_subscription(InterventionState, "/intervention_state", self._on_intervention, LATCHED)
        self.create_subscription(Bool, "/estop", lambda m: self.model.estop(bool(m.data)), 10)
        self.create_subscription(EpisodeEvent, "/episode_events", self._on_event, 100)  # reliable: every event
        self.create_subscription(ActionChunk, "/policy/action_chunk", self._on_chunk, 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.create_subscription(Joy, str(p["joy_topic"]), self._on_joy, qos_profile_sensor_data)
        self.create_subscription(String, LOCK_TOPIC, self._on_claim, LOCK_QOS)
        self.estop_pub = self.create_publisher(Bool, "/estop", 10)  # reliable: an e-stop must arrive
        self.claim_pub = self.create_publisher(String, LOCK_TOPIC, LOCK_QOS)
        self.clients_by_type = {
            StartEpisode: self.create_client(StartEpisodeSrv, "/recorder/start_episode"),
            EndEpisode: self.create_client(EndEpisodeSrv, "/recorder/end_episode"),
            RelabelEpisode: self.create_client(RelabelEpisodeSrv, "/recorder/relabel_episode"),
            SetTakeover: self.create_client(SetBool, "/takeover/set"),
            ResetHome: self.create_client(ResetSim, "/sim/reset"),
        }
        self.home_client = self.create_client(Trigger, HOME)  # a real robot: where /sim/reset is absent
        self.create_timer(0.05, self._on_tick)  # performs queued keys within 50 ms
        self.create_timer(heartbeat, self._on_heartbeat)
        self._on_heartbeat()
        self.get_logger().info(f"console {self.console_id}: task {self.config.task_prompt!r}, "
                               f"Joy on {p['joy_topic']}: " + (", ".join(f"button {i} {a.value}" for i, a in
                                                           sorted(self.joy.mapping.items())) or "no buttons"))

    # Operator actions ---------------------------------------------------------------------------------
    def request(self, action: Action) -> None:
        """Any thread: perform `action` on the executor's thread."""
        self._actions.put(action)

    def _perform(self, action: Action) -> None:
        request = self.model.plan(action, time.monotonic())
        if request is None:
            return
        if isinstance(request, Quit):
            self.quit_requested = True
        elif isinstance(request, SetEstop):
            self.estop_pub.publish(Bool(data=request.engaged))
            self.model.estop(request.engaged)
            self.model.tell("e-stop ENGAGED: /estop true, the arms hold" if request.engaged
                            else "e-stop released: /estop false")
        else:
            self._call(request)

    def _call(self, request: Request) -> None:
        client = self.clients_by_type[type(request)]
        if isinstance(request, ResetHome) and not client.service_is_ready():
            client = self.home_client
        if not client.service_is_ready():
            self.model.replied(request, time.monotonic(), False,
                               f"{client.srv_name} is not available (is its node running?)")
            return
        future = client.call_async(Trigger.Request() if client is self.home_client else self._service_request(request))
        future.add_done_callback(lambda f: self._on_reply(request, f))

    @staticmethod
    def _service_request(r: Request):
        if isinstance(r, StartEpisode):
            return StartEpisodeSrv.Request(task_prompt=r.task)
        if isinstance(r, EndEpisode):
            return EndEpisodeSrv.Request(outcome=OUTCOME_CODES[r.outcome], episode_id=r.episode_id,
                                         note="labelled from recap-console")
        if isinstance(r, RelabelEpisode):
            return RelabelEpisodeSrv.Request(episode_id=r.episode_id, outcome=OUTCOME_CODES[r.outcome],
                                             note="relabelled from recap-console")
        if isinstance(r, SetTakeover):
            return SetBool.Request(data=r.human)
        return ResetSim.Request(task="", seed=r.seed, start_paused=False)

    def _on_reply(self, request: Request, future) -> None:
        now = time.monotonic()
        if future.exception() is not None:
            self.model.replied(request, now, False, str(future.exception()))
            return
        reply = future.result()
        if isinstance(request, StartEpisode):
            self.model.replied(request, now, reply.accepted, reply.message, episode_id=reply.episode_id)
        elif isinstance(request, EndEpisode):
            self.model.replied(request, now, reply.accepted, reply.message, bag_path=reply.bag_path,
                               detected_drops=detected_drops(reply.bag_path) if reply.accepted else None)
        else:  # RelabelEpisode (accepted), SetBool, ResetSim and Trigger (success)
            self.model.replied(request, now, getattr(reply, "accepted", getattr(reply, "success", False)),
                               reply.message)

    # Inputs -------------------------------------------------------------------------------------------
    def _on_intervention(self, msg: InterventionState) -> None:
        self.model.intervention(time.monotonic(), msg.human_in_control, msg.source, msg.detail, msg.episode_id,
                                msg.intervention_count)

    def _on_event(self, msg: EpisodeEvent) -> None:
        now = time.monotonic()
        if msg.kind == EpisodeEvent.START:
            self.model.episode_started(now, msg.episode_id, msg.task_prompt)
        elif msg.kind in EVENT_OUTCOMES:
            self.model.episode_ended(now, msg.episode_id, EVENT_OUTCOMES[msg.kind])
        elif msg.kind == EpisodeEvent.RELABEL and msg.new_outcome in EVENT_OUTCOMES:
            self.model.episode_relabelled(msg.episode_id, EVENT_OUTCOMES[msg.new_outcome])
        elif msg.kind == EpisodeEvent.RESET:
            self.model.tell("robot reset announced (/episode_events RESET)")

    def _on_chunk(self, msg: ActionChunk) -> None:
        latency = msg.inference_latency.sec + msg.inference_latency.nanosec * 1e-9
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        age = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        if not -1.0 <= age <= 60.0:  # stamped on another clock (sim time): the age would mean nothing
            if not self._stamp_warned:
                self._stamp_warned = True
                self.model.tell(f"chunk stamps are {age:.0f} s off this console's clock: sim time? "
                                "start the console with use_sim_time:=true")
            age = None
        self.model.policy_chunk(time.monotonic(), latency, age, msg.policy_id)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        for status in msg.status:
            self.model.diagnostic(now, status.name, status.message, {kv.key: kv.value for kv in status.values})

    def _on_joy(self, msg: Joy) -> None:
        for action in self.joy.update(msg.buttons):
            self._perform(action)

    def _on_claim(self, msg: String) -> None:
        try:
            claim = Claim.decode(msg.data)
        except ValueError as exc:
            self.get_logger().warning(f"{LOCK_TOPIC}: {exc}", throttle_duration_sec=10.0)
            return
        self.lock.heard(claim, time.monotonic())

    # Timers -------------------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        while not self._actions.empty():
            self._perform(self._actions.get_nowait())
        self.model.expire(time.monotonic())

    def _on_heartbeat(self) -> None:
        now = time.monotonic()
        was_owner = self.lock.owner
        owner = self.lock.update(now)
        self.model.set_control(owner, self.lock.owner_id(now), self.lock.observer, self.lock.listening(now))
        if owner != was_owner:
            self.model.tell("this console is in control" if owner else
                            f"read-only: console {self.lock.owner_id(now)} is in control")
        self.claim_pub.publish(String(data=self.lock.claim(now).encode()))


def detected_drops(bag_path: str) -> int | None:
    """The ended episode's detected drops from its episode.json; None when the bag is not on this
    machine (a console over the network) or the file cannot be read."""
    try:
        return int(json.loads((Path(bag_path) / "episode.json").read_text())["detected_drops"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
