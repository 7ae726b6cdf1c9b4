"""What every chunk scheduler shares: timed chunks, the command at a tick, a bounded step.

Time is counted in command ticks (one per control period, the policy node's 50 Hz timer).
A chunk computed from the observation taken at tick s holds the commands for ticks s .. s+H-1;
by the time it arrives (tick s + d, d = inference delay) its first d rows are in the past.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

SCHEDULERS = ("plain", "ensemble", "rtc")


@dataclass(frozen=True)
class SchedulerConfig:
    """How chunks become one command per tick."""

    kind: str = "rtc"  # plain | ensemble (ACT temporal ensembling) | rtc (real-time chunking)
    execution_horizon: int = 0  # rows of a chunk that may be executed; 0 = all H
    # Largest change of any joint between two ticks (rad; normalised gripper). None: no limit, for a
    # policy queried in lockstep with a simulator, whose chunks are executed as predicted.
    max_step: float | None = 0.1
    blend_steps: int = 5  # ticks over which a new chunk cross-fades in from the previous plan (plain, rtc)
    ensemble_decay: float = 0.01  # ACT's m: weight exp(-m * i), i = 0 for the oldest chunk

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULERS:
            raise ValueError(f"unknown chunk scheduler {self.kind!r}; known: {', '.join(SCHEDULERS)}")
        if self.execution_horizon < 0 or self.blend_steps < 0 or self.ensemble_decay < 0:
            raise ValueError(f"execution_horizon, blend_steps and ensemble_decay must be >= 0: {self}")
        if self.max_step is not None and not (np.isfinite(self.max_step) and self.max_step > 0):
            raise ValueError(f"max_step must be a positive number (or None: no limit), got {self.max_step}")


@dataclass(frozen=True)
class TimedChunk:
    """actions (H, D): row h is the command for tick start_tick + h.

    frozen_prefix (d, D): the rows real-time chunking committed before inference (rtc only).
    """

    actions: np.ndarray
    start_tick: int
    frozen_prefix: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.actions.ndim != 2 or self.actions.shape[0] == 0:
            raise ValueError(f"a chunk is (H, D) with H >= 1, got shape {self.actions.shape}")
        if not np.isfinite(self.actions).all():
            raise ValueError("a chunk with NaN/inf actions cannot be scheduled")

    @property
    def horizon(self) -> int:
        return self.actions.shape[0]

    def row(self, tick: int, horizon: int | None = None) -> np.ndarray | None:
        """The row for `tick`, or None outside [start, start + min(H, horizon))."""
        h = tick - self.start_tick
        limit = self.horizon if not horizon else min(horizon, self.horizon)
        return self.actions[h] if 0 <= h < limit else None


class ChunkScheduler(ABC):
    """Turns chunks into one command per tick; never moves a joint more than max_step per tick (if set)."""

    def __init__(self, config: SchedulerConfig) -> None:
        self.config = config
        self._last: np.ndarray | None = None

    def reset(self) -> None:
        self._last = None
        self._reset()

    def drop_plan(self) -> None:
        """Forget every chunk but keep the last command (to hold it, and to limit the next step)."""
        self._reset()

    def held(self) -> np.ndarray | None:
        """The last command (what a hold repeats), None before the first."""
        return None if self._last is None else self._last.copy()

    def command(self, tick: int, elapsed: int = 1) -> np.ndarray | None:
        """The command for `tick`; the last command (hold) when no chunk covers it; None before any chunk.

        elapsed: control periods since the previous command (more than 1 when the timer skipped
        ticks); the step limit scales with it so that the command does not fall behind the plan."""
        target = self._target(tick)
        if target is None:
            return None if self._last is None else self._last.copy()
        if self._last is not None and self.config.max_step is not None:
            limit = self.config.max_step * elapsed
            target = self._last + np.clip(target - self._last, -limit, limit)
        self._last = np.array(target, dtype=np.float64)
        return self._last.copy()

    def planned(self, tick: int) -> bool:
        """Whether a chunk covers `tick`; if not, the command holds and the arms are at rest."""
        return self._target(tick) is not None

    def frozen_prefix(self, obs_tick: int, delay: int) -> np.ndarray | None:
        """(d', D) rows that will execute while a chunk for `obs_tick` is computed; None if not used."""
        return None

    @abstractmethod
    def add_chunk(self, chunk: TimedChunk, tick: int) -> None:
        """Adopt a chunk that arrived at `tick`."""

    @abstractmethod
    def _target(self, tick: int) -> np.ndarray | None:
        """The unlimited command for `tick`, or None when no chunk covers it."""

    def _reset(self) -> None:
        pass
