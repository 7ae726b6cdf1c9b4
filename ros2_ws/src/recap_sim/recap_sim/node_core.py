"""The sim node's control loop without ROS: held per-arm commands, sim time, what to publish when.

`SimCore` owns one `SimEnv` and is driven by one thread (the node's physics thread; MuJoCo's GL
context belongs to the thread that renders). Command callbacks call `hold_command` from other
threads; it only swaps the held vector under a lock. Each `step()` advances one control period
and returns a `Tick` saying what is due for publishing at the new sim time.

With a `SimulatedOperator`, the operator is stepped right after the physics, on the same state
(see recap_sim.sim_operator for why it lives in the sim process).

Sim time (`clock_ns`) is monotonic across resets (stamps never go backwards for the rest of the
graph); the task's own elapsed time restarts at 0 with every episode. After a reset the node
publishes `start_tick()`, the episode's start state under a stamp of its own, before the first
step (a paused reset publishes it again on resume, so a recorder started in between has it).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recap_core.aloha_layout import ARMS, CAMERA_NAMES, JOINTS_PER_ARM
from recap_core.pose_jump import JUMP_RAD
from recap_core.stamps import seconds_to_ns
from recap_sim.env import Observation, SimConfig, SimEnv
from recap_sim.pacing import Periodic
from recap_sim.sim_operator import OperatorStep, SimulatedOperator

MAX_SEED = 2**63 - 1  # SimEnv seeds numpy from [0, 2**63); larger uint64 seeds are refused


@dataclass(frozen=True)
class SimCoreConfig:
    """What the sim node publishes and how often (sim-time rates)."""

    task: str = "espresso"
    seed: int = 0
    cameras: tuple[str, ...] = CAMERA_NAMES  # () = no rendering, no image topics
    image_size: tuple[int, int] = (240, 320)  # (H, W)
    camera_rate_hz: float = 10.0  # render + publish images at this sim-time rate, never per substep
    joint_state_rate_hz: float = 50.0  # follower joint states and /sim/object_state
    task_state_rate_hz: float = 10.0  # /sim/task_state is also published on every change
    time_limit_s: float | None = None  # episode time limit; None = the task's own

    def __post_init__(self) -> None:
        unknown = [c for c in self.cameras if c not in CAMERA_NAMES]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; the sim has {list(CAMERA_NAMES)}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras listed twice: {list(self.cameras)}")
        for name in ("camera_rate_hz", "joint_state_rate_hz", "task_state_rate_hz"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a positive number of Hz, got {getattr(self, name)}")
        check_seed(self.seed)

    def env_config(self, task: str) -> SimConfig:
        return SimConfig(task=task, cameras=self.cameras, image_size=self.image_size, time_limit_s=self.time_limit_s)


def check_seed(seed: int) -> int:
    """`seed` if SimEnv accepts it, else ValueError naming the valid range."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"invalid seed {seed!r}: seeds are integers in [0, 2**63 - 1]")
    return int(seed)


@dataclass(frozen=True)
class TaskSnapshot:
    """The task state of the running episode (what /sim/task_state carries).

    stage = stages completed (0 .. num_stages); success when stage == num_stages.
    """

    task: str
    episode_id: str
    seed: int
    stage: int
    num_stages: int
    stage_name: str
    elapsed_s: float
    time_limit_s: float
    done: bool
    outcome: str | None  # "success" | "failure" | None
    failure_reason: str
    max_stage: int = 0  # the furthest stage reached in this episode (a stage can be lost again)


@dataclass(frozen=True)
class Tick:
    """What one control step produced; `None`/False = not due at this sim time."""

    clock_ns: int  # sim time after the step (all stamps of this tick)
    observation: Observation
    joint_states: bool  # follower joint states + object state due
    images: dict[str, np.ndarray] | None  # fresh frames: at camera rate, and an episode's start frames
    task_state: TaskSnapshot | None  # on change or at task_state_rate_hz
    operator: OperatorStep | None = None  # the simulated operator's leader pose and request, if any


