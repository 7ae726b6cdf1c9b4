"""The wire contract of `recap serve`: the metadata sent on connect and one request -> ChunkRequest.

openpi's websocket protocol (msgpack-numpy): the server sends a metadata dict when a client
connects; each request is one observation dict, each reply one dict with `actions` (H, D).
Request fields (openpi ALOHA conventions plus the RECAP extras recap_policy's remote backend sends):

    state           (14,) float   joint positions, JOINT_NAMES order, grippers normalised 0..1
    images          {camera: (3, h, w) uint8}  every camera of the checkpoint; other sizes are resized
    prompt          str           the task, one of the checkpoint's tasks
    env_state       (S,) float    object state in `state_names` order (state-only checkpoints)
    advantage       str           indicator I: positive (default) | negative | unconditioned
    guidance_scale  float > 0     CFG beta (default 1: conditioned sampling only)
    noise_scale     float >= 0    scale of the flow's starting noise (default: the server's)
    frozen_prefix   (d, 14) float committed actions kept exactly (real-time chunking), 0 <= d < H
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recap_model.models.encoders import INDICATOR_IDS
from recap_model.sampling import DEFAULT_NOISE_SCALE



class RequestError(ValueError):
    """A request the checkpoint cannot take; the message names the field and the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field!r}: {message}")
        self.field = field


