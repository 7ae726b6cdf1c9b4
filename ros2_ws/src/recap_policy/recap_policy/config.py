"""The policy node's configuration: one frozen dataclass, built from ROS parameters.

`PARAMETERS` is the single table of parameter names, defaults and descriptions; the node declares
exactly these and `PolicyNodeConfig.from_parameters` validates them together with the robot
description the `robot` parameter names (topics, joints, grippers, cameras, control rate).
"""
from __future__ import annotations

from dataclasses import dataclass

from recap_core.robot_description import ROBOT_PARAMETER, RobotDescription
from recap_policy.backends.base import Conditioning
from recap_model.chunk_scheduling import DelayEstimatorConfig, SchedulerConfig
from recap_model.sampling import DEFAULT_NOISE_SCALE
from recap_policy.camera_health import CameraHealthConfig
from recap_policy.command_stream import CommandStreamConfig

BACKENDS = ("checkpoint", "remote")

# name -> (default, description). Types follow the defaults.
PARAMETERS: dict[str, tuple[object, str]] = {
    ROBOT_PARAMETER[0]: (ROBOT_PARAMETER[1], ROBOT_PARAMETER[2]),
    "backend": ("checkpoint", "checkpoint: a RECAP checkpoint run in-process (recap_model); remote: an openpi websocket policy server"),
    "checkpoint": ("", "policy checkpoint directory (backend=checkpoint)"),
    "remote_host": ("localhost", "policy server host (backend=remote)"),
    "remote_port": (8000, "policy server port (backend=remote)"),
    "remote_api_key": ("", "API key sent to the policy server, if it needs one"),
    "task": ("default", "task prompt l given to the policy"),
    "control_rate_hz": (0.0, "rate of the /policy/command stream (Hz); 0 = the robot description's control_rate_hz"),
    "execution_horizon": (0, "rows of each chunk that may be executed; 0 = the whole chunk H"),
    "inference_every": (10, "inference trigger: start a new inference every k command ticks (if none running)"),
    "scheduler": ("rtc", "chunk scheduler: plain | ensemble (ACT temporal ensembling) | rtc (real-time chunking)"),
    "advantage": ("positive", "advantage indicator the policy is conditioned on: positive | negative | unconditioned"),
    "guidance_scale": (1.0, "classifier-free guidance scale beta (1 = no guidance; the paper suggests 1.5-2.5)"),
    "noise_scale": (DEFAULT_NOISE_SCALE, "scale of the flow's starting noise (1 = the paper's sampling; "
                    f"{DEFAULT_NOISE_SCALE} knocks over fewer cups, docs/TRAINER.md)"),
    "max_observation_age_s": (0.5, "a joint or object state older than this (header stamp) is stale: no new chunks, "
                              "the command holds"),
    "max_camera_age_s": (0.3, "a camera frame older than this (header stamp) is stale, never reused: no new chunks, "
                         "the command holds"),
    "startup_timeout_s": (5.0, "a camera the policy needs that has sent no frame this long after startup is named "
                          "in an error (no chunks before every camera has delivered)"),
    "min_camera_rate_hz": (8.0, "a camera whose last 20 frames arrive slower than this (header stamps) is named "
                           "in a warning; 0 = no check"),
    "allow_privileged_state": (False, "run checkpoints that read the simulator's object state (env_state on "
                               "object_state_topic); true only where the simulator publishes it, never on a robot"),
    "max_step": (0.1, "largest change of one joint between two commands (rad / normalised gripper)"),
    "blend_steps": (5, "ticks over which a new chunk cross-fades in (plain, rtc)"),
    "ensemble_decay": (0.01, "ACT temporal ensembling weight decay m"),
    "delay_window": (20, "rtc: latencies kept to estimate the inference delay"),
    "delay_percentile": (90.0, "rtc: percentile of the kept latencies used as the delay"),
    "delay_discard_first": (1, "rtc: first inferences ignored by the delay estimate (cold start)"),
    "initial_delay_s": (0.1, "rtc: delay assumed before any latency is measured"),
    "object_state_topic": ("/sim/object_state", "privileged object state (state-only policies)"),
    "image_height": (0, "remote backend: image height to send (0 = as received)"),
    "image_width": (0, "remote backend: image width to send (0 = as received)"),
    "inference_threads": (1, "torch threads for the built-in backend (leave a core for the command timer)"),
    "warn_period_s": (2.0, "minimum time between two repeated warnings (stale inputs, rejected chunks)"),
}


