"""Policy node: cameras + follower joint states -> ActionChunks and a control-rate /policy/command stream.

A managed node (recap_lifecycle): the robot description (`robot` parameter) gives the topics, joints,
grippers, cameras and control rate; configure loads it and the checkpoint (or connects to the server)
and subscribes, activate starts the control loop, deactivate stops the commands and forgets the plan.
Thin by design: messages <-> arrays, parameters, timers and QoS here; observation assembly
(observation_builder), scheduling (command_stream, chunk_scheduling), inference (inference_worker,
backends) and the /diagnostics statuses (policy_status, camera_health) are ROS-free modules.
"""
from __future__ import annotations

import sys

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState

from recap_core.aloha_layout import JointNameError
from recap_core.diagnostics import Status
from recap_core.pose_jump import JUMP_RAD, PoseJumpDetector
from recap_core.robot_description import ROBOT_PARAMETER, RobotDescription, load_robot
from recap_core.stamps import to_ns
from recap_lifecycle.managed_node import ConfigureError, ManagedNode
from recap_lifecycle.spin import spin_until_shutdown
from recap_msgs.msg import ActionChunk, EpisodeEvent
from recap_policy.backends.base import BackendMetadata, PolicyBackend
from recap_policy.camera_health import CameraHealth
from recap_policy.checkpoint_inputs import (camera_inputs, read_checkpoint_robot, refuse_other_dimension,
                                            refuse_other_robot, refuse_privileged_state)
from recap_policy.chunk_message import chunk_to_msg, ns_to_time
from recap_policy.command_stream import CommandStream, InferenceRequest, InferenceResult
from recap_policy.config import PARAMETERS, PolicyNodeConfig
from recap_policy.image_decoding import ImageDecodeError, RawImage
from recap_policy.inference_worker import InferenceWorker
from recap_policy.observation_builder import ObservationBuilder, ObservationSpec, StaleObservation
from recap_policy.policy_status import LatencyWindow, commands_status, inference_status
from recap_policy.tick_counter import RateMeter, TickCounter

NODE_NAME = "policy_node"


def stamp_ns(msg) -> int:
    return to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def make_backend(config: PolicyNodeConfig) -> PolicyBackend:
    """The backend, after checking that the checkpoint was trained for this robot (before its weights load)."""
    robot = config.robot
    if config.backend == "checkpoint":
        from recap_policy.backends.checkpoint import CheckpointBackend
        refuse_other_robot(read_checkpoint_robot(config.checkpoint), robot, config.checkpoint)
        return CheckpointBackend(config.checkpoint, config.conditioning, robot.joint_names, config.inference_threads)
    from recap_policy.backends.remote import RemoteBackend
    # A server that does not say which cameras it reads gets every camera the robot has.
    defaults = BackendMetadata(policy_id=f"remote/{config.remote_host}:{config.remote_port}",
                               joint_names=robot.joint_names, control_period=config.loop.control_period,
                               cameras=tuple(c.name for c in robot.cameras), image_size=config.image_size)
    return RemoteBackend(config.remote_host, config.remote_port, config.conditioning, defaults,
                         config.remote_api_key)