@dataclass(frozen=True)
class ServingDefaults:
    """What a request that leaves out a RECAP field gets."""

    # Positive indicator at beta = 1: RECAP's improved policy pi(a | I = positive, o, l) without
    # guidance, which is what a plain openpi client (state, images, prompt) should run.
    advantage: str = "positive"
    guidance_scale: float = 1.0  # beta > 1 sharpens towards the positive mode but costs a second pass
    noise_scale: float = DEFAULT_NOISE_SCALE  # scale of the flow's starting noise (1 = the paper's)
    seed: int = 0  # request k of every connection samples with seed + k

    def __post_init__(self) -> None:
        if self.advantage not in INDICATOR_IDS:
            raise ValueError(f"advantage must be one of {sorted(INDICATOR_IDS)}, got {self.advantage!r}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale > 0):
            raise ValueError(f"guidance_scale must be a finite number > 0, got {self.guidance_scale}")
        if not (math.isfinite(self.noise_scale) and self.noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0, got {self.noise_scale}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class ChunkRequest:
    """One validated request: `obs` is the observation dict of recap_model.policy.Policy.infer."""

    obs: dict
    advantage: str
    guidance_scale: float
    noise_scale: float
    frozen_prefix: np.ndarray | None  # (d, 14), d >= 1


def server_metadata(policy_metadata: dict, action_dim: int, defaults: ServingDefaults) -> dict:
    """The dict sent on connect: what recap_policy's remote backend reads, plus the RECAP fields."""
    m = policy_metadata
    return {
        "policy_id": m["policy_id"],
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
        "advantages": sorted(INDICATOR_IDS),
        "default_advantage": defaults.advantage,
        "default_guidance_scale": defaults.guidance_scale,
        "default_noise_scale": defaults.noise_scale,
        "denoising_steps": int(m["denoising_steps"]),
        "seed": defaults.seed,
    }


def parse_request(raw: object, metadata: dict, defaults: ServingDefaults) -> ChunkRequest:
    """A decoded request -> ChunkRequest, or RequestError naming the first bad field.

    `metadata` is server_metadata(...) (what the client was told the checkpoint needs)."""
    if not isinstance(raw, dict):
        raise RequestError("request", f"must be a dict of observation fields, got {type(raw).__name__}")
    state = _finite_vector(raw, "state", len(metadata["joint_names"]))
    obs: dict = {"qpos": state, "task": _prompt(raw, metadata["tasks"]), "images": _images(raw, metadata)}
    if metadata["state_names"]:
        obs["env_state"] = _finite_vector(raw, "env_state", len(metadata["state_names"]),
                                          f"object state {metadata['state_names']}")
    advantage = raw.get("advantage", defaults.advantage)
    if not isinstance(advantage, str) or advantage not in INDICATOR_IDS:
        raise RequestError("advantage", f"must be one of {sorted(INDICATOR_IDS)}, got {advantage!r}")
    guidance = _number(raw, "guidance_scale", defaults.guidance_scale, "a finite number > 0", lambda v: v > 0)
    noise = _number(raw, "noise_scale", defaults.noise_scale, "a finite number >= 0", lambda v: v >= 0)
    if not metadata["advantage_conditioned"] and (advantage == "negative" or guidance != 1.0):
        raise RequestError("advantage", f"a {metadata['method']} checkpoint has no advantage conditioning: "
                           f"only positive/unconditioned at guidance_scale 1, got {advantage!r} at {guidance}")
    return ChunkRequest(obs, advantage, guidance, noise,
                        _frozen_prefix(raw, metadata["horizon"], metadata["action_dim"]))


def _finite_vector(raw: dict, field: str, size: int, what: str = "") -> np.ndarray:
    if raw.get(field) is None:
        raise RequestError(field, f"missing: the checkpoint needs ({size},) {what}".rstrip())
    value = _numeric_array(raw[field], field)
    if value.shape != (size,):
        raise RequestError(field, f"has shape {value.shape}, the checkpoint needs ({size},)")
    bad = np.flatnonzero(~np.isfinite(value))
    if bad.size:
        raise RequestError(field, f"element {int(bad[0])} is {value[bad[0]]} (NaN/inf in {bad.size} element(s))")
    return value


def _numeric_array(value: object, field: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(field, f"must be numeric, got {type(value).__name__}") from None
    return array


def _prompt(raw: dict, tasks: list[str]) -> str:
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or prompt not in tasks:
        raise RequestError("prompt", f"must be one of the checkpoint's tasks {tasks}, got {prompt!r}")
    return prompt


def _images(raw: dict, metadata: dict) -> dict[str, np.ndarray]:
    """{camera: (3, h, w) uint8} -> {camera: (h, w, 3)}; the policy resizes other sizes to image_size."""
    cameras = metadata["cameras"]
    if not cameras:
        return {}
    images = raw.get("images")
    if not isinstance(images, dict):
        raise RequestError("images", f"missing: the checkpoint needs cameras {cameras} as (3, h, w) uint8")
    out = {}
    for camera in cameras:
        field = f"images.{camera}"
        if images.get(camera) is None:
            raise RequestError(field, f"missing: the checkpoint needs cameras {cameras} (got {sorted(images)})")
        img = images[camera]
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[0] != 3:
            got = f"{img.shape} {img.dtype}" if isinstance(img, np.ndarray) else type(img).__name__
            raise RequestError(field, f"must be a (3, h, w) uint8 array, got {got}")
        out[camera] = np.ascontiguousarray(img.transpose(1, 2, 0))
    return out


def _number(raw: dict, field: str, default: float, rule: str, ok) -> float:
    value = raw.get(field, default)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise RequestError(field, f"must be {rule}, got {value!r}")
    return float(value)


def _frozen_prefix(raw: dict, horizon: int, action_dim: int) -> np.ndarray | None:
    if raw.get("frozen_prefix") is None:
        return None
    prefix = _numeric_array(raw["frozen_prefix"], "frozen_prefix")
    if prefix.size == 0:
        return None  # nothing committed yet: a free chunk
    if prefix.ndim != 2 or prefix.shape[1] != action_dim or not prefix.shape[0] < horizon:
        raise RequestError("frozen_prefix", f"has shape {prefix.shape}, must be (d, {action_dim}) with d < H = {horizon}")
    if not np.all(np.isfinite(prefix)):
        raise RequestError("frozen_prefix", "contains NaN or inf")
    return prefix
