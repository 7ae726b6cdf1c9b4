"""One recorded episode, validated: the unit the training dataset stores (INTERFACES.md).

Shapes (T = steps of the episode, D = the robot's joints (its description's state vector; the
dataset holding the episode fixes D), S = privileged state dim):
timestamps (T,), qpos (T, D), env_state (T, S) or None, images {cam: (T, H, W, 3) uint8},
executed_action (T, D), proposed_action (T, D) with all-NaN rows where the policy proposed
nothing, intervention (T,) bool.

`JointRange` says which qpos and action values a robot can produce at all (its description's joint
limits plus a margin); the converter, the HDF5 import and the normalisation use it to stop corrupt
or mis-scaled values before they reach training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from recap_model.robot_layout import RobotLayout

OUTCOMES = ("success", "failure", "abort")
SOURCES = ("demo", "rollout")
# Episode ids become file names: keep them portable.
_EPISODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class EpisodeError(ValueError):
    """An episode is malformed; the message names the episode and what is wrong."""


@dataclass(frozen=True)
class JointRange:
    """The values a robot's joint vector (its layout's joint_names order) can take: the position
    limits widened by a margin. Readings overshoot a limit a little and gripper calibrations are
    approximate; anything further out is a corrupt value or a unit / calibration error."""

    robot: RobotLayout
    joint_margin: float = 0.2  # rad beyond each arm joint's limit
    gripper_margin: float = 0.5  # beyond the normalised gripper's 0 (closed) and 1 (open)

    def __post_init__(self) -> None:
        if not (self.joint_margin >= 0 and self.gripper_margin >= 0):
            raise ValueError(f"JointRange margins must be >= 0, got {self.joint_margin}, {self.gripper_margin}")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower (D,), upper (D,)) including the margins."""
        margin = np.full(self.robot.action_dim, self.joint_margin)
        margin[list(self.robot.gripper_indices)] = self.gripper_margin
        return np.asarray(self.robot.lower) - margin, np.asarray(self.robot.upper) + margin

    def outside(self, values: np.ndarray, joints: slice = slice(None)) -> np.ndarray:
        """(T, d) bool: values (T, d) of the `joints` columns outside the range; NaN counts as outside."""
        lower, upper = self.bounds()
        values = np.asarray(values, np.float64)
        return ~((values >= lower[joints]) & (values <= upper[joints]))

    def describe(self, joint: int, value: float) -> str:
        """'left_shoulder = 1e+30 (allowed -2.05..1.46)' for column `joint` of the joint vector."""
        lower, upper = self.bounds()
        return f"{self.robot.joint_names[joint]} = {value:.6g} (allowed {lower[joint]:.3g}..{upper[joint]:.3g})"

    def check(self, where: str, key: str, values: np.ndarray) -> None:
        """Raise EpisodeError naming `where`, `key`, the first step and joint outside the range."""
        values = np.asarray(values, np.float64)
        if values.ndim != 2 or values.shape[1] != self.robot.action_dim:
            raise EpisodeError(f"{where}: {key} has shape {values.shape}, {self.robot.describe()} has "
                               f"D = {self.robot.action_dim}")
        bad = self.outside(values)
        if bad.any():
            step, joint = (int(i) for i in np.argwhere(bad)[0])
            raise EpisodeError(f"{where}: {key} step {step}: {self.describe(joint, values[step, joint])}; "
                               f"{int(bad.any(axis=1).sum())} of {len(values)} steps are outside the joint "
                               "limits (unit or calibration error, or corrupt data?)")


