"""Distributional value function p_phi(V | o_t, l) over B bins on [-1, 0] (RECAP Eq. 1).

Trained with cross-entropy to the normalised empirical return discretised into the bins; the
scalar value is V(o_t) = sum_b p_b v_b. Smaller than the policy (narrower encoders, see
ValueConfig defaults). Batch as for the policy: qpos (B, 14), env_state (B, S), images, task_id;
and, when the config has time_limits, elapsed (B,): t / L of the sample's task (elapsed_fraction).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from recap_model.models.config import ValueConfig
from recap_model.models.encoders import ObservationEncoder, mlp


class ValueModel(nn.Module):
    def __init__(self, config: ValueConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ObservationEncoder(config.observation)
        # The time enters as a learned embedding added to the observation's features (as the flow's
        # tau does): a bare scalar beside 128 features was learnt far more slowly.
        self.time_embedding = mlp([1, config.hidden, config.observation.width]) if config.sees_time else None
        self.head = mlp([config.observation.width, config.hidden, config.num_bins])
        self.register_buffer(
            "bin_values", torch.linspace(config.v_min, config.v_max, config.num_bins), persistent=False
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits over the B bins: (B_batch, B)."""
        features = self.encoder(batch)
        if self.time_embedding is not None:
            features = features + self.time_embedding(batch["elapsed"].to(features.dtype)[:, None])
        return self.head(features)

    def discretize(self, returns: torch.Tensor) -> torch.Tensor:
        """Normalised returns (N,) in [v_min, v_max] -> index of the nearest bin (N,) (R_t^B)."""
        c = self.config
        scaled = (returns.clamp(c.v_min, c.v_max) - c.v_min) / (c.v_max - c.v_min) * (c.num_bins - 1)
        return scaled.round().long()

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """H(R_t^B, p_phi(V | o_t, l)), averaged over the batch. batch["returns"]: (N,) normalised."""
        return nn.functional.cross_entropy(self(batch), self.discretize(batch["returns"]))

    def expected_value(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, B) logits -> (N,) V = sum_b p_b v_b."""
        return torch.softmax(logits, dim=-1) @ self.bin_values


def elapsed_fraction(config: ValueConfig, task_ids: np.ndarray, steps: np.ndarray) -> torch.Tensor:
    """V's time input: steps since the episode started over the task's L, (N,) float32. Past L (a
    slow rollout) it keeps growing: the return there is the failure's."""
    limits = np.asarray(config.time_limits, np.float64)[np.asarray(task_ids, np.int64)]
    return torch.from_numpy((np.asarray(steps, np.float64) / limits).astype(np.float32))
