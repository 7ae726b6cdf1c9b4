"""The sim node's parameters (one table) and the frozen config built from them, ROS-free.

`PARAMETERS` is the single table of parameter names, defaults and descriptions (types follow the
defaults); the node declares exactly these and `SimNodeConfig.from_parameters` validates them together.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from recap_core.aloha_layout import CAMERA_NAMES, SIM_GRIPPER
from recap_core.robot_description import ROBOT_PARAMETER, RobotDescriptionError, load_robot
from recap_sim.command_validation import CommandLimits
from recap_sim.node_core import SimCoreConfig
from recap_sim.operator_parameters import OPERATOR_PARAMETERS, OperatorSettings, operator_settings
from recap_sim.sim_topics import SimTopics

_CORE = SimCoreConfig()
OPERATOR_PREFIX = "operator."
NO_CAMERAS = ("", "none")  # a camera list entry that names no camera (an empty list has no type on the command line)

# name -> (default, description).
PARAMETERS: dict[str, tuple[object, str]] = {
    ROBOT_PARAMETER[0]: ROBOT_PARAMETER[1:],
    "task": (_CORE.task, "task of the first episode (transfer_cube, espresso)"),
    "seed": (_CORE.seed, "seed of the first episode, 0..2**63-1"),
    "real_time_factor": (1.0, "sim seconds per wall second: 1.0 = wall clock, 0 = as fast as possible"),
    "camera_rate_hz": (_CORE.camera_rate_hz, "image rate in sim time; rendering happens only then"),
    "image_width": (_CORE.image_size[1], "width of every camera image (px)"),
    "image_height": (_CORE.image_size[0], "height of every camera image (px)"),
    "cameras": (list(_CORE.cameras), f"cameras to render, of {list(CAMERA_NAMES)}; ['none'] = no images"),
    "publish_rate_hz": (_CORE.joint_state_rate_hz, "follower joint states and /sim/object_state rate in sim time"),
    "task_state_rate_hz": (_CORE.task_state_rate_hz, "/sim/task_state rate (also published on every change)"),
    "time_limit_s": (0.0, "episode time limit in sim seconds; 0 = the task's own"),
    "joint_margin_rad": (0.2, "commands beyond a joint limit by more than this are rejected"),
    "gripper_margin": (0.2, "same for the gripper, in normalised units"),
    "reject_log_period_s": (1.0, "log at most one rejected command per this many seconds (0 = all)"),
    **{OPERATOR_PREFIX + name: entry for name, entry in OPERATOR_PARAMETERS.items()},
}


@dataclass(frozen=True)
class SimNodeConfig:
    core: SimCoreConfig  # what is simulated and published, at which sim-time rates
    real_time_factor: float  # sim seconds per wall second; 0 = as fast as possible
    limits: CommandLimits  # which arm commands are clipped, which rejected
    reject_log_period_s: float  # at most one rejected-command warning per period; <= 0 = every one
    operator: OperatorSettings  # the simulated operator (leader arms + takeover requests)
    topics: SimTopics  # where it publishes and listens, from the robot description

    @classmethod
    def from_parameters(cls, p: Mapping[str, object]) -> "SimNodeConfig":
        """Raises ValueError naming the bad value (the parts validate themselves)."""
        core = SimCoreConfig(
            task=p["task"], seed=p["seed"], image_size=(p["image_height"], p["image_width"]),
            cameras=tuple(c for c in p["cameras"] if c.strip().lower() not in NO_CAMERAS),
            camera_rate_hz=p["camera_rate_hz"], joint_state_rate_hz=p["publish_rate_hz"],
            task_state_rate_hz=p["task_state_rate_hz"], time_limit_s=p["time_limit_s"] or None)
        limits = CommandLimits(gripper=SIM_GRIPPER, joint_margin=p["joint_margin_rad"],
                               gripper_margin=p["gripper_margin"])
        operator = operator_settings({k[len(OPERATOR_PREFIX):]: v for k, v in p.items() if k.startswith(OPERATOR_PREFIX)})
        try:
            topics = SimTopics.from_description(load_robot(p[ROBOT_PARAMETER[0]]), core.cameras)
        except RobotDescriptionError as exc:
            raise ValueError(str(exc)) from exc
        if operator.enabled and not topics.leader:
            raise ValueError("the simulated operator moves leader arms, and the robot description has none")
        return cls(core, p["real_time_factor"], limits, p["reject_log_period_s"], operator, topics)
