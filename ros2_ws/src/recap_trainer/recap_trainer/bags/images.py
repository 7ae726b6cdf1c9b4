"""Image / CompressedImage messages -> (H, W, 3) uint8 RGB at the dataset size."""
from __future__ import annotations

import cv2
import numpy as np
from rosbags.image import message_to_cvimage


def decode_resize(msg, size: tuple[int, int] | None) -> np.ndarray:
    """Decode any sensor_msgs Image encoding or CompressedImage (jpeg/png) to RGB, then resize.

    INTER_AREA: the right filter for downscaling (no aliasing); size is (H, W).
    """
    rgb = np.asarray(message_to_cvimage(msg, "rgb8"))
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if size is not None and rgb.shape[:2] != tuple(size):
        rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb, dtype=np.uint8)
