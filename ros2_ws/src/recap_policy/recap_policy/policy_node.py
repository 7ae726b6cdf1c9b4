"""Policy node: cameras + follower joint states -> ActionChunks and a 50 Hz /policy/command stream.

Thin by design: messages <-> arrays, parameters, timers and QoS here; observation assembly
(observation_builder), scheduling (control_loop, chunk_scheduling) and inference (inference_worker,
backends) are ROS-free modules.
"""
from __future__ import annotations

import sys

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState

from recap_core.aloha_layout import JOINT_NAMES
from recap_core.pose_jump import JUMP_RAD, PoseJumpDetector
from recap_core.stamps import to_ns
from recap_msgs.msg import ActionChunk, EpisodeEvent
from recap_policy.backends.base import BackendMetadata, PolicyBackend
from recap_policy.chunk_message import chunk_to_msg, ns_to_time
from recap_policy.camera_health import CameraHealth
from recap_policy.checkpoint_inputs import refuse_privileged_state
from recap_policy.config import PARAMETERS, PolicyNodeConfig, camera_name
from recap_policy.command_stream import CommandStream, InferenceRequest, InferenceResult
from recap_policy.image_decoding import ImageDecodeError, RawImage
from recap_policy.inference_worker import InferenceWorker
from recap_policy.observation_builder import ObservationBuilder, ObservationSpec, StaleObservation
from recap_policy.tick_counter import TickCounter