class SimCore:
    """One simulated robot episode after another; see the module docstring for threading."""

    def __init__(self, config: SimCoreConfig, env_factory: Callable[[SimConfig], SimEnv] = SimEnv,
                 operator: SimulatedOperator | None = None) -> None:
        self.config = config
        self.operator = operator
        self._env_factory = env_factory
        self._lock = threading.Lock()
        self._held = np.zeros(len(ARMS) * JOINTS_PER_ARM)
        self._awaiting_resync = [False] * len(ARMS)
        self.stale_commands_ignored = 0
        self._joint_timer = Periodic(config.joint_state_rate_hz)
        self._camera_timer = Periodic(config.camera_rate_hz)
        self._task_timer = Periodic(config.task_state_rate_hz)
        self.clock_ns = 0
        self.episodes = 0
        self.env: SimEnv | None = None
        self.reset(config.task, config.seed)

    # --- called from any thread -------------------------------------------------------
    def hold_command(self, arm: str, vector7: np.ndarray) -> bool:
        """Hold `vector7` (6 joints in rad + normalised gripper, already validated) for `arm`.

        After a reset, commands still aimed at the previous episode's pose (sent before the
        controller saw the arms jump) are ignored until one within JUMP_RAD of the start pose
        arrives: a position-controlled arm would otherwise snap back toward the old pose for a few
        ticks and knock the objects over. Returns False for an ignored command."""
        a = ARMS.index(arm)
        i = a * JOINTS_PER_ARM
        with self._lock:
            if self._awaiting_resync[a]:
                arm_joints = slice(i, i + JOINTS_PER_ARM - 1)
                if np.max(np.abs(np.asarray(vector7)[:-1] - self._held[arm_joints])) > JUMP_RAD:
                    self.stale_commands_ignored += 1
                    return False
                self._awaiting_resync[a] = False
            self._held[i:i + JOINTS_PER_ARM] = vector7
            return True

    def held_command(self) -> np.ndarray:
        with self._lock:
            return self._held.copy()

    # --- called from the loop thread only --------------------------------------------
    def reset(self, task: str, seed: int) -> TaskSnapshot:
        """Start an episode of `task` ("" = the current task) from `seed`.

        Raises ValueError (unknown task, invalid seed) and leaves the running episode untouched.
        """
        seed = check_seed(seed)
        task = task or (self.env.config.task if self.env is not None else self.config.task)
        env = self.env
        if env is None or env.config.task != task:
            env = self._env_factory(self.config.env_config(task))  # ValueError names the known tasks
            if self.env is not None:
                self.env.close()
            self.env = env
        obs = env.reset(seed)
        with self._lock:
            self._held = obs.qpos.copy()  # arms hold their start pose until the first command
            self._awaiting_resync = [True] * len(ARMS)
        self.episodes += 1
        self.episode_id = f"{task}-seed{seed}-{self.episodes}"
        self.observation = obs
        self._snapshot = TaskSnapshot(task, self.episode_id, seed, 0, env.task.num_stages - 1,
                                      env.task.stage_names[0], 0.0, env.max_steps * env.control_period,
                                      False, None, "")
        for timer in (self._joint_timer, self._camera_timer, self._task_timer):
            timer.restart()
        # True: the reset cut a correction short and the node hands back now, before the first step.
        self.handback_due = self.operator is not None and self.operator.new_episode(env, seed, obs.time)
        self._published: TaskSnapshot | None = None
        return self._snapshot

    def start_tick(self) -> Tick:
        """The episode's start state (before its first step), one control period after the last stamp,
        with the cameras' frames of the new scene: a policy's first chunk is planned from this scene,
        as in the in-process evaluation, without waiting for the first step's frames."""
        self.clock_ns += seconds_to_ns(self.env.control_period)
        images = dict(self.observation.images) if self.config.cameras else None
        return Tick(self.clock_ns, self.observation, True, images, self._snapshot)

    def step(self) -> Tick:
        env = self.env
        self.clock_ns += seconds_to_ns(env.control_period)
        render = bool(self.config.cameras) and self._camera_timer.due(self.clock_ns)
        held = self.held_command()
        res = env.step(held, render=render)
        self.observation = res.observation
        s = self._snapshot
        # The env counts stage names including the start ("start", ..., "transferred"): the index
        # is the number of completed stages and the last name means complete.
        self._snapshot = TaskSnapshot(s.task, s.episode_id, s.seed, res.stage, res.num_stages - 1,
                                      res.stage_name, res.observation.time, s.time_limit_s, res.done,
                                      res.outcome, res.failure_reason, max(s.max_stage, res.stage))
        changed = self._published is None or self._progress_key(self._published) != self._progress_key(self._snapshot)
        task_due = self._task_timer.due(self.clock_ns)
        if changed or task_due:
            self._published = self._snapshot
        operator = None if self.operator is None else self.operator.step(res.observation, res.stage, res.done, held)
        return Tick(self.clock_ns, res.observation, self._joint_timer.due(self.clock_ns),
                    dict(res.observation.images) if render else None,
                    self._snapshot if (changed or task_due) else None, operator)

    @property
    def task_state(self) -> TaskSnapshot:
        return self._snapshot

    @staticmethod
    def _progress_key(s: TaskSnapshot) -> tuple:
        return s.episode_id, s.stage, s.done, s.outcome

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
