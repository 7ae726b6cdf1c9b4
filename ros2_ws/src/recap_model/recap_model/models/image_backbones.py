"""Per-camera image backbones: (N, 3, h, w) float in [-0.5, 0.5] -> (N, out_features).

Every backbone has one stage per entry of `channels`, and every stage halves h and w, so
`ObservationConfig` checks one size rule for all of them. The names are `IMAGE_ENCODERS` in
models/config.py; bench/bench_vision_train.py measures them (docs/TRAINER.md, "Image encoder").
"""

from __future__ import annotations

import torch
from torch import nn

KEYPOINTS = 32  # spatial-softmax keypoints, as robomimic's visual core


def _norm(ch: int) -> nn.GroupNorm:
    # GroupNorm, not BatchNorm: training and inference see the same statistics at any batch size.
    return nn.GroupNorm(min(8, ch), ch)


def _strided_stages(channels: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    in_ch = 3
    for ch in channels:
        layers += [nn.Conv2d(in_ch, ch, 3, stride=2, padding=1), _norm(ch), nn.SiLU()]
        in_ch = ch
    return nn.Sequential(*layers), in_ch


class StridedCNN(nn.Module):
    """Strided 3x3 convolutions; a 4x4 average pool keeps the coarse layout (where the object is)."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        stages, last = _strided_stages(channels)
        self.net = nn.Sequential(stages, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.out_features = last * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualStage(nn.Module):
    """ResNet basic block that halves the resolution: two 3x3 convolutions + a strided 1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), _norm(out_ch), nn.SiLU(),
                                  nn.Conv2d(out_ch, out_ch, 3, padding=1), _norm(out_ch))
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride=2)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResNetGN(nn.Module):
    """A strided stem, then one residual stage per further channel entry; 4x4 average pool."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, stride=2, padding=1), _norm(channels[0]), nn.SiLU()]
        layers += [ResidualStage(a, b) for a, b in zip(channels[:-1], channels[1:])]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.out_features = channels[-1] * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SpatialSoftmax(nn.Module):
    """Strided stages, then KEYPOINTS feature maps whose softmax-weighted mean (x, y) positions are
    the features (robomimic, diffusion policy): where things are, not what the whole image is."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.stages, last = _strided_stages(channels)
        self.keypoints = nn.Conv2d(last, KEYPOINTS, 1)
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.out_features = 2 * KEYPOINTS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.keypoints(self.stages(x))  # (N, K, h', w')
        n, k, h, w = maps.shape
        attention = torch.softmax(maps.flatten(2) / self.log_temperature.exp(), dim=-1).view(n, k, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=attention.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=attention.dtype)
        expected_x = (attention.sum(2) * xs).sum(-1)  # (N, K)
        expected_y = (attention.sum(3) * ys).sum(-1)
        return torch.cat([expected_x, expected_y], dim=-1)


BACKBONES: dict[str, type[nn.Module]] = {
    "strided_cnn": StridedCNN,
    "resnet_gn": ResNetGN,
    "spatial_softmax": SpatialSoftmax,
}


def build_backbone(name: str, channels: tuple[int, ...]) -> nn.Module:
    try:
        return BACKBONES[name](channels)
    except KeyError:
        raise ValueError(f"unknown image encoder {name!r}, known: {sorted(BACKBONES)}") from None


def random_shift(x: torch.Tensor, pad: int) -> torch.Tensor:
    """DrQ augmentation: pad every image by `pad` pixels (edge replicated) and crop a random h x w
    window back, a shift of up to +-pad pixels drawn per image from torch's default generator.

    x (N, C, h, w) float -> same shape. Integer shifts by gathering rows and columns: exact, and
    cheaper on a CPU than DrQ's grid_sample."""
    n, c, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (2, n, 1), device=x.device)
    rows = (offsets[0] + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    shifted_rows = padded.gather(2, rows)
    cols = (offsets[1] + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return shifted_rows.gather(3, cols)
