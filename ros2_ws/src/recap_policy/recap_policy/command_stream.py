"""The policy node's control-rate loop, ROS-free: when to infer, which chunk to execute, what to command.

One `tick()` per firing of the node's control-period timer. Ticks count control periods of the
clock, not timer callbacks: a timer on sim time skips periods when `/clock` jumps (a loaded sim
publishes several steps at once), and a plan indexed by callbacks would then play slower than the
robot moves. Inference runs elsewhere (InferenceWorker); its results are handed in with
`chunk_ready` from that thread and adopted at the next tick, so the scheduler is only ever touched
by the timer thread.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from recap_model.chunk_scheduling import (DelayEstimator, DelayEstimatorConfig, SchedulerConfig, TimedChunk,
                                           make_scheduler)


@dataclass(frozen=True)
class CommandStreamConfig:
    control_period: float = 0.02  # s per tick (50 Hz)
    inference_every: int = 10  # k: start an inference every k ticks (when none is running)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    delay: DelayEstimatorConfig = field(default_factory=DelayEstimatorConfig)

    def __post_init__(self) -> None:
        if not self.control_period > 0 or self.inference_every < 1:
            raise ValueError(f"control_period must be > 0 and inference_every >= 1: {self}")


@dataclass(frozen=True)
class InferenceRequest:
    """Start an inference on the observation of tick `obs_tick`, keeping `frozen_prefix` (d, D).

    from_rest: no plan moves the arms while it is computed, so the observation still holds when the
    chunk arrives, which is then executed from its first row (rows are skipped only for a plan that
    moved the arms meanwhile: skipping them from rest would start with a jump the safety filter clamps)."""

    obs_tick: int
    frozen_prefix: np.ndarray | None
    from_rest: bool = False


@dataclass(frozen=True)
class InferenceResult:
    request: InferenceRequest
    actions: np.ndarray  # (H, D) in the robot description's joint_names order, finite
    latency_s: float  # observation snapshot -> chunk ready (wall time)
    observation_stamp_ns: int = 0  # sensor time of o_t, the ActionChunk's header stamp


class CommandStream:
    def __init__(self, config: CommandStreamConfig, horizon_hint: int | None = None) -> None:
        self.config = config
        self.scheduler = make_scheduler(config.scheduler)
        self.delay = DelayEstimator(config.delay)
        self._horizon = horizon_hint  # H, learnt from chunks when the backend cannot tell in advance
        self.tick_count = 0
        self._last_start: int | None = None
        self._in_flight = False
        self._ready: deque[InferenceResult] = deque()
        self._lock = threading.Lock()
        self.holding_reason: str | None = None
        self._reset_requested = False
        self._discard_up_to = 0  # results for observations at or before this tick predate a reset

    def chunk_ready(self, result: InferenceResult) -> None:
        """From the inference thread."""
        with self._lock:
            self._ready.append(result)

    def new_episode(self) -> None:
        """Any thread: the robot was reset. The plan and the last command are forgotten at the next
        tick (commanding nothing until a chunk from the new episode arrives), in-flight results dropped,
        and the new episode's first inference starts at the first tick with fresh inputs."""
        with self._lock:
            self._reset_requested = True

    def inference_failed(self) -> None:
        """From the inference thread: the request produced nothing to execute."""
        with self._lock:
            self._in_flight = False

    def tick(self, stale_reason: str | None, periods: int = 1) -> tuple[np.ndarray | None, list[InferenceResult],
                                                                       InferenceRequest | None]:
        """Advance `periods` control periods (1 unless the timer skipped some) and command the newest.

        stale_reason: why the observation is unusable now (None when fresh); while set, nothing new
        is started and the command holds (the current plan was made from inputs that are now stale).
        Returns (command (D,) or None before the first chunk, chunks adopted now, request to start).
        """
        if periods < 1:
            raise ValueError(f"a tick advances at least one control period, got {periods}")
        self.tick_count += periods
        with self._lock:
            if self._reset_requested:
                self._reset_requested = False
                self._discard_up_to = self.tick_count
                self._last_start = None  # at once: waiting k ticks held the start pose, which no demonstration does
                self.scheduler.reset()
            adopted = [r for r in self._ready if r.request.obs_tick > self._discard_up_to]
            if self._ready:
                self._in_flight = False
            self._ready.clear()
        for result in adopted:
            self.delay.add(result.latency_s)
        if stale_reason is not None:
            adopted = []  # inputs died while it was computed: it is not executed, nor published
        for result in adopted:
            self._horizon = result.actions.shape[0]
            start = self.tick_count if result.request.from_rest else result.request.obs_tick
            self.scheduler.add_chunk(TimedChunk(result.actions, start, result.request.frozen_prefix), self.tick_count)
        if stale_reason is not None:
            if self.holding_reason is None:
                self.scheduler.drop_plan()
            self.holding_reason = stale_reason
            return self.scheduler.held(), adopted, None
        self.holding_reason = None
        command = self.scheduler.command(self.tick_count, periods)
        return command, adopted, self._maybe_start()

    def _maybe_start(self) -> InferenceRequest | None:
        with self._lock:
            if self._in_flight:
                return None
            due = self._last_start is None or self.tick_count - self._last_start >= self.config.inference_every
            if not due:
                return None
            self._in_flight = True
        self._last_start = self.tick_count
        # The observation taken now is for the next tick: the command for this tick is already out.
        obs_tick = self.tick_count + 1
        prefix = None
        if self._horizon:
            d = self.delay.delay_ticks(self.config.control_period, self._horizon)
            prefix = self.scheduler.frozen_prefix(obs_tick, d)
        return InferenceRequest(obs_tick, prefix, from_rest=not self.scheduler.planned(obs_tick))
