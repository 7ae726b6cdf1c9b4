"""A RECAP policy checkpoint (recap_model.policy.Policy) behind `recap serve`'s protocol."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recap_model.features import ObservationError
from recap_trainer.serving import protocol
from recap_trainer.serving.protocol import RequestError, ServingDefaults


@dataclass(frozen=True)
class ChunkRequest:
    """One validated request: `obs` is the observation dict of recap_model.policy.Policy.infer."""

    obs: dict
    advantage: str
    guidance_scale: float
    noise_scale: float
    frozen_prefix: np.ndarray | None  # (d, D), d >= 1


def server_metadata(policy_metadata: dict, action_dim: int, defaults: ServingDefaults) -> dict:
    """The dict sent on connect: what recap_policy's remote backend reads, plus the RECAP fields."""
    m = policy_metadata
    return {
        "policy_id": m["policy_id"],
        "policy_kind": "recap",
        "horizon": int(m["horizon"]),
        "action_dim": int(action_dim),
        "control_period": float(m["control_period"]),
        "cameras": list(m["cameras"]),
        "image_size": list(m["image_size"]) if m["cameras"] else None,
        "image_layout": "CHW uint8",
        "state_names": list(m["state_names"]),
        "joint_names": list(m["joint_names"]),
        "tasks": list(m["tasks"]),
        "supports_frozen_prefix": True,
        "method": m["method"],
        "advantage_conditioned": bool(m["advantage_conditioned"]),
        "advantages": protocol.ADVANTAGES,
        "default_advantage": defaults.advantage,
        "default_guidance_scale": defaults.guidance_scale,
        "default_noise_scale": defaults.noise_scale,
        "denoising_steps": int(m["denoising_steps"]),
        "seed": defaults.seed,
    }


def parse_request(raw: object, metadata: dict, defaults: ServingDefaults) -> ChunkRequest:
    """A decoded request -> ChunkRequest, or RequestError naming the first bad field.

    `metadata` is server_metadata(...) (what the client was told the checkpoint needs)."""
    raw = protocol.request_dict(raw)
    state = protocol.finite_vector(raw, "state", len(metadata["joint_names"]))
    # (3, h, w) -> (h, w, 3); the policy resizes other sizes to image_size.
    images = {camera: np.ascontiguousarray(img.transpose(1, 2, 0))
              for camera, img in protocol.camera_images(raw, metadata["cameras"]).items()}
    obs: dict = {"qpos": state, "task": _prompt(raw, metadata["tasks"]), "images": images}
    if metadata["state_names"]:
        obs["env_state"] = protocol.finite_vector(raw, "env_state", len(metadata["state_names"]),
                                                  f"object state {metadata['state_names']}")
    advantage = protocol.advantage(raw, defaults.advantage)
    guidance = protocol.number(raw, "guidance_scale", defaults.guidance_scale, "a finite number > 0", lambda v: v > 0)
    noise = protocol.number(raw, "noise_scale", defaults.noise_scale, "a finite number >= 0", lambda v: v >= 0)
    if not metadata["advantage_conditioned"] and (advantage == "negative" or guidance != 1.0):
        raise RequestError("advantage", f"a {metadata['method']} checkpoint has no advantage conditioning: "
                           f"only positive/unconditioned at guidance_scale 1, got {advantage!r} at {guidance}")
    return ChunkRequest(obs, advantage, guidance, noise,
                        protocol.frozen_prefix(raw, metadata["horizon"], metadata["action_dim"]))


def _prompt(raw: dict, tasks: list[str]) -> str:
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or prompt not in tasks:
        raise RequestError("prompt", f"must be one of the checkpoint's tasks {tasks}, got {prompt!r}")
    return prompt


class RecapPolicyAdapter:
    """Serves `policy` (recap_model.policy.Policy, e.g. from load_policy) with `defaults` for left-out fields."""

    def __init__(self, policy, defaults: ServingDefaults = ServingDefaults()) -> None:
        self.policy = policy
        self.defaults = defaults
        self.metadata = server_metadata(policy.metadata, policy.config.action_dim, defaults)

    def parse(self, raw: object) -> ChunkRequest:
        return parse_request(raw, self.metadata, self.defaults)

    def infer(self, request: ChunkRequest, index: int) -> np.ndarray:
        self.policy.reset(self.defaults.seed + index)
        self.policy.noise_scale = request.noise_scale
        try:
            return self.policy.infer(request.obs, request.advantage, request.guidance_scale, request.frozen_prefix)
        except ObservationError as error:
            raise RequestError("observation", str(error)) from None
