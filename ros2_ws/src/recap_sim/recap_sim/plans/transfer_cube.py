"""Scripted plan for transfer_cube: right arm picks the cube from above, meets the left arm in
mid-air (ACT's meeting point), the left gripper (rolled 90 deg) grasps it, the right releases.

Every step the plan re-reads who holds the cube, so it resumes from any reachable state (cube on
the table anywhere, held by either arm, both arms touching it).
"""
from __future__ import annotations

import mujoco
import numpy as np

from recap_sim.ik import IKConfig, gripper_frame
from recap_sim.plans.base import ArmGoal, TaskPlan
from recap_sim.tasks.base import free_joint_pose

MEET = np.array([0.0, 0.5, 0.25])  # cube centre at the hand-over (ACT's meet point)
RIGHT_BASE = np.array([0.469, 0.5])
LIFT_CLEAR = 0.07  # m, cube height the right arm lifts to before carrying it to the meet point
ABOVE = 0.10  # m, pre-grasp height above the cube centre
GRASP_DZ = 0.005  # m, pinch point above the cube centre (fingertips stay off the table)
LEFT_INSET = 0.01  # m, left pinch stops this far short of the cube centre (clear of the right fingers)
LEFT_STANDOFF = 0.10  # m, left waits this far out along -x before moving in
HELD_OPENING = 0.9  # a gripper measured below this while touching the cube is holding it (even by its edges)
ALIGN_TOL = 0.012  # m
HOLD_BEFORE_RELEASE = 0.25  # s the left must hold before the right lets go
PITCH_SIGN = 1.0  # gripper_frame pitch turns the held cube the same way
LEFT_MEET_ROT = gripper_frame(0.0, 0.0, np.pi / 2)


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


