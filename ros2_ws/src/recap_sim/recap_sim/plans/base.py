"""What a task plan gives the scripted expert: one goal per arm, re-decided every control step."""
from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from recap_sim.ik import IKConfig


@dataclass(frozen=True)
class ArmGoal:
    """Where one arm should go next: pinch-site position (3,), gripper orientation (3, 3), gripper
    opening (0 closed .. 1 open) and a speed factor for this motion (slow for fine approaches)."""

    pos: np.ndarray
    rot: np.ndarray
    gripper: float
    speed: float = 1.0


class WorldView:
    """Read-only privileged view of the simulation the plans decide on."""

    def __init__(self, env) -> None:
        self.env = env
        self.model, self.data = env.model, env.data
        self._pinch = {arm: self.model.site(f"{arm}_pinch").id for arm in ("left", "right")}

    def pinch(self, arm: str) -> tuple[np.ndarray, np.ndarray]:
        site = self._pinch[arm]
        return self.data.site_xpos[site].copy(), self.data.site_xmat[site].reshape(3, 3).copy()

    def gripper_opening(self, arm: str) -> float:
        """Measured normalised opening (0 closed, 1 open)."""
        raw = self.data.joint(f"vx300s_{arm}/left_finger").qpos[0]
        return float(self.env.gripper_calibration.normalise(raw))


class TaskPlan(abc.ABC):
    """Reactive plan: reads the current world each step and returns both arms' goals, so it can
    finish the task from any reachable state. `mistake` names a characteristic mistake to make
    once in this episode (None = clean)."""

    mistakes: tuple[str, ...] = ()
    ik_config: IKConfig = IKConfig()  # how the expert solves IK for this plan's goals

    def __init__(self, world: WorldView, home: dict[str, ArmGoal], rng: np.random.Generator,
                 mistake: str | None) -> None:
        if mistake is not None and mistake not in self.mistakes:
            raise ValueError(f"{type(self).__name__}: unknown mistake {mistake!r}; known {self.mistakes}")
        self.world, self.home, self.rng, self.mistake = world, home, rng, mistake

    @abc.abstractmethod
    def goals(self, time_s: float, commanded_gripper: dict[str, float]) -> dict[str, ArmGoal]:
        """Goals for "left" and "right" at sim time `time_s`; `commanded_gripper` is the expert's
        current gripper command per arm (a closed command means the expert is grasping)."""
