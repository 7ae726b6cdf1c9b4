"""Image / CompressedImage messages -> (H, W, 3) uint8 RGB (reduced to the dataset size by recap_model.images)."""
from __future__ import annotations

import numpy as np
from recap_core.stamps import to_ns
from rosbags.image import message_to_cvimage


def decode_rgb(msg) -> np.ndarray:
    """Decode any sensor_msgs Image encoding or CompressedImage (jpeg/png) to (H, W, 3) uint8 RGB."""
    rgb = np.asarray(message_to_cvimage(msg, "rgb8"))
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    return np.asarray(rgb, dtype=np.uint8)


_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1}


def raw_image_view(raw: bytes | memoryview) -> tuple[int, np.ndarray] | None:
    """(header stamp ns, (H, W, 3) RGB uint8) straight from a serialized sensor_msgs/Image.

    A zero-copy view of the CDR payload for the common 8-bit encodings (rgb8, bgr8, mono8),
    skipping the generic deserializer's copy of the pixels; None for anything else (the caller
    then takes the rosbags.image path). Little-endian CDR only.
    """
    buf = memoryview(raw)
    if len(buf) < 32 or buf[1] != 1:
        return None
    base = 4  # CDR alignment is relative to the end of the encapsulation header

    def u32(off: int) -> int:
        return int.from_bytes(buf[base + off: base + off + 4], "little")

    sec, nanosec = int.from_bytes(buf[4:8], "little", signed=True), u32(4)
    off = 8
    off += 4 + u32(off)  # frame_id
    off = (off + 3) & ~3
    height, width = u32(off), u32(off + 4)
    off += 8
    enc_len = u32(off)
    encoding = bytes(buf[base + off + 4: base + off + 4 + enc_len]).rstrip(b"\0").decode(errors="replace")
    off += 4 + enc_len + 1  # encoding + is_bigendian
    off = (off + 3) & ~3
    step = u32(off)
    off += 4
    size = u32(off)
    off += 4
    ch = _CHANNELS.get(encoding)
    if ch is None or step < width * ch or size < step * height or base + off + size > len(buf):
        return None
    pixels = np.frombuffer(buf, np.uint8, count=step * height, offset=base + off).reshape(height, step)
    img = pixels[:, : width * ch].reshape(height, width, ch)
    if encoding == "bgr8":
        img = img[:, :, ::-1]
    elif encoding == "mono8":
        img = np.repeat(img, 3, axis=2)
    return to_ns(sec, nanosec), img
