"""What every task provides: its objects, seeded randomisation, staged progress and outcome."""
from __future__ import annotations

import abc
from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class TaskStatus:
    """Progress of one episode after a control step."""

    stage: int  # 0 .. num_stages - 1 (the last stage means the task is complete)
    outcome: str | None = None  # "success" | "failure" | None while running
    failure_reason: str = ""


class Contacts:
    """Geom-pair contact queries on the current MjData (built once per model)."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self.fingers = {
            arm: frozenset(model.geom(f"vx300s_{arm}/10_{side}_gripper_finger").id for side in ("left", "right"))
            for arm in ("left", "right")
        }
        self.table = model.geom("table").id
        self._pairs: list[tuple[int, int]] | None = None

    def invalidate(self) -> None:
        """Forget the cached contact list (the env calls this whenever the physics state changes)."""
        self._pairs = None

    def pairs(self, data: mujoco.MjData) -> list[tuple[int, int]]:
        """The (geom1, geom2) pairs in contact; read once per physics state, not once per query."""
        if self._pairs is None:
            self._pairs = list(zip(data.contact.geom1.tolist(), data.contact.geom2.tolist()))
        return self._pairs

    def touching(self, data: mujoco.MjData, a: frozenset[int], b: frozenset[int]) -> bool:
        return any((g1 in a and g2 in b) or (g2 in a and g1 in b) for g1, g2 in self.pairs(data))


class Task(abc.ABC):
    """One task: objects added to the scene, seeded initial poses, stages and the outcome.

    A Task instance belongs to one SimEnv; `reset` is called after every physics reset and
    `evaluate` after every control step (it may keep episode memory, e.g. "the button was pressed").
    """

    name: str
    stage_names: tuple[str, ...]
    time_limit_s: float
    state_names: tuple[str, ...]

    @property
    def num_stages(self) -> int:
        return len(self.stage_names)

    @abc.abstractmethod
    def add_objects(self, spec: mujoco.MjSpec) -> None:
        """Add this task's bodies to `spec.worldbody` (called once, before compiling)."""

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up ids in the compiled model (called once after compiling)."""
        self.model = model
        self.contacts = Contacts(model)

    @abc.abstractmethod
    def reset(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Place the objects for a new episode (robot already at its home pose); clear episode memory."""

    @abc.abstractmethod
    def evaluate(self, data: mujoco.MjData, time_s: float) -> TaskStatus:
        """Stage and outcome after a control step (time limit is handled by the env)."""

    @abc.abstractmethod
    def env_state(self, data: mujoco.MjData) -> np.ndarray:
        """Privileged object state (S,), named by `state_names`."""

    def stall(self, data: mujoco.MjData) -> str:
        """Where an episode that ran out of time stood, in words from a small fixed set (evaluations
        count timeouts by it); "" when the task has nothing to add to its stage."""
        return ""


def free_joint_pose(model: mujoco.MjModel, data: mujoco.MjData, joint: str) -> tuple[np.ndarray, np.ndarray]:
    """Position (3,) and unit quaternion (w, x, y, z) of a free joint, w >= 0 (sign-normalised features)."""
    adr = model.joint(joint).qposadr[0]
    pos, quat = data.qpos[adr:adr + 3].copy(), data.qpos[adr + 3:adr + 7].copy()
    quat /= np.linalg.norm(quat)
    return pos, (quat if quat[0] >= 0 else -quat)


def set_free_joint(model: mujoco.MjModel, data: mujoco.MjData, joint: str, pos, yaw: float = 0.0) -> None:
    jnt = model.joint(joint)
    adr, dof = jnt.qposadr[0], jnt.dofadr[0]
    data.qpos[adr:adr + 3] = pos
    data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
    data.qvel[dof:dof + 6] = 0.0
