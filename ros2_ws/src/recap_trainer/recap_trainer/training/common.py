"""Pieces shared by value and policy training: model config from the data, batches of o_t,
checkpoint/resume plumbing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from recap_model.checkpoint import (Checkpoint, CheckpointError, load_checkpoint, load_optimizer_state,
                                    load_training_weights)
from recap_model.features import ObservationError, observation_tensors
from recap_model.models.config import ObservationConfig
from recap_model.normalization import NormStats
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig, TrainerState, fast_forward, make_optimizer
from recap_trainer.training.weight_average import WeightAverage

log = logging.getLogger("recap.train")


def observation_config_for(catalog: EpisodeCatalog, cameras: Sequence[str] = (), **sizes) -> ObservationConfig:
    """The model's view of this data: qpos of the catalog's robot (its D joints), the given cameras,
    else the object state (S = the widest task's; narrower tasks are zero-padded, see
    features.normalized_state)."""
    state_dim = 0 if cameras else max(s.state_dim for s in catalog.summaries)
    recorded = sorted({c for s in catalog.summaries for c in s.cameras})
    if not cameras and recorded and state_dim:
        # Legitimate (the state-only model of the same data, for comparison), but easy to do by
        # forgetting the cameras; such a model cannot run on a real robot. (Joints only, on data
        # without object state, is a model of its own and needs no warning.)
        log.warning("the data carries camera(s) %s but the model is given none: it reads the simulator's "
                    "object state (env_state, %d features), which no real robot publishes; pass the cameras "
                    "to train on the images", recorded, state_dim)
    image_size = (96, 128)
    if cameras:
        ep = catalog.episode(0)
        missing = [c for c in cameras if c not in ep.images]
        if missing:
            raise ValueError(f"episode {ep.episode_id}: has no camera(s) {missing} (has {sorted(ep.images)})")
        image_size = tuple(int(v) for v in ep.images[cameras[0]].shape[1:3])
    config = ObservationConfig(qpos_dim=catalog.robot.action_dim, state_dim=state_dim, cameras=tuple(cameras),
                               image_size=image_size, tasks=catalog.tasks(), **sizes)
    check_fits(catalog, config)
    return config


def check_same_robot(catalog: EpisodeCatalog, checkpoint: Checkpoint) -> None:
    """Fine-tuning continues on data of the checkpoint's robot only."""
    if checkpoint.robot["description_hash"] != catalog.robot.description_hash:
        raise ValueError(f"{checkpoint.path}: trained on robot description {checkpoint.robot['name']!r} (hash "
                         f"{checkpoint.robot['description_hash']}), the data holds {catalog.robot.describe()}")


def check_fits(catalog: EpisodeCatalog, config: ObservationConfig, action_dim: int | None = None,
               stats: NormStats | None = None) -> None:
    """Fail before training on an episode the model cannot read (naming it)."""
    if config.qpos_dim != catalog.robot.action_dim:
        raise ValueError(f"the model reads {config.qpos_dim} joints, the data holds {catalog.robot.describe()}")
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


