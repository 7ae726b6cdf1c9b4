"""Sim-time bookkeeping for the sim node (ROS-free): real-time pacing and sub-rates.

Sim time is kept in integer nanoseconds so that thousands of 20 ms steps never drift.
"""
from __future__ import annotations

import math


class RealTimePacer:
    """When to run the next physics step so that sim time advances `real_time_factor` times as fast
    as wall time (1.0 = wall clock, 2.0 = twice as fast, 0 = as fast as possible).

    Steps are scheduled on a fixed grid (no drift from per-step jitter). When the sim falls behind
    the grid by more than `max_lag_s` wall seconds (rendering, a loaded machine) the grid restarts
    from now instead of bursting to catch up, and `resyncs` counts how often that happened.
    """

    def __init__(self, real_time_factor: float, period_s: float, max_lag_s: float = 1.0) -> None:
        if not (math.isfinite(real_time_factor) and real_time_factor >= 0):
            raise ValueError(f"real_time_factor must be >= 0 (0 = as fast as possible), got {real_time_factor}")
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.real_time_factor = real_time_factor
        self.wall_period = period_s / real_time_factor if real_time_factor > 0 else 0.0
        self.max_lag_s = max_lag_s
        self.resyncs = 0
        self._origin: float | None = None
        self._steps = 0

    def restart(self, now: float) -> None:
        """Start the grid at wall time `now` (the first step is due immediately)."""
        self._origin, self._steps = now, 0

    def delay(self, now: float) -> float:
        """Wall seconds to wait from `now` before the next step; call once per step, right before it."""
        if self.wall_period == 0.0:
            return 0.0
        if self._origin is None:
            self.restart(now)
        due = self._origin + self._steps * self.wall_period
        if now - due > self.max_lag_s:
            self.resyncs += 1
            self.restart(now)
            due = now
        self._steps += 1
        return max(0.0, due - now)


class Periodic:
    """Fires at `rate_hz` in sim time, checked once per control step: `due(t_ns)` is true at the
    first step at or after each multiple of the period (a rate above the step rate fires every step).
    """

    def __init__(self, rate_hz: float) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate must be a positive number of Hz, got {rate_hz}")
        self.period_ns = int(round(1e9 / rate_hz))
        self._next_ns: int | None = None

    def restart(self) -> None:
        self._next_ns = None

    def due(self, t_ns: int) -> bool:
        if self._next_ns is None:
            self._next_ns = t_ns
        if t_ns < self._next_ns:
            return False
        # Skip whole periods that passed (never bursts), keep the grid aligned to its start.
        missed = (t_ns - self._next_ns) // self.period_ns
        self._next_ns += (missed + 1) * self.period_ns
        return True
