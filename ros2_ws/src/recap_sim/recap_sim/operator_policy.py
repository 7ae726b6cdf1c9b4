"""When the simulated operator takes over from the policy and when it hands back (ROS-free).

The operator watches an episode through per-tick `OperatorSignals` (sim time, task stage, the
follower pose, how far the executed command is from what the scripted expert would command) and
answers with an `OperatorDecision`: who should drive the leader arms and whether to send a takeover
request (`/takeover/request` true) or a hand-back (false) now.

Triggers (any one, while watching):
  stall         the follower has not moved by more than `stall_motion_rad` and the stage has not
                advanced for `stall_timeout_s` (a frozen or hesitating policy);
  stage timer   the task has stayed in the same stage for `stage_time_limit_s` (a policy that
                moves but does not get anywhere);
  deviation     the executed command differs from the expert's by more than `deviation_threshold`
                rad (max over joints) for `deviation_duration_s` without a break.
A trigger leads to a takeover with probability `takeover_probability` (seeded); a declined trigger
restarts its timer. At most `max_takeovers_per_episode` takeovers per episode.

Takeover: `engage_s` of mirroring the follower first (the arbitration refuses a takeover while
leader and follower differ by > 0.8 rad), then the expert drives the leader ("correct") until the
stage advanced past the stage at takeover and `min_correction_s` passed, or `max_correction_s`
passed, or the episode is done; then `engage_s` of holding the leader still ("release"), then it
hands back and all timers restart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np


@dataclass(frozen=True)
class TakeoverRule:
    """The simulated operator's configuration. Times are sim-time seconds; `inf` disables a trigger."""

    # The clean scripted expert is never still for more than 0.2 s and finishes every stage within
    # 2.4 s (both tasks, 10 seeds); a hesitant operator pauses up to 0.8 s.
    stall_timeout_s: float = 1.5  # no motion and no stage progress for this long -> take over
    stall_motion_rad: float = 0.02  # follower motion (max |dq| over joints) that counts as moving
    stage_time_limit_s: float = 5.0  # this long in one stage -> take over
    deviation_threshold: float = math.inf  # rad, max |executed - expert| over joints
    deviation_duration_s: float = 1.0  # the deviation must persist this long
    engage_s: float = 0.1  # leader holds the follower's target this long after a takeover request and before a hand-back
    min_correction_s: float = 1.0  # correct at least this long
    max_correction_s: float = 8.0  # hand back after this long even without stage progress
    max_takeovers_per_episode: int = 3
    takeover_probability: float = 1.0  # chance that a trigger leads to a takeover
    seed: int = 0  # randomness of the takeover decision (reseeded per episode with its seed)

    def __post_init__(self) -> None:
        for name in ("stall_timeout_s", "stage_time_limit_s", "deviation_threshold", "deviation_duration_s",
                     "max_correction_s"):
            value = getattr(self, name)
            if math.isnan(value) or value <= 0:
                raise ValueError(f"TakeoverRule.{name} must be > 0 (inf disables), got {value}")
        for name in ("stall_motion_rad", "engage_s", "min_correction_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"TakeoverRule.{name} must be finite and >= 0, got {value}")
        if self.min_correction_s > self.max_correction_s:
            raise ValueError(f"TakeoverRule: min_correction_s ({self.min_correction_s}) exceeds "
                             f"max_correction_s ({self.max_correction_s})")
        if self.max_takeovers_per_episode < 0:
            raise ValueError(f"TakeoverRule.max_takeovers_per_episode must be >= 0, got {self.max_takeovers_per_episode}")
        if not 0.0 <= self.takeover_probability <= 1.0:
            raise ValueError(f"TakeoverRule.takeover_probability must be in [0, 1], got {self.takeover_probability}")
        if self.seed < 0:
            raise ValueError(f"TakeoverRule.seed must be >= 0, got {self.seed}")


class Mode(Enum):
    WATCH = "watch"  # the policy drives; the leader mirrors the follower
    ENGAGE = "engage"  # takeover requested; the leader still mirrors the follower
    CORRECT = "correct"  # the scripted expert drives the leader
    RELEASE = "release"  # done correcting: the leader holds the follower's target, then hand back


@dataclass(frozen=True)
class OperatorSignals:
    """What the operator sees at one tick."""

    time_s: float  # sim time (any origin; must not go backwards within an episode)
    stage: int  # stages completed so far
    done: bool  # the episode has ended (success or failure)
    follower_qpos: np.ndarray | None = None  # (14,) follower pose; None when not known yet
    deviation: float | None = None  # max |executed - expert| in rad; None when not known


@dataclass(frozen=True)
class OperatorDecision:
    mode: Mode
    request: bool | None = None  # publish /takeover/request now: True = take over, False = hand back
    reason: str = ""  # why (for the log), set with `request`


class Operator:
    """The takeover / hand-back state machine of one simulated operator."""

    def __init__(self, rule: TakeoverRule) -> None:
        self.rule = rule
        self.takeovers = 0
        self.mode = Mode.WATCH
        self._rng = np.random.default_rng(rule.seed)
        self._episode_started = False

    def new_episode(self, time_s: float, seed: int = 0) -> None:
        """Forget the previous episode; randomness is reproducible per (rule.seed, episode seed)."""
        self._rng = np.random.default_rng([self.rule.seed, seed])
        self.takeovers = 0
        self.mode = Mode.WATCH
        self._episode_started = True
        self._restart_timers(time_s, stage=0)
        self._anchor: np.ndarray | None = None

    def _restart_timers(self, time_s: float, stage: int) -> None:
        self._stage = stage
        self._stage_since = time_s
        self._still_since = time_s
        self._deviating_since: float | None = None

    def update(self, s: OperatorSignals) -> OperatorDecision:
        if not self._episode_started:
            self.new_episode(s.time_s)
        if s.stage != self._stage:
            self._stage, self._stage_since = s.stage, s.time_s
        self._track_motion(s)
        self._track_deviation(s)
        if self.mode is Mode.WATCH:
            return self._watch(s)
        return self._correct(s)

    def _track_motion(self, s: OperatorSignals) -> None:
        if s.follower_qpos is None:
            return
        q = np.asarray(s.follower_qpos, dtype=np.float64)
        if self._anchor is None or np.max(np.abs(q - self._anchor)) > self.rule.stall_motion_rad:
            self._anchor, self._still_since = q.copy(), s.time_s

    def _track_deviation(self, s: OperatorSignals) -> None:
        if s.deviation is not None and s.deviation > self.rule.deviation_threshold:
            if self._deviating_since is None:
                self._deviating_since = s.time_s
        else:
            self._deviating_since = None

    def _trigger(self, t: float) -> str | None:
        r = self.rule
        if t - max(self._still_since, self._stage_since) >= r.stall_timeout_s:
            return f"stall: no motion and no stage progress for {r.stall_timeout_s:g} s"
        if t - self._stage_since >= r.stage_time_limit_s:
            return f"stage timer: stage {self._stage} took longer than {r.stage_time_limit_s:g} s"
        if self._deviating_since is not None and t - self._deviating_since >= r.deviation_duration_s:
            return (f"deviation: executed command more than {r.deviation_threshold:g} rad from the expert's "
                    f"for {r.deviation_duration_s:g} s")
        return None

    def _watch(self, s: OperatorSignals) -> OperatorDecision:
        if s.done or self.takeovers >= self.rule.max_takeovers_per_episode:
            return OperatorDecision(Mode.WATCH)
        reason = self._trigger(s.time_s)
        if reason is None:
            return OperatorDecision(Mode.WATCH)
        if self._rng.random() >= self.rule.takeover_probability:
            self._restart_timers(s.time_s, s.stage)  # declined: watch a full timeout again
            return OperatorDecision(Mode.WATCH)
        self.takeovers += 1
        self.mode = Mode.ENGAGE
        self._takeover_at, self._takeover_stage = s.time_s, s.stage
        return OperatorDecision(Mode.ENGAGE, request=True, reason=reason)

    def _correct(self, s: OperatorSignals) -> OperatorDecision:
        r, held = self.rule, s.time_s - self._takeover_at
        if self.mode is Mode.RELEASE:
            if s.time_s - self._release_at < r.engage_s:
                return OperatorDecision(Mode.RELEASE)
            self.mode = Mode.WATCH
            self._restart_timers(s.time_s, s.stage)
            return OperatorDecision(Mode.WATCH, request=False, reason=self._release_reason)
        reason = None
        if s.done:
            reason = "the episode ended"
        elif s.stage > self._takeover_stage and held >= r.min_correction_s:
            reason = f"stage advanced to {s.stage}"
        elif held >= r.max_correction_s:
            reason = f"corrected for {r.max_correction_s:g} s"
        if reason is not None:
            # Stop moving the leader for engage_s before handing back, so that no leader sample
            # still in flight differs from the pose the policy resumes from.
            self.mode, self._release_at, self._release_reason = Mode.RELEASE, s.time_s, reason
            return self._correct(s)
        if self.mode is Mode.ENGAGE and held >= r.engage_s:
            self.mode = Mode.CORRECT
        return OperatorDecision(self.mode)
