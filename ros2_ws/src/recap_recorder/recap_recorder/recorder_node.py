"""Episode recorder node: raw DDS subscriptions -> one rosbag2 (MCAP) per episode.

Thin: parameters (config.PARAMETERS) -> RecorderConfig, raw callbacks -> EpisodeRecorder.submit
(non-blocking), services -> start / end / relabel. All bookkeeping lives in the ROS-free modules.
"""
from __future__ import annotations

import importlib
import sys
import time

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message

from recap_msgs.msg import EpisodeEvent
from recap_msgs.srv import EndEpisode, RelabelEpisode, StartEpisode

from .config import PARAMETERS, RecorderConfig
from .lifecycle import EpisodeRecorder

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


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("episode_recorder")
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.config = RecorderConfig.from_parameters({name: self.get_parameter(name).value for name in PARAMETERS})
        self.recorder = EpisodeRecorder(self.config, log=self.get_logger().info)
        self._subs = []
        for spec in self.config.topics:
            if spec.name == EVENTS_TOPIC:
                continue  # our own events are written straight into the bag
            self._subs.append(self._subscribe(spec))
        self._events = self.create_publisher(EpisodeEvent, EVENTS_TOPIC, QOS["events"])
        self.create_service(StartEpisode, "/recorder/start_episode", self._on_start)
        self.create_service(EndEpisode, "/recorder/end_episode", self._on_end)
        self.create_service(RelabelEpisode, "/recorder/relabel_episode", self._on_relabel)
        self.get_logger().info(f"recording {len(self.config.topics)} topics to {self.config.out_dir} "
                               f"(config {self.config.config_hash()})")

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
            self.get_logger().warn(f"{topic}: no message_lost events ({exc})")
            return self.create_subscription(_msg_class(spec.msgtype), topic, on_raw, QOS[spec.qos], raw=True)

    def _event(self, kind: int, episode_id: str, task: str = "", note: str = "", new_outcome: int = 0) -> None:
        msg = EpisodeEvent(episode_id=episode_id, kind=kind, task_prompt=task, note=note, new_outcome=new_outcome)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.recorder.submit(EVENTS_TOPIC, serialize_message(msg), self.get_clock().now().nanoseconds or time.time_ns())
        self._events.publish(msg)

    def _on_start(self, req, resp):
        res = self.recorder.start(req.task_prompt, req.episode_id, req.note)
        resp.accepted, resp.episode_id, resp.message = res.accepted, res.episode_id, res.message
        if res.accepted:
            self._event(EpisodeEvent.START, res.episode_id, req.task_prompt, req.note)
        else:
            self.get_logger().warn(f"start refused: {res.message}")
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
            self.get_logger().warn(f"end refused: {res.message}")
        return resp

    def _on_relabel(self, req, resp):
        outcome = OUTCOME_NAMES.get(req.outcome, f"<invalid {req.outcome}>")
        res = self.recorder.relabel(req.episode_id, outcome, req.note)
        resp.accepted, resp.message = res.accepted, res.message
        if res.accepted:
            msg = EpisodeEvent(episode_id=req.episode_id, kind=EpisodeEvent.RELABEL, new_outcome=req.outcome, note=req.note)
            msg.header.stamp = self.get_clock().now().to_msg()
            self._events.publish(msg)
        return resp


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv if argv is not None else sys.argv)
    node = RecorderNode()
    # Single-threaded on purpose: rclpy's MultiThreadedExecutor spent ~3/4 of the recorder's CPU in
    # its own futures and thread pool (py-spy), capping it at one core and 51-85 % of the
    # benchmark stream; the writing already runs on the session's own thread (docs/RECORDER.md).
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.recorder.shutdown()  # an episode still recording is closed as aborted, not lost
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
