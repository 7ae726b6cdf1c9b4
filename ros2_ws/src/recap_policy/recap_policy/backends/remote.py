"""A remote policy server speaking the openpi websocket protocol (msgpack + numpy), via openpi-client.

Protocol (openpi `WebsocketPolicyServer`): on connect the server sends a metadata dict; then each
request is one packed observation dict and each reply one packed dict with `actions` (H, D').
Observation sent (openpi conventions): `state` (D,) float32 in the robot description's joint order
with normalised grippers, `images` {camera: (3, H, W) uint8}, `prompt` (task), plus RECAP extras a
server may use or ignore: `advantage`, `guidance_scale`, `noise_scale`, `env_state` (S,), `frozen_prefix`
(d, D).
The reply's `actions` must have D columns (a server that pads action dims must cut them, as openpi's
output transforms do): another width is refused, naming both.
"""
from __future__ import annotations

import numpy as np

from recap_policy.backends.base import BackendMetadata, Conditioning, InvalidChunk, PolicyBackend
from recap_policy.observation import Observation


class RemoteBackend(PolicyBackend):
    def __init__(self, host: str, port: int, conditioning: Conditioning, defaults: BackendMetadata,
                 api_key: str | None = None) -> None:
        """`defaults` describe the policy where the server's metadata does not (openpi servers rarely do)."""
        from openpi_client.websocket_client_policy import WebsocketClientPolicy

        self._where = f"policy server ws://{host}:{port}"
        try:
            self._client = WebsocketClientPolicy(host=host, port=port, api_key=api_key or None)
        except OSError as exc:
            raise ConnectionError(f"cannot reach {self._where}: {exc}") from exc
        self._conditioning = conditioning
        server = self._client.get_server_metadata() or {}
        fields = {k: server[k] for k in ("policy_id", "joint_names", "horizon", "control_period", "cameras",
                                        "image_size", "state_names", "supports_frozen_prefix") if k in server}
        fields.setdefault("policy_id", f"remote/{host}:{port}")
        base = {k: getattr(defaults, k) for k in defaults.__dataclass_fields__}
        self.metadata = BackendMetadata(**{**base, **fields})

    def infer(self, obs: Observation, frozen_prefix: np.ndarray | None = None) -> np.ndarray:
        request: dict = {
            "state": obs.qpos.astype(np.float32),
            "images": {c: np.ascontiguousarray(img.transpose(2, 0, 1)) for c, img in obs.images.items()},
            "prompt": obs.task,
            "advantage": self._conditioning.advantage,
            "guidance_scale": float(self._conditioning.guidance_scale),
            "noise_scale": float(self._conditioning.noise_scale),
        }
        if obs.env_state is not None:
            request["env_state"] = obs.env_state.astype(np.float32)
        if frozen_prefix is not None and self.metadata.supports_frozen_prefix:
            request["frozen_prefix"] = np.asarray(frozen_prefix, dtype=np.float32)
        reply = self._client.infer(request)
        if not isinstance(reply, dict) or "actions" not in reply:
            keys = list(reply) if isinstance(reply, dict) else type(reply).__name__
            raise InvalidChunk(f"{self._where}: reply has no 'actions' (got {keys})")
        actions = np.asarray(reply["actions"])
        d = len(self.metadata.joint_names)
        if actions.ndim != 2 or actions.shape[1] != d:
            raise InvalidChunk(f"{self._where}: replied actions of shape {actions.shape}; the robot description's "
                               f"action_dim is {d} ({list(self.metadata.joint_names)}): serve a policy trained "
                               "for this robot")
        return actions

    def close(self) -> None:
        ws = getattr(self._client, "_ws", None)
        if ws is not None:
            ws.close()
