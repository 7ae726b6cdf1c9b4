"""The policy's view of one instant o_t: joint positions, optional object state, camera images."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Observation:
    """o_t as the backends receive it.

    qpos: (D,) in the robot description's joint_names order, arm joints in rad, grippers normalised to [0, 1].
    env_state: (S,) privileged object state in the checkpoint's `state_names` order, or None.
    images: camera name -> (H, W, 3) uint8 RGB at the size the policy expects.
    stamp_ns: sensor time of the observation in ns (the oldest of its sources' header stamps).
    """

    qpos: np.ndarray
    stamp_ns: int
    task: str = "default"
    env_state: np.ndarray | None = None
    images: dict[str, np.ndarray] = field(default_factory=dict)

    def as_policy_dict(self) -> dict:
        """The `obs_dict` of recap_model.policy.Policy.infer."""
        out: dict = {"qpos": self.qpos, "images": dict(self.images), "task": self.task}
        if self.env_state is not None:
            out["env_state"] = self.env_state
        return out
