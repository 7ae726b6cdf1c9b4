"""Recorder configuration: which topics go into an episode bag, and the safety limits; the bag player's options.

Frozen and validated at construction, so a bad config fails at startup, not mid-episode.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from recap_core.aloha_layout import CAMERA_NAMES

# QoS kinds a topic is subscribed with (the node maps them to rclpy profiles).
QOS_KINDS = ("sensor", "reliable", "latched", "events")
NO_CAMERA = "none"  # the camera list [none] records no cameras (an empty list has no type on the command line)

# The recorder node's parameters: name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    "bag_dir": ("bags", "where episodes go: <bag_dir>/<episode_id>/ (in progress: <bag_dir>/.incomplete/)"),
    "cameras": (list(CAMERA_NAMES), "camera names; topics /<cam>/image_raw[/compressed]; [none] = no cameras "
                                    "(an empty list has no type on the command line)"),
    "compressed_images": (False, "record .../compressed CompressedImage"),
    "sim": (True, "also record /sim/task_state, /sim/object_state, /clock"),
    "camera_rate_hz": (0.0, "nominal camera rate for drop accounting; 0 = infer it from the header stamps"),
    "joint_rate_hz": (0.0, "nominal joint-state rate for drop accounting; 0 = infer it from the header stamps"),
    "flush_interval_s": (1.0, "fsync period; crash loss bound"),
    "queue_size": (2000, "writer queue length; overflow is counted as drops"),
    "queue_max_mb": (512.0, "writer queue size in MB; overflow is counted as drops"),
    "min_free_disk_gb": (2.0, "refuse to start an episode below this much free disk (GB)"),
    "robot_id": ("aloha", "robot id stored in the metadata"),
    "iteration": (0, "RECAP iteration stored in the metadata"),
}


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


def aloha_topics(cameras: tuple[str, ...] = CAMERA_NAMES,
                 compressed: bool = False, camera_rate_hz: float = 0.0,
                 joint_rate_hz: float = 0.0, sim: bool = True) -> tuple[TopicSpec, ...]:
    """The default ALOHA topic set of docs/INTERFACES.md (rates: 0 = inferred from the stamps)."""
    img = ("sensor_msgs/msg/CompressedImage", "/compressed") if compressed else ("sensor_msgs/msg/Image", "")
    topics = [TopicSpec(f"/{c}/image_raw{img[1]}", img[0], "sensor", camera_rate_hz) for c in cameras]
    for side in ("follower_left", "follower_right", "leader_left", "leader_right"):
        topics.append(TopicSpec(f"/{side}/joint_states", "sensor_msgs/msg/JointState", "sensor", joint_rate_hz))
    topics += [
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
    """

    out_dir: str
    topics: tuple[TopicSpec, ...] = field(default_factory=aloha_topics)
    flush_interval_s: float = 1.0
    queue_size: int = 2000
    queue_max_bytes: int = 512 * 1024**2
    min_free_bytes: int = 2 * 1024**3
    robot_id: str = "aloha"
    iteration: int = 0
    drop_gap_factor: float = 1.5  # a stamp gap > factor / rate counts the missing periods as drops

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must be set")
        names = [t.name for t in self.topics]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate topics in recorder config: {sorted(n for n in names if names.count(n) > 1)}")
        if not self.topics:
            raise ValueError("recorder config has no topics")
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
    def from_parameters(cls, p: Mapping[str, object]) -> "RecorderConfig":
        """The config from the node's PARAMETERS values; raises ValueError naming a bad one."""
        cameras = tuple(c for c in p["cameras"] if c and c != NO_CAMERA)
        return cls(
            out_dir=p["bag_dir"],
            topics=aloha_topics(cameras, p["compressed_images"], p["camera_rate_hz"], p["joint_rate_hz"], p["sim"]),
            flush_interval_s=p["flush_interval_s"], queue_size=p["queue_size"],
            queue_max_bytes=int(p["queue_max_mb"] * 1024**2), min_free_bytes=int(p["min_free_disk_gb"] * 1e9),
            robot_id=p["robot_id"], iteration=p["iteration"])

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
