"""Policy inference from a checkpoint: `load_policy(dir).infer(obs_dict, ...) -> (H, 14)`.

The interface the policy node uses (INTERFACES.md). Everything the node needs to prepare inputs
is in `policy.metadata`; the observation is normalised with the stats saved in the checkpoint and
the chunk is returned un-normalised in JOINT_NAMES order (gripper normalised 0..1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from recap_trainer.checkpoint import CheckpointError, load_checkpoint
from recap_trainer.features import ObservationError, observation_tensors
from recap_trainer.models.encoders import DROPPED, indicator_id


class Policy:
    def __init__(self, checkpoint, seed: int = 0) -> None:
        self._ckpt = checkpoint
        self.model = checkpoint.model.eval()
        self.config = checkpoint.config
        self._generator = torch.Generator().manual_seed(seed)
        obs = self.config.observation
        digest = hashlib.sha256((Path(checkpoint.path) / "model.safetensors").read_bytes()).hexdigest()[:12]
        try:
            from recap_core.aloha_layout import JOINT_NAMES
            joint_names = list(JOINT_NAMES)
        except ImportError:  # recap_core is a ROS package; the names are only informative here
            joint_names = [f"{side}_{j}" for side in ("left", "right") for j in
                           ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")]
        self.metadata = {
            "joint_names": joint_names,
            "horizon": self.config.horizon,
            "control_period": float(checkpoint.metadata.get("control_period", 0.02)),
            "cameras": list(obs.cameras),
            "image_size": list(obs.image_size),
            "uses_images": obs.uses_images,
            "state_names": list(checkpoint.metadata.get("state_names", [])),
            "tasks": list(obs.tasks),
            "denoising_steps": self.config.denoising_steps,
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
        """obs {"qpos": (14,), "env_state": (S,), "images": {cam: (h, w, 3) uint8}, "task": str}
        -> action chunk (H, 14) float32.

        advantage: the indicator I to condition on ("positive" = beta 1 sampling of RECAP).
        guidance_scale: beta; > 1 is classifier-free guidance against the DROPPED indicator.
        frozen_prefix: (d, 14) committed actions kept fixed (replacement inpainting, see
        models/flow_matching.py); d < H.
        A baseline checkpoint (method bc / filtered_bc / awr) was trained without the indicator:
        "positive" samples it unconditionally; "negative" or beta != 1 is an error.
        """
        c = self.config
        ind = indicator_id(advantage)
        if guidance_scale <= 0 or not np.isfinite(guidance_scale):
            raise ValueError(f"guidance_scale must be a positive number, got {guidance_scale}")
        if not self.metadata["advantage_conditioned"]:
            if advantage == "negative" or guidance_scale != 1.0:
                raise ValueError(f"{self.metadata['policy_id']}: a {self.metadata['method']} policy has no advantage "
                                 "conditioning (use advantage='positive', guidance_scale=1)")
            ind = DROPPED
        if "task" not in obs or "qpos" not in obs:
            raise ObservationError(f"observation needs 'qpos' and 'task', got keys {sorted(obs)}")
        try:
            task_id = c.observation.task_id(obs["task"])
        except KeyError as exc:
            raise ObservationError(str(exc.args[0])) from None
        env_state = obs.get("env_state")
        images = {cam: _resize(np.asarray(img), c.observation.image_size)[None] for cam, img in (obs.get("images") or {}).items()}
        batch = observation_tensors(
            c.observation, self._ckpt.stats, np.asarray(obs["qpos"], np.float64)[None],
            None if env_state is None else np.asarray(env_state, np.float64)[None], images, np.array([task_id]),
        )
        prefix = None
        if frozen_prefix is not None:
            fp = np.asarray(frozen_prefix, np.float64)
            if fp.ndim != 2 or fp.shape[1] != c.action_dim or not 0 < fp.shape[0] < c.horizon:
                raise ValueError(f"frozen_prefix must be (d, {c.action_dim}) with 0 < d < {c.horizon}, got {fp.shape}")
            if not np.all(np.isfinite(fp)):
                raise ValueError("frozen_prefix contains NaN or inf")
            prefix = torch.from_numpy(self._ckpt.stats.normalize("action", fp))[None]
        noise = torch.randn(1, c.horizon, c.action_dim, generator=self._generator)
        chunk = self.model.sample(batch, ind, float(guidance_scale), noise, prefix)[0].numpy()
        actions = self._ckpt.stats.unnormalize("action", chunk)
        if frozen_prefix is not None:
            actions[: len(frozen_prefix)] = np.asarray(frozen_prefix, np.float32)  # exact, not via float round trip
        return actions


def load_policy(checkpoint_dir: str | Path, seed: int = 0) -> Policy:
    """Load a policy checkpoint (safetensors + config.json + stats; no unpickling)."""
    ckpt = load_checkpoint(checkpoint_dir, "policy")
    if ckpt.config.action_dim != 14:
        raise CheckpointError(f"{checkpoint_dir}: action_dim {ckpt.config.action_dim}, the robot needs 14")
    return Policy(ckpt, seed=seed)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if img.ndim == 3 and img.shape[:2] != tuple(size) and img.dtype == np.uint8:
        import cv2

        return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return img
