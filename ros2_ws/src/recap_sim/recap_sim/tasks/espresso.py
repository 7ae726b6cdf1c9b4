"""espresso: a simplified cafe task. Grasp the cup, place it under the machine's spout, press the
machine's sprung button, then move the cup to the serving spot.

Stages: 0 start, 1 cup grasped (held off the table), 2 cup under the spout (upright, resting on the
drip tray), 3 brewed (button pressed while the cup is under the spout), 4 served (cup upright at
the serving spot, released; held for `hold_s`) = success. Failures: the cup tips over, is dropped
(falls freely after it was grasped) or leaves the table; the button is pressed with no cup under
the spout (missed the spout); timeout (env).
"""
from __future__ import annotations

import mujoco
import numpy as np

from recap_sim.tasks.base import Task, TaskStatus, free_joint_pose, set_free_joint

CUP_RADIUS, CUP_HALF_HEIGHT = 0.02, 0.04  # m: 4 cm wide (the grippers' comfortable span), 8 cm tall
MACHINE_POS = (0.0, 0.79)  # machine body centre (x, y); front face at y = 0.73
MACHINE_HALF = (0.09, 0.06, 0.10)  # box half extents; top at z = 0.20
SPOUT_XY = np.array([0.0, 0.64])  # the cup goes here (9 cm out: room for the gripper); nozzle bottom at z = 0.14
BUTTON_XY = np.array([-0.05, 0.77])  # on the machine's top, on the left arm's side
BUTTON_RADIUS, BUTTON_HALF = 0.022, 0.01
BUTTON_TRAVEL = 0.012  # m of spring travel
BUTTON_PRESSED = 0.007  # m of travel that counts as a press
BUTTON_STIFFNESS = 200.0  # N/m: about 1.4 N at the press threshold
CUP_X_RANGE, CUP_Y_RANGE = (0.02, 0.15), (0.44, 0.56)  # kept within the right arm's side-grasp reach
SERVE_X_RANGE, SERVE_Y_RANGE = (0.05, 0.2), (0.30, 0.36)
PLACE_TOL = 0.03  # m, cup centre to spout / serving spot
TIP_COS = np.cos(np.radians(45))  # cup axis further than this from vertical = tipped over
TABLE_X, TABLE_Y = (-0.6, 0.6), (0.1, 1.1)
CUP_RGBA = (0.95, 0.95, 0.92, 1.0)
COFFEE_RGBA = (0.35, 0.2, 0.1, 1.0)
READY_OFF_RGBA = (0.15, 0.15, 0.16, 1.0)
READY_ON_RGBA = (1.0, 0.85, 0.3, 1.0)


