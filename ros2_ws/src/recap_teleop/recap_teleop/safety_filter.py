"""The last gate before the arms (ROS-free): limits, rate, NaN rejection, watchdog, e-stop.

It applies to every command that reaches the arms, the policy's and the human's alike. The filter
owns the commanded pose: each tick it moves that pose towards the candidate by at most one safety
step, or holds it. Vectors are 14-D in JOINT_NAMES order (rad; grippers normalised).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recap_core.aloha_layout import ACTION_DIM, JOINT_NAMES
from recap_core.joint_limits import JointLimits


@dataclass(frozen=True)
class SafetyConfig:
    limits: JointLimits = field(default_factory=JointLimits)
    control_period: float = 0.02  # s per tick; the velocity limit allows max_velocity * control_period per tick
    max_step: float = 0.05  # largest change of one joint per tick (rad / normalised gripper)
    watchdog_timeout_s: float = 0.2  # no fresh command for this long -> hold

    def __post_init__(self) -> None:
        for name in ("control_period", "max_step", "watchdog_timeout_s"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"SafetyConfig.{name} must be a positive number, got {value}")

    def step_bound(self) -> np.ndarray:
        """(14,) the largest change per joint in one tick: max_step, and max_velocity * control_period.

        Per tick, not per second of the clock: under sim time the clock advances in control-period
        jumps, so a dt from the clock would be 0 or 2 periods at random.
        """
        _, _, vmax = self.limits.as_arrays()
        return np.minimum(self.max_step, vmax * self.control_period)


@dataclass(frozen=True)
class SafetyOutput:
    """command (14,) to send, or None before the filter knows where the arms are."""

    command: np.ndarray | None
    holding: bool  # the command is a hold (watchdog, e-stop, rejected input, no input)
    reason: str  # why it holds / what it changed; "" when the candidate passed untouched
    clipped: bool = False  # limits or step bounds changed the candidate


class SafetyFilter:
    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self._pose: np.ndarray | None = None
        self.estop_reason: str | None = None
        self.rejected = 0  # non-finite candidates seen

    @property
    def pose(self) -> np.ndarray | None:
        """The commanded pose (what a hold repeats)."""
        return None if self._pose is None else self._pose.copy()

    def initialise(self, follower: np.ndarray) -> None:
        """Start from the arms' measured pose (clipped into the limits); needed before commanding."""
        vec = np.asarray(follower, dtype=np.float64)
        if vec.shape != (ACTION_DIM,) or not np.isfinite(vec).all():
            raise ValueError(f"the follower pose must be {ACTION_DIM} finite values, got {vec}")
        lower, upper, _ = self.config.limits.as_arrays()
        self._pose = np.clip(vec, lower, upper)

    def set_estop(self, engaged: bool, reason: str = "e-stop") -> None:
        self.estop_reason = reason if engaged else None

    def tick(self, now: float, candidate: np.ndarray | None, candidate_time: float | None) -> SafetyOutput:
        """One control tick at time `now` with the selected source's latest command (received at candidate_time)."""
        if self._pose is None:
            return SafetyOutput(None, True, "waiting for the follower joint states")
        if self.estop_reason is not None:
            return self.hold(f"e-stop engaged: {self.estop_reason}")
        if candidate is None or candidate_time is None:
            return self.hold("no command yet")
        age = now - candidate_time
        if age > self.config.watchdog_timeout_s:
            return self.hold(f"watchdog: last command {age:.3f} s old (timeout {self.config.watchdog_timeout_s:.3f} s)")
        vec = np.asarray(candidate, dtype=np.float64)
        if vec.shape != (ACTION_DIM,):
            self.rejected += 1
            return self.hold(f"rejected command of shape {vec.shape} (need {ACTION_DIM})")
        bad = ~np.isfinite(vec)
        if bad.any():
            self.rejected += 1
            names = [JOINT_NAMES[i] for i in np.nonzero(bad)[0]]
            return self.hold(f"rejected non-finite command at {names}")
        lower, upper, _ = self.config.limits.as_arrays()
        target = np.clip(vec, lower, upper)
        bound = self.config.step_bound()
        step = np.clip(target - self._pose, -bound, bound)
        # Clipped twice on purpose: the step bound is relative to a pose that is itself in limits.
        self._pose = np.clip(self._pose + step, lower, upper)
        clipped = not np.array_equal(self._pose, vec)
        return SafetyOutput(self._pose.copy(), False, "limited" if clipped else "", clipped)

    def hold(self, reason: str) -> SafetyOutput:
        """Repeat the commanded pose (None before the filter knows where the arms are)."""
        return SafetyOutput(self.pose, True, reason)
