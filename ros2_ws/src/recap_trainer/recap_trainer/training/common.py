"""Pieces shared by value and policy training: model config from the data, batches of o_t,
checkpoint/resume plumbing."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from recap_trainer.features import observation_tensors
from recap_trainer.models.config import ObservationConfig
from recap_trainer.normalization import NormStats
from recap_trainer.training.episodes import EpisodeCatalog


def observation_config_for(catalog: EpisodeCatalog, cameras: Sequence[str] = (), **sizes) -> ObservationConfig:
    """The model's view of this data: object state if every episode has it, the given cameras."""
    first = catalog.summaries[0]
    state_dim = first.state_dim if not cameras else 0
    image_size = (96, 128)
    if cameras:
        ep = catalog.episode(0)
        missing = [c for c in cameras if c not in ep.images]
        if missing:
            raise ValueError(f"episode {ep.episode_id}: has no camera(s) {missing} (has {sorted(ep.images)})")
        image_size = tuple(int(v) for v in ep.images[cameras[0]].shape[1:3])
    config = ObservationConfig(state_dim=state_dim, cameras=tuple(cameras), image_size=image_size,
                               tasks=catalog.tasks(), **sizes)
    check_fits(catalog, config)
    return config


def check_fits(catalog: EpisodeCatalog, config: ObservationConfig, action_dim: int | None = None) -> None:
    """Fail before training on an episode the model cannot read (naming it)."""
    for s in catalog.summaries:
        if s.task not in config.tasks:
            raise ValueError(f"episode {s.episode_id}: task {s.task!r} is not in the model's task table {list(config.tasks)}")
        if config.state_dim and s.state_dim != config.state_dim:
            raise ValueError(f"episode {s.episode_id}: env_state has {s.state_dim} dimensions, the model expects {config.state_dim}")
        missing = [c for c in config.cameras if c not in s.cameras]
        if missing:
            raise ValueError(f"episode {s.episode_id}: camera(s) {missing} missing")
    if action_dim is not None:
        ep = catalog.episode(0)
        if ep.executed_action.shape[1] != action_dim:
            raise ValueError(f"episode {ep.episode_id}: actions have {ep.executed_action.shape[1]} dimensions, the model expects {action_dim}")


def gather_observations(
    catalog: EpisodeCatalog, config: ObservationConfig, stats: NormStats, episodes: np.ndarray, steps: np.ndarray
) -> dict[str, torch.Tensor]:
    """o_t for the sampled (episode, t) pairs; reads only those rows from the memory maps."""
    qpos, state, task_ids = [], [], []
    images: dict[str, list] = {c: [] for c in config.cameras}
    for k, t in zip(episodes.tolist(), steps.tolist()):
        ep = catalog.episode(k)
        qpos.append(ep.qpos[t])
        if config.state_dim:
            state.append(ep.env_state[t])
        for c in config.cameras:
            images[c].append(ep.images[c][t])
        task_ids.append(config.task_id(ep.task))
    return observation_tensors(
        config, stats, np.stack(qpos), np.stack(state) if state else None,
        {c: np.stack(v) for c, v in images.items()}, np.array(task_ids), where=f"episode {catalog.summaries[int(episodes[0])].episode_id}",
    )


def trainer_files_exist(directory: Path) -> bool:
    return (directory / "trainer_state.json").is_file() and (directory / "config.json").is_file()
