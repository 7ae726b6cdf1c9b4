"""The scripted expert: joint-space commands from task plans + IK, with quality knobs.

Each control step the task plan (recap_sim.plans) reads the simulation and returns one Cartesian
goal per arm; the expert moves a reference pinch pose toward it at a bounded speed and solves IK
(recap_sim.ik) for the 14-D joint command. Because the plan re-decides from the current state every
step, the expert finishes a task from any reachable state; when it is called after a gap (someone
else drove the robot) it re-anchors its reference at the measured pose, so it can take over from a
policy at any time (it is also the simulated operator).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recap_core.aloha_layout import ARMS
from recap_sim.env import HOME_ARM, Observation, SimEnv
from recap_sim.ik import ArmIK, rotation_error
from recap_sim.plans import PLANS, ArmGoal, WorldView


@dataclass(frozen=True)
class ExpertConfig:
    speed: float = 1.0  # scales every motion (Cartesian, rotation, gripper speed); 1 = clean expert
    hesitation: float = 0.0  # expected pauses per second of episode (each 0.2-0.8 s / speed)
    noise: float = 0.0  # std (rad) of a slowly drifting offset on the arm joint commands while moving
    # between places (faded out within 10 cm of a goal and in fine approaches: the operator is sloppy
    # in transit but looks when grasping; 0.05 still mostly succeeds)
    noise_time_constant: float = 0.3  # s, correlation time of that offset
    mistake_prob: float = 0.0  # probability that an episode contains the task's characteristic mistake
    linear_speed: float = 0.35  # m/s of the pinch point at speed 1
    angular_speed: float = 2.0  # rad/s of the gripper orientation at speed 1
    gripper_speed: float = 3.0  # normalised opening per s at speed 1

    def __post_init__(self) -> None:
        if not 0.1 <= self.speed <= 3.0:
            raise ValueError(f"ExpertConfig.speed must be in [0.1, 3], got {self.speed}")
        if self.hesitation < 0 or self.noise < 0:
            raise ValueError("ExpertConfig.hesitation and noise must be >= 0")
        if not 0.0 <= self.mistake_prob <= 1.0:
            raise ValueError(f"ExpertConfig.mistake_prob must be in [0, 1], got {self.mistake_prob}")
        if min(self.linear_speed, self.angular_speed, self.gripper_speed, self.noise_time_constant) <= 0:
            raise ValueError("ExpertConfig speeds must be positive")


def _slerp_rot(current: np.ndarray, target: np.ndarray, max_angle: float) -> np.ndarray:
    """Rotate `current` toward `target` by at most `max_angle` rad (about the error axis)."""
    err = rotation_error(target, current)
    angle = np.linalg.norm(err)
    if angle <= max_angle or angle < 1e-9:
        return target.copy()
    axis = err / angle
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(max_angle) * k + (1 - np.cos(max_angle)) * k @ k
    return rot @ current


class ScriptedExpert:
    """act(obs) -> (14,) command for the env's task. Deterministic given `seed` and the episode seed."""

    def __init__(self, env: SimEnv, config: ExpertConfig = ExpertConfig(), seed: int = 0) -> None:
        if env.config.task not in PLANS:
            raise ValueError(f"no scripted expert for task {env.config.task!r}; have {sorted(PLANS)}")
        self.env, self.config, self.seed = env, config, int(seed)
        self.world = WorldView(env)
        self.ik = {arm: ArmIK(env.model, arm, PLANS[env.config.task].ik_config) for arm in ARMS}
        self.home = {}
        for arm in ARMS:
            pos, rot = self.ik[arm].forward(np.array(HOME_ARM))
            self.home[arm] = ArmGoal(pos, rot, 1.0)
        self._last_time: float | None = None
        self.mistake: str | None = None

    def reset(self) -> None:
        """Forget the current episode (the next act() starts a new one)."""
        self._last_time = None

    def act(self, obs: Observation) -> np.ndarray:
        dt = self.env.control_period
        new_episode = self._last_time is None or obs.time < self._last_time - 1e-9
        if new_episode:
            self._start_episode()
        if new_episode or abs(obs.time - self._last_time - dt) > 1e-6:
            self._anchor(obs)  # someone else drove the robot since our last command
        self._last_time = obs.time
        cfg = self.config
        goals = self.plan.goals(obs.time, dict(self._gripper))
        if obs.time < self._pause_until:
            return self._command.copy()
        if cfg.hesitation > 0 and self.rng.random() < cfg.hesitation * dt:
            self._pause_until = obs.time + self.rng.uniform(0.2, 0.8) / cfg.speed
        parts, transit = [], {}
        for arm in ARMS:
            goal = goals[arm]
            scale = cfg.speed * goal.speed
            delta = goal.pos - self._ref_pos[arm]
            step = cfg.linear_speed * scale * dt
            dist = np.linalg.norm(delta)
            transit[arm] = 0.0 if goal.speed < 1.0 else float(np.clip(dist / 0.1, 0.0, 1.0))
            self._ref_pos[arm] = goal.pos.copy() if dist <= step else self._ref_pos[arm] + delta * (step / dist)
            self._ref_rot[arm] = _slerp_rot(self._ref_rot[arm], goal.rot, cfg.angular_speed * scale * dt)
            self._q[arm], _ = self.ik[arm].solve(self._q[arm], self._ref_pos[arm], self._ref_rot[arm])
            g_step = cfg.gripper_speed * cfg.speed * dt
            self._gripper[arm] += np.clip(goal.gripper - self._gripper[arm], -g_step, g_step)
            parts.append(np.concatenate([self._q[arm], [self._gripper[arm]]]))
        command = np.concatenate(parts)
        if cfg.noise > 0:
            # Ornstein-Uhlenbeck offset: stationary std = noise, correlated over noise_time_constant.
            decay = np.exp(-dt / cfg.noise_time_constant)
            self._drift = decay * self._drift + np.sqrt(1 - decay**2) * self.rng.normal(0.0, cfg.noise, size=14)
            self._drift[[6, 13]] = 0.0  # the gripper opening itself stays clean
            fade = np.repeat([transit["left"], transit["right"]], 7)
            command = command + fade * self._drift
        self._command = command
        return command.copy()

    def _start_episode(self) -> None:
        env_seed = self.env.seed if self.env.seed is not None else 0
        self.rng = np.random.default_rng([self.seed, env_seed])
        plan_cls = PLANS[self.env.config.task]
        self.mistake = None
        if self.config.mistake_prob > 0 and self.rng.random() < self.config.mistake_prob:
            self.mistake = plan_cls.mistakes[self.rng.integers(len(plan_cls.mistakes))]
        self.plan = plan_cls(self.world, self.home, self.rng, self.mistake)
        self._pause_until = -1.0
        self._drift = np.zeros(14)

    def _anchor(self, obs: Observation) -> None:
        self._q, self._ref_pos, self._ref_rot, self._gripper = {}, {}, {}, {}
        for i, arm in enumerate(ARMS):
            q = obs.qpos[7 * i:7 * i + 6].copy()
            self._q[arm] = q
            self._ref_pos[arm], self._ref_rot[arm] = self.ik[arm].forward(q)
            self._gripper[arm] = float(np.clip(obs.qpos[7 * i + 6], 0.0, 1.0))
        self._command = obs.qpos.copy()
