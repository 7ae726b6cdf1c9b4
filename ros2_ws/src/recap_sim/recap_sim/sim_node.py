"""The simulated ALOHA as a ROS 2 node: the same topics as the real drivers, plus sim-only ones.

    python -m recap_sim.sim_node --ros-args -p task:=espresso
    ros2 run recap_sim sim_node --ros-args -p task:=espresso -p real_time_factor:=0.0

Threads: physics runs in its own thread (it owns the MuJoCo env and its GL context) and publishes
what each step produced; subscription callbacks only validate a command and swap the held vector;
the reset and resume services hand their requests to the physics thread and wait for the reply;
a paused sim (`start_paused` reset) sleeps in the physics thread until the next one. One executor
thread: commands that arrive during a reset are taken right after it (they would be aimed at the
old pose anyway), and rclpy's MultiThreadedExecutor (this wheel predates ros2/rclpy#1547) re-queues
pending callbacks in a busy loop that, at 100 commands/s, starved the physics thread of the GIL.
Stamps are sim time (`/clock`), monotonic across episodes. Topics and QoS: docs/SIM_NODE.md.
"""
from __future__ import annotations

import queue
import signal
import sys
import threading
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Duration, Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from recap_core.aloha_layout import ARMS, JOINTS_PER_ARM, arm_command
from recap_core.stamps import seconds_to_ns, split_ns
from recap_lifecycle.spin import spin_until_shutdown
from recap_msgs.msg import EpisodeEvent, TaskState
from recap_msgs.srv import GetTaskState, ResetSim
from recap_sim.blas_threads import one_blas_thread
from recap_sim.command_validation import CommandRejected, validate_arm_command
from recap_sim.node_core import SimCore, Tick, TaskSnapshot
from recap_sim.pacing import RealTimePacer
from recap_sim.sim_node_config import PARAMETERS, SimNodeConfig
from recap_sim.sim_operator import SimulatedOperator

# Commands: every one matters and only the latest is executed.
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Task state is latched: a late subscriber (episode driver, recorder) gets the current state.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RESET_TIMEOUT_S = 60.0  # building a new task's model + renderer takes a few seconds at most
_OUTCOMES = {None: TaskState.OUTCOME_NONE, "success": TaskState.OUTCOME_SUCCESS, "failure": TaskState.OUTCOME_FAILURE}


def stamp(ns: int) -> Time:
    sec, nanosec = split_ns(ns)
    return Time(sec=sec, nanosec=nanosec)


def duration(seconds: float) -> Duration:
    sec, nanosec = split_ns(seconds_to_ns(seconds))
    return Duration(sec=sec, nanosec=nanosec)


