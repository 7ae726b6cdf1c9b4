"""The request fields of `recap serve`, shared by every kind of served policy.

openpi's websocket protocol (msgpack-numpy): the server sends a metadata dict when a client
connects; each request is one observation dict, each reply one dict with `actions` (H, D).
Request fields (openpi ALOHA conventions plus the RECAP extras recap_policy's remote backend sends):

    state           (D,) float    joint positions in the policy's `joint_names` order (D of its robot),
                                  grippers normalised 0..1
    images          {camera: (3, h, w) uint8}  every camera the policy reads
    prompt          str           the task (RECAP checkpoint) or instruction (LeRobot policy)
    env_state       (S,) float    object state in `state_names` order (state-only policies)
    advantage       str           indicator I: positive (default) | negative | unconditioned
    guidance_scale  float > 0     CFG beta (default 1: conditioned sampling only)
    noise_scale     float >= 0    scale of the flow's starting noise (default: the server's)
    frozen_prefix   (d, D) float  committed actions kept exactly (real-time chunking), 0 <= d < H
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recap_model.models.encoders import INDICATOR_IDS
from recap_model.sampling import DEFAULT_NOISE_SCALE

ADVANTAGES = sorted(INDICATOR_IDS)  # indicator I by name: every policy kind takes these


class RequestError(ValueError):
    """A request the policy cannot take; the message names the field and the value."""

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
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if not (math.isfinite(self.guidance_scale) and self.guidance_scale > 0):
            raise ValueError(f"guidance_scale must be a finite number > 0, got {self.guidance_scale}")
        if not (math.isfinite(self.noise_scale) and self.noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0, got {self.noise_scale}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


def request_dict(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise RequestError("request", f"must be a dict of observation fields, got {type(raw).__name__}")
    return raw


def finite_vector(raw: dict, field: str, size: int, what: str = "") -> np.ndarray:
    """raw[field] as a (size,) float64 array of finite numbers."""
    if raw.get(field) is None:
        raise RequestError(field, f"missing: the policy needs ({size},) {what}".rstrip())
    value = _numeric_array(raw[field], field)
    if value.shape != (size,):
        raise RequestError(field, f"has shape {value.shape}, the policy needs ({size},)")
    bad = np.flatnonzero(~np.isfinite(value))
    if bad.size:
        raise RequestError(field, f"element {int(bad[0])} is {value[bad[0]]} (NaN/inf in {bad.size} element(s))")
    return value


def camera_images(raw: dict, cameras: list[str]) -> dict[str, np.ndarray]:
    """{camera: (3, h, w) uint8} for every camera in `cameras` (sizes are checked by the policy kind)."""
    if not cameras:
        return {}
    images = raw.get("images")
    if not isinstance(images, dict):
        raise RequestError("images", f"missing: the policy needs cameras {cameras} as (3, h, w) uint8")
    out = {}
    for camera in cameras:
        field = f"images.{camera}"
        if images.get(camera) is None:
            raise RequestError(field, f"missing: the policy needs cameras {cameras} (got {sorted(images)})")
        img = images[camera]
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[0] != 3:
            got = f"{img.shape} {img.dtype}" if isinstance(img, np.ndarray) else type(img).__name__
            raise RequestError(field, f"must be a (3, h, w) uint8 array, got {got}")
        out[camera] = img
    return out


def advantage(raw: dict, default: str) -> str:
    value = raw.get("advantage", default)
    if not isinstance(value, str) or value not in ADVANTAGES:
        raise RequestError("advantage", f"must be one of {ADVANTAGES}, got {value!r}")
    return value


def number(raw: dict, field: str, default: float, rule: str, ok) -> float:
    """raw[field] (or `default`) as a finite float for which ok(value) holds; `rule` says what ok means."""
    value = raw.get(field, default)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise RequestError(field, f"must be {rule}, got {value!r}")
    return float(value)


def frozen_prefix(raw: dict, horizon: int, action_dim: int) -> np.ndarray | None:
    """(d, action_dim) with 1 <= d < horizon, or None when the request commits nothing."""
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


def _numeric_array(value: object, field: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(field, f"must be numeric, got {type(value).__name__}") from None