class TransferCubePlan(TaskPlan):
    mistakes = ("early_release", "sloppy_grasp")
    # Top-down grasps admit a flipped wrist solution; keep the un-flipped one (see IKConfig).
    ik_config = IKConfig(roll_regularisation=0.02)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.task = self.world.env.task
        self._left_held_since: float | None = None
        self._left_hold_pos: np.ndarray | None = None
        self._retry_until = -1.0
        self._meet_rot: np.ndarray | None = None
        self._sloppy_pending = self.mistake == "sloppy_grasp"

    def _cube(self) -> tuple[np.ndarray, np.ndarray]:
        return free_joint_pose(self.world.model, self.world.data, "cube_joint")

    def goals(self, time_s: float, commanded_gripper: dict[str, float]) -> dict[str, ArmGoal]:
        cube, quat = self._cube()
        touch_left, touch_right, touch_table = self.task.touches(self.world.data)
        on_table = touch_table or cube[2] < 0.03
        lpos, _ = self.world.pinch("left")
        rpos, _ = self.world.pinch("right")
        # Held = touched between nearly closed fingers. For the carrying right arm a contact that
        # flickers while the cube hangs in its grasp (e.g. by an edge) does not count as a release.
        held_left = (touch_left and self.world.gripper_opening("left") < HELD_OPENING
                     and np.linalg.norm(cube - lpos) < 0.04)
        held_right = (self.world.gripper_opening("right") < HELD_OPENING and np.linalg.norm(cube - rpos) < 0.04
                      and (touch_right or not on_table))
        if held_left:
            if self._left_held_since is None:
                self._left_held_since, self._left_hold_pos = time_s, lpos.copy()
        else:
            self._left_held_since = None
        left_hold = ArmGoal(self._left_hold_pos if self._left_hold_pos is not None else lpos, LEFT_MEET_ROT, 0.0)

        if held_left and time_s - self._left_held_since >= HOLD_BEFORE_RELEASE:
            if touch_right or self.world.gripper_opening("right") < 0.85:
                # Right lets go where it is, then leaves.
                _, rrot = self.world.pinch("right")
                return {"left": left_hold, "right": ArmGoal(rpos, rrot, 1.0, 0.5)}
            return {"left": left_hold, "right": self.home["right"]}
        if not held_right:
            self._meet_rot = None
        if held_right:
            self._sloppy_pending = False
            return self._hand_over(cube, quat, lpos, rpos, held_left, commanded_gripper)
        self._left_hold_pos = None
        return {"left": self._left_ready(), "right": self._pick(time_s, cube, quat, rpos)}

    def _left_ready(self) -> ArmGoal:
        return ArmGoal(MEET - np.array([LEFT_INSET + LEFT_STANDOFF, 0.0, 0.0]), LEFT_MEET_ROT, 1.0)

    def _right_meet_rot(self, quat: np.ndarray) -> np.ndarray:
        """Right gripper orientation at the meet point that shows the left arm a cube face: the
        cube can turn about the finger axis while it is carried, so pitch to undo that turn."""
        cube_rot = np.zeros(9)
        mujoco.mju_quat2Mat(cube_rot, quat)
        _, grip_rot = self.world.pinch("right")
        rel = grip_rot.T @ cube_rot.reshape(3, 3)
        turn = np.arctan2(rel[0, 2], rel[0, 0])
        turn -= np.pi / 2 * np.round(turn / (np.pi / 2))
        return gripper_frame(np.pi, PITCH_SIGN * turn)

    def _hand_over(self, cube, quat, lpos, rpos, held_left, commanded_gripper) -> dict[str, ArmGoal]:
        if cube[2] < LIFT_CLEAR and np.linalg.norm(rpos[:2] - MEET[:2]) > 0.05:
            # Lift straight up first, gently, so the fresh grasp settles before the fast carry.
            _, rrot = self.world.pinch("right")
            return {"left": self._left_ready(), "right": ArmGoal(rpos + [0.0, 0.0, 0.05], rrot, 0.0, 0.5)}
        if self._meet_rot is None:  # decided once per carry: re-deciding chases a cube turning in the grasp
            self._meet_rot = self._right_meet_rot(quat)
        right = ArmGoal(MEET, self._meet_rot, 0.0)
        right_ready = np.linalg.norm(rpos - MEET) < 0.02 and np.linalg.norm(cube - rpos) < 0.03
        if not right_ready:
            return {"left": self._left_ready(), "right": right}
        grasp = cube - np.array([LEFT_INSET, 0.0, 0.0])
        standoff = grasp - np.array([LEFT_STANDOFF, 0.0, 0.0])
        on_line = np.linalg.norm((lpos - grasp)[1:]) < ALIGN_TOL and lpos[0] <= grasp[0] + 0.005
        if not on_line and commanded_gripper["left"] > 0.5:
            return {"left": ArmGoal(standoff, LEFT_MEET_ROT, 1.0), "right": right}
        close = np.linalg.norm(lpos - grasp) < 0.01 or commanded_gripper["left"] < 0.9 or held_left
        if self.mistake == "early_release":
            right = ArmGoal(MEET, right.rot, 1.0)  # lets go before the left has the cube
        return {"left": ArmGoal(grasp, LEFT_MEET_ROT, 0.0 if close else 1.0, 0.5), "right": right}

    def _pick(self, time_s, cube, quat, rpos) -> ArmGoal:
        # Fingers close on two opposite cube faces: the face-aligned heading nearest the arm's reach.
        reach = np.arctan2(cube[1] - RIGHT_BASE[1], cube[0] - RIGHT_BASE[0])
        yaw = _yaw(quat)
        heading = yaw + np.pi / 2 * np.round((reach - yaw) / (np.pi / 2))
        rot = gripper_frame(heading, np.pi / 2)
        target = cube.copy()
        if self._sloppy_pending:
            target[:2] += 0.017 * np.array([np.cos(heading), np.sin(heading)])  # grasps the cube's edge
        above = target + np.array([0.0, 0.0, ABOVE])
        grasp = target + np.array([0.0, 0.0, GRASP_DZ])
        opening = self.world.gripper_opening("right")
        aligned = np.linalg.norm((rpos - grasp)[:2]) < ALIGN_TOL and rpos[2] < above[2] + 0.01
        if time_s < self._retry_until:
            return ArmGoal(above, rot, 1.0)
        if opening < 0.2:  # closed on nothing: missed, open and come down again
            self._retry_until = time_s + 0.4
            self._sloppy_pending = False
            return ArmGoal(above, rot, 1.0)
        if aligned and (opening > 0.9 or rpos[2] < grasp[2] + 0.02):
            at_grasp = np.linalg.norm(rpos - grasp) < 0.01
            closing = at_grasp or opening < 0.9
            return ArmGoal(grasp, rot, 0.0 if closing else 1.0, 0.5)
        return ArmGoal(above, rot, 1.0)
