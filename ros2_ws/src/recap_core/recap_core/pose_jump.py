"""Notice a measured arm pose that jumps between two consecutive readings further than any motor
can move in that time: the robot was reset or re-homed (a simulator reset teleports the arms, a
driver restart re-reads the encoders). Whatever was commanded from the old pose is then stale
and must be dropped, or the arm is dragged back toward where it was."""
from __future__ import annotations

import numpy as np


# 0.5 rad between two joint-state messages is > 10x what the ViperX moves in 20 ms at full speed
# (3 rad/s), and well above sensor noise.
JUMP_RAD = 0.5


class PoseJumpDetector:
    def __init__(self, threshold_rad: float = JUMP_RAD) -> None:
        if not threshold_rad > 0:
            raise ValueError(f"threshold_rad must be > 0, got {threshold_rad}")
        self.threshold_rad = threshold_rad
        self._last: dict[int, np.ndarray] = {}

    def update(self, arm_index: int, arm_vector: np.ndarray) -> bool:
        """Record one arm's vector (its joints, then its gripper, as the robot description orders
        them); True when its joints (not the gripper) jumped."""
        vec = np.asarray(arm_vector, dtype=np.float64).ravel()
        last, self._last[arm_index] = self._last.get(arm_index), vec
        if last is None or last.shape != vec.shape or not (np.isfinite(last).all() and np.isfinite(vec).all()):
            return False
        return bool(np.max(np.abs(vec[:-1] - last[:-1])) > self.threshold_rad)
