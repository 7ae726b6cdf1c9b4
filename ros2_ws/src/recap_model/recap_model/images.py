"""The one reduction of a camera frame to a model's input size.

The policy node, in-process inference, serving, the bag converter and the ALOHA HDF5 import all
call `resize_to_model`, so the frames a model trains on and the frames it acts on are reduced alike.

Why the exact area filter everywhere: each output pixel is the mean of the input pixels it covers,
which keeps fine texture from aliasing and keeps sub-pixel position (docs/BRINGUP.md, "The images
show the offset"). It costs about 0.2 ms per 480 x 640 frame at 48 x 64 and 1.1 ms at 224 x 224;
a bilinear-then-area shortcut, 3x faster at 224 x 224, aliased fine texture by up to 45 grey
levels at 48 x 64.
"""

from __future__ import annotations

import numpy as np


def resize_to_model(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A camera frame (H, W, 3) uint8 at size = (h, w), area-filtered (OpenCV INTER_AREA). A frame
    already of that size comes back as it is, as does anything that is not an (H, W, C) uint8 image
    (the caller's shape check names it)."""
    if rgb.ndim != 3 or rgb.dtype != np.uint8 or rgb.shape[:2] == tuple(size):
        return rgb
    import cv2  # only where frames are reduced: a state-only robot PC never loads it

    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
