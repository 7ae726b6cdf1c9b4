"""Policy inference from a checkpoint: `load_policy(dir).infer(obs_dict, ...) -> (H, D)`.

The interface the policy node uses (INTERFACES.md). Everything the node needs to prepare inputs
is in `policy.metadata` (and `policy.robot`, the checkpoint's robot block: D = its joint names);
the observation is normalised with the stats saved in the checkpoint and the chunk is returned
un-normalised in the robot's joint order (grippers normalised 0..1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from recap_model.action_frame import to_model_frame, to_robot_frame
from recap_model.checkpoint import load_checkpoint
from recap_model.features import ObservationError, observation_tensors
from recap_model.images import resize_to_model
from recap_model.models.encoders import DROPPED, indicator_id
from recap_model.sampling import DEFAULT_NOISE_SCALE


class Policy:
    def __init__(self, checkpoint, seed: int = 0, noise_scale: float = DEFAULT_NOISE_SCALE) -> None:
        if not (np.isfinite(noise_scale) and noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0 (1 = the paper's sampling), got {noise_scale}")
        self.noise_scale = float(noise_scale)
        self._ckpt = checkpoint
        self.model = checkpoint.model.eval()
        self.config = checkpoint.config
        self._generator = torch.Generator().manual_seed(seed)
        obs = self.config.observation
        digest = hashlib.sha256((Path(checkpoint.path) / "model.safetensors").read_bytes()).hexdigest()[:12]
        self.robot = dict(checkpoint.robot)  # {"name", "description_hash", "joint_names"}
        self.metadata = {
            "joint_names": list(self.robot["joint_names"]),
            "horizon": self.config.horizon,
            "control_period": float(checkpoint.metadata.get("control_period", 0.02)),
            "cameras": list(obs.cameras),
            "image_size": list(obs.image_size),
            "uses_images": obs.uses_images,
            "state_names": list(checkpoint.metadata.get("state_names", [])),
            "task_state_names": dict(checkpoint.metadata.get("task_state_names", {})),
            "tasks": list(obs.tasks),
            "denoising_steps": self.config.denoising_steps,
            "noise_scale": self.noise_scale,
            "sampler_seed": int(seed),  # of the flow's starting noise: the same seed draws the same chunks
            "advantage_conditioned": bool(checkpoint.metadata.get("advantage_conditioned", True)),
            "method": checkpoint.metadata.get("method", "recap"),
            "policy_id": f"{Path(checkpoint.path).name}-{digest}",
        }

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._generator.manual_seed(seed)

    @torch.no_grad()
    def infer(
        self,
        obs: dict,
        advantage: str = "positive",
        guidance_scale: float = 1.0,
        frozen_prefix: np.ndarray | None = None,
    ) -> np.ndarray:
        """obs {"qpos": (D,), "env_state": (S,), "images": {cam: (h, w, 3) uint8}, "task": str}
        -> action chunk (H, D) float32.

        advantage: the indicator I to condition on ("positive" = beta 1 sampling of RECAP).
        guidance_scale: beta; > 1 is classifier-free guidance against the DROPPED indicator.
        frozen_prefix: (d, D) committed actions kept fixed (replacement inpainting, see
        models/flow_matching.py); d < H.
        A baseline checkpoint (method bc / filtered_bc / awr) was trained without the indicator:
        "positive" samples it unconditionally; "negative" or beta != 1 is an error.
        """
        return self.infer_batch([obs], advantage, guidance_scale,
                                None if frozen_prefix is None else [frozen_prefix])[0]

    @torch.no_grad()
    def infer_batch(
        self,
        observations: list[dict],
        advantage: str = "positive",
        guidance_scale: float = 1.0,
        frozen_prefixes: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """`infer` for N observations in one forward pass per denoising step: (N, H, D).
        frozen_prefixes, when given, must all have the same length d."""
        c = self.config
        ind = self._indicator(advantage, guidance_scale)
        if not observations:
            raise ObservationError("infer_batch needs at least one observation")
        qpos, states, task_ids = [], [], []
        images: dict[str, list] = {cam: [] for cam in c.observation.cameras}
        for n, obs in enumerate(observations):
            if "task" not in obs or "qpos" not in obs:
                raise ObservationError(f"observation {n} needs 'qpos' and 'task', got keys {sorted(obs)}")
            try:
                task_ids.append(c.observation.task_id(obs["task"]))
            except KeyError as exc:
                raise ObservationError(str(exc.args[0])) from None
            qpos.append(np.asarray(obs["qpos"], np.float64).reshape(-1))
            if c.observation.state_dim:
                if obs.get("env_state") is None:
                    raise ObservationError(f"observation {n}: env_state missing, the model uses "
                                           f"{c.observation.state_dim} object-state features")
                states.append(np.asarray(obs["env_state"], np.float64).reshape(-1))
            for cam in images:
                img = (obs.get("images") or {}).get(cam)
                if img is None:
                    raise ObservationError(f"observation {n}: camera {cam!r} missing")
                images[cam].append(resize_to_model(np.asarray(img), c.observation.image_size))
        qpos = _stack("qpos", qpos)
        try:
            batch = observation_tensors(
                c.observation, self._ckpt.stats, qpos, states if states else None,
                {cam: np.stack(v) for cam, v in images.items()}, np.array(task_ids),
            )
        except ValueError as exc:
            raise ObservationError(str(exc)) from None
        prefix = None
        if frozen_prefixes is not None and all(len(p) == 0 for p in frozen_prefixes):
            frozen_prefixes = None  # nothing committed yet: a free chunk
        if frozen_prefixes is not None:
            fp = np.asarray(frozen_prefixes, np.float64)
            if fp.ndim != 3 or len(fp) != len(observations) or fp.shape[2] != c.action_dim or not 0 < fp.shape[1] < c.horizon:
                raise ValueError(f"frozen_prefix must be (d, {c.action_dim}) with 0 < d < {c.horizon}, got {fp.shape[1:]}")
            if not np.all(np.isfinite(fp)):
                raise ValueError("frozen_prefix contains NaN or inf")
            fp_model = to_model_frame(fp, qpos, c.relative_dims)
            prefix = torch.from_numpy(self._ckpt.stats.normalize("action", fp_model))
        noise = self.noise_scale * torch.randn(len(observations), c.horizon, c.action_dim, generator=self._generator)
        chunk = self.model.sample(batch, ind, float(guidance_scale), noise, prefix).numpy()
        actions = to_robot_frame(self._ckpt.stats.unnormalize("action", chunk), qpos, c.relative_dims).astype(np.float32)
        if frozen_prefixes is not None:
            actions[:, : fp.shape[1]] = fp  # exact, not via the normalisation round trip
        return actions

    def _indicator(self, advantage: str, guidance_scale: float) -> int:
        ind = indicator_id(advantage)
        if not guidance_scale > 0 or not np.isfinite(guidance_scale):
            raise ValueError(f"guidance_scale must be a positive number, got {guidance_scale}")
        if not self.metadata["advantage_conditioned"]:
            if advantage == "negative" or guidance_scale != 1.0:
                raise ValueError(f"{self.metadata['policy_id']}: a {self.metadata['method']} policy has no advantage "
                                 "conditioning (use advantage='positive', guidance_scale=1)")
            ind = DROPPED
        return ind


def _stack(name: str, rows: list[np.ndarray]) -> np.ndarray:
    if len({r.shape for r in rows}) != 1:
        raise ObservationError(f"{name} has different lengths across the batch: {sorted({r.shape for r in rows})}")
    return np.stack(rows)


def load_policy(checkpoint_dir: str | Path, seed: int = 0, noise_scale: float = DEFAULT_NOISE_SCALE) -> Policy:
    """Load a policy checkpoint (safetensors + config.json + stats; no unpickling). `noise_scale`
    multiplies the flow's starting noise at every inference (see DEFAULT_NOISE_SCALE)."""
    ckpt = load_checkpoint(checkpoint_dir, "policy")
    return Policy(ckpt, seed=seed, noise_scale=noise_scale)
