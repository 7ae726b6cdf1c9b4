"""sensor_msgs Image / CompressedImage payloads -> (H, W, 3) uint8 RGB, without cv_bridge."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (channels, channel order to take for RGB)
_RAW_ENCODINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}


class ImageDecodeError(ValueError):
    """An image message cannot be turned into RGB (unknown encoding, wrong size, corrupt data)."""


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image (compressed=False) or CompressedImage (format in `encoding`)."""

    data: bytes | memoryview
    encoding: str
    height: int = 0
    width: int = 0
    step: int = 0
    compressed: bool = False


def check_encoding(image: RawImage, source: str) -> None:
    """Cheap enough for a subscription callback: an encoding this module cannot decode is an
    ImageDecodeError naming `source` and the encoding (compressed formats are judged on decoding)."""
    if not image.compressed and image.encoding not in _RAW_ENCODINGS:
        raise ImageDecodeError(f"{source}: unsupported image encoding {image.encoding!r}; "
                               f"supported: {sorted(_RAW_ENCODINGS)} or a CompressedImage (jpeg, png)")


def decode_rgb(image: RawImage, source: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB at the size it was sent. Errors name `source`."""
    return _decode_compressed(image, source) if image.compressed else _decode_raw(image, source)


def _decode_raw(image: RawImage, source: str) -> np.ndarray:
    check_encoding(image, source)
    channels, order = _RAW_ENCODINGS[image.encoding]
    row = image.width * channels
    buf = np.frombuffer(image.data, dtype=np.uint8)
    if image.height <= 0 or image.width <= 0 or image.step < row or buf.size < image.step * image.height:
        raise ImageDecodeError(f"{source}: {image.width}x{image.height} {image.encoding} image with step "
                               f"{image.step} needs {image.step * image.height} bytes, got {buf.size}")
    # step may pad rows; take each row's first width*channels bytes.
    pixels = buf[: image.step * image.height].reshape(image.height, image.step)[:, :row]
    pixels = pixels.reshape(image.height, image.width, channels)
    return np.ascontiguousarray(pixels[:, :, list(order)])


def _decode_compressed(image: RawImage, source: str) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(image.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(f"{source}: cannot decode {len(image.data)}-byte compressed image "
                               f"(format {image.encoding!r})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