@dataclass(frozen=True)
class PolicyNodeConfig:
    robot: RobotDescription  # follower topics, joints by name, grippers, cameras
    backend: str
    checkpoint: str
    remote_host: str
    remote_port: int
    remote_api_key: str
    task: str
    loop: CommandStreamConfig
    conditioning: Conditioning
    max_observation_age_s: float
    max_camera_age_s: float
    camera_health: CameraHealthConfig
    allow_privileged_state: bool
    object_state_topic: str
    image_size: tuple[int, int] | None
    inference_threads: int
    warn_period_s: float

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "checkpoint" and not self.checkpoint:
            raise ValueError("backend=checkpoint needs the 'checkpoint' parameter (a checkpoint directory)")
        if not 0 < self.remote_port < 65536:
            raise ValueError(f"remote_port must be a TCP port, got {self.remote_port}")
        if not self.max_observation_age_s > 0 or not self.max_camera_age_s > 0 or not self.warn_period_s >= 0:
            raise ValueError(f"max_observation_age_s ({self.max_observation_age_s}) and max_camera_age_s "
                             f"({self.max_camera_age_s}) must be > 0 and warn_period_s ({self.warn_period_s}) >= 0")

    @classmethod
    def from_parameters(cls, p: dict[str, object], robot: RobotDescription) -> "PolicyNodeConfig":
        """`robot`: the description the `robot` parameter names (loaded by the caller)."""
        scheduler = SchedulerConfig(kind=str(p["scheduler"]), execution_horizon=int(p["execution_horizon"]),
                                    max_step=float(p["max_step"]), blend_steps=int(p["blend_steps"]),
                                    ensemble_decay=float(p["ensemble_decay"]))
        delay = DelayEstimatorConfig(window=int(p["delay_window"]), percentile=float(p["delay_percentile"]),
                                     discard_first=int(p["delay_discard_first"]),
                                     initial_delay_s=float(p["initial_delay_s"]))
        rate = float(p["control_rate_hz"]) or robot.control_rate_hz
        if not rate > 0:
            raise ValueError(f"control_rate_hz must be positive (0: the description's), got {rate}")
        size = (int(p["image_height"]), int(p["image_width"]))
        return cls(
            robot=robot, backend=str(p["backend"]), checkpoint=str(p["checkpoint"]), remote_host=str(p["remote_host"]),
            remote_port=int(p["remote_port"]), remote_api_key=str(p["remote_api_key"]), task=str(p["task"]),
            loop=CommandStreamConfig(control_period=1.0 / rate, inference_every=int(p["inference_every"]),
                                   scheduler=scheduler, delay=delay),
            conditioning=Conditioning(str(p["advantage"]), float(p["guidance_scale"]), float(p["noise_scale"])),
            max_observation_age_s=float(p["max_observation_age_s"]), max_camera_age_s=float(p["max_camera_age_s"]),
            camera_health=CameraHealthConfig(startup_timeout_s=float(p["startup_timeout_s"]),
                                             min_rate_hz=float(p["min_camera_rate_hz"])),
            allow_privileged_state=bool(p["allow_privileged_state"]),
            object_state_topic=str(p["object_state_topic"]),
            image_size=size if min(size) > 0 else None,
            inference_threads=int(p["inference_threads"]), warn_period_s=float(p["warn_period_s"]))
