"""Observations -> model input tensors; the same code path for training batches and inference.

Input (N = samples): qpos (N, 14), env_state (N, S) or None, images {cam: (N, h, w, 3) uint8},
task ids (N,). Output dict: qpos, env_state (normalised float32), images (N, Ncam, 3, h, w) uint8,
task_id int64.
"""

from __future__ import annotations

import numpy as np
import torch

from recap_trainer.models.config import ObservationConfig
from recap_trainer.normalization import NormStats


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
        env_state = np.asarray(env_state, np.float64)
        if env_state.ndim != 2 or env_state.shape[1] != config.state_dim:
            raise ObservationError(f"{where}: env_state has shape {env_state.shape[1:]}, the model expects ({config.state_dim},)")
        _check_finite(where, "env_state", env_state)
        out["env_state"] = torch.from_numpy(stats.normalize("env_state", env_state))
    if config.uses_images:
        frames = []
        for cam in config.cameras:
            if cam not in images:
                raise ObservationError(f"{where}: camera {cam!r} missing (have {sorted(images)})")
            img = np.asarray(images[cam])
            if img.dtype != np.uint8 or img.shape[1:] != (*config.image_size, 3):
                raise ObservationError(
                    f"{where}: camera {cam!r} gives {img.shape[1:]} {img.dtype}, the model expects "
                    f"{(*config.image_size, 3)} uint8"
                )
            frames.append(torch.from_numpy(np.ascontiguousarray(img)).permute(0, 3, 1, 2))
        out["images"] = torch.stack(frames, dim=1)
    return out


def _check_finite(where: str, key: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        raise ObservationError(f"{where}: {key} contains NaN or inf")
