"""ACT-style temporal ensembling: average every chunk's prediction for this tick."""
from __future__ import annotations

import numpy as np

from recap_model.chunk_scheduling.base import ChunkScheduler, TimedChunk


class EnsembleScheduler(ChunkScheduler):
    """a_t = sum_i w_i a_t^(i) / sum_i w_i over the chunks i covering tick t, w_i = exp(-m i).

    i = 0 is the oldest chunk (ACT, Zhao et al. 2023): a small m weights old and new predictions
    almost equally, which smooths the switch between chunks by construction.
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        self._chunks: list[TimedChunk] = []

    def _reset(self) -> None:
        self._chunks = []

    def add_chunk(self, chunk: TimedChunk, tick: int) -> None:
        horizon = self.config.execution_horizon or None
        # Chunks that no longer cover the present are dropped.
        self._chunks = [c for c in self._chunks if c.row(tick, horizon) is not None or c.start_tick > tick]
        self._chunks.append(chunk)

    def _target(self, tick: int) -> np.ndarray | None:
        horizon = self.config.execution_horizon or None
        rows = [r for r in (c.row(tick, horizon) for c in self._chunks) if r is not None]
        if not rows:
            return None
        weights = np.exp(-self.config.ensemble_decay * np.arange(len(rows)))
        return (weights[:, None] * np.stack(rows)).sum(axis=0) / weights.sum()
