"""python -m recap_lab.experiments.camera_precision: how precisely a camera setting shows the cup's
offset from the serving spot (a probe on the product's observation encoder)."""
import json

import cv2
import numpy as np
import pytest

from policy.tiny_checkpoint import write_tiny_checkpoint, write_tiny_image_checkpoint
from recap_lab.experiments.camera_precision import (
    SETTINGS, TABLE_CROP, ProbeConfig, Setting, SpotView, checkpoint_setting, main, reduce_frames, serving_frames,
    train_probe)

SPOT_RGB = np.array([0.2, 0.6, 0.9]) * 255  # the serving spot's colour (recap_sim.tasks.espresso)


def _spot_columns(frame: np.ndarray) -> float:
    mask = np.abs(frame.astype(float) - SPOT_RGB).max(axis=-1) < 60
    assert mask.sum() > 20, "the serving spot is not in view"
    return float(np.nonzero(mask)[1].mean())


def test_the_spot_is_drawn_where_asked_and_the_scene_is_left_alone():
    from recap_sim.env import SimConfig, SimEnv

    env = SimEnv(SimConfig(task="espresso"))
    view = SpotView(env.model, cameras=("cam_high",))
    try:
        env.reset(seed=0)
        mocap_before, qpos_before = env.data.mocap_pos.copy(), env.data.qpos.copy()
        near = _spot_columns(view.render(env.data, np.array([0.05, 0.33]))["cam_high"])
        far = _spot_columns(view.render(env.data, np.array([0.20, 0.33]))["cam_high"])
        # cam_high looks along +y: 15 cm further along +x is ~37 of 320 columns to the right
        assert 25 < far - near < 50
        assert np.array_equal(env.data.mocap_pos, mocap_before) and np.array_equal(env.data.qpos, qpos_before)
    finally:
        view.close()
        env.close()


def test_serving_frames_come_from_the_serving_phase_with_offsets_inside_the_disc():
    data = serving_frames(episodes=1, seed=0, every=10, near_m=0.05, progress=False)
    n = len(data["scene"])
    assert n >= 2 and set(data["scene"]) == {0}
    assert data["cam_high"].shape == (n, 240, 320, 3) and data["cam_high"].dtype == np.uint8
    assert data["cam_right_wrist@48x64"].shape == (n, 48, 64, 3)  # the same views rendered at the model size
    assert np.all(np.linalg.norm(data["offset_cm"], axis=1) < 5.0)
    assert len({tuple(q) for q in np.round(data["qpos"], 6)}) == n  # distinct steps of the serve


def test_reduce_frames_crops_cam_high_only_then_resizes():
    frames = np.zeros((1, 240, 320, 3), np.uint8)
    top, left, h, w = TABLE_CROP
    frames[0, top:top + h, left:left + w] = 200  # the crop is bright, the rest dark
    cropped = Setting("crop", ("cam_high",), high_crop=TABLE_CROP)
    assert reduce_frames(frames, "cam_high", cropped).shape == (1, 48, 64, 3)
    assert reduce_frames(frames, "cam_high", cropped).min() == 200
    assert reduce_frames(frames, "cam_left_wrist", cropped).min() == 0  # a wrist frame is not cropped
    assert reduce_frames(frames, "cam_high", Setting("big", ("cam_high",), size=(96, 128))).shape == (1, 96, 128, 3)


def _synthetic(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A bright square whose position is the offset: readable from the image, not from qpos."""
    offset = rng.uniform(-8, 8, (n, 2))
    frames = np.zeros((n, 240, 320, 3), np.uint8)
    for i, (dx, dy) in enumerate(offset):
        u, v = int(160 + 12 * dx), int(120 + 12 * dy)
        frames[i, v - 8:v + 8, u - 8:u + 8] = 255
    small = np.stack([cv2.resize(f, (64, 48), interpolation=cv2.INTER_AREA) for f in frames])
    return {"qpos": rng.normal(size=(n, 14)), "offset_cm": offset, "scene": np.repeat(np.arange(n // 8), 8),
            "cam_high": frames, "cam_high@48x64": small}


def test_the_probe_reads_an_offset_the_image_shows_and_qpos_does_not():
    import torch

    torch.set_num_threads(1)
    data = _synthetic(320, np.random.default_rng(0))
    config = ProbeConfig(steps=300)
    seen = train_probe(SETTINGS["cam_high_48x64"], data, config, seed=0)
    blind = train_probe(SETTINGS["qpos_only"], data, config, seed=0)
    assert seen["held_out_frames"] == 64 and seen["train_frames"] == 256
    assert blind["median_cm"] > 3.0  # no better than guessing the mean of a +-8 cm square
    assert seen["median_cm"] < 0.5 * blind["median_cm"]


def test_a_trained_checkpoints_encoder_is_probed_frozen_and_other_models_are_refused(tmp_path):
    import torch

    torch.set_num_threads(1)
    path = write_tiny_image_checkpoint(tmp_path / "espresso", cameras=("cam_high",), tasks=("espresso",))
    setting = checkpoint_setting(f"tiny={path}")
    assert setting.name == "frozen policy encoder: tiny" and setting.rendered and setting.cameras == ("cam_high",)
    weights = (path / "model.safetensors").read_bytes()
    result = train_probe(setting, _synthetic(64, np.random.default_rng(1)), ProbeConfig(steps=20), seed=0)
    assert np.isfinite(result["median_cm"]) and (path / "model.safetensors").read_bytes() == weights
    with pytest.raises(ValueError, match="not of espresso"):
        checkpoint_setting(str(write_tiny_image_checkpoint(tmp_path / "cube")))
    with pytest.raises(ValueError, match="without cameras"):
        checkpoint_setting(str(write_tiny_checkpoint(tmp_path / "state")))


def test_bad_arguments_and_a_folder_of_other_frames_are_refused(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "a"), "--episodes", "2"]) == 2
    assert main(["--out", str(tmp_path / "a"), "--seeds", "1", "1"]) == 2
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "frames.json").write_text(json.dumps({"episodes": 7}))
    assert main(["--out", str(tmp_path / "b"), "--episodes", "5"]) == 2
    assert "use another --out" in capsys.readouterr().err
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "frames.npz").write_bytes(b"not ours")
    assert main(["--out", str(tmp_path / "e"), "--episodes", "5"]) == 2
    assert (tmp_path / "e" / "frames.npz").read_bytes() == b"not ours"
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "c"), "--settings", "cam_high_1080p"])
    assert main(["--out", str(tmp_path / "d"), "--checkpoints", str(tmp_path / "nothing")]) == 2
    assert not (tmp_path / "d").exists()  # refused before any frame is rendered
