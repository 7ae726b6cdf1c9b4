"""Inverse kinematics of one ViperX arm on the MuJoCo model: damped least squares on the pinch site.

The solver works on a private `MjData` (never the simulation's), so planning does not disturb the
physics. Targets are a pinch-site position and a gripper orientation (3x3, columns = gripper x
(along the fingers), y (finger closing axis), z).
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from recap_core.aloha_layout import ARM_JOINTS


_ROLL_JOINTS = [ARM_JOINTS.index("forearm_roll"), ARM_JOINTS.index("wrist_rotate")]


@dataclass(frozen=True)
class IKConfig:
    iterations: int = 10  # DLS iterations per solve (warm-started from the previous control step)
    damping: float = 0.05  # lambda of (J J^T + lambda^2 I)
    orientation_weight: float = 0.3  # m per rad: trades orientation error against position error
    max_step: float = 0.25  # rad, per-iteration joint step limit
    tolerance: float = 5e-4  # stop once the weighted pose error norm is below this (m)
    # Soft pull of forearm_roll and wrist_rotate toward 0 (m per rad): among the equivalent wrist
    # solutions it keeps the un-flipped one, so the arm never swings through a +-pi roll mid-task.
    # It trades a little pose accuracy, so plans working near the workspace edge turn it off.
    roll_regularisation: float = 0.0

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.damping <= 0 or self.orientation_weight <= 0 or self.max_step <= 0:
            raise ValueError(f"IKConfig needs positive values, got {self}")


def gripper_frame(heading: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """Gripper orientation (3, 3): fingers point along yaw `heading` (rad, world), pitched `pitch` rad
    below horizontal (pi/2 = straight down), finger closing axis horizontal, then rolled by `roll`
    rad about the finger direction."""
    ch, sh, cp, sp = np.cos(heading), np.sin(heading), np.cos(pitch), np.sin(pitch)
    x = np.array([cp * ch, cp * sh, -sp])
    y = np.array([-sh, ch, 0.0])
    z = np.cross(x, y)
    if roll:
        c, s = np.cos(roll), np.sin(roll)
        y, z = c * y + s * z, -s * y + c * z
    return np.column_stack([x, y, z])


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) rotating `current` onto `target`."""
    qt, qc, qerr = np.zeros(4), np.zeros(4), np.zeros(4)
    mujoco.mju_mat2Quat(qt, np.ascontiguousarray(target).ravel())
    mujoco.mju_mat2Quat(qc, np.ascontiguousarray(current).ravel())
    qinv = np.zeros(4)
    mujoco.mju_negQuat(qinv, qc)
    mujoco.mju_mulQuat(qerr, qt, qinv)
    if qerr[0] < 0:
        qerr = -qerr
    vel = np.zeros(3)
    mujoco.mju_quat2Vel(vel, qerr, 1.0)
    return vel


class ArmIK:
    """DLS IK for one arm's 6 joints (`arm` = "left" | "right")."""

    def __init__(self, model: mujoco.MjModel, arm: str, config: IKConfig = IKConfig()) -> None:
        self.model = model
        self.config = config
        self._data = mujoco.MjData(model)
        self._site = model.site(f"{arm}_pinch").id
        joints = [model.joint(f"vx300s_{arm}/{j}") for j in ARM_JOINTS]
        self._qadr = np.array([j.qposadr[0] for j in joints])
        self._dofadr = np.array([j.dofadr[0] for j in joints])
        self.lower = np.array([j.range[0] for j in joints])  # (6,) joint limits, rad
        self.upper = np.array([j.range[1] for j in joints])

    def forward(self, q6: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pinch-site position (3,) and gripper orientation (3, 3) for arm joints q6."""
        self._data.qpos[self._qadr] = q6
        mujoco.mj_kinematics(self.model, self._data)
        return self._data.site_xpos[self._site].copy(), self._data.site_xmat[self._site].reshape(3, 3).copy()

    def solve(self, q_init: np.ndarray, pos: np.ndarray, rot: np.ndarray | None) -> tuple[np.ndarray, float]:
        """Joint angles (6,) reaching (pos, rot) from q_init, and the final position error (m).
        rot=None solves position only."""
        cfg = self.config
        q = np.clip(np.asarray(q_init, dtype=np.float64).copy(), self.lower, self.upper)
        jacp, jacr = np.zeros((3, self.model.nv)), np.zeros((3, self.model.nv))
        for _ in range(cfg.iterations):
            p, r = self.forward(q)
            mujoco.mj_comPos(self.model, self._data)
            mujoco.mj_jacSite(self.model, self._data, jacp, jacr, self._site)
            err_p = pos - p
            if rot is None:
                err, jac = err_p, jacp[:, self._dofadr]
            else:
                err = np.concatenate([err_p, cfg.orientation_weight * rotation_error(rot, r)])
                jac = np.vstack([jacp[:, self._dofadr], cfg.orientation_weight * jacr[:, self._dofadr]])
            if np.linalg.norm(err) < cfg.tolerance:
                break
            if cfg.roll_regularisation > 0:
                err = np.concatenate([err, cfg.roll_regularisation * -q[_ROLL_JOINTS]])
                jac = np.vstack([jac, cfg.roll_regularisation * np.eye(6)[_ROLL_JOINTS]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + cfg.damping**2 * np.eye(len(err)), err)
            dq *= min(1.0, cfg.max_step / max(np.abs(dq).max(), 1e-12))
            q = np.clip(q + dq, self.lower, self.upper)
        p, _ = self.forward(q)
        return q, float(np.linalg.norm(pos - p))
