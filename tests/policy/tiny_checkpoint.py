"""Tiny untrained RECAP policy checkpoints for tests and benches, for a given robot description:
state-only (transfer_cube object state, the simulator's) or image-only (cameras + joints, as on a robot)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recap_core.robot_description import RobotDescription, load_robot
from recap_model.checkpoint import save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.normalization import NormStats

# recap_sim's transfer_cube object-state features (what /sim/object_state names).
STATE_NAMES = ("cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
               "cube_touch_left", "cube_touch_right", "cube_touch_table")
CAMERAS = ("cam_high", "cam_left_wrist", "cam_right_wrist")
HORIZON = 10
ROBOT = "aloha_sim"


def robot_block(robot: RobotDescription) -> dict:
    """The `robot` block a trained checkpoint carries (copied from its dataset)."""
    return {"name": robot.name, "description_hash": robot.description_hash(), "joint_names": list(robot.joint_names)}


def _save(directory: Path, observation: ObservationConfig, action_mean, metadata: dict, robot: str) -> Path:
    torch.manual_seed(0)
    description = load_robot(robot)
    s, d = observation.state_dim, description.action_dim
    config = PolicyConfig(observation=observation, horizon=HORIZON, flow_width=32, flow_blocks=1, denoising_steps=2,
                          action_dim=d, relative_dims=())  # absolute: chunks stay near action_mean whatever the joints
    mean = np.zeros(d, np.float32) if action_mean is None else np.asarray(action_mean, np.float32)
    stats = NormStats(mean={"qpos": np.zeros(d, np.float32), "env_state": np.zeros(s, np.float32), "action": mean},
                      std={"qpos": np.ones(d, np.float32), "env_state": np.ones(s, np.float32),
                           "action": np.full(d, 0.01, np.float32)})
    return save_checkpoint(directory, "policy", PolicyModel(config), stats, robot=robot_block(description),
                           metadata={"control_period": description.control_period, **metadata})


def write_tiny_checkpoint(directory: Path, action_mean: np.ndarray | None = None,
                          state_names: tuple[str, ...] | None = STATE_NAMES, robot: str = ROBOT) -> Path:
    """A state-only policy reading len(STATE_NAMES) object-state features; actions ~ mean +- 0.01.
    state_names=None leaves the feature names out of the metadata (a malformed checkpoint)."""
    d = load_robot(robot).action_dim
    observation = ObservationConfig(qpos_dim=d, state_dim=len(STATE_NAMES), tasks=("transfer_cube",), width=16)
    return _save(directory, observation, action_mean, {} if state_names is None else {"state_names": list(state_names)},
                 robot)


def write_tiny_image_checkpoint(directory: Path, cameras: tuple[str, ...] = CAMERAS,
                                image_size: tuple[int, int] = (48, 64), robot: str = ROBOT,
                                tasks: tuple[str, ...] = ("transfer_cube",)) -> Path:
    """An image policy for `robot`: cameras + joints only (state_dim 0), a 2-stage CNN of width 16."""
    d = load_robot(robot).action_dim
    observation = ObservationConfig(qpos_dim=d, cameras=cameras, image_size=image_size, tasks=tasks,
                                    width=16, image_channels=(8, 16))
    return _save(directory, observation, None, {}, robot)
