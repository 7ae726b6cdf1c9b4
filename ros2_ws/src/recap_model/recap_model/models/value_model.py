"""Distributional value function p_phi(V | o_t, l) over B bins on [-1, 0] (RECAP Eq. 1).

Trained with cross-entropy to the normalised empirical return discretised into the bins; the
scalar value is V(o_t) = sum_b p_b v_b. Smaller than the policy (narrower encoders, see
ValueConfig defaults). Batch as for the policy: qpos (B, 14), env_state (B, S), images, task_id.
"""

from __future__ import annotations

import torch
from torch import nn

from recap_model.models.config import ValueConfig
from recap_model.models.encoders import ObservationEncoder, mlp


class ValueModel(nn.Module):
    def __init__(self, config: ValueConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ObservationEncoder(config.observation)
        self.head = mlp([config.observation.width, config.hidden, config.num_bins])
        self.register_buffer(
            "bin_values", torch.linspace(config.v_min, config.v_max, config.num_bins), persistent=False
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits over the B bins: (B_batch, B)."""
        return self.head(self.encoder(batch))

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
