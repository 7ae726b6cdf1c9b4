"""RECAP's advantage conditioning for LeRobot VLAs (pi0, pi0.5, SmolVLA) as a LeRobot processor step.

RECAP appends the advantage indicator I_t to the prompt as text, "Advantage: positive" or
"Advantage: negative", and leaves it out for a share of the training samples (30 % in the paper)
so the same model also acts unconditioned (classifier-free guidance). At inference the prompt
always asks for "Advantage: positive".

Training reads I_t from the export's per-frame `recap.indicator` column (1 / 0, -1 unlabelled:
no text) by the batch's `index`; LeRobot passes no other dataset column to its processors.
The step is saved in a pipeline's JSON by its class path, so lerobot-train and policy loading
import this module by themselves. This module needs `lerobot` (Python >= 3.12, .venv312).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.processor.pipeline import ComplementaryDataProcessorStep

INDICATOR_COLUMN = "recap.indicator"
DEFAULT_DROPOUT = 0.3


def conditioned_task(task: str, positive: bool) -> str:
    """The prompt with RECAP's indicator appended on its own line."""
    return f"{task.rstrip()}\nAdvantage: {'positive' if positive else 'negative'}"


def read_indicator(dataset_root: str | Path) -> np.ndarray:
    """(total frames,) int8 I_t by the frames' global `index` (-1: unlabelled) from data/*.parquet."""
    files = sorted((Path(dataset_root) / "data").glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"{dataset_root}: no data/*/*.parquet files: not a LeRobot v3.0 dataset")
    indices, flags = [], []
    for path in files:
        if INDICATOR_COLUMN not in pq.read_schema(path).names:
            raise ValueError(f"{path} has no {INDICATOR_COLUMN} column: export the dataset with advantage labels "
                             "(recap dataset export-lerobot --labels)")
        table = pq.read_table(path, columns=["index", INDICATOR_COLUMN])
        indices.append(table["index"].to_numpy())
        flags.append(table[INDICATOR_COLUMN].to_numpy())
    index, flag = np.concatenate(indices), np.concatenate(flags)
    table = np.full(int(index.max()) + 1, -1, np.int8)
    table[index] = flag
    return table


@dataclass
class AdvantagePromptStep(ComplementaryDataProcessorStep):
    """Appends "Advantage: positive/negative" to `task` (training, with `dropout`, seeded) or
    "Advantage: positive" (inference: `inference=True`, or no `dataset_root`)."""

    dataset_root: str | None = None  # the export whose recap.indicator conditions each frame
    dropout: float = DEFAULT_DROPOUT  # share of labelled samples left unconditioned
    seed: int = 0
    inference: bool = False
    _indicator: np.ndarray | None = field(default=None, init=False, repr=False)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"AdvantagePromptStep dropout must be in [0, 1), got {self.dropout}")
        self._rng = np.random.default_rng(self.seed)
        if not self.inference and self.dataset_root is not None:
            self._indicator = read_indicator(self.dataset_root)

    def complementary_data(self, complementary_data: dict[str, Any]) -> dict[str, Any]:
        task = complementary_data.get("task")
        if task is None:
            return complementary_data
        texts = [task] if isinstance(task, str) else list(task)
        if self._indicator is None:
            texts = [conditioned_task(t, True) for t in texts]
        else:
            texts = [self._training_text(t, i) for t, i in zip(texts, self._indices(complementary_data, len(texts)))]
        return {**complementary_data, "task": texts[0] if isinstance(task, str) else texts}

    def _indices(self, data: dict[str, Any], count: int) -> list[int]:
        if "index" not in data:
            raise ValueError("AdvantagePromptStep: the batch has no `index` (the frame's dataset index) to look "
                             "the advantage indicator up by; at inference set inference=True")
        index = np.asarray(data["index"].cpu() if hasattr(data["index"], "cpu") else data["index"]).reshape(-1)
        if len(index) != count:
            raise ValueError(f"AdvantagePromptStep: {count} tasks but {len(index)} indices in the batch")
        bad = index[(index < 0) | (index >= len(self._indicator))]
        if len(bad):
            raise ValueError(f"AdvantagePromptStep: frame index {int(bad[0])} is outside {self.dataset_root} "
                             f"({len(self._indicator)} frames): is dataset_root the dataset being trained on?")
        return index.tolist()

    def _training_text(self, task: str, index: int) -> str:
        flag = int(self._indicator[index])
        if flag < 0 or self._rng.random() < self.dropout:
            return task
        return conditioned_task(task, bool(flag))

    def get_config(self) -> dict[str, Any]:
        return {"dataset_root": self.dataset_root, "dropout": self.dropout, "seed": self.seed,
                "inference": self.inference}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        return features
