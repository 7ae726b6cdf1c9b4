"""The last gate before the arms (ROS-free): limits, rate, NaN rejection, watchdog, e-stop.

It applies to every command that reaches the arms, the policy's and the human's alike. The filter
owns the commanded pose: each tick it moves that pose towards the candidate by at most one safety
step, or holds it. Vectors are (D,) in the robot description's joint_names order (rad; grippers
normalised); the limits come from the same description.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recap_core.robot_description import RobotDescription


@dataclass(frozen=True)
class SafetyConfig:
    joint_names: tuple[str, ...]  # the D joints of the command vector
    lower: tuple[float, ...]  # (D,) position limits (rad; the normalised gripper 0..1)
    upper: tuple[float, ...]
    max_velocity: tuple[float, ...]  # (D,) rad/s (the gripper 1/s)
    control_period: float  # s per tick; the velocity limit allows max_velocity * control_period per tick
    max_step: float = 0.05  # largest change of one joint per tick (rad / normalised gripper)
    watchdog_timeout_s: float = 0.2  # no fresh command for this long -> hold

    def __post_init__(self) -> None:
        for name in ("control_period", "max_step", "watchdog_timeout_s"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"SafetyConfig.{name} must be a positive number, got {value}")
        for name in ("joint_names", "lower", "upper", "max_velocity"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            if len(getattr(self, name)) != self.dim:
                raise ValueError(f"SafetyConfig.{name} needs {self.dim} entries (one per joint), "
                                 f"got {len(getattr(self, name))}")
        lower, upper, vmax = self.limits()
        if not (lower < upper).all() or not (vmax > 0).all():
            raise ValueError("SafetyConfig: every lower limit must be below its upper one, every velocity positive")

    @classmethod
    def from_description(cls, robot: RobotDescription, max_step: float, watchdog_timeout_s: float) -> SafetyConfig:
        lower, upper, vmax = robot.limits()
        return cls(robot.joint_names, tuple(lower), tuple(upper), tuple(vmax), robot.control_period, max_step,
                   watchdog_timeout_s)

    @property
    def dim(self) -> int:
        return len(self.joint_names)

    def limits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, max_velocity), each (D,)."""
        return np.asarray(self.lower), np.asarray(self.upper), np.asarray(self.max_velocity)

    def step_bound(self) -> np.ndarray:
        """(D,) the largest change per joint in one tick: max_step, and max_velocity * control_period.

        Per tick, not per second of the clock: under sim time the clock advances in control-period
        jumps, so a dt from the clock would be 0 or 2 periods at random.
        """
        return np.minimum(self.max_step, np.asarray(self.max_velocity) * self.control_period)


@dataclass(frozen=True)
class SafetyOutput:
    """command (D,) to send, or None before the filter knows where the arms are."""

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
        if vec.shape != (self.config.dim,) or not np.isfinite(vec).all():
            raise ValueError(f"the follower pose must be {self.config.dim} finite values, got {vec}")
        lower, upper, _ = self.config.limits()
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
        if vec.shape != (self.config.dim,):
            self.rejected += 1
            return self.hold(f"rejected command of shape {vec.shape} (need {self.config.dim})")
        bad = ~np.isfinite(vec)
        if bad.any():
            self.rejected += 1
            names = [self.config.joint_names[i] for i in np.nonzero(bad)[0]]
            return self.hold(f"rejected non-finite command at {names}")
        lower, upper, _ = self.config.limits()
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
