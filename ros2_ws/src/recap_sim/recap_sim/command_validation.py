"""Which per-arm joint commands the simulated arm accepts (ROS-free).

A command is one arm's `sensor_msgs/JointState`-like pair (names, positions): the 7 unprefixed
ALOHA joints `waist ... wrist_rotate, gripper`, arm joints in rad, the gripper in RAW driver units.
The sim is position controlled and holds the last valid command, so a rejected command must never
reach the arm: `validate_arm_command` either returns the arm's 7-vector (gripper normalised, values
within a small margin of the limits clipped onto them) or raises `CommandRejected` with the reason.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recap_core.aloha_layout import ARM_JOINTS, ARMS, GRIPPER_JOINT, JOINTS_PER_ARM, GripperCalibration
from recap_core.joint_limits import JointLimits

ARM_COMMAND_JOINTS: tuple[str, ...] = (*ARM_JOINTS, GRIPPER_JOINT)


class CommandRejected(ValueError):
    """A command the arm must not execute; the message says why (for the log)."""


@dataclass(frozen=True)
class CommandLimits:
    """Bounds a command must respect. Commands slightly outside `limits` (numerical noise, a
    controller overshooting by a hair) are clipped; beyond the margin they are rejected, because a
    target that far off means a wrong unit or a wrong joint order, not noise."""

    gripper: GripperCalibration  # raw gripper units of the commanded arm -> normalised [0, 1]
    limits: JointLimits = field(default_factory=JointLimits)
    joint_margin: float = 0.2  # rad beyond an arm joint's limit that is still clipped, not rejected
    gripper_margin: float = 0.2  # normalised units beyond [0, 1] that are still clipped

    def __post_init__(self) -> None:
        if not (np.isfinite(self.joint_margin) and self.joint_margin >= 0):
            raise ValueError(f"joint_margin must be finite and >= 0, got {self.joint_margin}")
        if not (np.isfinite(self.gripper_margin) and self.gripper_margin >= 0):
            raise ValueError(f"gripper_margin must be finite and >= 0, got {self.gripper_margin}")

    def arm_bounds(self, arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, margin), each (7,), for `arm` in ARMS; gripper in normalised units."""
        if arm not in ARMS:
            raise ValueError(f"unknown arm {arm!r}; known: {ARMS}")
        lower, upper, _ = self.limits.as_arrays()
        sl = slice(ARMS.index(arm) * JOINTS_PER_ARM, (ARMS.index(arm) + 1) * JOINTS_PER_ARM)
        margin = np.full(JOINTS_PER_ARM, self.joint_margin)
        margin[-1] = self.gripper_margin
        return lower[sl], upper[sl], margin


def validate_arm_command(names: Sequence[str], positions: Sequence[float], arm: str,
                         bounds: CommandLimits) -> np.ndarray:
    """The arm's 7-vector (6 joints in rad, gripper normalised), in ARM_COMMAND_JOINTS order.

    Raises CommandRejected for: no positions, names/positions of different lengths, unknown,
    duplicated or missing joint names, NaN/inf, or a value beyond its limit plus the margin.
    """
    names, positions = list(names), list(positions)
    if not positions:
        raise CommandRejected(f"{arm} arm: the command has no positions (names {names})")
    if len(names) != len(positions):
        raise CommandRejected(f"{arm} arm: {len(names)} joint names but {len(positions)} positions")
    unknown = [n for n in names if n not in ARM_COMMAND_JOINTS]
    if unknown:
        raise CommandRejected(f"{arm} arm: unknown joint name(s) {unknown}; expected {list(ARM_COMMAND_JOINTS)}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CommandRejected(f"{arm} arm: joint name(s) {duplicated} given more than once")
    missing = [j for j in ARM_COMMAND_JOINTS if j not in names]
    if missing:
        raise CommandRejected(f"{arm} arm: missing joint(s) {missing} ({len(positions)} of {JOINTS_PER_ARM} given)")
    by_name = dict(zip(names, positions))
    try:
        raw = np.array([by_name[j] for j in ARM_COMMAND_JOINTS], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CommandRejected(f"{arm} arm: positions are not numbers: {exc}") from exc
    bad = [j for j, v in zip(ARM_COMMAND_JOINTS, raw) if not np.isfinite(v)]
    if bad:
        raise CommandRejected(f"{arm} arm: non-finite position for {bad}")
    vec = raw.copy()
    vec[-1] = bounds.gripper.normalise(raw[-1])
    lower, upper, margin = bounds.arm_bounds(arm)
    far = [f"{j}={v:.3g} rad (limits [{lo:.3g}, {hi:.3g}])" if j != GRIPPER_JOINT else
           f"{j}={v:.3g} normalised, raw {r:.4g} (limits [{lo:.3g}, {hi:.3g}])"
           for j, v, r, lo, hi, m in zip(ARM_COMMAND_JOINTS, vec, raw, lower, upper, margin)
           if v < lo - m or v > hi + m]
    if far:
        raise CommandRejected(f"{arm} arm: far outside the joint limits: {', '.join(far)}")
    return np.clip(vec, lower, upper)
