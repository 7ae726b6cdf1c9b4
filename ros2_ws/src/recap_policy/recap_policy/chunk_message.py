"""numpy chunk (H, D) <-> recap_msgs/ActionChunk."""
from __future__ import annotations

import array

import numpy as np
from builtin_interfaces.msg import Duration, Time

from recap_core.stamps import seconds_to_ns, split_ns
from recap_msgs.msg import ActionChunk

ADVANTAGE_CODES = {"positive": ActionChunk.ADVANTAGE_POSITIVE, "negative": ActionChunk.ADVANTAGE_NEGATIVE,
                   "unconditioned": ActionChunk.ADVANTAGE_UNCONDITIONED}


def ns_to_time(ns: int) -> Time:
    sec, nanosec = split_ns(ns)
    return Time(sec=sec, nanosec=nanosec)


def seconds_to_duration(t: float) -> Duration:
    sec, nanosec = split_ns(seconds_to_ns(t))
    return Duration(sec=sec, nanosec=nanosec)


def chunk_to_msg(actions: np.ndarray, *, chunk_id: int, observation_stamp_ns: int, control_period: float,
                 advantage: str, guidance_scale: float, policy_id: str, inference_latency: float,
                 joint_names: tuple[str, ...], frame_id: str = "") -> ActionChunk:
    """actions (H, D) in `joint_names` order -> ActionChunk stamped with the observation time."""
    arr = np.asarray(actions, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != len(joint_names):
        raise ValueError(f"chunk shape {arr.shape} does not match {len(joint_names)} joint names")
    msg = ActionChunk()
    msg.header.stamp = ns_to_time(observation_stamp_ns)
    msg.header.frame_id = frame_id
    msg.chunk_id = chunk_id
    msg.joint_names = list(joint_names)
    msg.control_period = seconds_to_duration(control_period)
    msg.horizon, msg.action_dim = arr.shape
    msg.actions = array.array("f", arr.ravel().tobytes())
    msg.advantage_conditioning = ADVANTAGE_CODES[advantage]
    msg.guidance_scale = float(guidance_scale)
    msg.policy_id = policy_id
    msg.inference_latency = seconds_to_duration(inference_latency)
    return msg


def msg_to_chunk(msg: ActionChunk, joint_names: tuple[str, ...], source: str = "/policy/action_chunk") -> np.ndarray:
    """ActionChunk -> (H, D) float64 in `joint_names` order (columns matched by name)."""
    h, d = int(msg.horizon), int(msg.action_dim)
    if d != len(msg.joint_names) or len(msg.actions) != h * d:
        raise ValueError(f"{source}: chunk {msg.chunk_id} says H={h}, D={d} with {len(msg.joint_names)} names "
                         f"and {len(msg.actions)} values")
    arr = np.asarray(msg.actions, dtype=np.float64).reshape(h, d)
    index = {n: i for i, n in enumerate(msg.joint_names)}
    missing = [j for j in joint_names if j not in index]
    if missing:
        raise ValueError(f"{source}: chunk {msg.chunk_id} lacks joint(s) {missing}")
    return arr[:, [index[j] for j in joint_names]]
