"""The policy node's /diagnostics statuses, ROS-free: inference latency and chunks, the command stream.

The value keys are the ones the operator's console reads (docs/NODES.md): `latency_p50_ms`,
`latency_p99_ms`, `chunks` (inference); `command_rate_hz`, `stale_inputs` (commands). The cameras'
status is camera_health.CameraHealth.status.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

from recap_core.diagnostics import Level, Status


class LatencyWindow:
    """The last `size` inference latencies (any thread) and the chunks published in total."""

    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError(f"the latency window needs at least 1 entry, got {size}")
        self._latencies: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.chunks = 0  # published
        self.rejected = 0  # rejected by validation (NaN/inf, wrong shape) or failed inferences

    def chunk(self, latency_s: float) -> None:
        with self._lock:
            self._latencies.append(latency_s)
            self.chunks += 1

    def percentiles_ms(self) -> tuple[float, float] | None:
        """(p50, p99) in ms over the window; None before the first chunk."""
        with self._lock:
            values = list(self._latencies)
        if not values:
            return None
        p50, p99 = np.percentile(np.asarray(values) * 1e3, [50, 99])
        return float(p50), float(p99)


def inference_status(name: str, latencies: LatencyWindow, policy_id: str) -> Status:
    """OK while chunks come; WARN before the first one and when chunks were rejected (the log says why)."""
    p = latencies.percentiles_ms()
    values = {"latency_p50_ms": round(p[0], 2) if p else 0.0, "latency_p99_ms": round(p[1], 2) if p else 0.0,
              "chunks": latencies.chunks, "rejected_chunks": latencies.rejected, "policy_id": policy_id}
    if latencies.rejected:
        return Status(name, Level.WARN, f"{latencies.rejected} chunk(s) rejected, not executed", values)
    if p is None:
        return Status(name, Level.OK, "no chunk yet", values)
    return Status(name, Level.OK, f"p50 {p[0]:.1f} ms, p99 {p[1]:.1f} ms", values)


def commands_status(name: str, active: bool, rate_hz: float, stale_inputs: str | None,
                    expected_hz: float, starting_episode: bool = False) -> Status:
    """`stale_inputs`: why the observation is unusable (names the inputs), None when fresh;
    `starting_episode`: those inputs only wait for the first sample of the episode that just began.
    WARN while active and holding on stale inputs, except for that expected wait; OK when inactive
    (nothing is commanded on purpose)."""
    values = {"command_rate_hz": round(rate_hz, 2), "stale_inputs": stale_inputs or "", "active": active,
              "starting_episode": bool(stale_inputs) and starting_episode}
    if not active:
        return Status(name, Level.OK, "inactive: no commands", values)
    if stale_inputs and starting_episode:
        return Status(name, Level.OK, f"episode starting, holding the last command: {stale_inputs}", values)
    if stale_inputs:
        return Status(name, Level.WARN, f"holding the last command: {stale_inputs}", values)
    return Status(name, Level.OK, f"{rate_hz:.1f} Hz (control rate {expected_hz:g} Hz)", values)
