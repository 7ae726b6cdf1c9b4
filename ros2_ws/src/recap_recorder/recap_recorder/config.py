"""Recorder configuration: which topics go into an episode bag, and the safety limits; the bag player's options.

The topics come from the robot description (its arms' JointState topics, its cameras with their
message type, its command topics) plus the stack's own topics. Frozen and validated at
construction, so a bad config fails at startup, not mid-episode.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from recap_core.robot_description import ROBOT_PARAMETER, RobotDescription

# QoS kinds a topic is subscribed with (the node maps them to rclpy profiles).
QOS_KINDS = ("sensor", "reliable", "latched", "events")

# The recorder node's parameters: name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    ROBOT_PARAMETER[0]: (ROBOT_PARAMETER[1], ROBOT_PARAMETER[2]),
    "bag_dir": ("bags", "where episodes go: <bag_dir>/<episode_id>/ (in progress: <bag_dir>/.incomplete/)"),
    "sim": (True, "also record /sim/task_state, /sim/object_state, /clock"),
    "joint_rate_hz": (0.0, "nominal joint-state rate for drop accounting; 0 = infer it from the header stamps"),
    "flush_interval_s": (1.0, "fsync period; crash loss bound"),
    "queue_size": (2000, "writer queue length; overflow is counted as drops"),
    "queue_max_mb": (512.0, "writer queue size in MB; overflow is counted as drops"),
    "min_free_disk_gb": (2.0, "refuse to configure or start an episode below this much free disk (GB)"),
    "robot_id": ("", "this robot's id in the metadata and the episode ids; empty = the description's name"),
    "iteration": (0, "RECAP iteration stored in the metadata"),
}

# Message types of the description's command topics, by adapter (per arm, in the topics' order).
ADAPTER_MSGTYPES = {
    "joint_state": ("sensor_msgs/msg/JointState",),
    "joint_trajectory": ("trajectory_msgs/msg/JointTrajectory",),
    "interbotix": ("interbotix_xs_msgs/msg/JointGroupCommand", "interbotix_xs_msgs/msg/JointSingleCommand"),
}
HEADERLESS = {"interbotix_xs_msgs/msg/JointGroupCommand", "interbotix_xs_msgs/msg/JointSingleCommand"}


@dataclass(frozen=True)
class TopicSpec:
    """One recorded topic.

    rate_hz: nominal publish rate for drop accounting from header stamps; 0 = infer the period
    from the stamps (median interval); None = event topic, no expectation.
    has_header: the message starts with std_msgs/Header (stamps are read from the serialized
    bytes without deserializing).
    """

    name: str
    msgtype: str  # ROS 2 type name, e.g. "sensor_msgs/msg/Image"
    qos: str = "sensor"
    rate_hz: float | None = None
    has_header: bool = True

    def __post_init__(self) -> None:
        if not self.name.startswith("/"):
            raise ValueError(f"topic {self.name!r}: name must be absolute (start with '/')")
        if self.msgtype.count("/") != 2:
            raise ValueError(f"topic {self.name}: msgtype {self.msgtype!r} must be 'pkg/msg/Type'")
        if self.qos not in QOS_KINDS:
            raise ValueError(f"topic {self.name}: qos {self.qos!r} not in {QOS_KINDS}")
        if self.rate_hz is not None and self.rate_hz < 0:
            raise ValueError(f"topic {self.name}: rate_hz must be >= 0 (0 = auto) or None, got {self.rate_hz}")


def stack_topics(joint_rate_hz: float = 0.0, sim: bool = True) -> tuple[TopicSpec, ...]:
    """The stack's own topics (docs/INTERFACES.md), whatever the robot."""
    topics = [
        TopicSpec("/executed_command", "sensor_msgs/msg/JointState", "reliable", 0.0),
        TopicSpec("/policy/command", "sensor_msgs/msg/JointState", "reliable"),  # pauses between chunks
        TopicSpec("/policy/action_chunk", "recap_msgs/msg/ActionChunk", "reliable"),
        TopicSpec("/intervention_state", "recap_msgs/msg/InterventionState", "latched"),
        TopicSpec("/episode_events", "recap_msgs/msg/EpisodeEvent", "events"),
    ]
    if sim:
        topics += [
            TopicSpec("/sim/task_state", "recap_msgs/msg/TaskState", "latched"),
            TopicSpec("/sim/object_state", "sensor_msgs/msg/JointState", "sensor", joint_rate_hz),
            TopicSpec("/clock", "rosgraph_msgs/msg/Clock", "reliable", has_header=False),
        ]
    return tuple(topics)


