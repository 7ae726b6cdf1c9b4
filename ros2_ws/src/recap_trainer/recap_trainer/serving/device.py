"""Run a loaded Policy's model on another device (e.g. CUDA) while the Policy stays as it is.

recap_model.policy.Policy builds its input tensors and noise on the CPU (the noise comes from its
CPU generator, so a seed gives the same chunk on every device); this wrapper moves them to the
model's device for the sampling and brings the chunk back.
"""
from __future__ import annotations

import torch


class ModelOnDevice:
    """PolicyModel.sample on `device`, inputs and output on the CPU."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.device = device
        self._model = model.to(device).eval()

    def sample(self, batch: dict[str, torch.Tensor], indicator: int, guidance_scale: float, noise: torch.Tensor,
               frozen_prefix: torch.Tensor | None = None, num_steps: int | None = None) -> torch.Tensor:
        on_device = {name: tensor.to(self.device) for name, tensor in batch.items()}
        prefix = None if frozen_prefix is None else frozen_prefix.to(self.device)
        chunk = self._model.sample(on_device, indicator, guidance_scale, noise.to(self.device), prefix, num_steps)
        return chunk.cpu()


def serving_device(device: str) -> torch.device:
    """`--device` ("cpu" or "cuda[:n]") as a torch device this machine has."""
    target = torch.device(device)
    if target.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda[:n], got {device!r}")
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine (torch {torch.__version__})")
    return target


def describe_device(target: torch.device) -> str:
    return "cpu" if target.type == "cpu" else f"{target} ({torch.cuda.get_device_name(target)})"


def place_policy(policy, device: str) -> str:
    """Move a RECAP `policy`'s model to `device` ("cpu" or "cuda[:n]"); returns the device's description."""
    target = serving_device(device)
    if target.type != "cpu":
        policy.model = ModelOnDevice(policy.model, target)
    return describe_device(target)
