"""An exponential moving average of a model's weights during training (torch.optim.swa_utils).

With `TrainConfig.ema_decay` > 0 the checkpoint's model weights are the average, updated after
every optimizer step as avg <- decay * avg + (1 - decay) * weights, and the weights the optimizer
trains are kept beside them (training_weights.safetensors) so a resumed run continues both.
openpi trains pi0 this way (ema_decay 0.99). The average starts at the weights after the first step
(torch's AveragedModel copies them on its first update).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = model
        # use_buffers: a model's buffers (none today: GroupNorm keeps no running statistics) are
        # averaged alike rather than left at their initial values.
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    @property
    def module(self) -> nn.Module:
        """The averaged model (same class and config as the trained one)."""
        return self.averaged.module

    def update(self) -> None:
        self.averaged.update_parameters(self.model)

    def restore(self, averaged_state: dict[str, torch.Tensor], steps: int) -> None:
        """Continue an average saved after `steps` updates (resuming)."""
        self.averaged.module.load_state_dict(averaged_state)
        self.averaged.n_averaged.fill_(steps)

    def to(self, device: str) -> "WeightAverage":
        self.averaged.to(device)
        return self