def task_state_msg(s: TaskSnapshot, clock_ns: int) -> TaskState:
    msg = TaskState(task=s.task, episode_id=s.episode_id, seed=s.seed, stage=s.stage, num_stages=s.num_stages,
                    stage_name=s.stage_name, elapsed=duration(s.elapsed_s), time_limit=duration(s.time_limit_s),
                    done=s.done, outcome=_OUTCOMES[s.outcome], failure_reason=s.failure_reason,
                    max_stage=s.max_stage)
    msg.header.stamp = stamp(clock_ns)
    return msg


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_node")
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        cfg = SimNodeConfig.from_parameters({name: self.get_parameter(name).value for name in PARAMETERS})
        self.loop_config, self.limits, self.operator, topics = cfg.core, cfg.limits, cfg.operator, cfg.topics
        self.command_topics = topics.command
        self.pacer = RealTimePacer(cfg.real_time_factor, period_s=0.02)
        self._rejected = dict.fromkeys(ARMS, 0)
        self._reject_log_period = cfg.reject_log_period_s

        sensor = qos_profile_sensor_data  # best effort: a late sample is worthless, the next one is coming
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.joint_pubs = {arm: self.create_publisher(JointState, topics.follower[arm], sensor)
                           for arm in ARMS}
        self.object_pub = self.create_publisher(JointState, "/sim/object_state", sensor)
        self.image_pubs = {cam: self.create_publisher(Image, topics.cameras[cam], sensor)
                           for cam in self.loop_config.cameras}
        self.task_pub = self.create_publisher(TaskState, "/sim/task_state", LATCHED_QOS)
        # A reset teleports the arms: the arbitration node re-syncs its command on this event, and
        # holds on any jump it is not told about. Reliable, as the recorder's episode events.
        self.events_pub = self.create_publisher(EpisodeEvent, "/episode_events", 100)
        if self.operator.enabled:
            self.leader_pubs = {arm: self.create_publisher(JointState, topics.leader[arm], sensor)
                                for arm in ARMS}
            # Takeover requests are rare events that must arrive: reliable.
            self.takeover_pub = self.create_publisher(Bool, "/takeover/request", 10)
        for arm in ARMS:
            self.create_subscription(JointState, topics.command[arm],
                                     lambda msg, arm=arm: self._on_command(arm, msg), COMMAND_QOS)
        self.create_service(ResetSim, "/sim/reset", self._on_reset)
        self.create_service(GetTaskState, "/sim/get_task_state", self._on_get_task_state)
        self.create_service(Trigger, "/sim/resume", self._on_resume)

        self.loop: SimCore | None = None
        self._requests: queue.SimpleQueue = queue.SimpleQueue()  # (request, reply queue) for the physics thread
        self._wake = threading.Event()  # a request or the stop: wakes a paused physics thread
        self._paused = False  # physics thread only
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.failure = ""  # set when the physics thread died
        self._thread = threading.Thread(target=self._run, name="sim-physics", daemon=True)

    # --- executor callbacks (never block on physics) ----------------------------------
    def _on_command(self, arm: str, msg: JointState) -> None:
        if self.loop is None:
            return
        try:
            vector = validate_arm_command(msg.name, msg.position, arm, self.limits)
        except CommandRejected as exc:
            self._rejected[arm] += 1
            text = (f"{self.command_topics[arm]} rejected, the arm holds its last valid command: {exc} "
                    f"({self._rejected[arm]} rejected so far)")
            if self._reject_log_period > 0:
                self.get_logger().warning(text, throttle_duration_sec=self._reject_log_period)
            else:
                self.get_logger().warning(text)
            return
        if not self.loop.hold_command(arm, vector):
            self.get_logger().info(f"{self.command_topics[arm]} ignored: still aimed at the pose before the reset "
                                   f"({self.loop.stale_commands_ignored} so far)", throttle_duration_sec=1.0)

    def _ask_physics(self, request, what: str):
        reply: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put((request, reply))
        self._wake.set()
        try:
            return reply.get(timeout=RESET_TIMEOUT_S)
        except queue.Empty:
            return False, f"the physics thread did not {what} within {RESET_TIMEOUT_S:.0f} s", None, 0

    def _on_reset(self, request: ResetSim.Request, response: ResetSim.Response) -> ResetSim.Response:
        ok, message, snapshot, clock_ns = self._ask_physics(request, "reset")
        response.success, response.message = ok, message
        if snapshot is not None:
            response.state = task_state_msg(snapshot, clock_ns)
        return response

    def _on_resume(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message, _, _ = self._ask_physics(request, "resume")
        return response

    def _on_get_task_state(self, request: GetTaskState.Request, response: GetTaskState.Response) -> GetTaskState.Response:
        if self.loop is not None:
            response.state = task_state_msg(self.loop.task_state, self.loop.clock_ns)
        return response

    # --- physics thread -----------------------------------------------------------------
    def start(self) -> None:
        """Start the physics thread; raises the startup error (unknown task, no GL backend)."""
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        c = self.loop_config
        self.get_logger().info(f"simulating {c.task} (seed {c.seed}) at real-time factor {self.pacer.real_time_factor:g}, "
                               f"cameras {list(c.cameras)} {c.image_size[1]}x{c.image_size[0]} at {c.camera_rate_hz:g} Hz")

    def _run(self) -> None:
        try:
            operator = SimulatedOperator(self.operator.rule, self.operator.expert) if self.operator.enabled else None
            self.loop = SimCore(self.loop_config, operator=operator)
        except Exception as exc:  # reported by start() in the main thread
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        start_wall, start_ns = time.monotonic(), self.loop.clock_ns
        try:
            while not self._stop.is_set():
                self._serve_requests()
                if self._paused:
                    self._wake.wait()
                    self._wake.clear()  # before serving: a request put after this wakes the next wait
                    continue
                self._publish(self.loop.step())
                if self.pacer.wall_period:
                    self._stop.wait(self.pacer.delay(time.monotonic()))
        except Exception as exc:
            if self.context.ok():  # not a publish racing the shutdown: a real failure, end the process
                self.failure = f"the physics thread failed: {type(exc).__name__}: {exc}"
                self.get_logger().fatal(self.failure)
                rclpy.try_shutdown(context=self.context)
        wall, sim = time.monotonic() - start_wall, (self.loop.clock_ns - start_ns) * 1e-9
        # The context is usually shut down by now (SIGINT): log to the console only, not /rosout.
        rclpy.logging.get_logger("recap_sim.sim_node").info(f"stopped after {sim:.1f} s of sim time in {wall:.1f} s "
                               f"(real-time factor {sim / max(wall, 1e-9):.2f}; fell behind by more than "
                               f"{self.pacer.max_lag_s:g} s {self.pacer.resyncs} times)")
        self.loop.close()

    def _serve_requests(self) -> None:
        while True:
            try:
                request, reply = self._requests.get_nowait()
            except queue.Empty:
                return
            if isinstance(request, ResetSim.Request):
                reply.put(self._reset(request.task, request.seed, request.start_paused))
            else:
                reply.put(self._resume())

    def _reset(self, task: str, seed: int, paused: bool):
        try:
            snapshot = self.loop.reset(task, seed)
        except Exception as exc:  # invalid request (ValueError) or a model/renderer that failed to build
            message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"/sim/reset(task={task!r}, seed={seed}) refused: {message}")
            return False, message, self.loop.task_state, self.loop.clock_ns
        if self.loop.handback_due:
            self._request_takeover(False, "new episode")
        tick = self.loop.start_tick()
        # Before the new pose: a controller that hears of the reset first never sees an unannounced jump.
        event = EpisodeEvent(episode_id=snapshot.episode_id, kind=EpisodeEvent.RESET, note=f"sim reset, seed {seed}")
        event.header.stamp = stamp(tick.clock_ns)
        self.events_pub.publish(event)
        self._publish(tick)
        self._paused = paused
        self.pacer.restart(time.monotonic())
        self.get_logger().info(f"reset: episode {snapshot.episode_id}" + (" (paused until /sim/resume)" if paused else ""))
        return True, f"episode {snapshot.episode_id}", snapshot, self.loop.clock_ns

    def _resume(self):
        if not self._paused:
            return False, "the sim is not paused (only a reset with start_paused pauses it)", None, 0
        self._paused = False
        # Again, for whoever started listening while the sim was paused (the recorder).
        self._publish(self.loop.start_tick())
        self.pacer.restart(time.monotonic())
        return True, f"resumed episode {self.loop.task_state.episode_id}", None, 0

    def _publish(self, tick: Tick) -> None:
        if not self.context.ok():
            return
        now = stamp(tick.clock_ns)
        self.clock_pub.publish(Clock(clock=now))
        if tick.joint_states:
            for arm, pub in self.joint_pubs.items():
                names, positions = self.loop.env.raw_arm_positions(arm)
                msg = JointState(name=names, position=positions, velocity=self.loop.env.raw_arm_velocities(arm))
                msg.header.stamp = now
                pub.publish(msg)
            obj = JointState(name=list(self.loop.env.state_names), position=tick.observation.env_state.tolist())
            obj.header.stamp = now
            self.object_pub.publish(obj)
        for cam, frame in (tick.images or {}).items():
            h, w, _ = frame.shape
            img = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                        data=np.ascontiguousarray(frame).tobytes())
            img.header.stamp, img.header.frame_id = now, cam
            self.image_pubs[cam].publish(img)
        if tick.task_state is not None:
            self.task_pub.publish(task_state_msg(tick.task_state, tick.clock_ns))
        if tick.operator is not None:
            self._publish_operator(tick, now)

    def _publish_operator(self, tick: Tick, now: Time) -> None:
        op = tick.operator
        if op.request is not None:
            self._request_takeover(op.request, op.reason)
        if tick.joint_states:
            for i, (arm, pub) in enumerate(self.leader_pubs.items()):
                names, positions = arm_command(op.leader[i * JOINTS_PER_ARM:(i + 1) * JOINTS_PER_ARM], self.operator.leader_gripper)
                msg = JointState(name=names, position=positions)
                msg.header.stamp = now
                pub.publish(msg)

    def _request_takeover(self, human: bool, reason: str) -> None:
        self.takeover_pub.publish(Bool(data=human))
        self.get_logger().info(f"operator {'takes over' if human else 'hands back'}: {reason}")

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)


def main(args: list[str] | None = None) -> int:
    one_blas_thread()  # the simulated operator's expert solves small IK systems every step
    rclpy.init(args=args)
    node = None
    try:
        node = SimNode()
        node.start()
    except Exception as exc:  # a bad parameter or a missing GL backend: say so and exit non-zero
        print(f"sim_node: cannot start: {exc}", file=sys.stderr)
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor.spin)
    finally:
        # rclpy's SIGINT handler ends spin and then chains to Python's, whose KeyboardInterrupt
        # would otherwise land somewhere in the clean-up below.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.shutdown()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 1 if node.failure else 0


if __name__ == "__main__":
    sys.exit(main())
