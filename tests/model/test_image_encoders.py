"""Image backbones: the registry, random-shift augmentation, checkpoints of each encoder."""

import json

import numpy as np

import pytest
import torch

from recap_core.config_errors import FieldError
from recap_model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_model.models.config import IMAGE_ENCODERS
from recap_model.models.image_backbones import BACKBONES, random_shift
from recap_model.normalization import NormStats
from recap_model.robot_layout import default_layout

ROBOT = default_layout().identity()  # the simulator's 14-D ALOHA

CAMS = ("cam_high", "cam_left_wrist")


def image_policy(encoder: str = "strided_cnn", shift: int = 2) -> PolicyModel:
    torch.manual_seed(0)
    obs = ObservationConfig(cameras=CAMS, image_size=(16, 20), width=16, image_channels=(8, 8),
                            image_encoder=encoder, image_shift=shift)
    return PolicyModel(PolicyConfig(observation=obs, horizon=4, flow_width=32, flow_blocks=1, denoising_steps=2))


def image_batch(n: int = 3) -> dict:
    g = torch.Generator().manual_seed(1)
    return {"qpos": torch.randn(n, 14, generator=g), "task_id": torch.zeros(n, dtype=torch.long),
            "images": torch.randint(0, 256, (n, len(CAMS), 3, 16, 20), dtype=torch.uint8, generator=g)}


def test_every_configurable_encoder_is_built_and_gives_the_feature_width():
    assert set(BACKBONES) == set(IMAGE_ENCODERS)
    for name in IMAGE_ENCODERS:
        model = image_policy(name).eval()
        features = model.encoder(image_batch())
        assert features.shape == (3, 16) and torch.isfinite(features).all(), name


def test_unknown_encoder_and_bad_shift_are_named():
    with pytest.raises(FieldError, match="image_encoder .*'resnet18'"):
        ObservationConfig(cameras=CAMS, image_encoder="resnet18")
    with pytest.raises(FieldError, match="image_shift .*-1"):
        ObservationConfig(cameras=CAMS, image_shift=-1)
    with pytest.raises(FieldError, match="image_shift .*16"):
        ObservationConfig(cameras=CAMS, image_size=(16, 20), image_channels=(8, 8), image_shift=16)


def test_random_shift_crops_a_window_of_the_edge_padded_image():
    x = torch.rand(50, 3, 6, 7)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    torch.manual_seed(0)
    out = random_shift(x, 2)
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(out[i], padded[i, :, dy:dy + 6, dx:dx + 7])]
        assert hits, f"image {i} is not a window of the padded image"
        offsets.update(hits)
    assert len(offsets) > 10  # shifts differ between images
    torch.manual_seed(0)
    assert torch.equal(random_shift(x, 2), out)  # torch's seeded generator decides


def test_shift_applies_in_training_mode_only():
    model, batch = image_policy(shift=2), image_batch()
    model.eval()
    assert torch.equal(model.encoder(batch), model.encoder(batch))
    model.train()
    torch.manual_seed(3)
    first = model.encoder(batch)
    assert not torch.equal(first, model.encoder(batch))
    torch.manual_seed(3)
    assert torch.equal(first, model.encoder(batch))
    unshifted = image_policy(shift=0).train()
    assert torch.equal(unshifted.encoder(batch), unshifted.eval().encoder(batch))


def test_checkpoint_stores_the_encoder_and_refuses_weights_of_another(tmp_path):
    zeros, ones = np.zeros(14, np.float32), np.ones(14, np.float32)
    stats = NormStats(mean={"qpos": zeros, "action": zeros}, std={"qpos": ones, "action": ones})
    model = image_policy("spatial_softmax", shift=3).eval()
    save_checkpoint(tmp_path / "p", "policy", model, stats, ROBOT)
    data = json.loads((tmp_path / "p" / "config.json").read_text())
    assert data["model_config"]["observation"]["image_encoder"] == "spatial_softmax"
    assert data["model_config"]["observation"]["image_shift"] == 3
    loaded = load_checkpoint(tmp_path / "p", "policy").model.eval()
    assert loaded.config == model.config
    assert torch.equal(loaded.encoder(image_batch()), model.encoder(image_batch()))
    data["model_config"]["observation"]["image_encoder"] = "resnet_gn"
    (tmp_path / "p" / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(tmp_path / "p", "policy")
