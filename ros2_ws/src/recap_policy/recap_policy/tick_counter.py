"""Control periods elapsed on the node's clock between two firings of its timer, and the rate of
events on that clock (ROS-free).

A ROS timer fires at most once per wake-up and drops the periods it missed: on sim time that
happens whenever `/clock` advances several steps between two spins (a loaded sim), on wall time
when a callback overran. The plan must follow the clock, so the policy node advances its control
loop by the periods that actually elapsed, counted on the timer's grid: rounding against the first
firing absorbs wake-up jitter without counting a late firing twice.
"""
from __future__ import annotations

from collections import deque

from recap_core.stamps import seconds_to_ns


class TickCounter:
    def __init__(self, period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period must be > 0 s, got {period_s}")
        self.period_ns = seconds_to_ns(period_s)
        self._origin_ns: int | None = None
        self._count = 0
        self.skipped = 0  # periods the timer did not fire for, in total

    def periods(self, now_ns: int) -> int:
        """Periods since the previous call (>= 1); the first call, or a clock that went back (a
        restarted sim, a looped bag), counts 1 and starts a new grid at `now_ns`."""
        if self._origin_ns is None or now_ns < self._origin_ns + self._count * self.period_ns - self.period_ns // 2:
            self._origin_ns, self._count = now_ns, 0
            return 1
        count = round((now_ns - self._origin_ns) / self.period_ns)
        elapsed = max(1, count - self._count)
        self._count += elapsed
        self.skipped += elapsed - 1
        return elapsed


class RateMeter:
    """Events per second over the last `window_s` of a clock (the node's), e.g. commands published.

    Thread-safe enough for one writer (the timer) and one reader (the diagnostics timer): the deque
    is only appended to and trimmed from the left."""

    def __init__(self, window_s: float = 2.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window must be > 0 s, got {window_s}")
        self.window_ns = seconds_to_ns(window_s)
        self._stamps: deque[int] = deque()

    def event(self, now_ns: int) -> None:
        self._stamps.append(now_ns)
        self._trim(now_ns)

    def rate_hz(self, now_ns: int) -> float:
        """Events in the last window divided by its length; 0 when there were none."""
        self._trim(now_ns)
        return len(self._stamps) * 1e9 / self.window_ns

    def _trim(self, now_ns: int) -> None:
        while self._stamps and (self._stamps[0] <= now_ns - self.window_ns or self._stamps[0] > now_ns):
            self._stamps.popleft()