def robot_topics(robot: RobotDescription, joint_rate_hz: float = 0.0,
                 available: Callable[[str], bool] = lambda msgtype: True) -> tuple[tuple[TopicSpec, ...], tuple[str, ...]]:
    """(recorded, skipped): the description's JointState, camera and command topics.

    Cameras are recorded with their own type at their description rate (the drop accounting's
    expectation). Command topics whose type `available` denies (a driver's message package that is
    not installed) are skipped; they are outputs of this stack, so nothing else is lost. Commands
    have no rate: a joint_trajectory header stamp of 0 means "now", and policy pauses are not drops.
    """
    topics = [TopicSpec(arm.joint_states, "sensor_msgs/msg/JointState", "sensor", joint_rate_hz)
              for arm in (*robot.follower_arms, *robot.leader_arms)]
    topics += [TopicSpec(cam.topic, cam.msgtype, "sensor", cam.rate_hz) for cam in robot.cameras]
    skipped = []
    for _arm, arm_topics in robot.commands.topics:
        for topic, msgtype in zip(arm_topics, ADAPTER_MSGTYPES[robot.commands.adapter]):
            if available(msgtype):
                topics.append(TopicSpec(topic, msgtype, "reliable", has_header=msgtype not in HEADERLESS))
            else:
                skipped.append(topic)
    return tuple(topics), tuple(skipped)


@dataclass(frozen=True)
class RecorderConfig:
    """out_dir: finished episodes land in <out_dir>/<episode_id>/ (bag + episode.json);
    in-progress ones live in <out_dir>/.incomplete/<episode_id>/.

    flush_interval_s: the pending MCAP chunk is closed, flushed and fsynced at least this often;
    a SIGKILL loses at most this much (plus what is still in the queue).
    queue_size, queue_max_bytes: messages (and their bytes) buffered between the DDS callbacks and
    the writer thread; when either is reached new messages are dropped and counted (callbacks
    never block).
    min_free_bytes: an episode is refused below this much free disk.
    robot_description, robot_description_hash: the description the topics came from (name and
    `description_hash()`), written into every episode's metadata so the converter can check it.
    skipped_topics: description command topics not recorded (their message package is not installed).
    """

    out_dir: str
    topics: tuple[TopicSpec, ...]
    flush_interval_s: float = 1.0
    queue_size: int = 2000
    queue_max_bytes: int = 512 * 1024**2
    min_free_bytes: int = 2 * 1024**3
    robot_id: str = "robot"
    iteration: int = 0
    drop_gap_factor: float = 1.5  # a stamp gap > factor / rate counts the missing periods as drops
    robot_description: str = ""
    robot_description_hash: str = ""
    skipped_topics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must be set")
        names = [t.name for t in self.topics]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate topics in recorder config: {sorted(n for n in names if names.count(n) > 1)}")
        if not self.topics:
            raise ValueError("recorder config has no topics")
        if not self.robot_id:
            raise ValueError("robot_id must be set")
        if self.flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s must be > 0, got {self.flush_interval_s}")
        if self.queue_size < 1 or self.queue_max_bytes < 1:
            raise ValueError(f"queue_size and queue_max_bytes must be >= 1, got {self.queue_size}, "
                             f"{self.queue_max_bytes}")
        if self.min_free_bytes < 0:
            raise ValueError(f"min_free_bytes must be >= 0, got {self.min_free_bytes}")
        if self.drop_gap_factor <= 1.0:
            raise ValueError(f"drop_gap_factor must be > 1, got {self.drop_gap_factor}")

    @classmethod
    def from_parameters(cls, p: Mapping[str, object], robot: RobotDescription,
                        available: Callable[[str], bool] = lambda msgtype: True) -> "RecorderConfig":
        """The config from the node's PARAMETERS values and the description they name; raises
        ValueError naming a bad value (a topic the description and the stack both use, too)."""
        recorded, skipped = robot_topics(robot, p["joint_rate_hz"], available)
        return cls(
            out_dir=p["bag_dir"], topics=recorded + stack_topics(p["joint_rate_hz"], p["sim"]),
            flush_interval_s=p["flush_interval_s"], queue_size=p["queue_size"],
            queue_max_bytes=int(p["queue_max_mb"] * 1024**2), min_free_bytes=int(p["min_free_disk_gb"] * 1e9),
            robot_id=p["robot_id"] or robot.name, iteration=p["iteration"], robot_description=robot.name,
            robot_description_hash=robot.description_hash(), skipped_topics=skipped)

    def config_hash(self) -> str:
        """Short stable hash of what shapes the recorded data (topics, rates), not of paths."""
        payload = {"topics": [asdict(t) for t in self.topics], "robot_id": self.robot_id}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]

    def topic(self, name: str) -> TopicSpec:
        for t in self.topics:
            if t.name == name:
                return t
        raise KeyError(f"topic {name} is not in the recorder config")


@dataclass(frozen=True)
class PlaybackConfig:
    """How bag_player publishes a recorded bag (its command-line options)."""

    rate: float = 1.0  # playback speed: 1 = real time
    topics: tuple[str, ...] = ()  # only these topics; () = all
    clock: bool = True  # publish /clock from the bag's receive times
    wait_for: tuple[str, ...] = ()  # start only once these topics have a subscriber
    wait_timeout_s: float = 30.0  # ... or fail after this long

    def __post_init__(self) -> None:
        # NaN passes a plain `> 0` test the wrong way round and would play unpaced.
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"--rate must be a finite number > 0, got {self.rate}")
        if not self.wait_timeout_s > 0:
            raise ValueError(f"wait_timeout_s must be > 0, got {self.wait_timeout_s}")
