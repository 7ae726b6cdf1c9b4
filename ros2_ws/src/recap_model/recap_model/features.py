"""Observations -> model input tensors; the same code path for training batches and inference.

Input (N = samples): qpos (N, D), env_state (N, S) or N rows of per-task widths or None, images {cam: (N, h, w, 3) uint8},
task ids (N,). Output dict: qpos, env_state (normalised float32), images (N, Ncam, 3, h, w) uint8,
task_id int64.
"""

from __future__ import annotations

import numpy as np
import torch

from recap_model.models.config import ObservationConfig
from recap_model.normalization import NormStats


class ObservationError(ValueError):
    """An observation does not fit the model (wrong dimension, NaN, missing camera)."""


def observation_tensors(
    config: ObservationConfig,
    stats: NormStats,
    qpos: np.ndarray,
    env_state: np.ndarray | None,
    images: dict[str, np.ndarray],
    task_ids: np.ndarray,
    where: str = "observation",
) -> dict[str, torch.Tensor]:
    qpos = np.asarray(qpos, np.float64)
    if qpos.ndim != 2 or qpos.shape[1] != config.qpos_dim:
        raise ObservationError(f"{where}: qpos has shape {qpos.shape[1:]}, the model expects ({config.qpos_dim},)")
    _check_finite(where, "qpos", qpos)
    out = {"qpos": torch.from_numpy(stats.normalize("qpos", qpos)),
           "task_id": torch.as_tensor(np.asarray(task_ids), dtype=torch.long)}
    if config.state_dim:
        if env_state is None:
            raise ObservationError(f"{where}: env_state missing, the model uses {config.state_dim} object-state features")
        out["env_state"] = torch.from_numpy(normalized_state(config, stats, env_state, np.asarray(task_ids), where))
    if config.uses_images:
        n, (h, w) = len(qpos), config.image_size
        # Frames stay (h, w, 3) in memory: the (N, Ncam, 3, h, w) tensor is a permuted view of
        # (N, Ncam, h, w, 3), i.e. channels-last images; a channels-first copy of uint8 frames
        # took 20 ms of a 64-sample, 3-camera batch (bench/bench_vision_train.py).
        frames = np.empty((n, len(config.cameras), h, w, 3), np.uint8)
        for i, cam in enumerate(config.cameras):
            if cam not in images:
                raise ObservationError(f"{where}: camera {cam!r} missing (have {sorted(images)})")
            img = np.asarray(images[cam])
            if img.dtype != np.uint8 or img.shape[1:] != (*config.image_size, 3):
                raise ObservationError(
                    f"{where}: camera {cam!r} gives {img.shape[1:]} {img.dtype}, the model expects "
                    f"{(*config.image_size, 3)} uint8"
                )
            frames[:, i] = img
        out["images"] = torch.from_numpy(frames).permute(0, 1, 4, 2, 3)
    return out


def normalized_state(
    config: ObservationConfig, stats: NormStats, env_state, task_ids: np.ndarray, where: str
) -> np.ndarray:
    """Object state (N rows; tasks may have different S) -> (N, config.state_dim) float32.

    Each task's state is normalised with its own stats ("env_state/<task>"; a checkpoint with one
    shared layout has "env_state") and zero-padded to the widest task's S, so one state-only model
    serves tasks with different object-state layouts; the task embedding tells them apart.
    """
    out = np.zeros((len(task_ids), config.state_dim), np.float32)
    for tid in np.unique(task_ids):
        task = config.tasks[int(tid)]
        idx = np.flatnonzero(task_ids == tid)
        key = f"env_state/{task}" if f"env_state/{task}" in stats.mean else "env_state"
        if key not in stats.mean:
            raise ObservationError(f"{where}: the model has no object-state statistics for task {task!r}")
        if isinstance(env_state, np.ndarray) and env_state.ndim == 2:  # one layout: slice, no per-row loop
            block = np.asarray(env_state[idx], np.float64)
        else:
            try:
                block = np.asarray([np.asarray(env_state[i], np.float64).reshape(-1) for i in idx])
            except ValueError as exc:
                raise ObservationError(f"{where}: env_state rows of task {task!r} differ in length") from exc
        if block.ndim != 2 or block.shape[1] != stats.dim(key):
            raise ObservationError(f"{where}: env_state of task {task!r} has shape {block.shape[1:]}, "
                                   f"the model expects ({stats.dim(key)},)")
        _check_finite(where, "env_state", block)
        out[idx, : block.shape[1]] = stats.normalize(key, block)
    return out


def _check_finite(where: str, key: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        raise ObservationError(f"{where}: {key} contains NaN or inf")
