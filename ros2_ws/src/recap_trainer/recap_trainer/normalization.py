"""The normalisation stats of a dataset (recap_model.normalization.NormStats), computed in one
streaming pass over episodes (sums in float64), so a dataset larger than RAM works."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from recap_model.action_frame import episode_windows, to_model_frame
from recap_model.normalization import NormStats
from recap_trainer.episode import JointRange
from recap_trainer.training.episodes import EpisodeCatalog

# Dimensions that barely move (a gripper that never closes in the data) would blow up when divided
# by their tiny std; they are divided by at least this much instead.
MIN_STD = 1e-2


class _Moments:
    def __init__(self) -> None:
        self.n, self.s, self.ss = 0, None, None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
        if self.s is None:
            self.s, self.ss = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        self.n += x.shape[0]
        self.s += x.sum(0)
        self.ss += (x * x).sum(0)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s / self.n
        std = np.sqrt(np.maximum(self.ss / self.n - mean * mean, 0.0))
        return mean.astype(np.float32), np.maximum(std, MIN_STD).astype(np.float32)


def compute_stats(catalog: EpisodeCatalog, horizon: int = 0, relative_dims: Sequence[int] = ()) -> NormStats:
    """Stats over every step of the catalog's episodes (qpos, env_state, executed_action).

    A qpos or executed action outside the joint range of the catalog's robot is refused naming the
    episode, step and joint: one corrupt value (1e30) would otherwise become a std that erases the
    joint for every sample.

    "action" is in the policy's action frame: with `relative_dims`, over every chunk of `horizon`
    actions with those dimensions taken relative to the chunk's starting qpos (action_frame.py).
    """
    if relative_dims and horizon <= 0:
        raise ValueError("relative action stats need the chunk horizon")
    joint_range = JointRange(catalog.robot)
    moments: dict[str, _Moments] = {"qpos": _Moments(), "action": _Moments()}
    for ep in catalog:
        for key in ("qpos", "executed_action"):
            values = getattr(ep, key)
            if values is not None and np.all(np.isfinite(values)):  # NaN / inf are named below
                joint_range.check(f"episode {ep.episode_id!r}", key, values)
        actions = ep.executed_action
        if relative_dims and actions is not None and len(actions):
            actions = to_model_frame(episode_windows(actions, horizon), ep.qpos, relative_dims)
        # object-state layouts differ between tasks: one set of stats per task
        for name, values in (("qpos", ep.qpos), ("action", actions), (f"env_state/{ep.task}", ep.env_state)):
            if values is None:
                continue
            if not np.all(np.isfinite(values)):
                raise ValueError(f"episode {ep.episode_id}: {name.split('/')[0]} contains NaN or inf")
            m = moments.setdefault(name, _Moments())
            if m.s is not None and m.s.shape[0] != values.shape[-1]:
                raise ValueError(f"episode {ep.episode_id}: {name} has {values.shape[-1]} dimensions, "
                                 f"earlier episodes of the task {m.s.shape[0]}")
            m.add(values)
    if moments["qpos"].n == 0:
        raise ValueError("cannot compute normalisation stats: the dataset has no steps")
    results = {k: m.result() for k, m in moments.items() if m.n}
    return NormStats(mean={k: v[0] for k, v in results.items()}, std={k: v[1] for k, v in results.items()})
