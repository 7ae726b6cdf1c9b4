"""The export loads in the real LeRobot 0.6 as it is: tasks, videos, delta_timestamps batches, stats
as LeRobot computes them, and its edit tools (delete, split) keep the statistics."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("lerobot.datasets", reason="LeRobot runs in the Python 3.12 env: make test-py312")

import torch  # noqa: E402
from export_fixtures import INSTRUCTION, STEPS, export, offline, state_only_export  # noqa: E402,F401
from lerobot.datasets.compute_stats import DEFAULT_QUANTILES, get_feature_stats  # noqa: E402
from lerobot.datasets.dataset_tools import delete_episodes, split_dataset  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

from recap_trainer.lerobot_stats import image_stats, vector_stats  # noqa: E402

REPO = "recap/aloha"
QUANTILE_KEYS = [f"q{int(q * 100):02d}" for q in DEFAULT_QUANTILES]


def test_frames_carry_the_instruction_labels_and_decoded_video(export):
    ds = LeRobotDataset(REPO, root=export)
    assert len(ds) == sum(STEPS.values()) and ds.meta.total_episodes == 3
    item = ds[3]
    assert item["task"] == INSTRUCTION  # not the task index: tasks.parquet is indexed by the text
    assert item["observation.images.cam_high"].shape == (3, 24, 32)
    red = item["observation.images.cam_high"][0].mean().item() * 255
    assert abs(red - (3 * 8 + 40)) < 6  # frame 3 of episode 0, AV1-lossy
    assert item["observation.environment_state"].shape == (6,)
    assert item["recap.indicator"].item() == 1 and item["recap.advantage"].item() == pytest.approx(0.5)
    last = ds[len(ds) - 1]  # the aborted episode: unlabelled
    assert last["recap.indicator"].item() == -1 and torch.isnan(last["recap.value"])
    assert last["recap.outcome"].item() == -1 and last["recap.iteration"].item() == 1
    info = json.loads((export / "meta" / "info.json").read_text())
    assert info["features"]["observation.images.cam_high"]["info"]["video.codec"] == "av1"


def test_delta_timestamps_batches_through_a_dataloader(export):
    fps = 50
    ds = LeRobotDataset(REPO, root=export, delta_timestamps={
        "action": [t / fps for t in range(4)], "observation.images.cam_high": [-1 / fps, 0.0]})
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0)
    seen = 0
    for batch in loader:
        n = len(batch["index"])
        assert batch["action"].shape == (n, 4, 14) and batch["observation.images.cam_high"].shape == (n, 2, 3, 24, 32)
        assert batch["task"] == [INSTRUCTION] * n
        seen += n
    assert seen == len(ds)
    last_of_first = ds[STEPS["ep-success"] - 1]  # the chunk runs past the episode end: padded, not the next one
    assert last_of_first["action_is_pad"].tolist() == [False, True, True, True]


def test_stats_are_what_lerobot_computes_for_every_feature(export):
    ds = LeRobotDataset(REPO, root=export)
    numeric = [k for k, v in ds.meta.features.items() if v["dtype"] not in ("video", "string")]
    assert set(ds.meta.stats) >= set(numeric) - {"recap.advantage", "recap.value"} | set(ds.meta.video_keys)
    for key, stats in ds.meta.stats.items():
        assert set(stats) >= {"min", "max", "mean", "std", "count", *QUANTILE_KEYS}, key
    assert ds.meta.stats["observation.images.cam_high"]["q01"].shape == (3, 1, 1)
    # Against LeRobot's own functions on the same data.
    values = np.random.default_rng(0).normal(size=(200, 3))
    ours, theirs = vector_stats(values), get_feature_stats(values, axis=0, keepdims=False)
    for key in ("min", "max", "mean", "std", "count", *QUANTILE_KEYS):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-9, err_msg=key)
    frames = np.random.default_rng(1).integers(0, 256, (30, 24, 32, 3), dtype=np.uint8)
    theirs = get_feature_stats(frames.transpose(0, 3, 1, 2), axis=(0, 2, 3), keepdims=True)
    ours = image_stats(frames)
    for key in ("min", "max", "mean", "std", *QUANTILE_KEYS):
        np.testing.assert_allclose(ours[key], np.squeeze(theirs[key], 0) / 255, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("edit", ["delete", "split"])
def test_edit_tools_keep_tasks_and_stats(export, tmp_path, edit):
    ds = LeRobotDataset(REPO, root=export)
    if edit == "delete":
        edited = [delete_episodes(ds, [1], output_dir=tmp_path / "kept", repo_id="recap/kept")]
        lengths = [[STEPS["ep-success"], STEPS["ep-abort"]]]
    else:
        parts = split_dataset(ds, {"train": [0, 2], "val": [1]}, output_dir=tmp_path / "split")
        edited = [parts["train"], parts["val"]]
        lengths = [[STEPS["ep-success"], STEPS["ep-abort"]], [STEPS["ep-failure"]]]
    for part, expected in zip(edited, lengths):
        assert part.meta.total_episodes == len(expected) and len(part) == sum(expected)
        stats = part.meta.stats
        assert stats["observation.state"]["count"].tolist() == [sum(expected)]
        assert stats["observation.images.cam_high"]["q50"].shape == (3, 1, 1)
        assert set(stats["action"]) >= set(QUANTILE_KEYS)
        assert part[0]["task"] == INSTRUCTION
        assert part[len(part) - 1]["observation.images.cam_high"].shape == (3, 24, 32)