def stamp_ns(msg) -> int:
    return to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def make_backend(config: PolicyNodeConfig) -> PolicyBackend:
    if config.backend == "checkpoint":
        from recap_policy.backends.checkpoint import CheckpointBackend
        return CheckpointBackend(config.checkpoint, config.conditioning, config.inference_threads)
    from recap_policy.backends.remote import RemoteBackend
    defaults = BackendMetadata(policy_id=f"remote/{config.remote_host}:{config.remote_port}",
                               control_period=config.loop.control_period,
                               cameras=tuple(camera_name(t) for t in config.camera_topics),
                               image_size=config.image_size)
    return RemoteBackend(config.remote_host, config.remote_port, config.conditioning, defaults,
                         config.remote_api_key)


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy_node")
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.config = PolicyNodeConfig.from_parameters(
            {name: self.get_parameter(name).value for name in PARAMETERS})
        self.backend = make_backend(self.config)
        meta = self.backend.metadata
        # What the checkpoint reads must be what this robot publishes: refused before anything is commanded.
        refuse_privileged_state(meta, self.config.allow_privileged_state)
        cameras = self.config.camera_topic_map(meta.cameras, meta.policy_id)
        self.builder = ObservationBuilder(ObservationSpec(
            joint_topics=self.config.joint_state_topics, gripper=self.config.follower_gripper, cameras=cameras,
            image_size=meta.image_size, state_names=meta.state_names,
            object_state_topic=self.config.object_state_topic, max_age_s=self.config.max_observation_age_s,
            max_camera_age_s=self.config.max_camera_age_s, task=self.config.task),
            warn=self.get_logger().warning)
        self.cameras = CameraHealth(cameras, self.config.camera_health)
        self._cameras_ready = False
        if self.config.loop.scheduler.kind == "rtc" and not meta.supports_frozen_prefix:
            self.get_logger().warning(f"{meta.policy_id} cannot inpaint a frozen prefix: real-time chunking "
                                   "degrades to cross-faded chunk switches")
        self.loop = CommandStream(self.config.loop, meta.horizon)
        self.follower_jumps = PoseJumpDetector()
        self._chunk_id = 0
        self.rejected_chunks = 0

        # Commands and chunks are reliable: a lost command is a missed control tick.
        self.command_pub = self.create_publisher(JointState, "/policy/command",
                                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.chunk_pub = self.create_publisher(ActionChunk, "/policy/action_chunk", 10)
        # Sensor streams: best effort, only the latest sample matters.
        for index, topic in enumerate(self.config.joint_state_topics):
            self.create_subscription(JointState, topic, lambda m, i=index, t=topic: self._on_joints(i, t, m),
                                     qos_profile_sensor_data)
        for camera, topic in cameras.items():
            compressed = topic.rstrip("/").endswith("/compressed")
            self.create_subscription(CompressedImage if compressed else Image, topic,
                                     lambda m, c=camera, t=topic, z=compressed: self._on_image(c, t, z, m),
                                     qos_profile_sensor_data)
        if meta.state_names:
            self.create_subscription(JointState, self.config.object_state_topic, self._on_object_state,
                                     qos_profile_sensor_data)

        # A new episode (the robot was reset): start from a fresh plan, not the last episode's.
        self.create_subscription(EpisodeEvent, "/episode_events", self._on_episode_event, 100)

        self.worker = InferenceWorker(self.backend, self.builder, self.loop.chunk_ready, self._on_inference_error)
        self.ticks = TickCounter(self.config.loop.control_period)
        self.timer = self.create_timer(self.config.loop.control_period, self._on_tick)
        self.get_logger().info(
            f"policy {meta.policy_id}: scheduler={self.config.loop.scheduler.kind} "
            f"advantage={self.config.conditioning.advantage} beta={self.config.conditioning.guidance_scale} "
            f"noise={self.config.conditioning.noise_scale} "
            f"cameras={cameras} state={list(meta.state_names)} at {1 / self.config.loop.control_period:.0f} Hz")

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_joints(self, index: int, topic: str, msg: JointState) -> None:
        try:
            vec = self.builder.update_joints(index, msg.name, msg.position, stamp_ns(msg))
            if self.follower_jumps.update(index, vec):
                # The plan starts from the old pose. Whether this was a reset is the arbitration node's
                # call (it holds the arms on a jump nobody announced); here only the plan goes.
                self.get_logger().warning(f"{topic}: the measured arm pose jumped more than {JUMP_RAD} rad "
                                          "between two readings; dropping the current chunk")
                self.loop.new_episode()
        except ValueError as exc:
            self.get_logger().error(f"ignored joint state: {exc}", throttle_duration_sec=self.config.warn_period_s)

    def _on_image(self, camera: str, topic: str, compressed: bool, msg) -> None:
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
            self.loop.new_episode()

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
        now = self._now_ns()
        waiting = self._waiting_for_cameras(now)
        stale = self.builder.staleness(now)  # names the silent cameras while waiting: no chunks yet
        for warning in self.cameras.newly_slow():
            self.get_logger().warning(warning)
        command, adopted, request = self.loop.tick(stale, self.ticks.periods(now))
        if command is not None:
            msg = JointState(name=list(JOINT_NAMES), position=command.tolist())
            msg.header.stamp = ns_to_time(now)
            self.command_pub.publish(msg)
        for result in adopted:
            self._publish_chunk(result)
        if stale and not waiting:
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
            inference_latency=result.latency_s))
        self._chunk_id += 1

    def _on_inference_error(self, request: InferenceRequest, exc: Exception) -> None:
        """Inference thread: nothing of this request is executed."""
        self.loop.inference_failed()
        if isinstance(exc, StaleObservation):
            return  # the timer warns about stale inputs
        self.rejected_chunks += 1
        self.get_logger().error(f"chunk for tick {request.obs_tick} rejected, not executed "
                                f"({self.rejected_chunks} so far): {exc}",
                                throttle_duration_sec=self.config.warn_period_s)

    def close(self) -> None:
        if self.ticks.skipped:
            self.get_logger().info(f"the control timer skipped {self.ticks.skipped} periods (clock jumps); "
                                   "the plan was advanced by them")
        self.worker.close()
        self.backend.close()


# The inference thread holds the GIL between torch ops; the timer thread waits for it up to the
# switch interval (CPython default 5 ms). 0.5 ms keeps the command stream's jitter well under 2 ms.
GIL_SWITCH_INTERVAL_S = 0.0005


def main(args: list[str] | None = None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = PolicyNode()
        except (ValueError, KeyError, FileNotFoundError, ConnectionError) as exc:
            # Configuration problems: one clear line, not a traceback.
            print(f"policy_node: cannot start: {exc}", file=sys.stderr)
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
