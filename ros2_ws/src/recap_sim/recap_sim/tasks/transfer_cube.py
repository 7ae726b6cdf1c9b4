"""transfer_cube (ACT): the right arm picks a randomly placed cube and hands it to the left arm.

Stages follow ACT's reward: 0 nothing, 1 right gripper touches the cube, 2 cube lifted (right only,
off the table), 3 attempted transfer (left gripper touches it), 4 transferred (left only, off the
table). Success once stage 4 holds for `hold_s`. Failures: the cube is dropped after it was lifted
(held >= 2 cm high, it lands on the table with no gripper touching it) or leaves the table.
"""
from __future__ import annotations

import mujoco
import numpy as np

from recap_sim.tasks.base import Task, TaskStatus, free_joint_pose, set_free_joint

CUBE_HALF = 0.02  # m, ACT's 4 cm cube
CUBE_X_RANGE = (0.0, 0.2)  # ACT's sampling box for the cube centre
CUBE_Y_RANGE = (0.4, 0.6)
DROP_HEIGHT = 0.02  # m; a cube that was held this high and lands on the table alone was dropped
TABLE_X, TABLE_Y = (-0.6, 0.6), (0.1, 1.1)  # outside this the cube has left the table


class TransferCube(Task):
    name = "transfer_cube"
    prompt = "transfer the cube to the left arm"  # the instruction l the policy is conditioned on
    stage_names = ("start", "touched", "lifted", "attempted_transfer", "transferred")
    time_limit_s = 10.0  # s; the clean expert needs ~4 s
    state_names = ("cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
                   "cube_touch_left", "cube_touch_right", "cube_touch_table")
    hold_s = 0.2  # stage 4 must hold this long (a cube falling past the left fingers is no transfer)

    def add_objects(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_body(name="cube", pos=[0.1, 0.5, CUBE_HALF])
        body.add_freejoint(name="cube_joint")
        # Explicit inertia as in ACT (the robot MJCF only derives inertia from geom groups 4-5).
        body.explicitinertial = True
        body.mass, body.inertia, body.ipos = 0.05, [0.002, 0.002, 0.002], [0.0, 0.0, 0.0]
        # Stiff contact, high friction (ACT's red box uses solimp dmin = 2, which MuJoCo 4 integrates unstably).
        body.add_geom(name="cube", type=mujoco.mjtGeom.mjGEOM_BOX, size=[CUBE_HALF] * 3,
                      rgba=[1, 0, 0, 1], condim=4, solimp=[0.95, 0.99, 0.001, 0.5, 2], solref=[0.01, 1],
                      friction=[1, 0.005, 0.0001])

    def bind(self, model: mujoco.MjModel) -> None:
        super().bind(model)
        self.cube = frozenset([model.geom("cube").id])

    def reset(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        pos = [rng.uniform(*CUBE_X_RANGE), rng.uniform(*CUBE_Y_RANGE), CUBE_HALF]
        set_free_joint(self.model, data, "cube_joint", pos)
        self._lifted = False
        self._stage4_since: float | None = None

    def touches(self, data: mujoco.MjData) -> tuple[bool, bool, bool]:
        c = self.contacts
        return (c.touching(data, self.cube, c.fingers["left"]), c.touching(data, self.cube, c.fingers["right"]),
                c.touching(data, self.cube, frozenset([c.table])))

    def evaluate(self, data: mujoco.MjData, time_s: float) -> TaskStatus:
        left, right, table = self.touches(data)
        stage = 0
        if right:
            stage = 2 if not table else 1
        if left:
            stage = 4 if (not table and not right) else 3
        pos, _ = free_joint_pose(self.model, data, "cube_joint")
        self._lifted |= stage >= 2 and pos[2] > CUBE_HALF + DROP_HEIGHT
        if not (TABLE_X[0] < pos[0] < TABLE_X[1] and TABLE_Y[0] < pos[1] < TABLE_Y[1]) or pos[2] < -0.05:
            return TaskStatus(stage, "failure", "cube fell off the table")
        if self._lifted and table and not left and not right:
            return TaskStatus(stage, "failure", "cube dropped after it was lifted")
        if stage == 4:
            self._stage4_since = time_s if self._stage4_since is None else self._stage4_since
            if time_s - self._stage4_since >= self.hold_s - 1e-9:
                return TaskStatus(stage, "success")
        else:
            self._stage4_since = None
        return TaskStatus(stage)

    def env_state(self, data: mujoco.MjData) -> np.ndarray:
        pos, quat = free_joint_pose(self.model, data, "cube_joint")
        return np.concatenate([pos, quat, np.array(self.touches(data), dtype=np.float64)])
