"""Per-topic drop accounting: what arrived vs what the header stamps and the stream's rate imply.

A gap between consecutive stamps larger than `gap_factor` periods counts the missing periods as
dropped. The period is the configured rate's, or (rate 0, "auto") the median of the recent stamp
intervals, so a camera running at 10 Hz instead of a configured 50 Hz is not reported as 80%
loss. Queue overflows (the writer fell behind) and DDS message-lost events are counted apart.
"""
from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

AUTO_WINDOW = 64  # stamp intervals the auto period is the median of
AUTO_MIN = 8  # intervals needed before gaps are judged in auto mode


@dataclass
class TopicStats:
    rate_hz: float | None  # > 0 nominal rate; 0 = infer the period from the stamps; None = event topic
    received: int = 0  # reached the recorder's callback
    written: int = 0  # reached the bag
    queue_dropped: int = 0  # refused because the writer queue was full
    dds_lost: int = 0  # reported by the middleware (message_lost event)
    stamp_gaps_missing: int = 0  # periods missing between consecutive header stamps
    non_monotonic: int = 0  # stamps going backwards
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None
    _intervals: deque = field(default_factory=lambda: deque(maxlen=AUTO_WINDOW), repr=False)

    def period_ns(self) -> float | None:
        """The stream's period: nominal, or the median recent interval in auto mode."""
        if self.rate_hz is None:
            return None
        if self.rate_hz > 0:
            return 1e9 / self.rate_hz
        return statistics.median(self._intervals) if len(self._intervals) >= AUTO_MIN else None

    def expected(self) -> int | None:
        """Messages the stamps span at the stream's period (None without a period or stamps)."""
        period = self.period_ns()
        if period is None or self.first_stamp_ns is None or self.last_stamp_ns is None:
            return None
        return int(round((self.last_stamp_ns - self.first_stamp_ns) / period)) + 1

    def as_dict(self) -> dict:
        period = self.period_ns()
        return {"rate_hz": self.rate_hz, "measured_rate_hz": None if not period else round(1e9 / period, 3),
                "received": self.received, "written": self.written,
                "expected": self.expected(), "queue_dropped": self.queue_dropped,
                "dds_lost": self.dds_lost, "stamp_gaps_missing": self.stamp_gaps_missing,
                "non_monotonic": self.non_monotonic}

    @property
    def detected_drops(self) -> int:
        """Messages known missing from the bag. A message lost in DDS or the queue also leaves a
        stamp gap, so the two views overlap: the larger one is the count."""
        return max(self.stamp_gaps_missing, self.queue_dropped + self.dds_lost)


class DropAccounting:
    def __init__(self, rates: dict[str, float | None], gap_factor: float = 1.5) -> None:
        self.gap_factor = gap_factor
        self.topics = {name: TopicStats(rate) for name, rate in rates.items()}

    def on_stamp(self, topic: str, stamp_ns: int | None) -> None:
        """A message with this header stamp was written (None: the type has no header)."""
        st = self.topics[topic]
        st.written += 1
        if stamp_ns is None:
            return
        if st.first_stamp_ns is None:
            st.first_stamp_ns = stamp_ns
        elif st.last_stamp_ns is not None:
            delta = stamp_ns - st.last_stamp_ns
            if delta < 0:
                st.non_monotonic += 1
                return
            period = st.period_ns()
            if period and delta > self.gap_factor * period:
                st.stamp_gaps_missing += int(round(delta / period)) - 1
            elif delta > 0:  # only gap-free intervals teach the auto period
                st._intervals.append(delta)
        st.last_stamp_ns = stamp_ns

    def summary(self) -> dict[str, dict]:
        return {name: st.as_dict() for name, st in self.topics.items()}

    def total_detected(self) -> int:
        return sum(st.detected_drops for st in self.topics.values())
