"""Per-dimension mean/std normalisation of qpos, object state and actions, saved with checkpoints.

The same stats are applied in training and inference (openpi's rule: one transform chain).
Computed in one streaming pass over episodes (sums in float64), so a dataset larger than RAM works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from recap_trainer.action_frame import episode_windows, to_model_frame
from recap_trainer.episode import JointRange

# Dimensions that barely move (a gripper that never closes in the data) would blow up when divided
# by their tiny std; they are divided by at least this much instead.
MIN_STD = 1e-2


@dataclass(frozen=True)
class NormStats:
    """name ("qpos", "action", "env_state/<task>", or "env_state" for one shared layout)
    -> (mean (n,), std (n,)) float32."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        if set(self.mean) != set(self.std):
            raise ValueError(f"normalisation stats disagree on keys: {sorted(self.mean)} vs {sorted(self.std)}")
        for k in self.mean:
            if self.mean[k].shape != self.std[k].shape or not np.all(np.isfinite(self.mean[k])):
                raise ValueError(f"bad normalisation stats for {k!r}")

    def normalize(self, name: str, x: np.ndarray) -> np.ndarray:
        """x (..., n) -> (x - mean) / std as float32; a dimension mismatch is an error."""
        mean, std = self._get(name, x)
        return ((x - mean) / std).astype(np.float32)

    def unnormalize(self, name: str, x: np.ndarray) -> np.ndarray:
        mean, std = self._get(name, x)
        return (np.asarray(x, dtype=np.float64) * std + mean).astype(np.float32)

    def dim(self, name: str) -> int:
        return int(self.mean[name].shape[0]) if name in self.mean else 0

    def _get(self, name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.mean:
            raise KeyError(f"no normalisation stats for {name!r} (have {sorted(self.mean)})")
        if x.shape[-1] != self.mean[name].shape[0]:
            raise ValueError(f"{name} has {x.shape[-1]} dimensions, the normalisation stats expect {self.mean[name].shape[0]}")
        return self.mean[name], self.std[name]

    def to_tensors(self) -> dict[str, np.ndarray]:
        out = {}
        for k in self.mean:
            out[f"{k}.mean"] = self.mean[k].astype(np.float32)
            out[f"{k}.std"] = self.std[k].astype(np.float32)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> "NormStats":
        names = {k.rsplit(".", 1)[0] for k in tensors}
        return cls(
            mean={n: np.asarray(tensors[f"{n}.mean"], np.float32) for n in names},
            std={n: np.asarray(tensors[f"{n}.std"], np.float32) for n in names},
        )


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


def compute_stats(episodes: Iterable, horizon: int = 0, relative_dims: Sequence[int] = (),
                  joint_range: JointRange = JointRange()) -> NormStats:
    """Stats over every step of `episodes` (EpisodeData-like: qpos, env_state, executed_action).

    A qpos or executed action outside `joint_range` is refused naming the episode, step and joint:
    one corrupt value (1e30) would otherwise become a std that erases the joint for every sample.

    "action" is in the policy's action frame: with `relative_dims`, over every chunk of `horizon`
    actions with those dimensions taken relative to the chunk's starting qpos (action_frame.py).
    """
    if relative_dims and horizon <= 0:
        raise ValueError("relative action stats need the chunk horizon")
    moments: dict[str, _Moments] = {"qpos": _Moments(), "action": _Moments()}
    for ep in episodes:
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