def rows_by_episode(episodes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(episode index, positions in the batch) for every distinct episode of a sample: a batch is
    read with one fancy-indexed slice per episode instead of one row per sample."""
    order = np.argsort(episodes, kind="stable")
    distinct, starts = np.unique(episodes[order], return_index=True)
    return list(zip(distinct.tolist(), np.split(order, starts[1:])))


def gather_observations(
    catalog: EpisodeCatalog, config: ObservationConfig, stats: NormStats, episodes: np.ndarray, steps: np.ndarray
) -> dict[str, torch.Tensor]:
    """o_t for the sampled (episode, t) pairs; reads only those rows from the memory maps, and the
    images stay uint8 (the model converts them)."""
    n, (h, w) = len(episodes), config.image_size
    qpos = np.empty((n, config.qpos_dim))
    images = {c: np.empty((n, h, w, 3), np.uint8) for c in config.cameras}
    task_ids = np.empty(n, np.int64)
    state_blocks: list[tuple[np.ndarray, np.ndarray]] = []
    ids = []
    for k, rows in rows_by_episode(episodes):
        ep, t = catalog.episode(k), steps[rows]
        ids.append(ep.episode_id)
        where = f"episode {ep.episode_id}"
        block = np.asarray(ep.qpos[t], np.float64)
        if block.shape[1] != config.qpos_dim:
            raise ObservationError(f"{where}: qpos has shape {block.shape[1:]}, the model expects ({config.qpos_dim},)")
        if not np.all(np.isfinite(block)):
            raise ObservationError(f"{where}: qpos contains NaN or inf")
        qpos[rows] = block
        task_ids[rows] = config.task_id(ep.task)
        if config.state_dim:
            if ep.env_state is None:
                raise ObservationError(f"{where}: env_state missing, the model uses {config.state_dim} object-state features")
            state_blocks.append((rows, np.asarray(ep.env_state[t], np.float64)))
        for c in config.cameras:
            frames = ep.images.get(c)
            if frames is None or frames.dtype != np.uint8 or frames.shape[1:] != (h, w, 3):
                have = "no such camera" if frames is None else f"{frames.shape[1:]} {frames.dtype}"
                raise ObservationError(f"{where}: camera {c!r} gives {have}, the model expects {(h, w, 3)} uint8")
            images[c][rows] = frames[t]
    return observation_tensors(config, stats, qpos, _state_rows(n, state_blocks), images, task_ids,
                               where=f"a batch of episode(s) {ids}")


def _state_rows(n: int, blocks: list[tuple[np.ndarray, np.ndarray]]):
    """env_state of the batch: an (n, S) array when every episode has the same S, else n rows
    (tasks with different object-state layouts; features.normalized_state pads them)."""
    if not blocks:
        return None
    widths = {block.shape[1] for _, block in blocks}
    if len(widths) == 1:
        out = np.empty((n, widths.pop()))
        for rows, block in blocks:
            out[rows] = block
        return out
    out = [None] * n
    for rows, block in blocks:
        for r, row in zip(rows.tolist(), block):
            out[r] = row
    return out


def gather_actions(catalog: EpisodeCatalog, episodes: np.ndarray, steps: np.ndarray, horizon: int,
                   action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """a_{t:t+H} (N, H, D) of the sampled pairs, the last action repeated past an episode's end
    (as `action_window`), and q_t (N, D) the chunks start from."""
    n = len(episodes)
    actions, qpos = np.empty((n, horizon, action_dim)), None
    offsets = np.arange(horizon)
    for k, rows in rows_by_episode(episodes):
        ep = catalog.episode(k)
        executed = ep.executed_action
        if executed.shape[1] != action_dim:
            raise ValueError(f"episode {ep.episode_id}: actions have {executed.shape[1]} dimensions, the model expects {action_dim}")
        window = np.minimum(steps[rows, None] + offsets, len(executed) - 1)  # (rows, H)
        actions[rows] = np.asarray(executed)[window]
        if qpos is None:
            qpos = np.empty((n, ep.qpos.shape[1]))
        if ep.qpos.shape[1] != qpos.shape[1]:
            raise ValueError(f"episode {ep.episode_id}: qpos has {ep.qpos.shape[1]} dimensions, other episodes {qpos.shape[1]}")
        qpos[rows] = ep.qpos[steps[rows]]
    return actions, qpos


TRAINER_STATE_KEYS = ("step", "losses", "rng", "torch_rng")  # TrainerState's fields, in order


def trainer_files_exist(directory: Path) -> bool:
    return (directory / "trainer_state.json").is_file() and (directory / "config.json").is_file()


def optimizer_and_resume(out_dir: Path, kind: str, config, model: torch.nn.Module, train: TrainConfig,
                         resume: bool) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler,
                                                TrainerState | None, WeightAverage | None]:
    """The optimizer, schedule and weight average (None without `train.ema_decay`) for `model`; with
    `resume` and a trainer state in `out_dir`, that run's weights, average, optimizer state, RNG and
    schedule position are restored so training continues exactly where it stopped (state None:
    start from step 0)."""
    optimizer, scheduler = make_optimizer(model, train)
    if not (resume and trainer_files_exist(out_dir)):
        return optimizer, scheduler, None, _average(model, train)
    resumed = load_checkpoint(out_dir, kind, expected_config=config)
    saved_decay = float(resumed.training.get("train_config", {}).get("ema_decay", 0.0))
    if saved_decay != train.ema_decay:
        raise CheckpointError(f"{out_dir}: trained with ema_decay {saved_decay:g}; resume it with the same "
                              f"(asked: {train.ema_decay:g})")
    if train.ema_decay:
        load_training_weights(out_dir, model)
    else:
        model.load_state_dict(resumed.model.state_dict())
    optimizer, scheduler = make_optimizer(model, train)
    info = load_optimizer_state(out_dir, optimizer)
    missing = [key for key in TRAINER_STATE_KEYS if key not in info]
    if missing or not isinstance(info["step"], int) or info["step"] < 0:
        problem = f"no {missing}" if missing else f"step {info['step']!r} is not a step count"
        raise CheckpointError(f"{out_dir / 'trainer_state.json'}: cannot resume, {problem}")
    fast_forward(scheduler, info["step"])
    log.info("%s: continuing its training from step %d of %d", out_dir, info["step"], train.steps)
    average = _average(model, train)
    if average is not None:
        average.restore(resumed.model.state_dict(), info["step"])
    return optimizer, scheduler, TrainerState(*(info[key] for key in TRAINER_STATE_KEYS)), average


def _average(model: torch.nn.Module, train: TrainConfig) -> WeightAverage | None:
    return WeightAverage(model, train.ema_decay) if train.ema_decay else None
