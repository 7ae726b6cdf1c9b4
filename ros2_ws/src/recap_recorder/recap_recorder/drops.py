"""Per-topic drop accounting: what arrived vs what the header stamps and nominal rate imply.

A gap between consecutive stamps larger than `gap_factor / rate` counts the missing periods as
dropped. Queue overflows (the writer fell behind) and DDS message-lost events are counted apart.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TopicStats:
    rate_hz: float
    received: int = 0  # reached the recorder's callback
    written: int = 0  # reached the bag
    queue_dropped: int = 0  # refused because the writer queue was full
    dds_lost: int = 0  # reported by the middleware (message_lost event)
    stamp_gaps_missing: int = 0  # periods missing between consecutive header stamps
    non_monotonic: int = 0  # stamps going backwards
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None

    def expected(self) -> int | None:
        """Messages the stamps span at the nominal rate (None without a rate or stamps)."""
        if self.rate_hz <= 0 or self.first_stamp_ns is None or self.last_stamp_ns is None:
            return None
        span = (self.last_stamp_ns - self.first_stamp_ns) / 1e9
        return int(round(span * self.rate_hz)) + 1

    def as_dict(self) -> dict:
        return {"rate_hz": self.rate_hz, "received": self.received, "written": self.written,
                "expected": self.expected(), "queue_dropped": self.queue_dropped,
                "dds_lost": self.dds_lost, "stamp_gaps_missing": self.stamp_gaps_missing,
                "non_monotonic": self.non_monotonic}

    @property
    def detected_drops(self) -> int:
        """Messages known missing from the bag. A message lost in DDS or the queue also leaves a
        stamp gap, so the two views overlap: the larger one is the count."""
        return max(self.stamp_gaps_missing, self.queue_dropped + self.dds_lost)


class DropAccounting:
    def __init__(self, rates: dict[str, float], gap_factor: float = 1.5) -> None:
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
            if st.rate_hz > 0 and delta * st.rate_hz > self.gap_factor * 1e9:
                st.stamp_gaps_missing += int(round(delta * st.rate_hz / 1e9)) - 1
        st.last_stamp_ns = stamp_ns

    def summary(self) -> dict[str, dict]:
        return {name: st.as_dict() for name, st in self.topics.items()}

    def total_detected(self) -> int:
        return sum(st.detected_drops for st in self.topics.values())