class PolicyNode(ManagedNode):
    """configure: description, backend, subscriptions; activate: the control-rate timer (commands,
    chunks, inference); deactivate: no more commands, the plan forgotten; cleanup: the backend released."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.config: PolicyNodeConfig | None = None
        self.backend: PolicyBackend | None = None
        self.worker: InferenceWorker | None = None
        self.timer = None
        self._inputs = []
        self.latencies = LatencyWindow()
        self.command_rate = RateMeter()
        self.stale_inputs: str | None = None
        self.starting_episode = False  # stale_inputs only wait for the new episode's first samples
        self._missing_joints_warned: set[str] = set()  # topics warned about in this episode

    # Lifecycle hooks.
    def configure(self) -> None:
        params = {name: self.get_parameter(name).value for name in PARAMETERS}
        robot = load_robot(params[ROBOT_PARAMETER[0]])
        self.hardware_id = robot.name
        config = PolicyNodeConfig.from_parameters(params, robot)
        backend = make_backend(config)
        try:
            self._configure(config, robot, backend)
        except Exception:
            backend.close()
            raise

    def _configure(self, config: PolicyNodeConfig, robot: RobotDescription, backend: PolicyBackend) -> None:
        meta = backend.metadata
        # What the checkpoint reads must be what this robot publishes: refused before anything is commanded.
        refuse_other_dimension(meta, robot)
        refuse_privileged_state(meta, config.allow_privileged_state, robot)
        cameras = camera_inputs(meta.cameras, robot, meta.policy_id)
        self.config, self.backend = config, backend
        self.builder = ObservationBuilder(ObservationSpec(
            arms=robot.follower_arms, cameras={c: d.topic for c, d in cameras.items()},
            camera_sizes={c: d.size for c, d in cameras.items()}, image_size=meta.image_size,
            state_names=meta.state_names, object_state_topic=config.object_state_topic,
            max_age_s=config.max_observation_age_s, max_camera_age_s=config.max_camera_age_s, task=config.task),
            warn=self.get_logger().warning)
        self.cameras = CameraHealth({c: d.topic for c, d in cameras.items()}, config.camera_health)
        self._cameras_ready = False
        if config.loop.scheduler.kind == "rtc" and not meta.supports_frozen_prefix:
            self.get_logger().warning(f"{meta.policy_id} cannot inpaint a frozen prefix: real-time chunking "
                                      "degrades to cross-faded chunk switches")
        self.loop = CommandStream(config.loop, meta.horizon)
        self.follower_jumps = PoseJumpDetector()
        self._chunk_id = 0
        self.latencies = LatencyWindow()

        # Commands and chunks are reliable: a lost command is a missed control tick. Lifecycle
        # publishers: nothing goes out while the node is not active.
        self.command_pub = self.create_lifecycle_publisher(
            JointState, "/policy/command", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, "/policy/action_chunk", 10)
        # Sensor streams: best effort, only the latest sample matters.
        subs = []
        for index, arm in enumerate(robot.follower_arms):
            subs.append(self.create_subscription(
                JointState, arm.joint_states, lambda m, i=index, t=arm.joint_states: self._on_joints(i, t, m),
                qos_profile_sensor_data))
        for camera, desc in cameras.items():
            compressed = desc.encoding == "compressed"
            subs.append(self.create_subscription(
                CompressedImage if compressed else Image, desc.topic,
                lambda m, c=camera, z=compressed: self._on_image(c, z, m), qos_profile_sensor_data))
        if meta.state_names:
            subs.append(self.create_subscription(JointState, config.object_state_topic, self._on_object_state,
                                                 qos_profile_sensor_data))
        # A new episode (the robot was reset): start from a fresh plan, not the last episode's.
        subs.append(self.create_subscription(EpisodeEvent, "/episode_events", self._on_episode_event, 100))
        self._inputs = subs
        self.worker = InferenceWorker(backend, self.builder, self.loop.chunk_ready, self._on_inference_error)
        self.get_logger().info(
            f"policy {meta.policy_id} for robot {robot.name} ({robot.action_dim} joints): "
            f"scheduler={config.loop.scheduler.kind} advantage={config.conditioning.advantage} "
            f"beta={config.conditioning.guidance_scale} noise={config.conditioning.noise_scale} "
            f"cameras={ {c: d.topic for c, d in cameras.items()} } state={list(meta.state_names)} "
            f"at {1 / config.loop.control_period:.0f} Hz")

    def activate(self) -> None:
        # Start from the current joint state: no plan from before, nothing in flight adopted.
        self.loop.new_episode()
        self._missing_joints_warned.clear()
        self.ticks = TickCounter(self.config.loop.control_period)
        self.timer = self.create_timer(self.config.loop.control_period, self._on_tick)

    def deactivate(self) -> None:
        self.destroy_timer(self.timer)
        self.timer = None
        # The arbitration node holds the arms now; a later activate must not resume this plan.
        self.loop.new_episode()
        self.stale_inputs = None
        self.starting_episode = False
        if self.ticks.skipped:
            self.get_logger().info(f"the control timer skipped {self.ticks.skipped} periods (clock jumps); "
                                   "the plan was advanced by them")

    def cleanup(self) -> None:
        for sub in self._inputs:
            self.destroy_subscription(sub)
        self._inputs = []
        self.destroy_lifecycle_publisher(self.command_pub)
        self.destroy_lifecycle_publisher(self.chunk_pub)
        self.close()

    def close(self) -> None:
        """Stop the inference thread and release the model or the server connection."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def diagnostic_statuses(self) -> list[Status]:
        now = self._now_ns()
        return [
            inference_status(f"{NODE_NAME}: inference", self.latencies, self.backend.metadata.policy_id),
            commands_status(f"{NODE_NAME}: commands", self.is_active, self.command_rate.rate_hz(now),
                            self.stale_inputs, 1 / self.config.loop.control_period, self.starting_episode),
            self.cameras.status(f"{NODE_NAME}: cameras", now),
        ]

    # Callbacks.
    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_joints(self, index: int, topic: str, msg: JointState) -> None:
        try:
            vec = self.builder.update_joints(index, msg.name, msg.position, stamp_ns(msg))
        except JointNameError as exc:
            # That arm is stale (the builder says so every tick): no new chunk, the command holds.
            if topic not in self._missing_joints_warned:
                self._missing_joints_warned.add(topic)
                self.get_logger().warning(f"{exc}: this arm's state is unusable until a complete message "
                                          "arrives; no new chunks, the command holds")
            return
        if self.follower_jumps.update(index, vec):
            # The plan starts from the old pose. Whether this was a reset is the arbitration node's
            # call (it holds the arms on a jump nobody announced); here only the plan goes.
            self.get_logger().warning(f"{topic}: the measured arm pose jumped more than {JUMP_RAD} rad "
                                      "between two readings; dropping the current chunk")
            self.loop.new_episode()

    def _on_image(self, camera: str, compressed: bool, msg) -> None:
        if compressed:
            raw = RawImage(data=msg.data, encoding=msg.format, compressed=True)
        else:
            raw = RawImage(data=msg.data, encoding=msg.encoding, height=msg.height, width=msg.width, step=msg.step)
        stamp = stamp_ns(msg)
        try:
            self.builder.update_image(camera, raw, stamp)
        except ImageDecodeError as exc:  # the frame is not kept: the camera goes stale, the command holds
            self.get_logger().error(f"ignored frame: {exc}", throttle_duration_sec=self.config.warn_period_s)
            return
        self.cameras.frame(camera, stamp)

    def _on_object_state(self, msg: JointState) -> None:
        try:
            self.builder.update_object_state(msg.name, msg.position, stamp_ns(msg))
        except ValueError as exc:
            self.get_logger().error(f"ignored object state: {exc}", throttle_duration_sec=self.config.warn_period_s)

    def _on_episode_event(self, msg: EpisodeEvent) -> None:
        if msg.kind in (EpisodeEvent.START, EpisodeEvent.RESET):
            self.builder.new_episode(stamp_ns(msg))
            self.loop.new_episode()
            self._missing_joints_warned.clear()

    def _waiting_for_cameras(self, now: int) -> bool:
        """True until every camera the policy needs has delivered a frame; names silent ones after the timeout."""
        if self._cameras_ready:
            return False
        error = self.cameras.startup_error(now)
        if error is None and not self.cameras.silent_topics():
            self._cameras_ready = True
            if self.cameras.cameras:
                self.get_logger().info(f"every camera delivered a frame: {sorted(self.cameras.cameras.values())}")
            return False
        if error:
            self.get_logger().error(error, throttle_duration_sec=self.config.warn_period_s)
        return True

    def _on_tick(self) -> None:
        if not self.is_active:
            return  # a firing queued before deactivate
        now = self._now_ns()
        waiting = self._waiting_for_cameras(now)
        # names the silent cameras while waiting: no chunks yet
        stale, self.starting_episode = self.builder.input_state(now)
        self.stale_inputs = stale
        for warning in self.cameras.newly_slow():
            self.get_logger().warning(warning)
        command, adopted, request = self.loop.tick(stale, self.ticks.periods(now))
        if command is not None:
            msg = JointState(name=list(self.config.robot.joint_names), position=command.tolist())
            msg.header.stamp = ns_to_time(now)
            self.command_pub.publish(msg)
            self.command_rate.event(now)
        for result in adopted:
            self._publish_chunk(result)
        if stale and not waiting and not self.starting_episode:
            self.get_logger().warning(f"observation unusable, holding the last command, no new chunks: {stale}",
                                      throttle_duration_sec=self.config.warn_period_s)
        if request is not None:
            self.worker.submit(request, now)

    def _publish_chunk(self, result: InferenceResult) -> None:
        meta = self.backend.metadata
        self.chunk_pub.publish(chunk_to_msg(
            result.actions, chunk_id=self._chunk_id, observation_stamp_ns=result.observation_stamp_ns,
            control_period=self.config.loop.control_period, advantage=self.config.conditioning.advantage,
            guidance_scale=self.config.conditioning.guidance_scale, policy_id=meta.policy_id,
            inference_latency=result.latency_s, joint_names=self.config.robot.joint_names))
        self.latencies.chunk(result.latency_s)
        self._chunk_id += 1

    def _on_inference_error(self, request: InferenceRequest, exc: Exception) -> None:
        """Inference thread: nothing of this request is executed."""
        self.loop.inference_failed()
        if isinstance(exc, StaleObservation):
            return  # the timer warns about stale inputs
        self.latencies.rejected += 1
        self.get_logger().error(f"chunk for tick {request.obs_tick} rejected, not executed "
                                f"({self.latencies.rejected} so far): {exc}",
                                throttle_duration_sec=self.config.warn_period_s)


# The inference thread holds the GIL between torch ops; the timer thread waits for it up to the
# switch interval (CPython default 5 ms). 0.5 ms keeps the command stream's jitter well under 2 ms.
GIL_SWITCH_INTERVAL_S = 0.0005


def main(args: list[str] | None = None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    rclpy.init(args=args)
    node = None
    try:
        node = PolicyNode()
        try:
            node.start()
        except ConfigureError as exc:
            # Configuration problems: one clear line, not a traceback (the log has it too).
            print(f"policy_node: cannot start: {exc}", file=sys.stderr)
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
