"""Episode recorder node: raw DDS subscriptions -> one rosbag2 (MCAP) per episode.

A managed node: configure reads the robot description and checks the bag directory, then
subscribes to every recorded topic and opens the services; activate accepts episodes; deactivate
ends a running episode as `abort` and keeps it; cleanup releases everything. Thin: parameters
(config.PARAMETERS) -> RecorderConfig, raw callbacks -> EpisodeRecorder.submit (non-blocking),
services -> start / end / relabel. All bookkeeping lives in the ROS-free modules.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message

from recap_core.diagnostics import Status
from recap_core.robot_description import load_robot
from recap_lifecycle.managed_node import ConfigureError, ManagedNode
from recap_lifecycle.spin import spin_until_shutdown
from recap_msgs.msg import EpisodeEvent
from recap_msgs.srv import EndEpisode, RelabelEpisode, StartEpisode

from .bag_dir import check_bag_dir, free_bytes
from .config import PARAMETERS, RecorderConfig
from .lifecycle import EpisodeRecorder
from .msg_types import msgtype_available
from .status import NODE_NAME, disk_status, recording_status

OUTCOME_NAMES = {EndEpisode.Request.SUCCESS: "success", EndEpisode.Request.FAILURE: "failure",
                 EndEpisode.Request.ABORT: "abort"}
EVENT_KIND = {"success": EpisodeEvent.SUCCESS, "failure": EpisodeEvent.FAILURE, "abort": EpisodeEvent.ABORT}
EVENTS_TOPIC = "/episode_events"

# Deep keep-last queues: a recorder must ride out scheduling hiccups, so history is generous.
QOS = {
    # sensor streams: best effort, since a reliable subscriber does not match the best-effort
    # publishers of drivers and the sim; deep history to absorb bursts.
    "sensor": QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST),
    "reliable": QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
    # latched state topics: transient local so the state current at episode start is recorded;
    # deep history so a burst of changes is not collapsed to the last one.
    "latched": QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL),
    "events": QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
}


def _msg_class(msgtype: str) -> type:
    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


class RecorderNode(ManagedNode):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.config: RecorderConfig | None = None
        self.recorder: EpisodeRecorder | None = None
        self._recorder_subs: list = []
        self._recorder_services: list = []
        self._event_pub = None

    def configure(self) -> None:
        params = {name: self.get_parameter(name).value for name in PARAMETERS}
        try:  # RobotDescriptionError and BagDirError are ValueErrors whose message names the problem
            robot = load_robot(params["robot"])
            config = RecorderConfig.from_parameters(params, robot, msgtype_available)
            check_bag_dir(Path(config.out_dir), config.min_free_bytes)
        except ValueError as exc:
            raise ConfigureError(str(exc)) from exc
        if config.skipped_topics:
            self.get_logger().warning(f"not recording {', '.join(config.skipped_topics)}: the "
                                      f"{robot.commands.adapter} adapter's message package is not installed")
        self.config, self.hardware_id = config, config.robot_id
        self.recorder = EpisodeRecorder(config, log=self.get_logger().info)
        # A plain publisher, not a lifecycle one: the abort event of a deactivation must still go out.
        self._event_pub = self.create_publisher(EpisodeEvent, EVENTS_TOPIC, QOS["events"])
        # Our own events are written straight into the bag, not subscribed to.
        self._recorder_subs = [self._subscribe(spec) for spec in config.topics if spec.name != EVENTS_TOPIC]
        self._recorder_services = [
            self.create_service(StartEpisode, "/recorder/start_episode", self._on_start),
            self.create_service(EndEpisode, "/recorder/end_episode", self._on_end),
            self.create_service(RelabelEpisode, "/recorder/relabel_episode", self._on_relabel)]
        self.get_logger().info(f"robot {robot.name} ({config.robot_description_hash}): recording "
                               f"{len(config.topics)} topics to {config.out_dir} (config {config.config_hash()})")

    def activate(self) -> None:
        self.get_logger().info("accepting episodes")

    def deactivate(self) -> None:
        self.stop_recording("recorder deactivated while recording")

    def cleanup(self) -> None:  # from inactive only: no episode is running (deactivate ended it)
        for sub in self._recorder_subs:
            self.destroy_subscription(sub)
        for srv in self._recorder_services:
            self.destroy_service(srv)
        if self._event_pub is not None:
            self.destroy_publisher(self._event_pub)
        self._recorder_subs, self._recorder_services, self._event_pub = [], [], None
        self.config = self.recorder = None

    def diagnostic_statuses(self) -> list[Status]:
        if self.recorder is None:
            return []
        try:
            free, error = free_bytes(self.recorder.out_dir), ""
        except OSError as exc:
            free, error = None, str(exc)
        return [recording_status(self.recorder, time.time_ns()),
                disk_status(self.recorder.out_dir, free, self.config.min_free_bytes, error)]

    def stop_recording(self, why: str) -> None:
        """End a running episode as `abort` (event published and in the bag) and keep it."""
        session = self.recorder.session if self.recorder is not None else None
        if session is None:
            return
        self._event(EpisodeEvent.ABORT, session.meta.episode_id, session.meta.task, why)
        res = self.recorder.shutdown(why)
        if res is not None:
            self.get_logger().warning(res.message)

    def _subscribe(self, spec):
        topic = spec.name
        recorder = self.recorder
        clock = self.get_clock()

        def on_raw(data: bytes) -> None:  # raw=True: serialized CDR, never deserialized here
            recorder.submit(topic, data, clock.now().nanoseconds or time.time_ns())

        events = SubscriptionEventCallbacks(message_lost=lambda info: recorder.message_lost(topic, info.total_count_change))
        try:
            return self.create_subscription(_msg_class(spec.msgtype), topic, on_raw, QOS[spec.qos], raw=True,
                                            event_callbacks=events)
        except Exception as exc:  # middleware without message_lost events: record without them
            self.get_logger().warning(f"{topic}: no message_lost events ({exc})")
            return self.create_subscription(_msg_class(spec.msgtype), topic, on_raw, QOS[spec.qos], raw=True)

    def _event(self, kind: int, episode_id: str, task: str = "", note: str = "", new_outcome: int = 0) -> None:
        msg = EpisodeEvent(episode_id=episode_id, kind=kind, task_prompt=task, note=note, new_outcome=new_outcome)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.recorder.submit(EVENTS_TOPIC, serialize_message(msg), self.get_clock().now().nanoseconds or time.time_ns())
        if self.context.ok():  # after SIGINT the context is gone; the bag still gets the event
            self._event_pub.publish(msg)

    def _on_start(self, req, resp):
        if not self.is_active:
            resp.accepted, resp.message = False, (f"{NODE_NAME} is configured but not active: activate it "
                                                  "(lifecycle transition) to record episodes")
            self.get_logger().warning(f"start refused: {resp.message}")
            return resp
        res = self.recorder.start(req.task_prompt, req.episode_id, req.note)
        resp.accepted, resp.episode_id, resp.message = res.accepted, res.episode_id, res.message
        if res.accepted:
            self._event(EpisodeEvent.START, res.episode_id, req.task_prompt, req.note)
        else:
            self.get_logger().warning(f"start refused: {res.message}")
        return resp

    def _on_end(self, req, resp):
        # Draining the writer queue and fsyncing here (0.1 s measured) pauses the subscriptions;
        # DDS keeps up to 100 samples per topic meanwhile (2 s of a 50 fps camera).
        outcome = OUTCOME_NAMES.get(req.outcome, f"<invalid {req.outcome}>")
        session = self.recorder.session
        if session is not None and outcome in EVENT_KIND and req.episode_id in ("", session.meta.episode_id):
            self._event(EVENT_KIND[outcome], session.meta.episode_id, session.meta.task, req.note)
        res = self.recorder.end(outcome, req.episode_id, req.note)
        resp.accepted, resp.message, resp.bag_path = res.accepted, res.message, res.bag_path
        if not res.accepted:
            self.get_logger().warning(f"end refused: {res.message}")
        return resp

    def _on_relabel(self, req, resp):
        outcome = OUTCOME_NAMES.get(req.outcome, f"<invalid {req.outcome}>")
        res = self.recorder.relabel(req.episode_id, outcome, req.note)
        resp.accepted, resp.message = res.accepted, res.message
        if res.accepted:
            msg = EpisodeEvent(episode_id=req.episode_id, kind=EpisodeEvent.RELABEL, new_outcome=req.outcome, note=req.note)
            msg.header.stamp = self.get_clock().now().to_msg()
            self._event_pub.publish(msg)
        return resp


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv if argv is not None else sys.argv)
    node = RecorderNode()
    try:
        node.start()
    except ConfigureError:  # already logged with the reason; a standalone recorder that cannot record exits
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    # Single-threaded on purpose: rclpy's MultiThreadedExecutor spent ~3/4 of the recorder's CPU in
    # its own futures and thread pool (py-spy), capping it at one core and 51-85 % of the
    # benchmark stream; the writing already runs on the session's own thread (docs/RECORDER.md).
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor.spin)
    finally:
        node.stop_recording("recorder shut down while recording")  # closed as aborted, not lost
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
