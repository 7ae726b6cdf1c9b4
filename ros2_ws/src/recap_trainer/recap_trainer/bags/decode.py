"""One pass over a bag: every needed topic decoded into per-topic samples (stamp, value).

Values: arm vectors (follower / leader, built by joint name through the robot description's joint
map, gripper normalised), D-vectors (executed / proposed command, by the description's
state-vector joint names), camera frames at the dataset
size, intervention flags, object-state vectors; a joint
message that cannot be used is stored as a `Rejected` (message_checks.py) in its place. Events
(`/episode_events`, `/sim/task_state`) and policy ids are collected as they are. Camera frames
(the bulk of a bag) skip the generic deserializer and are resized on worker threads. Joints the
description neither maps nor ignores, and frames of another size than the description's, are
said once per topic.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from recap_core.aloha_layout import vector_by_name
from recap_core.robot_description import ArmDescription
from recap_core.stamps import to_ns
from recap_model.images import resize_to_model

from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.errors import BagError
from recap_trainer.bags.images import decode_rgb, raw_image_view
from recap_trainer.bags.message_checks import ALL_JOINTS, checked_vector
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
    return np.ascontiguousarray(img if size is None else resize_to_model(img, size))


def _arm_topics(cfg: ConverterConfig) -> dict[str, tuple[ArmDescription, slice]]:
    """JointState topic -> (its arm, the arm's columns in the state vector), followers and leaders."""
    out = {}
    for leader in (False, True):
        start = 0
        for arm in cfg.arms(leader):
            out[arm.joint_states] = (arm, slice(start, start + len(arm.joint_names)))
            start += len(arm.joint_names)
    return out


class _OncePerTopic:
    """Warnings that would repeat for every message of a topic, said once."""

    def __init__(self, src: BagSource) -> None:
        self.src, self.said = src, set()

    def __call__(self, topic: str, key: object, message: str) -> None:
        if (topic, key) not in self.said:
            self.said.add((topic, key))
            self.src.warn(message, topic)


def decode_bag(src: BagSource, cfg: ConverterConfig, topics: set[str],
               cameras: dict[str, tuple[int, int]]) -> DecodedBag:
    """Decode `topics` of `src` (`cameras`: the camera topics among them -> the frame size (H, W) the
    description expects). Undecodable single messages are skipped with a warning; unusable joint
    messages are stored as `Rejected`."""
    arms = _arm_topics(cfg)
    joint_range = JointRange(cfg.layout)
    joint_names = cfg.robot.joint_names
    once = _OncePerTopic(src)

    def check_size(topic: str, shape: tuple[int, ...]) -> None:
        if tuple(shape[:2]) != cameras[topic]:
            once(topic, "size", f"frames are {shape[0]}x{shape[1]}, robot {cfg.robot.name!r} expects "
                 f"{cameras[topic][0]}x{cameras[topic][1]}; resized to the dataset's image size")

    out = DecodedBag({t: Samples() for t in topics}, [], [], None)
    pool = ThreadPoolExecutor(max_workers=RESIZE_THREADS, thread_name_prefix="resize")
    pending: deque[Future] = deque()
    try:
        for topic, log_ns, raw in src.messages(topics):
            if topic in cameras and src.topics[topic] == "sensor_msgs/msg/Image":
                fast = raw_image_view(raw)
                if fast is not None:
                    check_size(topic, fast[1].shape)
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
                if topic in arms:
                    arm, columns = arms[topic]
                    unknown = arm.unknown_joints(msg.name)
                    if unknown:
                        once(topic, tuple(unknown), f"joint(s) {unknown} are neither mapped nor ignored by robot "
                             f"{cfg.robot.name!r}; ignored")
                    value = checked_vector(lambda: arm.vector(msg.name, msg.position, where), columns, joint_range)
                elif topic in (cfg.executed_topic, cfg.proposed_topic):
                    value = checked_vector(lambda: vector_by_name(msg.name, msg.position, joint_names, where), ALL_JOINTS,
                                           joint_range, check_range=topic == cfg.executed_topic)
                elif topic in cameras:
                    rgb = decode_rgb(msg)
                    check_size(topic, rgb.shape)
                    value = _resize_copy(rgb, cfg.image_size)
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
