"""Inference delay d for real-time chunking, from measured latencies, robust to cold-start spikes."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DelayEstimatorConfig:
    window: int = 20  # latencies kept (the most recent)
    percentile: float = 90.0  # high percentile: plan for a slow inference, not the average one
    discard_first: int = 1  # the first inferences pay lazy initialisation; they never enter the window
    initial_delay_s: float = 0.1  # used until a measurement is kept
    margin_ticks: int = 1  # a result is picked up at the next tick, not the instant it is ready

    def __post_init__(self) -> None:
        if self.window < 1 or self.discard_first < 0 or self.margin_ticks < 0:
            raise ValueError(f"bad delay estimator config: {self}")
        if not 0 < self.percentile <= 100 or not self.initial_delay_s >= 0:
            raise ValueError(f"percentile must be in (0, 100] and initial_delay_s >= 0: {self}")


class DelayEstimator:
    """A high percentile of the last `window` latencies, ignoring the first `discard_first`."""

    def __init__(self, config: DelayEstimatorConfig | None = None) -> None:
        self.config = config or DelayEstimatorConfig()
        self._seen = 0
        self._window: deque[float] = deque(maxlen=self.config.window)

    def add(self, latency_s: float) -> None:
        self._seen += 1
        if self._seen > self.config.discard_first and math.isfinite(latency_s) and latency_s >= 0:
            self._window.append(latency_s)

    def estimate_s(self) -> float:
        if not self._window:
            return self.config.initial_delay_s
        return float(np.percentile(np.fromiter(self._window, float), self.config.percentile))

    def delay_ticks(self, control_period_s: float, horizon: int) -> int:
        """d in ticks, in [0, horizon - 1] (a chunk must keep at least one row to inpaint)."""
        ticks = math.ceil(self.estimate_s() / control_period_s - 1e-9) + self.config.margin_ticks
        return max(0, min(ticks, horizon - 1))
