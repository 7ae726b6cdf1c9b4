"""Plain chunk execution: follow the newest chunk; a new chunk cross-fades in over a few ticks."""
from __future__ import annotations

import numpy as np

from recap_model.chunk_scheduling.base import ChunkScheduler, SchedulerConfig, TimedChunk


class PlainScheduler(ChunkScheduler):
    """Executes the newest chunk from the arrival tick on (its past rows are skipped).

    At a switch, for `blend_steps` ticks the command is a linear cross-fade from the previous
    chunk's row to the new chunk's row (where the previous chunk still has one), so the hand-over
    between two independently sampled chunks is continuous; the base class clips each tick's step.
    """

    def __init__(self, config: SchedulerConfig) -> None:
        super().__init__(config)
        self._current: TimedChunk | None = None
        self._previous: TimedChunk | None = None
        self._switch_tick = 0

    def _reset(self) -> None:
        self._current = self._previous = None

    def add_chunk(self, chunk: TimedChunk, tick: int) -> None:
        self._previous, self._current, self._switch_tick = self._current, chunk, tick

    @property
    def current(self) -> TimedChunk | None:
        return self._current

    def _target(self, tick: int) -> np.ndarray | None:
        if self._current is None:
            return None
        horizon = self.config.execution_horizon or None
        new = self._current.row(tick, horizon)
        if new is None:
            return None
        k = tick - self._switch_tick
        old = self._previous.row(tick, horizon) if self._previous is not None else None
        if old is None or k >= self.config.blend_steps:
            return new
        w = (k + 1) / (self.config.blend_steps + 1)
        return (1.0 - w) * old + w * new
