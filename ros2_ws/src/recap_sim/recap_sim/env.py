"""The ROS-free simulation core: reset(seed) / step(command14) on the MuJoCo ALOHA scene.

Commands and observations use the 14-D layout of `recap_core.aloha_layout.JOINT_NAMES`
(arm joints in rad, grippers normalised 0 = closed, 1 = open). The env does not validate command
ranges (the sim node's command validation does): out-of-range values are clipped by MuJoCo to
the actuators' ctrlrange (the vx300s joint limits; gripper 0..1). Only the shape and finiteness
are checked, because a NaN would corrupt the physics state for the rest of the episode.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recap_core.aloha_layout import (ACTION_DIM, ARM_JOINTS, ARMS, CAMERA_NAMES, GRIPPER_JOINT, SIM_GRIPPER,
                                     GripperCalibration)
from recap_sim.scene import build_model
from recap_sim.tasks import TASKS, make_task

import mujoco  # noqa: E402,I001  (after recap_sim.scene, which selects the headless GL backend)

# ALOHA's vx300s home pose (ACT's START_ARM_POSE) for one arm's 6 joints.
HOME_ARM = (0.0, -0.96, 1.16, 0.0, -0.3, 0.0)


@dataclass(frozen=True)
class SimConfig:
    task: str = "transfer_cube"  # a key of recap_sim.tasks.TASKS
    cameras: tuple[str, ...] = ()  # subset of CAMERA_NAMES; () = physics only (fastest)
    image_size: tuple[int, int] = (240, 320)  # (H, W) of every camera
    camera_period_steps: int = 5  # render every k control steps (5 -> 10 Hz); frames are reused in between
    control_period: float = 0.02  # s (50 Hz); a multiple of the 2 ms physics step
    time_limit_s: float | None = None  # None = the task's own time limit
    gripper: GripperCalibration = SIM_GRIPPER  # raw unit: the `left_finger` slide joint (m); `right_finger` mirrors it
    home_gripper: float = 1.0  # normalised gripper opening at reset

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            make_task(self.task)  # raises with the list of known tasks and a suggestion
        unknown = [c for c in self.cameras if c not in CAMERA_NAMES]
        if unknown:
            raise ValueError(f"SimConfig.cameras: unknown camera(s) {unknown}; choose from {CAMERA_NAMES}")
        if len(self.image_size) != 2 or min(self.image_size) < 16 or max(self.image_size) > 2048:
            raise ValueError(f"SimConfig.image_size must be (H, W) in 16..2048, got {self.image_size}")
        if self.camera_period_steps < 1:
            raise ValueError("SimConfig.camera_period_steps must be >= 1")
        substeps = self.control_period / 0.002
        if self.control_period <= 0 or abs(substeps - round(substeps)) > 1e-9:
            raise ValueError(f"SimConfig.control_period must be a positive multiple of 2 ms, got {self.control_period}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError("SimConfig.time_limit_s must be positive")
        if not 0.0 <= self.home_gripper <= 1.0:
            raise ValueError("SimConfig.home_gripper must be in [0, 1]")


@dataclass(frozen=True)
class Observation:
    qpos: np.ndarray  # (14,) JOINT_NAMES order, gripper normalised
    env_state: np.ndarray  # (S,) privileged object state, names in env.state_names
    images: dict[str, np.ndarray]  # camera -> (H, W, 3) uint8, the latest frames (empty without cameras)
    time: float  # sim time in s since reset
    qvel: np.ndarray = field(default_factory=lambda: np.zeros(ACTION_DIM))  # (14,) rad/s, gripper in 1/s
    image_time: float | None = None  # sim time at which `images` were rendered


@dataclass(frozen=True)
class StepResult:
    observation: Observation
    stage: int
    num_stages: int
    stage_name: str
    done: bool
    outcome: str | None  # "success" | "failure" | None
    failure_reason: str = ""


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


class SimEnv:
    """One simulated ALOHA with one task. Not thread-safe: one caller steps it."""

    def __init__(self, config: SimConfig = SimConfig()) -> None:
        self.config = config
        self.task = make_task(config.task)
        self.model = build_model(self.task.add_objects)
        self.data = mujoco.MjData(self.model)
        self.task.bind(self.model)
        self.control_period = config.control_period
        self.substeps = round(config.control_period / self.model.opt.timestep)
        limit = config.time_limit_s if config.time_limit_s is not None else self.task.time_limit_s
        self.max_steps = int(round(limit / self.control_period))
        self.gripper_calibration = config.gripper
        self.state_names: tuple[str, ...] = self.task.state_names
        self._arm_qadr, self._arm_dofadr, self._finger_qadr, self._finger_dofadr = {}, {}, {}, {}
        for arm in ARMS:
            joints = [self.model.joint(f"vx300s_{arm}/{j}") for j in ARM_JOINTS]
            self._arm_qadr[arm] = np.array([j.qposadr[0] for j in joints])
            self._arm_dofadr[arm] = np.array([j.dofadr[0] for j in joints])
            finger = self.model.joint(f"vx300s_{arm}/left_finger")
            self._finger_qadr[arm], self._finger_dofadr[arm] = finger.qposadr[0], finger.dofadr[0]
        # Actuators follow the MJCF order: per arm 6 joints, left_finger, right_finger.
        self._ctrl_index = {arm: np.arange(8) + 8 * i for i, arm in enumerate(ARMS)}
        self._renderer = None
        if config.cameras:
            from recap_sim.renderer import CameraRenderer
            self._renderer = CameraRenderer(self.model, config.cameras, *config.image_size)
        self._seed: int | None = None

    # --- episode -------------------------------------------------------------------------
    def reset(self, seed: int) -> Observation:
        """Start an episode: robot at home, objects placed from `seed` (same seed -> same episode)."""
        self._seed = _check_seed(seed)
        rng = np.random.default_rng(self._seed)
        mujoco.mj_resetData(self.model, self.data)
        home = np.concatenate([HOME_ARM, [self.config.home_gripper]] * 2)
        for arm, vec in zip(ARMS, (home[:7], home[7:])):
            self.data.qpos[self._arm_qadr[arm]] = vec[:6]
            raw = self.gripper_calibration.denormalise(vec[6])
            self.data.qpos[self._finger_qadr[arm]] = raw
            self.data.qpos[self._finger_qadr[arm] + 1] = -raw
        self._apply_command(home)
        self.task.reset(self.data, rng)
        mujoco.mj_forward(self.model, self.data)
        self.task.contacts.invalidate()
        self.steps = 0
        self.last_command = home.copy()
        self._final: StepResult | None = None
        self._images: dict[str, np.ndarray] = {}
        self._image_time: float | None = None
        if self._renderer is not None:
            self._render()
        return self.observe()

    def step(self, command14: np.ndarray, render: bool | None = None) -> StepResult:
        """Apply a 14-D command for one control period.

        render: True/False forces/suppresses camera rendering this step; None renders every
        `camera_period_steps` steps. After the episode is done the physics keeps running but
        the result (done, outcome) stays latched until the next reset.
        """
        if self._seed is None:
            raise RuntimeError("SimEnv.step called before reset(seed)")
        cmd = np.asarray(command14, dtype=np.float64)
        if cmd.shape != (ACTION_DIM,) or not np.isfinite(cmd).all():
            raise ValueError(f"SimEnv.step needs a finite ({ACTION_DIM},) command, got shape {cmd.shape}: {cmd}")
        self._apply_command(cmd)
        self.last_command = cmd.copy()
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)
        self.task.contacts.invalidate()
        self.steps += 1
        if self._renderer is not None and (render or (render is None and self.steps % self.config.camera_period_steps == 0)):
            self._render()
        obs = self.observe()
        if self._final is not None:
            f = self._final
            return StepResult(obs, f.stage, f.num_stages, f.stage_name, True, f.outcome, f.failure_reason)
        status = self.task.evaluate(self.data, obs.time)
        outcome, reason = status.outcome, status.failure_reason
        if outcome is None and self.steps >= self.max_steps:
            outcome, reason = "failure", f"timeout after {self.max_steps * self.control_period:.1f} s"
            if stall := self.task.stall(self.data):
                reason += f": {stall}"
        result = StepResult(obs, status.stage, self.task.num_stages, self.task.stage_names[status.stage],
                            outcome is not None, outcome, reason)
        if result.done:
            self._final = result
        return result

    # --- state ---------------------------------------------------------------------------
    def observe(self) -> Observation:
        qpos, qvel = [], []
        span = self.gripper_calibration.open - self.gripper_calibration.closed
        for arm in ARMS:
            qpos.append(self.data.qpos[self._arm_qadr[arm]])
            qpos.append([self.gripper_calibration.normalise(self.data.qpos[self._finger_qadr[arm]])])
            qvel.append(self.data.qvel[self._arm_dofadr[arm]])
            qvel.append([self.data.qvel[self._finger_dofadr[arm]] / span])
        return Observation(qpos=np.concatenate(qpos), env_state=self.task.env_state(self.data),
                           images=dict(self._images), time=float(self.data.time), qvel=np.concatenate(qvel),
                           image_time=self._image_time)

    def raw_arm_positions(self, arm: str) -> tuple[list[str], list[float]]:
        """One arm's JointState content: unprefixed names `waist..wrist_rotate, gripper`, raw gripper (m)."""
        q = self.data.qpos
        return [*ARM_JOINTS, GRIPPER_JOINT], [*q[self._arm_qadr[arm]].tolist(), float(q[self._finger_qadr[arm]])]

    def raw_arm_velocities(self, arm: str) -> list[float]:
        """Velocities matching `raw_arm_positions` (rad/s, gripper m/s)."""
        v = self.data.qvel
        return [*v[self._arm_dofadr[arm]].tolist(), float(v[self._finger_dofadr[arm]])]

    @property
    def seed(self) -> int | None:
        return self._seed

    @property
    def time(self) -> float:
        return float(self.data.time)

    def render(self) -> dict[str, np.ndarray]:
        """Render the configured cameras now (also updates the frames returned by observe())."""
        if self._renderer is None:
            raise RuntimeError("SimEnv has no cameras: set SimConfig.cameras")
        self._render()
        return dict(self._images)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- internals -----------------------------------------------------------------------
    def _apply_command(self, cmd: np.ndarray) -> None:
        for i, arm in enumerate(ARMS):
            vec = cmd[7 * i:7 * i + 7]
            raw = self.gripper_calibration.denormalise(vec[6])
            self.data.ctrl[self._ctrl_index[arm]] = [*vec[:6], raw, -raw]

    def _render(self) -> None:
        self._images = self._renderer.render(self.data)
        self._image_time = float(self.data.time)
