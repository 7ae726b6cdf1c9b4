"""Observation encoders: cameras, proprioception / object state, task prompt, advantage indicator.

Shapes (B = batch here, not bins): qpos (B, 14), env_state (B, S), images (B, Ncam, 3, h, w) uint8,
task_id (B,) int64, indicator (B,) int64 in {NEGATIVE, POSITIVE, DROPPED}.
"""

from __future__ import annotations

import torch
from torch import nn

from recap_model.models.config import ObservationConfig
from recap_model.models.image_backbones import build_backbone, random_shift

# Advantage indicator I_t as an embedding index. RECAP feeds "Advantage: positive/negative" as text
# after the prompt; without a language backbone a learned embedding of the three states plays that
# role (RECAP.md, "Advantage and the indicator"). DROPPED = the indicator is left out, which is what
# makes one network learn both pi(a | I, o, l) and pi(a | o, l).
NEGATIVE, POSITIVE, DROPPED = 0, 1, 2
INDICATOR_IDS = {"negative": NEGATIVE, "positive": POSITIVE, "unconditioned": DROPPED}


def indicator_id(name: str) -> int:
    try:
        return INDICATOR_IDS[name]
    except KeyError:
        raise ValueError(f"advantage must be one of {sorted(INDICATOR_IDS)}, got {name!r}") from None


def mlp(sizes: list[int], final_activation: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_activation:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """One backbone shared by all cameras (models/image_backbones.py), plus a learned per-camera
    embedding. (B, Ncam, 3, h, w) uint8 -> (B, width).

    In training mode (`self.training`) every image is randomly shifted by up to
    `config.image_shift` pixels (DrQ), drawn from torch's default generator, so a seeded run is
    reproducible and evaluation / inference never see the augmentation.
    """

    def __init__(self, config: ObservationConfig) -> None:
        super().__init__()
        num_cameras, width = len(config.cameras), config.width
        self.shift = config.image_shift
        self.backbone = build_backbone(config.image_encoder, config.image_channels)
        self.project = nn.Linear(self.backbone.out_features, width)
        self.camera_embedding = nn.Parameter(torch.zeros(num_cameras, width))
        self.fuse = mlp([num_cameras * width, width, width])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, ncam = images.shape[:2]
        x = images.flatten(0, 1).float() / 255.0 - 0.5  # (B*Ncam, 3, h, w) in [-0.5, 0.5]
        if self.training and self.shift:
            x = random_shift(x, self.shift)
        feats = self.project(self.backbone(x)).view(b, ncam, -1) + self.camera_embedding
        return self.fuse(feats.flatten(1))


class ObservationEncoder(nn.Module):
    """o_t, l -> feature vector (B, width): proprio/state MLP + cameras + task embedding."""

    def __init__(self, config: ObservationConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.state_mlp = mlp([config.qpos_dim + config.state_dim, w, w], final_activation=True)
        self.images = ImageEncoder(config) if config.uses_images else None
        self.task_embedding = nn.Embedding(len(config.tasks), w)
        n_parts = 3 if config.uses_images else 2
        self.fuse = mlp([n_parts * w, w, w], final_activation=True)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [batch["qpos"]]
        if self.config.state_dim:
            parts.append(batch["env_state"])
        features = [self.state_mlp(torch.cat(parts, dim=-1)), self.task_embedding(batch["task_id"])]
        if self.images is not None:
            features.append(self.images(batch["images"]))
        return self.fuse(torch.cat(features, dim=-1))
