"""RECAP datasets exported for the real LeRobot (Python 3.12 env: `make test-py312`); the test
modules import these fixtures (a conftest.py here would shadow the other directories' `conftest`).

Episodes are built directly (the simulator's datagen needs MuJoCo, absent from .venv312): three
episodes (success, failure, abort) with two small cameras whose brightness encodes the step, an
env_state, and `recap label`-style labels for the two with an outcome.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recap_trainer.dataset import DatasetWriter
from recap_trainer.dataset_manifest import DatasetConfig
from recap_trainer.episode import EpisodeData
from recap_trainer.labels import Labels
from recap_trainer.lerobot_export import ExportConfig, export_lerobot

CAMERAS = ("cam_high", "cam_left_wrist")
IMAGE_SIZE = (24, 32)
STEPS = {"ep-success": 20, "ep-failure": 25, "ep-abort": 15}
INSTRUCTION = "transfer the cube to the left arm"
CONFIG = ExportConfig(prompts=(("transfer_cube", INSTRUCTION),))


def episode(episode_id: str, outcome: str, steps: int, cameras: tuple[str, ...], seed: int) -> EpisodeData:
    rng = np.random.default_rng(seed)
    qpos = np.cumsum(rng.normal(0, 0.01, (steps, 14)), axis=0)
    frames = np.zeros((steps, *IMAGE_SIZE, 3), np.uint8)
    frames[..., 0] = (np.arange(steps) * 8 + 40)[:, None, None]  # red = the step: decodes back in order
    frames[..., 1] = 100 + 20 * seed
    return EpisodeData(
        episode_id=episode_id, task="transfer_cube", outcome=outcome, source="rollout", iteration=1,
        timestamps=np.arange(steps) * 0.02, qpos=qpos, env_state=rng.normal(size=(steps, 6)),
        images={c: frames for c in cameras}, executed_action=qpos + 0.01,
        proposed_action=np.where(np.arange(steps)[:, None] % 2 == 0, qpos, np.nan),
        intervention=np.arange(steps) >= steps - 3, metadata={})


def labels() -> Labels:
    flags = {"ep-success": np.arange(20) < 12, "ep-failure": np.arange(25) < 5}
    return Labels(advantage={k: np.where(v, 0.5, -0.5) for k, v in flags.items()}, indicator=flags,
                  value={k: np.linspace(0, 1, len(v)) for k, v in flags.items()},
                  returns={k: np.zeros(len(v)) for k, v in flags.items()}, thresholds={"transfer_cube": 0.0},
                  info={"stage": "finetune"})


def build(root: Path, cameras: tuple[str, ...]) -> Path:
    """root/ds (RECAP), root/labels, root/lr (the LeRobot export); returns root/lr."""
    writer = DatasetWriter(root / "ds", DatasetConfig(cameras=cameras, image_size=IMAGE_SIZE if cameras else None))
    for seed, (episode_id, outcome) in enumerate(zip(STEPS, ("success", "failure", "abort"))):
        writer.append(episode(episode_id, outcome, STEPS[episode_id], cameras, seed))
    labels().save(root / "labels")
    export_lerobot(root / "ds", root / "lr", labels=root / "labels", config=CONFIG)
    return root / "lr"


@pytest.fixture(scope="session")
def export(tmp_path_factory) -> Path:
    """An export with two cameras, env_state and labels."""
    return build(tmp_path_factory.mktemp("cams"), CAMERAS)


@pytest.fixture(scope="session")
def state_only_export(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("state"), ())


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No hub: everything LeRobot reads comes from the local root."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
