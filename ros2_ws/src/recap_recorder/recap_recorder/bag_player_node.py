"""Publish a recorded episode bag onto the ROS graph, with /clock, at 1x or faster.

For machines without rosbag2 (`ros2 bag play` works unchanged on our bags where it exists):
the live policy node can then be debugged against recorded observations. Messages are published
as the recorded serialized bytes (no deserialization); /clock carries the bag's receive time so
nodes with use_sim_time=true see the recorded time base (header stamps stay consistent with it).
Timing is paced in the main loop from the bag's log times divided by --rate.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader
from rosgraph_msgs.msg import Clock

from recap_core.stamps import split_ns

from .config import PlaybackConfig

# Reliable publishers match both reliable and best-effort subscribers; latched state topics are
# transient local like their live publishers, so a late subscriber still gets the last state.
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
LATCHED_TYPES = {"recap_msgs/msg/InterventionState", "recap_msgs/msg/TaskState"}
CLOCK_PERIOD_NS = 10_000_000  # /clock at 100 Hz of bag time between messages


def _msg_class(msgtype: str):
    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def play(bag: Path, config: PlaybackConfig = PlaybackConfig(), node_name: str = "bag_player", log=print) -> int:
    """Publish every message of `bag` (restricted to `config.topics`) paced at `config.rate`; returns the count.

    config.wait_for: topics that must have a subscriber before playback starts (so nothing is
    published before discovery has matched the node under test).
    """
    topics, clock, rate = config.topics, config.clock, config.rate
    node = rclpy.create_node(node_name)
    published = 0
    try:
        with Reader(bag) as reader:
            conns = [c for c in reader.connections if (not topics or c.topic in topics)
                     and not (clock and c.topic == "/clock")]
            pubs = {}
            for c in conns:
                try:
                    cls = _msg_class(c.msgtype)
                except (ImportError, AttributeError):
                    log(f"{bag}: {c.topic}: type {c.msgtype} is not installed here; not published")
                    continue
                pubs[c.id] = node.create_publisher(cls, c.topic, LATCHED if c.msgtype in LATCHED_TYPES else RELIABLE)
            clock_pub = node.create_publisher(Clock, "/clock", RELIABLE) if clock else None
            deadline = time.monotonic() + config.wait_timeout_s
            for topic in config.wait_for:
                while node.count_subscribers(topic) == 0:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no subscriber on {topic} within {config.wait_timeout_s} s")
                    time.sleep(0.01)  # graph polling in the playback loop (not a callback)
            log(f"playing {bag} ({len(pubs)} topics) at {rate}x")
            wall0 = bag0 = None
            next_clock = None
            for conn, log_ns, raw in reader.messages(connections=conns):
                if conn.id not in pubs:
                    continue
                if wall0 is None:
                    wall0, bag0, next_clock = time.monotonic(), log_ns, log_ns
                if clock_pub is not None:
                    while next_clock <= log_ns:  # clock ticks up to this message, each on time
                        _wait_until(wall0 + (next_clock - bag0) / 1e9 / rate)
                        msg = Clock()
                        msg.clock.sec, msg.clock.nanosec = split_ns(next_clock)
                        clock_pub.publish(msg)
                        next_clock += CLOCK_PERIOD_NS
                _wait_until(wall0 + (log_ns - bag0) / 1e9 / rate)
                pubs[conn.id].publish(bytes(raw))
                published += 1
    finally:
        node.destroy_node()
    log(f"published {published} messages")
    return published


def _wait_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)  # pacing the playback loop (not a callback)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bag_player", description="Publish a recorded episode bag (rosbag2 with metadata.yaml; MCAP or "
        "sqlite3) with /clock from its receive times, at --rate x real time. Use it where `ros2 bag play` "
        "is not installed; start the nodes under test with use_sim_time:=true.")
    parser.add_argument("bag", type=Path)
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed (1 = real time)")
    parser.add_argument("--topics", nargs="*", help="only these topics")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument("--wait-for", nargs="*", default=[], metavar="TOPIC",
                        help="start only once these topics have a subscriber")
    args, ros_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    try:
        config = PlaybackConfig(rate=args.rate, topics=tuple(args.topics or ()), clock=not args.no_clock,
                                wait_for=tuple(args.wait_for))
    except ValueError as exc:
        parser.error(str(exc))
    rclpy.init(args=[sys.argv[0], *ros_args])
    try:
        play(args.bag, config)
    except KeyboardInterrupt:
        pass
    finally:
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
