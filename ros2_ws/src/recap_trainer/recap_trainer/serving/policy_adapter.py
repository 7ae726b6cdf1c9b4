"""What the server needs from a policy, whatever its kind: `recap serve` serves a RECAP checkpoint
(recap_adapter) or a LeRobot pretrained policy (lerobot_adapter) through this one interface."""
from __future__ import annotations

from typing import Protocol

import numpy as np


class PolicyAdapter(Protocol):
    """A policy behind openpi's protocol. The server serialises calls to `infer`."""

    # Sent to every client on connect; what recap_policy's remote backend reads: policy_id, joint_names,
    # horizon, control_period, cameras, image_size, state_names, supports_frozen_prefix.
    metadata: dict

    def parse(self, raw: object) -> object:
        """A decoded request -> the adapter's validated request, or RequestError naming the bad field."""

    def infer(self, request: object, index: int) -> np.ndarray:
        """The (H, D) float32 chunk for `request`; `index` is the chunk's number on its connection
        (chunk k samples with the server's seed + k, so a client's chunks do not depend on the others)."""

