"""Pieces shared by value and policy training: model config from the data, batches of o_t,
checkpoint/resume plumbing."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from recap_model.checkpoint import CheckpointError, load_checkpoint, load_optimizer_state
from recap_model.features import observation_tensors
from recap_model.models.config import ObservationConfig
from recap_model.normalization import NormStats
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig, TrainerState, fast_forward, make_optimizer


def observation_config_for(catalog: EpisodeCatalog, cameras: Sequence[str] = (), **sizes) -> ObservationConfig:
    """The model's view of this data: the given cameras, else the object state (S = the widest
    task's; narrower tasks are zero-padded, see features.normalized_state)."""
    state_dim = 0 if cameras else max(s.state_dim for s in catalog.summaries)
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


def check_fits(catalog: EpisodeCatalog, config: ObservationConfig, action_dim: int | None = None,
               stats: NormStats | None = None) -> None:
    """Fail before training on an episode the model cannot read (naming it)."""
    task_dims: dict[str, tuple[int, str]] = {}
    for s in catalog.summaries:
        if s.task not in config.tasks:
            raise ValueError(f"episode {s.episode_id}: task {s.task!r} is not in the model's task table {list(config.tasks)}")
        if config.state_dim:
            dim, first = task_dims.setdefault(s.task, (s.state_dim, s.episode_id))
            if s.state_dim != dim:
                raise ValueError(f"episode {s.episode_id}: env_state has {s.state_dim} dimensions, episode {first} "
                                 f"of the same task {s.task!r} has {dim}")
            if s.state_dim == 0 or s.state_dim > config.state_dim:
                raise ValueError(f"episode {s.episode_id}: env_state has {s.state_dim} dimensions, the model "
                                 f"expects 1..{config.state_dim}")
            if stats is not None:
                key = f"env_state/{s.task}" if f"env_state/{s.task}" in stats.mean else "env_state"
                if stats.dim(key) != s.state_dim:
                    raise ValueError(f"episode {s.episode_id}: env_state has {s.state_dim} dimensions, the "
                                     f"checkpoint's stats for task {s.task!r} have {stats.dim(key)}")
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
        config, stats, np.stack(qpos), state if state else None,
        {c: np.stack(v) for c, v in images.items()}, np.array(task_ids), where=f"episode {catalog.summaries[int(episodes[0])].episode_id}",
    )


TRAINER_STATE_KEYS = ("step", "losses", "rng", "torch_rng")  # TrainerState's fields, in order


def trainer_files_exist(directory: Path) -> bool:
    return (directory / "trainer_state.json").is_file() and (directory / "config.json").is_file()


def optimizer_and_resume(out_dir: Path, kind: str, config, model: torch.nn.Module, train: TrainConfig,
                         resume: bool) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler,
                                                TrainerState | None]:
    """The optimizer and schedule for `model`; with `resume` and a trainer state in `out_dir`, that
    run's weights, optimizer state, RNG and schedule position are restored so training continues
    exactly where it stopped (None: start from step 0)."""
    optimizer, scheduler = make_optimizer(model, train)
    if not (resume and trainer_files_exist(out_dir)):
        return optimizer, scheduler, None
    resumed = load_checkpoint(out_dir, kind, expected_config=config)
    model.load_state_dict(resumed.model.state_dict())
    optimizer, scheduler = make_optimizer(model, train)
    info = load_optimizer_state(out_dir, optimizer)
    missing = [key for key in TRAINER_STATE_KEYS if key not in info]
    if missing or not isinstance(info["step"], int) or info["step"] < 0:
        problem = f"no {missing}" if missing else f"step {info['step']!r} is not a step count"
        raise CheckpointError(f"{out_dir / 'trainer_state.json'}: cannot resume, {problem}")
    fast_forward(scheduler, info["step"])
    return optimizer, scheduler, TrainerState(*(info[key] for key in TRAINER_STATE_KEYS))
