"""One pass over a bag: every needed topic decoded into per-topic samples (stamp, value).

Values: arm 7-vectors (follower / leader, gripper normalised), 14-vectors (executed / proposed
command), camera frames at the dataset size, intervention flags, object-state vectors; a joint
message that cannot be used is stored as a `Rejected` (message_checks.py) in its place. Events
(`/episode_events`, `/sim/task_state`) and policy ids are collected as they are. Camera frames
(the bulk of a bag) skip the generic deserializer and are resized on worker threads.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from recap_core.aloha_layout import GripperCalibration, arm_vector, reorder_by_name
from recap_core.stamps import to_ns

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.images import decode_resize, raw_image_view, resize
from recap_trainer.bags.message_checks import ALL_JOINTS, arm_columns, checked_vector
from recap_trainer.bags.source import BagSource
from recap_trainer.episode import JointRange

RESIZE_THREADS = 2
MAX_PENDING = 32  # raw camera frames in flight to the resize threads (bounds memory)


@dataclass
class Samples:
    """One topic: header stamps (ns), receive times (ns), values, in bag order."""

    stamps: list[int] = field(default_factory=list)
    log: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, stamp: int, log_ns: int, value: Any) -> None:
        self.stamps.append(stamp)
        self.log.append(log_ns)
        self.values.append(value)


@dataclass
class DecodedBag:
    samples: dict[str, Samples]
    events: list[tuple[int, str, Any]]  # (receive ns, topic, message) of events / task states
    policy_ids: list[str]  # ActionChunk.policy_id values in the order they appeared
    state_names: list[str] | None  # /sim/object_state feature names

    def has_messages(self, topic: str) -> bool:
        return topic in self.samples and bool(self.samples[topic].values)


def _stamp(msg) -> int:
    return to_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)


def _resize_copy(img: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    return np.ascontiguousarray(img if size is None else resize(img, size))


def decode_bag(src: BagSource, cfg: ConverterConfig, topics: set[str], cameras: set[str]) -> DecodedBag:
    """Decode `topics` of `src` (`cameras`: the camera topics among them). Undecodable single
    messages are skipped with a warning; unusable joint messages are stored as `Rejected`."""
    follower = GripperCalibration(*cfg.follower_gripper)
    leader = GripperCalibration(*cfg.leader_gripper)
    joint_range = JointRange()
    out = DecodedBag({t: Samples() for t in topics}, [], [], None)
    pool = ThreadPoolExecutor(max_workers=RESIZE_THREADS, thread_name_prefix="resize")
    pending: deque[Future] = deque()
    try:
        for topic, log_ns, raw in src.messages(topics):
            if topic in cameras and src.topics[topic] == "sensor_msgs/msg/Image":
                fast = raw_image_view(raw)
                if fast is not None:
                    # resizing releases the GIL: it overlaps with reading the next messages
                    future = pool.submit(_resize_copy, fast[1], cfg.image_size)
                    out.samples[topic].add(fast[0], log_ns, future)
                    pending.append(future)
                    if len(pending) > MAX_PENDING:
                        pending.popleft().result()
                    continue
            try:
                msg = src.deserialize(raw, topic)
            except Exception as exc:
                src.warn(f"undecodable message at {log_ns} ns skipped ({type(exc).__name__}: {exc})", topic)
                continue
            where = f"{src.name}: {topic}"
            try:
                if topic in (*cfg.follower_topics, *cfg.leader_topics):
                    arm = (*cfg.follower_topics, *cfg.leader_topics).index(topic) % 2
                    gripper = follower if topic in cfg.follower_topics else leader
                    value = checked_vector(lambda: arm_vector(msg.name, msg.position, gripper, where),
                                           arm_columns(arm), joint_range)
                elif topic in (cfg.executed_topic, cfg.proposed_topic):
                    value = checked_vector(lambda: reorder_by_name(msg.name, msg.position, where), ALL_JOINTS,
                                           joint_range if topic == cfg.executed_topic else None)
                elif topic in cameras:
                    value = decode_resize(msg, cfg.image_size)
                elif topic == cfg.intervention_topic:
                    value = bool(msg.human_in_control)
                elif topic == cfg.object_state_topic:
                    if out.state_names is None:
                        out.state_names = list(msg.name)
                    elif list(msg.name) != out.state_names:
                        raise BagError(f"{where}: object state names changed mid-episode")
                    value = np.asarray(msg.position, np.float64)
                else:
                    if topic == cfg.chunk_topic and msg.policy_id and msg.policy_id not in out.policy_ids[-1:]:
                        out.policy_ids.append(msg.policy_id)
                    elif topic in (cfg.events_topic, cfg.task_state_topic):
                        out.events.append((log_ns, topic, msg))
                    continue
            except BagError:
                raise
            except Exception as exc:
                src.warn(f"message at {log_ns} ns skipped: {type(exc).__name__}: {exc}", topic)
                continue
            out.samples[topic].add(_stamp(msg), log_ns, value)
    finally:
        pool.shutdown(wait=True)
    for s in out.samples.values():
        s.values = [v.result() if isinstance(v, Future) else v for v in s.values]
    return out
