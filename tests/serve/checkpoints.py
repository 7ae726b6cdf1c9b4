"""A tiny untrained image + object-state policy checkpoint whose chunks depend on the indicator."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recap_model.checkpoint import save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats
from recap_model.robot_layout import default_layout

ROBOT = default_layout().identity()  # the simulator's 14-D ALOHA

STATE_NAMES = ("cube_x", "cube_y", "cube_z")
TASKS = ("transfer_cube", "insertion")
HORIZON = 6
IMAGE_SIZE = (16, 16)


def write_image_checkpoint(directory: Path) -> Path:
    torch.manual_seed(0)
    obs = ObservationConfig(state_dim=len(STATE_NAMES), cameras=("cam_high",), image_size=IMAGE_SIZE,
                            image_channels=(8, 8), image_shift=0, tasks=TASKS, width=16)
    model = PolicyModel(PolicyConfig(observation=obs, horizon=HORIZON, flow_width=32, flow_blocks=1,
                                     denoising_steps=2, relative_dims=()))
    for block in model.velocity.blocks:  # blocks start as the identity; make the chunk depend on I
        torch.nn.init.normal_(block.fc2.weight, std=0.2)
    s = len(STATE_NAMES)
    stats = NormStats(mean={"qpos": np.zeros(14, np.float32), "env_state": np.zeros(s, np.float32),
                            "action": np.zeros(14, np.float32)},
                      std={"qpos": np.ones(14, np.float32), "env_state": np.ones(s, np.float32),
                           "action": np.ones(14, np.float32)})
    return save_checkpoint(directory, "policy", model, stats, ROBOT,
                           metadata={"control_period": 0.02, "state_names": list(STATE_NAMES)})


def observation(k: int = 0) -> dict:
    """A request as an openpi client sends it (images (3, h, w) uint8); `k` varies every field."""
    rng = np.random.default_rng(k)
    return {"state": rng.normal(size=14).astype(np.float32),
            "images": {"cam_high": rng.integers(0, 255, size=(3, *IMAGE_SIZE), dtype=np.uint8)},
            "env_state": rng.normal(size=len(STATE_NAMES)).astype(np.float32),
            "prompt": TASKS[k % 2]}


def policy_obs(request: dict) -> dict:
    """The same observation as recap_model.policy.Policy.infer takes it."""
    return {"qpos": request["state"], "env_state": request["env_state"], "task": request["prompt"],
            "images": {cam: img.transpose(1, 2, 0) for cam, img in request["images"].items()}}
