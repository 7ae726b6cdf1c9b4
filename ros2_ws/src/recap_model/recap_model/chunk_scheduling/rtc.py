"""Real-time chunking (Black et al. 2025): freeze what executes during inference, inpaint the rest.

When inference starts at tick s with an estimated delay of d ticks, the current plan's rows for
ticks s .. s+d-1 will execute before the new chunk can arrive. They are handed to the policy as
`frozen_prefix`; the flow-matching policy inpaints rows d.. consistently with them. The new chunk
therefore continues exactly where the old plan is at the switch (when the delay estimate holds);
a late chunk is cross-faded in like a plain switch.
"""
from __future__ import annotations

import numpy as np

from recap_model.chunk_scheduling.base import TimedChunk
from recap_model.chunk_scheduling.plain import PlainScheduler


class RealTimeChunkingScheduler(PlainScheduler):
    def frozen_prefix(self, obs_tick: int, delay: int) -> np.ndarray | None:
        """(d', D), d' <= d: the current plan's rows for ticks obs_tick .. obs_tick+d-1 it covers."""
        if self._current is None or delay <= 0:
            return None
        horizon = self.config.execution_horizon or None
        rows = []
        for tick in range(obs_tick, obs_tick + delay):
            row = self._current.row(tick, horizon)
            if row is None:
                break
            rows.append(row)
        return np.stack(rows) if rows else None

    def add_chunk(self, chunk: TimedChunk, tick: int) -> None:
        if chunk.frozen_prefix is not None:
            # The committed rows are executed as committed, whatever the model returned for them.
            d = min(len(chunk.frozen_prefix), chunk.horizon)
            actions = chunk.actions.copy()
            actions[:d] = chunk.frozen_prefix[:d]
            chunk = TimedChunk(actions, chunk.start_tick, chunk.frozen_prefix)
        super().add_chunk(chunk, tick)
