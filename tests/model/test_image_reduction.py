"""The one reduction of camera frames to the model size (recap_model.images): area-filtered, so fine
texture does not alias, and the same function wherever frames are reduced."""
import numpy as np
import pytest

from recap_model.images import resize_to_model


def test_fine_stripes_reduce_to_flat_grey_at_a_non_integer_ratio():
    img = np.zeros((480, 640, 3), np.uint8)
    img[::2] = 255  # one-pixel stripes: aliasing shows as stripes after reducing
    small = resize_to_model(img, (224, 224))
    # exact area filtering leaves std ~8.5 here (480 / 224 is no integer); plain bilinear ~75
    assert small.shape == (224, 224, 3) and abs(float(small.mean()) - 127.5) < 3 and small.std() < 10


@pytest.mark.parametrize("source", [(240, 320), (480, 640), (720, 1280)])
def test_each_output_pixel_is_the_mean_of_the_block_it_covers(source):
    img = np.random.default_rng(0).integers(0, 256, (*source, 3)).astype(np.uint8)
    small = resize_to_model(img, (48, 64))
    blocks = img.reshape(48, source[0] // 48, 64, source[1] // 64, 3).astype(float).mean(axis=(1, 3))
    # a bilinear step to 2x first (the converter's former shortcut) is off by tens of grey levels here
    assert small.shape == (48, 64, 3) and np.abs(small - blocks).max() <= 1.0


def test_frames_of_the_model_size_and_non_images_come_back_as_they_are():
    frame = np.zeros((48, 64, 3), np.uint8)
    assert resize_to_model(frame, (48, 64)) is frame
    depth = np.zeros((240, 320), np.uint16)
    assert resize_to_model(depth, (48, 64)) is depth


def test_the_node_the_converter_and_inference_reduce_alike():
    """No other resize lives in the packages that turn camera frames into model inputs."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "ros2_ws" / "src"
    others = [str(p.relative_to(src)) for p in src.rglob("*.py")
              if "cv2.resize" in p.read_text() and p.name != "images.py"]
    assert not others, f"frames resized outside recap_model.images: {others}"
