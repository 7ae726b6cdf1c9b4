"""Relative action chunks: arm joints as offsets from the joint positions the chunk was planned at.

openpi trains its ALOHA policies this way (its `DeltaActions` transform): the network predicts
a_{t+k} - q_t for the arm joints and absolute values for the grippers, and the robot side adds q_t
back. Why it matters here: an absolute chunk has to reproduce where the arm already is to within
the task's tolerance (a 4 cm cup leaves about 1 cm), which costs accuracy on every joint's whole
range; offsets are small, start at ~0, and normalised by their own (smaller) spread.

`relative_dims` are action dimensions that are joints also found at the same index of qpos
(the robot's joint order for both); an empty tuple means absolute actions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ACTION_FRAMES = ("relative", "absolute")


def relative_dims_for(frame: str, action_dim: int, gripper_indices: Sequence[int]) -> tuple[int, ...]:
    """The `PolicyConfig.relative_dims` of a policy with actions in `frame`: relative, every joint
    of the D-dimensional vector except the grippers (as openpi does for ALOHA)."""
    if frame not in ACTION_FRAMES:
        raise ValueError(f"action frame must be one of {ACTION_FRAMES}, got {frame!r}")
    return tuple(d for d in range(action_dim) if d not in set(gripper_indices)) if frame == "relative" else ()


def to_model_frame(chunks: np.ndarray, qpos: np.ndarray, relative_dims: Sequence[int]) -> np.ndarray:
    """Robot-frame chunks (N, H, D) and the joint positions they start from (N, D) -> model frame."""
    return _shift(chunks, qpos, relative_dims, -1.0)


def to_robot_frame(chunks: np.ndarray, qpos: np.ndarray, relative_dims: Sequence[int]) -> np.ndarray:
    """Inverse of `to_model_frame`."""
    return _shift(chunks, qpos, relative_dims, 1.0)


def _shift(chunks: np.ndarray, qpos: np.ndarray, relative_dims: Sequence[int], sign: float) -> np.ndarray:
    out = np.array(chunks, dtype=np.float64, copy=True)
    if relative_dims:
        dims = list(relative_dims)
        out[:, :, dims] += sign * np.asarray(qpos, np.float64)[:, None, dims]
    return out


def episode_windows(actions: np.ndarray, horizon: int) -> np.ndarray:
    """Every chunk a_{t:t+H} of an episode, (T, H, D); past the end the last action is repeated,
    as in training (`action_window`)."""
    actions = np.asarray(actions, np.float64)
    padded = np.concatenate([actions, np.repeat(actions[-1:], horizon - 1, axis=0)])
    index = np.arange(len(actions))[:, None] + np.arange(horizon)[None, :]
    return padded[index]
