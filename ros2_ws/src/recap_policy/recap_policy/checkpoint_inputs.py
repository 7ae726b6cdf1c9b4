"""What a policy reads against what this robot publishes: refused before the node commands anything."""
from __future__ import annotations

from recap_core.aloha_layout import CAMERA_NAMES
from recap_policy.backends.base import BackendMetadata


def refuse_privileged_state(meta: BackendMetadata, allowed: bool) -> None:
    """ValueError when the policy reads simulator-only object state and the configuration is a real robot's."""
    if meta.state_names and not allowed:
        raise ValueError(
            f"{meta.policy_id}: this checkpoint reads simulator-only object state (env_state, "
            f"{len(meta.state_names)} features: {', '.join(meta.state_names[:4])}"
            f"{', ...' if len(meta.state_names) > 4 else ''}); a real robot publishes cameras and joints only: "
            f"train with cameras for the robot (--cameras {' '.join(CAMERA_NAMES)}, no env_state), "
            "or set allow_privileged_state:=true where the simulator publishes /sim/object_state")