@dataclass(frozen=True, eq=False)
class EpisodeData:
    episode_id: str  # unique in a dataset; [A-Za-z0-9._-], it names the episode's file
    task: str  # task name, e.g. "espresso"
    outcome: str  # "success" | "failure" | "abort" (abort: ended by the operator, no verdict)
    source: str  # "demo" (teleoperated / scripted expert) | "rollout" (the policy acted)
    iteration: int  # Algorithm 1 iteration that collected it (0 = demonstrations)
    timestamps: np.ndarray  # (T,) s, non-decreasing
    qpos: np.ndarray  # (T, D) the robot's joint_names order, grippers normalised
    env_state: np.ndarray | None  # (T, S) privileged object state, or None (real robot)
    images: dict[str, np.ndarray]  # cam -> (T, H, W, 3) uint8; may be empty
    executed_action: np.ndarray  # (T, D) the command that was actually sent
    proposed_action: np.ndarray  # (T, D) the policy's proposal; NaN rows where none
    intervention: np.ndarray  # (T,) bool, True where a human was in control
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable extras

    def __post_init__(self) -> None:
        name = f"episode {self.episode_id!r}"
        if not isinstance(self.episode_id, str) or not _EPISODE_ID.match(self.episode_id):
            raise EpisodeError(f"{name}: episode_id must match {_EPISODE_ID.pattern} (it names a file)")
        if not isinstance(self.task, str) or not self.task:
            raise EpisodeError(f"{name}: task must be a non-empty string, got {self.task!r}")
        if self.outcome is None:
            raise EpisodeError(f"{name}: has no outcome (expected one of {OUTCOMES})")
        if self.outcome not in OUTCOMES:
            raise EpisodeError(f"{name}: unknown outcome {self.outcome!r} (expected one of {OUTCOMES})")
        if self.source not in SOURCES:
            raise EpisodeError(f"{name}: unknown source {self.source!r} (expected one of {SOURCES})")
        if isinstance(self.iteration, bool) or not isinstance(self.iteration, (int, np.integer)) or self.iteration < 0:
            raise EpisodeError(f"{name}: iteration must be an int >= 0, got {self.iteration!r}")
        object.__setattr__(self, "iteration", int(self.iteration))

        timestamps = _float_array(name, "timestamps", self.timestamps, ndim=1)
        steps = len(timestamps)
        if steps == 0:
            raise EpisodeError(f"{name}: has no steps")
        if not np.isfinite(timestamps).all():
            raise EpisodeError(f"{name}: timestamps contain NaN or inf")
        if np.any(np.diff(timestamps) < 0):
            raise EpisodeError(f"{name}: timestamps go backwards at step {int(np.argmax(np.diff(timestamps) < 0)) + 1}")
        object.__setattr__(self, "timestamps", timestamps)

        dim = None
        for key in ("qpos", "executed_action", "proposed_action"):
            array = _float_array(name, key, getattr(self, key), ndim=2)
            dim = array.shape[1] if dim is None else dim  # qpos fixes D; the actions share it
            _check_shape(name, key, array, (steps, dim))
            object.__setattr__(self, key, array)
        for key in ("qpos", "executed_action"):
            _check_finite(name, key, getattr(self, key))
        proposed = self.proposed_action
        missing = np.isnan(proposed)
        partial = missing.any(axis=1) & ~missing.all(axis=1)
        if partial.any() or np.isinf(proposed).any():
            bad = int(np.argmax(partial | np.isinf(proposed).any(axis=1)))
            raise EpisodeError(f"{name}: proposed_action step {bad} is partly NaN or inf "
                               "(a step has a full proposal or none: an all-NaN row)")

        if self.env_state is not None:
            env_state = _float_array(name, "env_state", self.env_state, ndim=2)
            if env_state.shape[0] != steps:
                raise EpisodeError(f"{name}: env_state has {env_state.shape[0]} steps, timestamps {steps}")
            _check_finite(name, "env_state", env_state)
            object.__setattr__(self, "env_state", env_state)

        intervention = np.asarray(self.intervention)
        if intervention.dtype != np.bool_:
            raise EpisodeError(f"{name}: intervention must be bool, got {intervention.dtype}")
        _check_shape(name, "intervention", intervention, (steps,))
        object.__setattr__(self, "intervention", intervention)

        if not isinstance(self.images, dict):
            raise EpisodeError(f"{name}: images must be a dict camera -> (T, H, W, 3) uint8")
        images = {}
        for camera, frames in self.images.items():
            frames = np.asarray(frames)
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] != steps:
                raise EpisodeError(f"{name}: images[{camera!r}] must be ({steps}, H, W, 3) uint8, "
                                   f"got {frames.shape} {frames.dtype}")
            images[str(camera)] = frames
        object.__setattr__(self, "images", images)

        if not isinstance(self.metadata, dict):
            raise EpisodeError(f"{name}: metadata must be a dict")
        try:
            json.dumps(self.metadata)
        except (TypeError, ValueError) as error:
            raise EpisodeError(f"{name}: metadata is not JSON-serialisable: {error}") from error

    @property
    def num_steps(self) -> int:
        return len(self.timestamps)

    @property
    def action_dim(self) -> int:
        """D: the joints of qpos and of the actions."""
        return int(self.qpos.shape[1])

    @property
    def state_dim(self) -> int | None:
        return None if self.env_state is None else int(self.env_state.shape[1])


def _float_array(name: str, key: str, value: Any, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EpisodeError(f"{name}: {key} is not numeric: {error}") from error
    if array.ndim != ndim:
        raise EpisodeError(f"{name}: {key} must have {ndim} dimensions, got shape {array.shape}")
    return array


def _check_shape(name: str, key: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise EpisodeError(f"{name}: {key} has shape {array.shape}, expected {shape} (T steps, D joints as qpos)")


def _check_finite(name: str, key: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        step = int(np.argwhere(bad)[0][0])
        raise EpisodeError(f"{name}: {key} contains NaN or inf (first at step {step})")
