"""Chunk execution in lockstep with a simulator: the policy is queried between two steps, so a chunk
is ready at the tick of its observation (no inference delay).

The plain scheduler driven as the policy node drives it with `inference_every = execute_steps`: the
chunk computed from the observation of tick t holds the commands for ticks t .. t+H-1, is adopted
at tick t, and a new chunk is asked for every `execute_steps` ticks, so rows 0 .. execute_steps-1 of
each chunk are executed. With no delay there is nothing to blend or to rate-limit: every command is
a row of a chunk, as predicted.
"""
from __future__ import annotations

import numpy as np

from recap_model.chunk_scheduling.base import SchedulerConfig, TimedChunk
from recap_model.chunk_scheduling.plain import PlainScheduler

LOCKSTEP_SCHEDULER = SchedulerConfig(kind="plain", blend_steps=0, max_step=None)


class LockstepChunking:
    """One episode's chunks -> one command per step. Per step: `needs_chunk()`, then `add_chunk` if
    it does, then `command()`; or `yield_step()` for a step someone else commands."""

    def __init__(self, execute_steps: int, horizon: int) -> None:
        if not 1 <= execute_steps <= horizon:
            raise ValueError(f"execute_steps {execute_steps} must be in 1 .. the policy's horizon H = {horizon}")
        self.execute_steps, self.horizon = execute_steps, horizon
        self._scheduler = PlainScheduler(LOCKSTEP_SCHEDULER)
        self._tick = 0
        self._chunk_tick: int | None = None  # tick the current chunk was adopted at; None: no chunk

    def needs_chunk(self) -> bool:
        return self._chunk_tick is None or self._tick - self._chunk_tick >= self.execute_steps

    def add_chunk(self, actions: np.ndarray) -> None:
        """actions (H, D): the chunk computed from this step's observation."""
        if actions.shape[0] != self.horizon:
            raise ValueError(f"a chunk of {actions.shape[0]} actions, expected H = {self.horizon}")
        self._scheduler.add_chunk(TimedChunk(actions, self._tick), self._tick)
        self._chunk_tick = self._tick

    def command(self) -> np.ndarray:
        """(D,) this step's command, the current chunk's row for it; then the next step."""
        command = self._scheduler.command(self._tick)
        if command is None or self.needs_chunk():
            raise RuntimeError(f"step {self._tick}: no chunk was added for it")
        self._tick += 1
        return command

    def yield_step(self) -> None:
        """Someone else commands this step (an operator's correction): the plan is dropped, and the
        policy is asked for a new chunk when it drives again."""
        self._scheduler.reset()
        self._chunk_tick = None
        self._tick += 1
