"""A tiny untrained RECAP policy checkpoint (state-only, transfer_cube object state) for tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recap_model.checkpoint import save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats

# recap_sim's transfer_cube object-state features (what /sim/object_state names).
STATE_NAMES = ("cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
               "cube_touch_left", "cube_touch_right", "cube_touch_table")
HORIZON = 10


def write_tiny_checkpoint(directory: Path, action_mean: np.ndarray | None = None) -> Path:
    """Saved through recap_model's checkpoint API from an untrained model; actions ~ mean +- 0.01."""
    torch.manual_seed(0)
    s = len(STATE_NAMES)
    config = PolicyConfig(observation=ObservationConfig(state_dim=s, tasks=("transfer_cube",), width=16),
                          horizon=HORIZON, flow_width=32, flow_blocks=1, denoising_steps=2,
                          relative_dims=())  # absolute: chunks stay near action_mean whatever the joints
    mean = np.zeros(14, np.float32) if action_mean is None else np.asarray(action_mean, np.float32)
    stats = NormStats(mean={"qpos": np.zeros(14, np.float32), "env_state": np.zeros(s, np.float32), "action": mean},
                      std={"qpos": np.ones(14, np.float32), "env_state": np.ones(s, np.float32),
                           "action": np.full(14, 0.01, np.float32)})
    return save_checkpoint(directory, "policy", PolicyModel(config), stats,
                           metadata={"control_period": 0.02, "state_names": list(STATE_NAMES)})
