"""Rewards and returns of RECAP (Eq. 5), split at human takeovers, normalised per task.

r_t = -1 at every step; at the last step of a segment r = 0 on success, -C_fail on failure; no
discount. R_t = sum_{t' >= t} r_t', so -R_t counts the steps to success (plus C_fail on failure).

Normalisation (deviation, see docs/TRAINER.md): RECAP normalises values per task into (-1, 0) "by
the task's maximum episode length" L. With the failure cost C_fail (default L) the worst return is
-(L - 1) - C_fail, outside (-1, 0) if divided by L alone; we divide by L + C_fail so every return
lies in [-1, 0] without clipping.

Takeovers (RECAP.md, "Interventions"): an episode is cut into segments at takeover frames (a step
whose intervention flag is set while the previous one's was not). A segment that ends because a
human took over is a failure of the policy (it gets -C_fail at its last step); the last segment
gets the episode's outcome. Returns never cross a segment boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from recap_core.config_errors import FieldError, check_field, check_task_names

OUTCOMES = ("success", "failure", "abort")
TAKEOVER_SPLITS = ("first", "every", "none")


class LabelError(ValueError):
    """Data that cannot be labelled (no outcome, unknown task, no successes ...)."""


@dataclass(frozen=True)
class TaskReward:
    max_episode_length: int  # L, in control steps
    c_fail: float  # C_fail, in steps

    def __post_init__(self) -> None:
        check_field(self.max_episode_length > 0, "TaskReward", "max_episode_length", "must be > 0",
                    self.max_episode_length)
        check_field(self.c_fail >= 0, "TaskReward", "c_fail", "must be >= 0", self.c_fail)

    @property
    def normalizer(self) -> float:
        return float(self.max_episode_length + self.c_fail)


@dataclass(frozen=True)
class RewardConfig:
    tasks: Mapping[str, TaskReward] = field(default_factory=dict)
    takeover_split: str = "first"  # "first": split at the first takeover (RECAP.md); "every"; "none"

    def __post_init__(self) -> None:
        if self.takeover_split not in TAKEOVER_SPLITS:
            raise ValueError(f"takeover_split must be one of {TAKEOVER_SPLITS}, got {self.takeover_split!r}")
        object.__setattr__(self, "tasks", {
            k: (v if isinstance(v, TaskReward) else TaskReward(**v)) for k, v in dict(self.tasks).items()
        })

    def for_task(self, task: str, episode_id: str = "?") -> TaskReward:
        if task not in self.tasks:
            raise LabelError(f"episode {episode_id}: task {task!r} has no reward config (known: {sorted(self.tasks)})")
        return self.tasks[task]

    def to_dict(self) -> dict:
        return {
            "takeover_split": self.takeover_split,
            "tasks": {k: {"max_episode_length": v.max_episode_length, "c_fail": v.c_fail} for k, v in self.tasks.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "RewardConfig":
        return cls(tasks=data["tasks"], takeover_split=data["takeover_split"])

    @classmethod
    def from_episodes(
        cls,
        episodes: Iterable,
        max_episode_length: Mapping[str, int] | None = None,
        c_fail: Mapping[str, float] | None = None,
        takeover_split: str = "first",
    ) -> "RewardConfig":
        """L per task = the given value, else the episodes' metadata["max_episode_length"] (the
        env's time limit), else the longest episode of the task. C_fail defaults to L. A task the
        episodes do not have is an error (FieldError naming the mapping), not silently unused."""
        max_episode_length, c_fail = dict(max_episode_length or {}), dict(c_fail or {})
        seen: dict[str, int] = {}
        for ep in episodes:
            limit = (ep.metadata or {}).get("max_episode_length")
            seen[ep.task] = max(seen.get(ep.task, 0), len(ep.timestamps), int(limit or 0))
        if not seen:
            raise LabelError("cannot build a reward config: no episodes")
        check_task_names(cls.__name__, "max_episode_length", max_episode_length, seen)
        check_task_names(cls.__name__, "c_fail", c_fail, seen)
        tasks = {}
        for task, longest in seen.items():
            length = int(max_episode_length.get(task, longest))
            try:
                tasks[task] = TaskReward(length, float(c_fail.get(task, length)))
            except FieldError as error:
                raise FieldError(cls.__name__, error.field, f"of task {task!r} {error.problem}") from None
        return cls(tasks=tasks, takeover_split=takeover_split)


@dataclass(frozen=True)
class EpisodeReturns:
    """Per-step arrays of one episode (T steps)."""

    rewards: np.ndarray  # (T,) normalised r_t
    returns: np.ndarray  # (T,) normalised R_t in [-1, 0]
    segment_end: np.ndarray  # (T,) int: exclusive end index of the segment that holds step t


def check_outcome(episode_id: str, outcome: object) -> str:
    if outcome not in OUTCOMES:
        raise LabelError(f"episode {episode_id}: outcome {outcome!r} is not one of {OUTCOMES}; label it first")
    return str(outcome)


def takeover_frames(intervention: np.ndarray, split: str) -> list[int]:
    """Indices t > 0 where a takeover starts (intervention[t] and not intervention[t-1])."""
    if split == "none":
        return []
    flags = np.asarray(intervention, bool)
    starts = [int(t) for t in np.flatnonzero(flags[1:] & ~flags[:-1]) + 1]
    return starts[:1] if split == "first" else starts


def episode_returns(
    episode_id: str, length: int, outcome: str, intervention: np.ndarray, reward: TaskReward, split: str
) -> EpisodeReturns:
    """Eq. 5 rewards and returns of one episode, split at takeovers, normalised by L + C_fail."""
    if check_outcome(episode_id, outcome) == "abort":
        raise LabelError(f"episode {episode_id}: aborted episodes have no return; leave them out")
    if length <= 0:
        raise LabelError(f"episode {episode_id}: has no steps")
    if length > reward.max_episode_length:
        raise LabelError(
            f"episode {episode_id}: {length} steps, longer than the task's max_episode_length "
            f"{reward.max_episode_length}; raise it (--max-episode-length)"
        )
    bounds = [0] + takeover_frames(intervention, split) + [length]
    rewards = -np.ones(length, np.float64)
    segment_end = np.empty(length, np.int64)
    for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        last_segment = i == len(bounds) - 2
        success = last_segment and outcome == "success"
        rewards[end - 1] = 0.0 if success else -reward.c_fail
        segment_end[start:end] = end
    returns = np.empty(length, np.float64)
    for start, end in zip(bounds[:-1], bounds[1:]):
        returns[start:end] = np.cumsum(rewards[start:end][::-1])[::-1]
    scale = reward.normalizer
    return EpisodeReturns(rewards / scale, np.clip(returns / scale, -1.0, 0.0), segment_end)
