"""The built-in backend: a RECAP checkpoint (advantage-conditioned flow-matching policy) run in-process by recap_model."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from recap_policy.backends.base import BackendMetadata, Conditioning, PolicyBackend
from recap_policy.observation import Observation


class CheckpointBackend(PolicyBackend):
    """Wraps `recap_model.policy.load_policy(dir)`; fails loudly on a missing/mismatched checkpoint."""

    def __init__(self, checkpoint_dir: str | Path, conditioning: Conditioning, joint_names: tuple[str, ...],
                 num_threads: int = 1) -> None:
        """joint_names: the action columns, the robot description's state vector (which the node has
        checked the checkpoint was trained for)."""
        import torch

        from recap_model.policy import load_policy

        path = Path(checkpoint_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"policy checkpoint directory {path} does not exist")
        # Inference shares the machine with the control-rate timer: cap its threads.
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        self._policy = load_policy(path, noise_scale=conditioning.noise_scale)
        self._conditioning = conditioning
        m = self._policy.metadata
        missing = [k for k in ("policy_id", "horizon", "control_period", "cameras") if k not in m]
        if missing:
            raise ValueError(f"{path}: policy metadata lacks {missing}")
        action_dim = self._policy.config.action_dim
        if action_dim != len(joint_names):
            raise ValueError(f"{path}: the model's actions are {action_dim}-D, the robot's state vector has "
                             f"{len(joint_names)} joints {list(joint_names)}")
        state_names = tuple(m.get("state_names") or ())
        state_dim = self._policy.config.observation.state_dim
        if state_dim != len(state_names):
            # the node subscribes to object state by these names: without them it could not feed the model
            raise ValueError(f"{path}: the model reads {state_dim} object-state features (env_state) but its "
                             f"metadata names {len(state_names)}: {list(state_names)}")
        self.metadata = BackendMetadata(
            policy_id=str(m["policy_id"]), joint_names=tuple(joint_names), horizon=int(m["horizon"]),
            control_period=float(m["control_period"]), cameras=tuple(m["cameras"]),
            image_size=tuple(m["image_size"]) if m["cameras"] else None,
            state_names=state_names, supports_frozen_prefix=True)

    def infer(self, obs: Observation, frozen_prefix: np.ndarray | None = None) -> np.ndarray:
        if frozen_prefix is not None and len(frozen_prefix) >= self.metadata.horizon:
            frozen_prefix = frozen_prefix[: self.metadata.horizon - 1]  # the model needs d < H
        return np.asarray(self._policy.infer(
            obs.as_policy_dict(), advantage=self._conditioning.advantage,
            guidance_scale=self._conditioning.guidance_scale, frozen_prefix=frozen_prefix))

    def reset(self) -> None:
        self._policy.reset()
