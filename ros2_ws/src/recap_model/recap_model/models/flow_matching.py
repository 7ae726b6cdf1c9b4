"""Flow-matching action head: learns a velocity field that carries noise to an action chunk.

Convention (rectified flow): x_tau = (1 - tau) * eps + tau * a with eps ~ N(0, I), tau in [0, 1];
the target velocity is u = a - eps. Sampling integrates dx/dtau = v(x_tau, tau, c) with Euler steps
from tau = 0 (noise) to tau = 1 (actions). (pi0 writes the same flow with tau reversed.)

Shapes: actions / x (B, H, D); tau (B,); condition c (B, C).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def timestep_embedding(tau: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of tau in [0, 1]: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32, device=tau.device) / half)
    angles = tau.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class FiLMBlock(nn.Module):
    """Residual MLP block whose activations are scaled and shifted by the condition (FiLM)."""

    def __init__(self, width: int, cond_width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(cond_width, 2 * width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        nn.init.zeros_(self.fc2.weight)  # each block starts as the identity
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).chunk(2, dim=-1)
        h = self.norm(x) * (1 + scale) + shift
        return x + self.fc2(nn.functional.silu(self.fc1(nn.functional.silu(h))))


# Near tau = 1 the velocity (a_hat - x) / (1 - tau) divides by ~0: the head divides by at least
# this much (the same cap as Li & He 2025), and the loss undoes the same cap.
MIN_REMAINING = 0.05


class VelocityNetwork(nn.Module):
    """v_theta(x_tau, tau, c): (B, H, D), (B,), (B, C) -> (B, H, D).

    The chunk is flattened (H * D = 700 for the defaults): at this size an MLP over the whole
    chunk is cheaper on a CPU than attention over H tokens and still sees the whole trajectory.

    The MLP predicts the clean chunk a_hat ("x-prediction", Li & He 2025, "Back to Basics: Let
    Denoising Generative Models Denoise") and the velocity is derived from it,
    v = (a_hat - x_tau) / (1 - tau). Why: a velocity target a - eps carries the full
    700-dimensional noise, which cannot pass the 512-wide hidden layers, so a network that outputs
    v directly plateaus (measured: BC loss flat at ~0.40 and chunk errors of 0.2-0.7 rad on its own
    training states); the clean chunk lies on a low-dimensional manifold that does pass.

    The condition enters three times: concatenated to the noisy chunk at the input, as FiLM in every
    block, and through a branch that sees the condition alone. At high noise the input chunk carries
    nothing and the clean chunk must come from the observation alone; FiLM only (the first version)
    learnt that mapping several times slower (docs/TRAINER.md, "Action head"). The condition-only
    branch gives the conditional mean chunk E[a | o] a path that the noise cannot disturb: without
    it, the espresso policy's chunk moved 0.017 rad for a 5 cm move of the cup and carried the cup
    to the spout in 9 of 48 episodes; with it, 0.16 rad and 37 of 48 (docs/TRAINER.md, "Action
    head, third round").
    """

    def __init__(self, horizon: int, action_dim: int, cond_width: int, width: int, blocks: int) -> None:
        super().__init__()
        self.horizon, self.action_dim = horizon, action_dim
        self.time_mlp = nn.Sequential(nn.Linear(128, cond_width), nn.SiLU(), nn.Linear(cond_width, cond_width))
        self.inp = nn.Linear(horizon * action_dim + cond_width, width)
        self.blocks = nn.ModuleList(FiLMBlock(width, cond_width) for _ in range(blocks))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, horizon * action_dim)
        self.from_condition = nn.Sequential(nn.Linear(cond_width, width), nn.SiLU(), nn.Linear(width, width),
                                            nn.SiLU(), nn.Linear(width, horizon * action_dim))

    def forward(self, x: torch.Tensor, tau: torch.Tensor, cond: torch.Tensor,
                mean: torch.Tensor | None = None) -> torch.Tensor:
        """mean: `from_condition(cond)` when the caller already has it (it does not depend on x or
        tau, so sampling computes it once per chunk instead of once per denoising step)."""
        mean = self.from_condition(cond) if mean is None else mean
        c = nn.functional.silu(cond + self.time_mlp(timestep_embedding(tau, 128)))
        h = self.inp(torch.cat([x.flatten(1), c], dim=-1))
        for block in self.blocks:
            h = block(h, c)
        clean = (self.out(self.out_norm(h)) + mean).view(-1, self.horizon, self.action_dim)
        return (clean - x) / (1 - tau).clamp(min=MIN_REMAINING).view(-1, 1, 1)


def flow_matching_loss(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    actions: torch.Tensor,
    noise: torch.Tensor,
    tau: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Conditional flow-matching loss of Eq. 3 with the weight (1 - tau)^2 per flow time:
    (1 - tau)^2 ||v - (a - eps)||^2 = ||a_hat - a||^2, the error of the clean chunk the velocity
    implies (a_hat = x_tau + (1 - tau) v). The minimiser is the same at every tau (the conditional
    expected velocity); only the balance between flow times changes. a_hat is recovered with the
    head's own cap max(1 - tau, MIN_REMAINING), so that it is exactly the head's clean chunk for
    every tau: with (1 - tau) instead, the ~1 % of draws with tau > 0.95 asked the head for a chunk
    overshooting the demonstration by up to 50x the remaining distance (sampling never queries
    tau > 0.9, but the head shares its weights across flow times). Unweighted, the loss is
    dominated by tau near 1, where the chunk is nearly clean and can be read off the input, and
    starves the noisy times that decide *which* chunk to produce (measured: the policy barely
    followed the object's position; docs/TRAINER.md, "Action head").

    actions, noise: (B, H, D); tau: (B,); weights: (B,) per-sample weights (AWR) or None, already
    normalised by the caller to mean 1 over the *global* batch, so that the mean over a process's
    slice, averaged over processes, is the global weighted mean.
    `velocity(x, tau)` closes over the condition. Noise and tau are inputs so that a multi-process
    run can draw them exactly like a single-process run.
    """
    t = tau.view(-1, 1, 1)
    x_tau = (1 - t) * noise + t * actions
    clean = x_tau + (1 - t).clamp(min=MIN_REMAINING) * velocity(x_tau, tau)
    per_sample = (clean - actions).pow(2).mean(dim=(1, 2))
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).mean()


def sample_tau(size: int, generator: torch.Generator) -> torch.Tensor:
    """Flow times for training, pi0's distribution: (s - tau) / s ~ Beta(1.5, 1) with s = 0.999,
    which favours the noisy end (tau near 0). Drawn by inverting the Beta(1.5, 1) CDF u^1.5, so
    `generator` alone fixes it (torch.distributions takes no generator)."""
    u = torch.rand(size, generator=generator).pow(1.0 / 1.5)
    return 0.999 * (1.0 - u)


@torch.no_grad()
def sample_chunk(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    num_steps: int,
    frozen_prefix: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euler integration from noise (B, H, D) at tau = 0 to an action chunk at tau = 1.

    frozen_prefix (B, d, D): actions already committed (real-time chunking). Inpainting by
    *replacement*: before every step the first d actions of x are overwritten with the point of the
    straight noise->prefix path at the current tau, (1 - tau) * eps + tau * prefix, so the velocity
    network sees a consistent partially-denoised chunk and the free actions are pulled to continue
    the prefix; the returned chunk holds the prefix exactly. (Not the guided inpainting of Black et
    al.'s RTC, which back-propagates through the network at every step and costs ~3x more.)
    """
    x = noise.clone()
    d = 0 if frozen_prefix is None else frozen_prefix.shape[1]
    dt = 1.0 / num_steps
    for k in range(num_steps):
        tau = torch.full((x.shape[0],), k * dt, dtype=x.dtype, device=x.device)
        if d:
            x[:, :d] = (1 - k * dt) * noise[:, :d] + k * dt * frozen_prefix
        x = x + dt * velocity(x, tau)
    if d:
        x[:, :d] = frozen_prefix
    return x
