"""The advantage-conditioned flow-matching policy pi_theta(a_{t:t+H} | I_t, o_t, l).

One network learns both the conditional policy pi(a | I, o, l) and the unconditional pi(a | o, l):
the indicator I_t is an embedding with a third state DROPPED (RECAP.md, Eqs. 2-3). With
`config.observation.cameras == ()` it is the state-only variant (qpos + privileged object state).

Batch (all normalised except images): qpos (B, 14), env_state (B, S), images (B, Ncam, 3, h, w)
uint8, task_id (B,), indicator (B,), actions (B, H, D).
"""

from __future__ import annotations

import torch
from torch import nn

from recap_model.models.config import PolicyConfig
from recap_model.models.encoders import DROPPED, ObservationEncoder, mlp
from recap_model.models.flow_matching import VelocityNetwork, flow_matching_loss, sample_chunk


class PolicyModel(nn.Module):
    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        w = config.observation.width
        self.encoder = ObservationEncoder(config.observation)
        self.indicator_embedding = nn.Embedding(3, w)  # {negative, positive, unconditioned (dropped)}
        self.condition = mlp([2 * w, w, w])
        self.velocity = VelocityNetwork(config.horizon, config.action_dim, w, config.flow_width, config.flow_blocks)

    def conditioning(self, features: torch.Tensor, indicator: torch.Tensor) -> torch.Tensor:
        """Observation features (B, W) and I_t (B,) -> condition c (B, W) of the action head."""
        return self.condition(torch.cat([features, self.indicator_embedding(indicator)], dim=-1))

    def loss(
        self,
        batch: dict[str, torch.Tensor],
        noise: torch.Tensor,
        tau: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Flow-matching loss on the chunk (the -log pi terms of Eq. 3) for the given indicators."""
        cond = self.conditioning(self.encoder(batch), batch["indicator"])
        return flow_matching_loss(lambda x, t: self.velocity(x, t, cond), batch["actions"], noise, tau, weights)

    @torch.no_grad()
    def sample(
        self,
        batch: dict[str, torch.Tensor],
        indicator: int,
        guidance_scale: float,
        noise: torch.Tensor,
        frozen_prefix: torch.Tensor | None = None,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """Normalised action chunk (B, H, D).

        guidance_scale beta = 1: sample pi(a | I, o, l). beta != 1: classifier-free guidance
        v = v_uncond + beta * (v_cond - v_uncond), v_uncond with the indicator DROPPED; both
        velocities come from one batched forward pass.
        """
        features = self.encoder(batch)
        b = features.shape[0]
        cond = self.conditioning(features, torch.full((b,), indicator, dtype=torch.long, device=features.device))
        if guidance_scale == 1.0:
            mean = self.velocity.from_condition(cond)
            velocity = lambda x, t: self.velocity(x, t, cond, mean)  # noqa: E731
        else:
            uncond = self.conditioning(features, torch.full((b,), DROPPED, dtype=torch.long, device=features.device))
            both = torch.cat([cond, uncond])
            mean = self.velocity.from_condition(both)

            def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                v_cond, v_uncond = self.velocity(torch.cat([x, x]), torch.cat([t, t]), both, mean).chunk(2)
                return v_uncond + guidance_scale * (v_cond - v_uncond)

        return sample_chunk(velocity, noise, num_steps or self.config.denoising_steps, frozen_prefix)