class Espresso(Task):
    name = "espresso"
    prompt = "make an espresso"  # the instruction l the policy is conditioned on
    stage_names = ("start", "cup_grasped", "cup_under_spout", "brewed", "served")
    time_limit_s = 15.0  # s; the clean expert needs ~5 s, a slow hesitant operator ~10 s
    state_names = ("cup_x", "cup_y", "cup_z", "cup_qw", "cup_qx", "cup_qy", "cup_qz", "cup_upright",
                   "button_depth", "serve_x", "serve_y", "cup_touch_left", "cup_touch_right",
                   "cup_touch_table", "brewed")
    hold_s = 0.2

    def add_objects(self, spec: mujoco.MjSpec) -> None:
        box = mujoco.mjtGeom.mjGEOM_BOX
        cyl = mujoco.mjtGeom.mjGEOM_CYLINDER
        cup = spec.worldbody.add_body(name="cup", pos=[0.1, 0.5, CUP_HALF_HEIGHT])
        cup.add_freejoint(name="cup_joint")
        cup.explicitinertial = True
        cup.mass, cup.ipos = 0.06, [0.0, 0.0, -0.01]  # low centre of mass, like a cup with coffee
        cup.inertia = [4e-5, 4e-5, 1.2e-5]
        cup.add_geom(name="cup", type=cyl, size=[CUP_RADIUS, CUP_HALF_HEIGHT, 0], rgba=list(CUP_RGBA),
                     condim=4, solimp=[0.95, 0.99, 0.001, 0.5, 2], solref=[0.01, 1], friction=[1, 0.005, 0.0001])
        # The coffee's surface in the cup: cup-coloured (empty) until brewed, then brown, so the cameras
        # see whether the coffee was brewed as they would on a real cup (the button springs back).
        cup.add_geom(name="cup_coffee", type=cyl, size=[CUP_RADIUS * 0.85, 0.001, 0], pos=[0, 0, CUP_HALF_HEIGHT],
                     rgba=list(CUP_RGBA), contype=0, conaffinity=0)

        machine = spec.worldbody.add_body(name="machine", pos=[*MACHINE_POS, MACHINE_HALF[2]])
        machine.add_geom(name="machine_body", type=box, size=list(MACHINE_HALF), rgba=[0.55, 0.1, 0.1, 1])
        top = MACHINE_HALF[2]
        front = SPOUT_XY[1] - MACHINE_POS[1]
        machine.add_geom(name="spout_arm", type=box, size=[0.015, (MACHINE_HALF[1] - front) / 2 + 0.0, 0.01],
                         pos=[SPOUT_XY[0], (front - MACHINE_HALF[1]) / 2, 0.07], rgba=[0.7, 0.7, 0.72, 1])
        machine.add_geom(name="spout", type=cyl, size=[0.012, 0.015, 0], pos=[SPOUT_XY[0], front, 0.055],
                         rgba=[0.7, 0.7, 0.72, 1])
        # The machine's "coffee ready" panel across its front: dark until brewed, then lit, so every
        # camera sees the brew at 48 x 64 (the coffee in the cup is 2-5 px there).
        machine.add_geom(name="ready_panel", type=box, size=[MACHINE_HALF[0] - 0.01, 0.001, 0.055],
                         pos=[0.0, -MACHINE_HALF[1] - 0.001, -0.005], rgba=list(READY_OFF_RGBA),
                         contype=0, conaffinity=0)
        button = machine.add_body(name="button", pos=[BUTTON_XY[0] - MACHINE_POS[0], BUTTON_XY[1] - MACHINE_POS[1],
                                                      top + BUTTON_HALF])
        # Sprung push button: a slide joint with a spring back to 0; it sinks into the machine body
        # (contacts between the two are excluded).
        button.add_joint(name="button_joint", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1],
                         range=[-BUTTON_TRAVEL, 0.0], limited=mujoco.mjtLimited.mjLIMITED_TRUE,
                         stiffness=BUTTON_STIFFNESS, damping=2.0)
        button.explicitinertial = True
        button.mass, button.inertia, button.ipos = 0.02, [1e-5, 1e-5, 1e-5], [0.0, 0.0, 0.0]
        button.add_geom(name="button", type=cyl, size=[BUTTON_RADIUS, BUTTON_HALF, 0], rgba=[0.1, 0.75, 0.2, 1])
        spec.add_exclude(bodyname1="machine", bodyname2="button")
        # Visual markers only (no contacts): drip tray under the spout, the serving spot.
        spec.worldbody.add_geom(name="drip_tray", type=box, size=[0.04, 0.04, 0.0005],
                                pos=[SPOUT_XY[0], SPOUT_XY[1], 0.0005], rgba=[0.2, 0.2, 0.22, 1],
                                contype=0, conaffinity=0)
        serve = spec.worldbody.add_body(name="serve_spot", mocap=True, pos=[0.1, 0.33, 0.0005])
        serve.add_geom(name="serve_spot", type=cyl, size=[0.035, 0.0005, 0], rgba=[0.2, 0.6, 0.9, 1],
                       contype=0, conaffinity=0)

    def bind(self, model: mujoco.MjModel) -> None:
        super().bind(model)
        self.cup = frozenset([model.geom("cup").id])
        self._button_qadr = model.joint("button_joint").qposadr[0]
        self._coffee = model.geom("cup_coffee").id
        self._ready_panel = model.geom("ready_panel").id
        self._serve_mocap = model.body("serve_spot").mocapid[0]
        self.serve_xy = np.zeros(2)

    def reset(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        cup = [rng.uniform(*CUP_X_RANGE), rng.uniform(*CUP_Y_RANGE), CUP_HALF_HEIGHT]
        set_free_joint(self.model, data, "cup_joint", cup, yaw=rng.uniform(-np.pi, np.pi))
        self.serve_xy = np.array([rng.uniform(*SERVE_X_RANGE), rng.uniform(*SERVE_Y_RANGE)])
        data.mocap_pos[self._serve_mocap] = [*self.serve_xy, 0.0005]
        self.grasped = False
        self._set_brewed(False)
        self._was_pressed = False
        self._served_since: float | None = None

    def _set_brewed(self, brewed: bool) -> None:
        self.brewed = brewed
        self.model.geom_rgba[self._coffee] = COFFEE_RGBA if brewed else CUP_RGBA
        self.model.geom_rgba[self._ready_panel] = READY_ON_RGBA if brewed else READY_OFF_RGBA

    # --- queries (also used by the expert's plan) --------------------------------------------
    def touches(self, data: mujoco.MjData) -> tuple[bool, bool, bool]:
        c = self.contacts
        return (c.touching(data, self.cup, c.fingers["left"]), c.touching(data, self.cup, c.fingers["right"]),
                c.touching(data, self.cup, frozenset([c.table])))

    def cup_pose(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray, float]:
        """Cup centre (3,), quaternion (4,), and cos of its tilt from vertical."""
        pos, quat = free_joint_pose(self.model, data, "cup_joint")
        _, x, y, _ = quat
        upright = 1.0 - 2.0 * (x * x + y * y)  # z component of the cup axis
        return pos, quat, float(upright)

    def button_depth(self, data: mujoco.MjData) -> float:
        return float(-data.qpos[self._button_qadr])

    def resting_at(self, data: mujoco.MjData, xy: np.ndarray) -> bool:
        """Cup upright, standing on the table, centred within PLACE_TOL of `xy`."""
        pos, _, upright = self.cup_pose(data)
        return (upright > 0.95 and pos[2] < CUP_HALF_HEIGHT + 0.004
                and np.linalg.norm(pos[:2] - xy) < PLACE_TOL)

    # --- task -------------------------------------------------------------------------------
    def evaluate(self, data: mujoco.MjData, time_s: float) -> TaskStatus:
        left, right, table = self.touches(data)
        pos, _, upright = self.cup_pose(data)
        held = (left or right) and not table
        self.grasped |= held
        under = self.resting_at(data, SPOUT_XY)
        pressed = self.button_depth(data) > BUTTON_PRESSED
        press_edge = pressed and not self._was_pressed
        self._was_pressed = pressed
        stage = 3 if self.brewed else (2 if (self.grasped and under) else (1 if self.grasped else 0))
        if not (TABLE_X[0] < pos[0] < TABLE_X[1] and TABLE_Y[0] < pos[1] < TABLE_Y[1]) or pos[2] < -0.05:
            return TaskStatus(stage, "failure", "cup fell off the table")
        if upright < TIP_COS:
            return TaskStatus(stage, "failure", "cup tipped over")
        cup_vz = data.qvel[self.model.joint("cup_joint").dofadr[0] + 2]
        if self.grasped and not (left or right or table) and pos[2] > CUP_HALF_HEIGHT + 0.015 and cup_vz < -0.3:
            return TaskStatus(stage, "failure", "cup dropped")
        if press_edge and not self.brewed:
            if stage == 2:
                self._set_brewed(True)
                stage = 3
            else:
                return TaskStatus(stage, "failure", "button pressed with no cup under the spout (missed the spout)")
        if self.brewed and not (left or right) and self.resting_at(data, self.serve_xy):
            stage = 4
            self._served_since = time_s if self._served_since is None else self._served_since
            if time_s - self._served_since >= self.hold_s - 1e-9:
                return TaskStatus(stage, "success")
        else:
            self._served_since = None
        return TaskStatus(stage)

    def stall(self, data: mujoco.MjData) -> str:
        """E.g. "cup held at the spout, brewed" or "cup standing near the serving spot, not brewed"."""
        if not self.grasped:
            return "cup not grasped"
        left, right, _ = self.touches(data)
        pos, _, _ = self.cup_pose(data)
        if np.linalg.norm(pos[:2] - SPOUT_XY) < PLACE_TOL:
            where = "at the spout"
        elif np.linalg.norm(pos[:2] - self.serve_xy) < 2 * PLACE_TOL:
            where = "near the serving spot"
        else:
            where = "elsewhere"
        return f"cup {'held' if left or right else 'standing'} {where}, {'brewed' if self.brewed else 'not brewed'}"

    def env_state(self, data: mujoco.MjData) -> np.ndarray:
        pos, quat, upright = self.cup_pose(data)
        return np.concatenate([pos, quat, [upright, self.button_depth(data)], self.serve_xy,
                               np.array(self.touches(data), dtype=np.float64), [float(self.brewed)]])
