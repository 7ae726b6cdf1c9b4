"""Converter settings: topic names, control rate, staleness tolerances, image size."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from recap_core.aloha_layout import CAMERA_NAMES, SIM_GRIPPER


@dataclass(frozen=True)
class ConverterConfig:
    """How bags become steps.

    Every stream is sampled at the step times t_k = t_0 + k * control_period by holding its latest
    message with header stamp <= t_k. A sample older than its tolerance is stale: the step is
    dropped (stale_policy="drop") or kept and counted in metadata["stale_steps"] ("flag"). A follower
    reading that is NaN / inf, lacks joints or lies outside the joint limits makes its steps stale
    too. An episode with fewer than min_valid_fraction of its steps not stale is refused.
    Images are resized to image_size (H, W).
    """

    cameras: tuple[str, ...] = CAMERA_NAMES
    image_size: tuple[int, int] | None = (224, 224)
    control_period: float = 0.02
    joint_tolerance_s: float = 0.05  # follower joint states (the observation; commands are held)
    image_tolerance_s: float = 0.1  # a camera frame older than this at a step is stale (frames dropped)
    proposal_tolerance_s: float = 0.05  # older /policy/command -> NaN proposal (no proposal)
    stale_policy: str = "drop"
    follower_gripper: tuple[float, float] = (SIM_GRIPPER.closed, SIM_GRIPPER.open)  # raw (closed, open)
    leader_gripper: tuple[float, float] = (SIM_GRIPPER.closed, SIM_GRIPPER.open)
    follower_topics: tuple[str, str] = ("/follower_left/joint_states", "/follower_right/joint_states")
    leader_topics: tuple[str, str] = ("/leader_left/joint_states", "/leader_right/joint_states")
    executed_topic: str = "/executed_command"
    proposed_topic: str = "/policy/command"
    chunk_topic: str = "/policy/action_chunk"
    intervention_topic: str = "/intervention_state"
    events_topic: str = "/episode_events"
    task_state_topic: str = "/sim/task_state"
    object_state_topic: str = "/sim/object_state"
    missing_outcome: str = "skip"  # "skip" | "failure" | "abort": episodes with no outcome anywhere
    min_valid_fraction: float = 0.5  # in (0, 1]: the share of steps that must not be stale

    def __post_init__(self) -> None:
        if self.control_period <= 0:
            raise ValueError(f"control_period must be > 0, got {self.control_period}")
        for name in ("joint_tolerance_s", "image_tolerance_s", "proposal_tolerance_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.stale_policy not in ("drop", "flag"):
            raise ValueError(f"stale_policy must be 'drop' or 'flag', got {self.stale_policy!r}")
        if self.missing_outcome not in ("skip", "failure", "abort"):
            raise ValueError(f"missing_outcome must be skip|failure|abort, got {self.missing_outcome!r}")
        if not 0 < self.min_valid_fraction <= 1:
            raise ValueError(f"min_valid_fraction must be in (0, 1], got {self.min_valid_fraction}")
        if self.cameras and self.image_size is None:
            raise ValueError("image_size (H, W) is required when cameras are given")
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))

    def camera_topics(self, available: set[str]) -> dict[str, str]:
        """camera -> topic: /<cam>/image_raw, or .../compressed when only that was recorded."""
        out = {}
        for cam in self.cameras:
            raw, comp = f"/{cam}/image_raw", f"/{cam}/image_raw/compressed"
            out[cam] = raw if raw in available or comp not in available else comp
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        return json.loads(json.dumps(d))

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
