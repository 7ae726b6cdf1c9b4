"""Per-dimension mean/std normalisation of qpos, object state and actions, saved with checkpoints.

The same stats are applied in training and inference (openpi's rule: one transform chain); they
are computed from data by the trainer (recap_trainer.normalization.compute_stats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NormStats:
    """name ("qpos", "action", "env_state/<task>", or "env_state" for one shared layout)
    -> (mean (n,), std (n,)) float32."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        if set(self.mean) != set(self.std):
            raise ValueError(f"normalisation stats disagree on keys: {sorted(self.mean)} vs {sorted(self.std)}")
        for k in self.mean:
            if self.mean[k].shape != self.std[k].shape or not np.all(np.isfinite(self.mean[k])):
                raise ValueError(f"bad normalisation stats for {k!r}")

    def normalize(self, name: str, x: np.ndarray) -> np.ndarray:
        """x (..., n) -> (x - mean) / std as float32; a dimension mismatch is an error."""
        mean, std = self._get(name, x)
        return ((x - mean) / std).astype(np.float32)

    def unnormalize(self, name: str, x: np.ndarray) -> np.ndarray:
        mean, std = self._get(name, x)
        return (np.asarray(x, dtype=np.float64) * std + mean).astype(np.float32)

    def dim(self, name: str) -> int:
        return int(self.mean[name].shape[0]) if name in self.mean else 0

    def _get(self, name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.mean:
            raise KeyError(f"no normalisation stats for {name!r} (have {sorted(self.mean)})")
        if x.shape[-1] != self.mean[name].shape[0]:
            raise ValueError(f"{name} has {x.shape[-1]} dimensions, the normalisation stats expect {self.mean[name].shape[0]}")
        return self.mean[name], self.std[name]

    def to_tensors(self) -> dict[str, np.ndarray]:
        out = {}
        for k in self.mean:
            out[f"{k}.mean"] = self.mean[k].astype(np.float32)
            out[f"{k}.std"] = self.std[k].astype(np.float32)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> "NormStats":
        names = {k.rsplit(".", 1)[0] for k in tensors}
        return cls(
            mean={n: np.asarray(tensors[f"{n}.mean"], np.float32) for n in names},
            std={n: np.asarray(tensors[f"{n}.std"], np.float32) for n in names},
        )
